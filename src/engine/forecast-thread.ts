// The forecast thread: a helper thread that shares predict's work with the calling thread, which stays
// synchronous. One window is pipelined over the layers (this thread runs the first LSTM layer step by step and
// publishes each h_t; the helper runs the layers above as their inputs appear, so the two halves overlap); a batch
// is split in two parts whose sizes adapt so that both threads finish together. A job the helper has not claimed
// when this thread is done with its own part is taken back and done here. A helper that fails, dies or misses a
// job's deadline is dropped and reported, and forecasts go on on this thread. Results equal the one-thread ones bit
// for bit (the same sums in the same order). Both sides of the jobs live here; the protocol is channel.ts's, the
// helper's entry forecast-worker.ts, the math net.ts's, and the API model.ts's.
import type { Worker } from 'node:worker_threads';
import { BynerError } from '../errors.js';
import { channelBuffer, type Job, JobPoster } from './channel.js';
import type { ResolvedConfig } from './config.js';
import { Net } from './net.js';
import { engineModule, jobDeadlineMs, startWorker } from './threads.js';

/** Options of LstmModel.startForecastThread. */
export interface ForecastThreadOptions {
  /**
   * How long a forecast waits for the helper to pick up its part before doing it itself (default: 0 for a single
   * window, 0.2 ms for a batch's part). Tests set it high to make sure the helper's path runs.
   */
  claimGraceMs?: number;
  /** Called once when the helper fails, dies or misses a deadline; forecasts then run on the calling thread. */
  onFailure?: (error: BynerError) => void;
}

/** What the forecast thread has done so far (LstmModel.forecastThreadStats). */
export interface ForecastThreadStats {
  /** Single windows the helper did its part of. */
  one: number;
  /** Batch parts the helper did. */
  batch: number;
  /** Jobs this thread took back because the helper had not picked them up (its core was busy). */
  cancelled: number;
  /** Why the helper was dropped (its error, its exit, a missed deadline); null while it works. */
  failure: BynerError | null;
}

/** `predict` in parts (see LstmModel.predictStart). */
export interface PredictJob {
  /** True when the forecast thread is working on a share of the windows until `finish()`. */
  threaded: boolean;
  /** Forecasts this thread's share now (optional: `finish()` does what is left). */
  work(): void;
  /** Completes the forecasts and returns all of them, (N, horizon) row-major: what `predict` returns. */
  finish(): Float32Array;
}

/** What the helper thread is started with. */
export interface ForecastInit {
  config: ResolvedConfig;
  channel: SharedArrayBuffer; // the job channel
  params: SharedArrayBuffer; // parameter region, copied in when the model's parameters changed
  hs: SharedArrayBuffer; // (T, H0): the first layer's outputs of the pipelined window
  xs: SharedArrayBuffer; // (HELPER_CAPACITY, T, F): the helper's part of a batch
  ys: SharedArrayBuffer; // (HELPER_CAPACITY, horizon): the helper's forecasts
}

/** A job's arguments (channel args). */
const ARG = { KIND: 0, COUNT: 1, PARAMS: 2 } as const;
const KIND = { PIPE: 1, BATCH: 2 } as const;
/** Windows of a batch handed to the helper at a time. */
const HELPER_CAPACITY = 128;
/** How long a batch's part waits for the helper to pick it up: a woken helper's share is worth far more. */
const CLAIM_GRACE_MS = 0.2;
/** The least time a job gets before the helper counts as hung. */
const DEADLINE_FLOOR_MS = 2000;
/** How long the helper may take to start (load its code, compile the kernels) before it counts as hung. */
const START_DEADLINE_MS = 30_000;
/**
 * After a job the helper stays awake this long before sleeping: back-to-back forecasts (a replay, a benchmark) then
 * find it running instead of paying a wake-up (tens of microseconds on a virtual machine, more than a pipelined
 * forecast saves); at one forecast a second it costs 0.2% of a core.
 */
export const HELPER_SPIN_MS = 2;
/** The helper's share of a started batch moves by this step, within these bounds. */
const SHARE = { START: 0.5, STEP: 0.02, MIN: 0.15, MAX: 0.85 } as const;

/** Starts the helper thread: forecast-worker.ts, or another entry serving the same jobs (tests inject faults). */
export type SpawnHelper = (init: ForecastInit) => Worker;

const spawnForecastWorker: SpawnHelper = (init) => startWorker(engineModule('forecast-worker'), init);

/**
 * @internal The calling thread's side: decides what the helper does, posts it, and settles every job it posted.
 * Users start it through LstmModel.startForecastThread.
 */
export class ForecastThread {
  private readonly jobs: JobPoster;
  private readonly params: Float32Array;
  private readonly hs: Float32Array;
  private readonly xs: Float32Array;
  private readonly ys: Float32Array;
  private readonly counts = { one: 0, batch: 0, cancelled: 0 };
  private shareNow: number = SHARE.START;
  /** A started batch (start) awaits its finish(): until then other forecasts run on this thread alone. */
  private pending = false;
  private paramsVersion = 0;
  private paramsSent = -1;
  private closed = false;
  private reported = false;

  private constructor(
    private readonly net: Net,
    private readonly worker: Worker,
    init: ForecastInit,
    private readonly options: ForecastThreadOptions,
  ) {
    this.jobs = new JobPoster(init.channel, 'the forecast helper thread');
    this.params = new Float32Array(init.params);
    this.hs = new Float32Array(init.hs);
    this.xs = new Float32Array(init.xs);
    this.ys = new Float32Array(init.ys);
    worker.on('error', (e) => this.gone(e.stack ?? e.message));
    worker.on('exit', (code) => this.gone(`the thread exited with code ${code}`));
  }

  /** Starts the helper for `net`'s model and resolves once it has its kernels (a few tens of milliseconds). */
  static async start(
    net: Net,
    options: ForecastThreadOptions = {},
    spawn: SpawnHelper = spawnForecastWorker,
  ): Promise<ForecastThread> {
    const { window: T, features: F, horizon: N, layers } = net.cfg;
    const init: ForecastInit = {
      config: net.cfg,
      channel: channelBuffer(),
      params: new SharedArrayBuffer(net.layout.regionSize * 4),
      hs: new SharedArrayBuffer(T * layers[0].units * 4),
      xs: new SharedArrayBuffer(HELPER_CAPACITY * T * F * 4),
      ys: new SharedArrayBuffer(HELPER_CAPACITY * N * 4),
    };
    const worker = spawn(init);
    try {
      await ready(worker);
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    worker.unref(); // an idle helper never keeps the process alive
    return new ForecastThread(net, worker, init, options);
  }

  /** False once the helper failed or was closed: everything then runs on the calling thread. */
  get usable(): boolean {
    return !this.closed && this.jobs.failure === null;
  }

  get stats(): ForecastThreadStats {
    return { ...this.counts, failure: this.jobs.failure };
  }

  /** The helper's share of a started batch, adapted as batches finish. */
  get share(): number {
    return this.shareNow;
  }

  /** The model's parameters changed: the helper gets a copy before its next job. */
  paramsChanged(): void {
    this.paramsVersion++;
  }

  /** Forecasts the n windows of x (n, T, F) into out (n, horizon), with the helper's help when it can give it. */
  predict(x: Float32Array, n: number, out: Float32Array): void {
    if (!this.usable || this.pending) this.net.predictInto(out, x, n);
    else if (n >= 2) this.predictBatch(x, n, out);
    else if (this.net.cfg.layers.length >= 2) this.predictOne(x, out);
    else this.net.predictInto(out, x, n);
  }

  /**
   * Hands the helper its share of n windows now; `work()` forecasts this thread's part, `finish()` does what is
   * left and returns all. x must stay unchanged until `finish()`. Without the helper, for one window or while
   * another started batch is pending, everything is done at once.
   */
  start(x: Float32Array, n: number): PredictJob {
    if (!this.usable || this.pending || n < 2) {
      const now = new Float32Array(n * this.net.cfg.horizon);
      this.predict(x, n, now); // at once: the caller may reuse x before finish()
      return { threaded: false, work() {}, finish: () => now };
    }
    const out = new Float32Array(n * this.net.cfg.horizon);
    const rest = this.startBatch(x, n, out, Math.round(n * this.shareNow));
    this.pending = true;
    let result: Float32Array | null = null;
    return {
      threaded: true,
      work: () => {
        if (!result) rest.mine();
      },
      finish: () => {
        if (result) return result;
        try {
          const step = rest.collect() ? SHARE.STEP : -SHARE.STEP;
          this.shareNow = Math.min(SHARE.MAX, Math.max(SHARE.MIN, this.shareNow + step));
        } finally {
          this.pending = false;
        }
        result = out;
        return out;
      },
    };
  }

  /** Stops the helper; forecasts run on the calling thread from now on. */
  close(): Promise<number> {
    this.closed = true;
    return this.worker.terminate();
  }

  private gone(reason: string): void {
    if (this.closed) return;
    this.jobs.helperGone(reason);
    this.report();
  }

  /** Drops a failed helper (once): stops its thread and tells the owner. */
  private report(): void {
    const failure = this.jobs.failure;
    if (this.reported || !failure) return;
    this.reported = true;
    this.worker.terminate().catch(() => {});
    const onFailure = this.options.onFailure;
    if (onFailure) queueMicrotask(() => onFailure(failure));
  }

  private post(kind: number, windows: number): void {
    if (this.paramsSent !== this.paramsVersion) {
      this.params.set(this.net.paramsForReading());
      this.paramsSent = this.paramsVersion;
    }
    const { args } = this.jobs;
    args[ARG.KIND] = kind;
    args[ARG.COUNT] = windows;
    args[ARG.PARAMS] = this.paramsSent;
    this.jobs.post(jobDeadlineMs(this.net.cfg, windows, 1, DEADLINE_FLOOR_MS));
  }

  /**
   * After this thread's own part: true when the helper did its part (results in ys); false when the job was taken
   * back before the helper claimed it, or the helper failed (the caller then does that part itself).
   */
  private settle(kind: 'one' | 'batch', graceMs: number): boolean {
    const jobs = this.jobs;
    if (graceMs > 0 && jobs.unclaimed) {
      const until = performance.now() + graceMs;
      while (jobs.unclaimed && performance.now() < until);
    }
    if (jobs.cancel()) {
      this.counts.cancelled++;
      return false;
    }
    if (jobs.waitSync() === 'done') {
      this.counts[kind]++;
      return true;
    }
    this.report();
    return false;
  }

  /** One window (T·F values) → out (horizon values), pipelined. Needs ≥ 2 LSTM layers. */
  private predictOne(x: Float32Array, out: Float32Array): void {
    const { window: T, layers, horizon: N } = this.net.cfg;
    const net = this.net;
    const H0 = layers[0].units;
    net.beginInference(x, 0, 1);
    this.post(KIND.PIPE, 1);
    try {
      for (let t = 0; t < T; t++) {
        net.inferSteps(0, 1, t, t + 1, true);
        this.hs.set(net.layerOutput(0, 1, t, t + 1), t * H0);
        this.jobs.progress(t + 1);
      }
    } catch (e) {
      this.jobs.abandon();
      throw e;
    }
    // No grace: by now the helper is either on it or asleep, and this thread can do the rest as fast as a woken one.
    if (this.settle('one', this.options.claimGraceMs ?? 0)) {
      out.set(this.ys.subarray(0, N));
      return;
    }
    for (let i = 1; i < layers.length; i++) net.inferSteps(i, 1, 0, T, true);
    out.set(net.inferDense(1));
  }

  /** n ≥ 2 windows of x → out (n, horizon): the helper forecasts the second half of each chunk. */
  private predictBatch(x: Float32Array, n: number, out: Float32Array): void {
    const { window: T, features: F, horizon: N } = this.net.cfg;
    const W = T * F;
    for (let from = 0; from < n; ) {
      const count = Math.min(n - from, 2 * HELPER_CAPACITY);
      const xs = x.subarray(from * W, (from + count) * W);
      const part = out.subarray(from * N, (from + count) * N);
      if (this.usable) this.startBatch(xs, count, part, count >> 1).collect();
      else this.net.predictInto(part, xs, count);
      from += count;
    }
  }

  /**
   * Hands the helper the last `theirs` of n ≥ 2 windows and returns the rest of the job: `mine()` forecasts this
   * thread's windows, and `collect()` (after `mine()`, which it runs if needed) takes the helper's and says whether
   * the helper had been done first (so that it can get more next time).
   */
  private startBatch(
    x: Float32Array,
    n: number,
    out: Float32Array,
    theirs: number,
  ): { mine(): void; collect(): boolean } {
    const { window: T, features: F, horizon: N } = this.net.cfg;
    const W = T * F;
    const their = Math.max(1, Math.min(theirs, n - 1, HELPER_CAPACITY));
    const mine = n - their;
    this.xs.set(x.subarray(mine * W, n * W));
    this.post(KIND.BATCH, their);
    let helperFirst = false;
    let mineDone = false;
    const doMine = () => {
      if (mineDone) return;
      this.net.predictInto(out.subarray(0, mine * N), x.subarray(0, mine * W), mine);
      mineDone = true;
      helperFirst = this.jobs.answered;
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
        // settle the helper's job whatever happened here, so that the next job starts clean
        const theirsDone = this.settle('batch', this.options.claimGraceMs ?? CLAIM_GRACE_MS);
        if (failure !== null) throw failure;
        if (theirsDone) out.set(this.ys.subarray(0, their * N), mine * N);
        else this.net.predictInto(out.subarray(mine * N, n * N), x.subarray(mine * W, n * W), their);
        return helperFirst;
      },
    };
  }
}

/** Resolves when the helper posts its first message (it has its kernels), rejects if it fails or takes too long. */
function ready(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (received: string): void => {
      clearTimeout(timer);
      reject(
        new BynerError('BYNER_MODEL', 'the forecast helper thread did not start', {
          expected: `its ready message within ${START_DEADLINE_MS} ms`,
          received,
        }),
      );
    };
    const timer = setTimeout(() => fail('nothing'), START_DEADLINE_MS);
    worker.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    worker.once('error', (e) => fail(e.stack ?? e.message));
    worker.once('exit', (code) => fail(`an exit with code ${code}`));
  });
}

/**
 * The helper's side: a runner for the jobs ForecastThread posts, on the helper's own kernels. The layers above the
 * first follow the caller's published steps of a pipelined window; a batch's part is forecast whole.
 */
export function forecastJobs(init: ForecastInit): (job: Job) => void {
  const cfg = init.config;
  const net = new Net(cfg);
  const params = new Float32Array(init.params);
  const hs = new Float32Array(init.hs);
  const xs = new Float32Array(init.xs);
  const ys = new Float32Array(init.ys);
  const { window: T, layers, horizon: N } = cfg;
  const H0 = layers[0].units;
  let paramsSeen = -1;

  const pipe = (job: Job): void => {
    net.beginInference(null, 0, 1);
    for (let t = 0; t < T; ) {
      const ready = job.progress(t);
      net.layerOutput(0, 1, t, ready).set(hs.subarray(t * H0, ready * H0));
      for (let i = 1; i < layers.length; i++) net.inferSteps(i, 1, t, ready, false);
      t = ready;
    }
    ys.set(net.inferDense(1));
  };

  return (job) => {
    const version = job.args[ARG.PARAMS];
    if (version !== paramsSeen) {
      net.regionView('params').set(params);
      paramsSeen = version;
    }
    if (job.args[ARG.KIND] === KIND.PIPE) pipe(job);
    else {
      const count = job.args[ARG.COUNT];
      const out = new Float32Array(count * N);
      net.predictInto(out, xs, count);
      ys.set(out);
    }
  };
}
