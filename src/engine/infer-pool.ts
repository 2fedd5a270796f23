// A second thread for forecasts, called synchronously: the calling thread and the helper meet through Atomics on
// shared memory (no event loop, no message per forecast). One window is pipelined over the layers: this thread
// runs the first LSTM layer step by step and publishes each h_t, the helper runs the layers above as soon as their
// inputs exist, so the two halves of the network overlap. A batch is split in two halves. The helper's results
// equal the one-thread results bit for bit (same sums in the same order). If the helper has not picked a job up by
// the time this thread finished its own part (the other core is busy), this thread cancels the job and does it
// itself: never slower than one thread by more than a few microseconds. Leaves the math to net.ts, the API to model.ts.
import type { Worker } from 'node:worker_threads';
import { BynerError } from '../errors.js';
import type { ResolvedConfig } from './config.js';
import type { Net } from './net.js';
import { startWorker } from './pool.js';

/** Indices into the control block (Int32Array over shared memory). */
export const CTL = { STATE: 0, KIND: 1, COUNT: 2, STEPS: 3, PARAMS: 4, SIZE: 8 } as const;
/** Job states: posted by the caller, claimed by the helper, then done; or cancelled by the caller before a claim. */
export const STATE = { IDLE: 0, POSTED: 1, CLAIMED: 2, DONE: 3, CANCELLED: 4 } as const;
export const KIND = { PIPE: 1, BATCH: 2 } as const;
/** Windows per half-batch handed to the helper at a time. */
export const HELPER_CAPACITY = 128;
/** A claimed job not done after this long means the helper is gone: stop using it (never hang a forecast). */
const DONE_TIMEOUT_MS = 2000;
/** How long the caller waits for the helper to pick up a half-batch before doing it itself. */
const CLAIM_GRACE_MS = 0.2;

export interface ForecastThreadOptions {
  /**
   * How long a forecast waits for the helper to pick up its part before doing it itself (default: 0 for a single
   * window, 0.2 ms for a half-batch). Tests set it high to make sure the helper's path runs.
   */
  claimGraceMs?: number;
}

export interface InferInit {
  config: ResolvedConfig;
  ctl: SharedArrayBuffer; // Int32Array(CTL.SIZE)
  params: SharedArrayBuffer; // parameter region
  hs: SharedArrayBuffer; // (T, H0): the first layer's outputs of the pipelined window
  xs: SharedArrayBuffer; // (HELPER_CAPACITY, T, F): the helper's half of a batch
  ys: SharedArrayBuffer; // (HELPER_CAPACITY, horizon): the helper's forecasts
}

export class InferenceHelper {
  private readonly ctl: Int32Array;
  private readonly params: Float32Array;
  private readonly hs: Float32Array;
  private readonly xs: Float32Array;
  private readonly ys: Float32Array;
  private paramsVersion = -1;
  private broken = false;
  /** Jobs the helper did (single windows, half-batches) and jobs this thread took back (diagnostics, tests). */
  readonly stats = { one: 0, batch: 0, cancelled: 0 };

  private constructor(
    private readonly cfg: ResolvedConfig,
    private readonly worker: Worker,
    init: InferInit,
    private readonly claimGraceMs?: number,
  ) {
    this.ctl = new Int32Array(init.ctl);
    this.params = new Float32Array(init.params);
    this.hs = new Float32Array(init.hs);
    this.xs = new Float32Array(init.xs);
    this.ys = new Float32Array(init.ys);
  }

  /** Starts the helper thread and resolves once it has its kernels (a few tens of milliseconds). */
  static async start(
    cfg: ResolvedConfig,
    regionSize: number,
    options: ForecastThreadOptions = {},
  ): Promise<InferenceHelper> {
    const { window: T, features: F, horizon: N, layers } = cfg;
    const init: InferInit = {
      config: cfg,
      ctl: new SharedArrayBuffer(CTL.SIZE * 4),
      params: new SharedArrayBuffer(regionSize * 4),
      hs: new SharedArrayBuffer(T * layers[0].units * 4),
      xs: new SharedArrayBuffer(HELPER_CAPACITY * T * F * 4),
      ys: new SharedArrayBuffer(HELPER_CAPACITY * N * 4),
    };
    const worker = startWorker('infer-worker', init);
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', (e) =>
        reject(
          new BynerError('BYNER_MODEL', 'forecast helper thread failed to start', { received: e.message }),
        ),
      );
    });
    worker.unref(); // an idle helper never keeps the process alive
    const helper = new InferenceHelper(cfg, worker, init, options.claimGraceMs);
    worker.on('error', () => {
      helper.broken = true;
    });
    worker.on('exit', () => {
      helper.broken = true;
    });
    return helper;
  }

  get usable(): boolean {
    return !this.broken;
  }

  /** Hands the helper the current parameters when they changed since its last job (version from the model). */
  syncParams(version: number, params: Float32Array): void {
    if (version === this.paramsVersion) return;
    this.params.set(params);
    Atomics.add(this.ctl, CTL.PARAMS, 1);
    this.paramsVersion = version;
  }

  private post(kind: number, count: number): void {
    const c = this.ctl;
    Atomics.store(c, CTL.KIND, kind);
    Atomics.store(c, CTL.COUNT, count);
    Atomics.store(c, CTL.STEPS, 0);
    Atomics.store(c, CTL.STATE, STATE.POSTED);
    Atomics.notify(c, CTL.STATE);
  }

  /**
   * After this thread's own part: true when the helper did its part (results in ys), false when the job was
   * cancelled before the helper picked it up (the caller does that part itself).
   */
  private finish(kind: 'one' | 'batch', graceMs: number): boolean {
    const c = this.ctl;
    if (graceMs > 0 && Atomics.load(c, CTL.STATE) === STATE.POSTED) {
      const until = performance.now() + graceMs;
      while (Atomics.load(c, CTL.STATE) === STATE.POSTED && performance.now() < until);
    }
    if (Atomics.compareExchange(c, CTL.STATE, STATE.POSTED, STATE.CANCELLED) === STATE.POSTED) {
      this.stats.cancelled++;
      return false;
    }
    if (this.broken) return false; // the helper exited (its 'exit' event came first): no result is coming
    const deadline = performance.now() + DONE_TIMEOUT_MS;
    let spins = 0;
    while (Atomics.load(c, CTL.STATE) !== STATE.DONE) {
      if (++spins % 4096 === 0 && (this.broken || performance.now() > deadline)) {
        this.broken = true;
        this.worker.terminate().catch(() => {});
        return false;
      }
    }
    this.stats[kind]++;
    return true;
  }

  /** One window (T·F values at x[from·T·F…]) → out (horizon values). Needs ≥ 2 LSTM layers. */
  predictOne(net: Net, x: Float32Array, from: number, out: Float32Array, outAt: number): void {
    const { window: T, layers, horizon: N } = this.cfg;
    const H0 = layers[0].units;
    net.beginInference(x, from, 1);
    this.post(KIND.PIPE, 1);
    for (let t = 0; t < T; t++) {
      net.inferSteps(0, 1, t, t + 1, true);
      this.hs.set(net.layerOutput(0, 1, t, t + 1), t * H0);
      Atomics.store(this.ctl, CTL.STEPS, t + 1);
    }
    // No grace: by now the helper is either on it or asleep, and this thread can do the rest as fast as a woken one.
    if (this.finish('one', this.claimGraceMs ?? 0)) {
      out.set(this.ys.subarray(0, N), outAt);
      return;
    }
    for (let i = 1; i < layers.length; i++) net.inferSteps(i, 1, 0, T, true);
    out.set(net.inferDense(1), outAt);
  }

  /** n ≥ 2 windows of x → out (n, horizon): the helper forecasts the second half of each chunk. */
  predictBatch(net: Net, x: Float32Array, n: number, out: Float32Array): void {
    const { window: T, features: F, horizon: N } = this.cfg;
    const W = T * F;
    for (let from = 0; from < n; ) {
      const count = Math.min(n - from, 2 * HELPER_CAPACITY);
      const xs = x.subarray(from * W, (from + count) * W);
      this.startBatch(net, xs, count, out.subarray(from * N, (from + count) * N), count >> 1).collect();
      from += count;
    }
  }

  /**
   * Hands the helper the last `theirs` of n ≥ 2 windows now and returns the rest of the job: the caller can do
   * other work (a replay stores the previous batch) while the helper forecasts; `mine()` forecasts this thread's
   * windows, and `collect()` (after `mine()`, which it runs if needed) takes the helper's and says whether the
   * helper had been done first (so the caller can give it more next time). Nothing else may use the helper until
   * `collect()`.
   */
  startBatch(
    net: Net,
    x: Float32Array,
    n: number,
    out: Float32Array,
    theirs: number,
  ): { mine(): void; collect(): boolean } {
    const { window: T, features: F, horizon: N } = this.cfg;
    const W = T * F;
    const their = Math.max(1, Math.min(theirs, n - 1, HELPER_CAPACITY));
    const mine = n - their;
    this.xs.set(x.subarray(mine * W, n * W));
    this.post(KIND.BATCH, their);
    let helperDone = false;
    let mineDone = false;
    const doMine = () => {
      if (mineDone) return;
      net.predictInto(out.subarray(0, mine * N), x.subarray(0, mine * W), mine);
      mineDone = true;
      helperDone = Atomics.load(this.ctl, CTL.STATE) === STATE.DONE;
    };
    return {
      mine: doMine,
      collect: () => {
        let failure: unknown = null;
        try {
          doMine();
        } catch (e) {
          failure = e;
        }
        // settle the helper's job whatever happened here, so the next job starts clean; a short grace for a
        // helper being woken: its share is worth far more than a wake-up
        const theirsDone = this.finish('batch', this.claimGraceMs ?? CLAIM_GRACE_MS);
        if (failure !== null) throw failure;
        if (theirsDone) out.set(this.ys.subarray(0, their * N), mine * N);
        else net.predictInto(out.subarray(mine * N, n * N), x.subarray(mine * W, n * W), their);
        return helperDone;
      },
    };
  }

  close(): Promise<number> {
    this.broken = true;
    return this.worker.terminate();
  }
}
