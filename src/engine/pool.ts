// Worker threads for data-parallel training: each holds a kernel instance and the training data (shared memory);
// per batch it reads the parameters from a shared block and writes its shard's gradients to another. Requests
// and answers go through a control block with Atomics, not messages: a message wakes a sleeping worker through
// its event loop, which measured 1.4 – 1.9 ms per batch on these (virtual) cores, ≈ 10% of a batch; a worker
// that spins between batches picks a request up in microseconds. Leaves the split of the batch and the sum of the
// gradients to model.ts.
import { Worker } from 'node:worker_threads';
import { BynerError } from '../errors.js';
import type { ResolvedConfig } from './config.js';

export interface PoolInit {
  config: ResolvedConfig;
  x: SharedArrayBuffer; // (N, T, F) training windows
  y: SharedArrayBuffer; // (N, horizon) training targets
  vx: SharedArrayBuffer; // validation windows (may be empty)
  vy: SharedArrayBuffer; // validation targets
  params: SharedArrayBuffer; // parameter region, written by the main thread before each request
  grads: SharedArrayBuffer; // this worker's gradient region, written by the worker
  ctl: SharedArrayBuffer; // Int32Array(CTL.SIZE): the request and its state
  idx: SharedArrayBuffer; // Int32Array(capacity): the sample indices of a train request
  nums: SharedArrayBuffer; // Float64Array(2): [scale in, sse out]
}

/** Indices into the control block. */
export const CTL = { STATE: 0, KIND: 1, FROM: 2, COUNT: 3, EPOCH: 4, DROPOUT: 5, SIZE: 8 } as const;
/** Request states: posted by the main thread, claimed by the worker, then done or failed. */
export const STATE = { IDLE: 0, POSTED: 1, CLAIMED: 2, DONE: 3, FAILED: 4 } as const;
export const KIND = { TRAIN: 1, EVAL: 2 } as const;

export type PoolRequest =
  | { type: 'train'; idx: Int32Array; epoch: number; scale: number; dropout: boolean }
  | { type: 'eval'; from: number; count: number };

/** Copies a Float32Array into shared memory (workers read it without copies). */
export function shareFloats(a: Float32Array): { buffer: SharedArrayBuffer; view: Float32Array } {
  const buffer = new SharedArrayBuffer(a.byteLength);
  const view = new Float32Array(buffer);
  view.set(a);
  return { buffer, view };
}

/**
 * The worker entry with the extension this module runs under: worker.js from dist, or worker.ts under tsx (tests),
 * where the worker first registers tsx's loader itself (a worker does not inherit `--import tsx` hooks on Node 20).
 */
export function startWorker(module: 'worker' | 'infer-worker', workerData: unknown): Worker {
  // Inherit the parent's flags except those that only make sense for an entry script given as a string.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL(`./${module}.js`, import.meta.url), { workerData, execArgv });
  }
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./${module}.ts`, import.meta.url).href;
  const boot = `import(${JSON.stringify(api)}).then((a) => { a.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData, execArgv });
}

/** How long the main thread spins on a request before letting its event loop run (worker errors, signals). */
const SLICE_MS = 50;

class EngineWorker {
  private readonly worker: Worker;
  private failed: Error | null = null;
  private readonly errorText: Promise<string>;
  private readonly ctl: Int32Array;
  private readonly idx: Int32Array;
  private readonly nums: Float64Array;
  readonly grads: Float32Array;

  constructor(init: PoolInit) {
    this.grads = new Float32Array(init.grads);
    this.ctl = new Int32Array(init.ctl);
    this.idx = new Int32Array(init.idx);
    this.nums = new Float64Array(init.nums);
    this.worker = startWorker('worker', init);
    // The worker reports an exception in a request with a message, then marks the request failed.
    this.errorText = new Promise((resolve) =>
      this.worker.on('message', (m: { error: string }) => resolve(m.error)),
    );
    const fail = (e: Error): void => {
      this.failed ??= new BynerError('BYNER_MODEL', 'engine worker stopped', {
        received: e.message,
        cause: e,
      });
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`worker exited with code ${code}`)));
  }

  /** Posts a request; the returned promise settles once the worker answered (await it after your own share). */
  request(req: PoolRequest): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    const c = this.ctl;
    if (req.type === 'train') {
      this.idx.set(req.idx);
      Atomics.store(c, CTL.KIND, KIND.TRAIN);
      Atomics.store(c, CTL.COUNT, req.idx.length);
      Atomics.store(c, CTL.EPOCH, req.epoch);
      Atomics.store(c, CTL.DROPOUT, req.dropout ? 1 : 0);
      this.nums[0] = req.scale;
    } else {
      Atomics.store(c, CTL.KIND, KIND.EVAL);
      Atomics.store(c, CTL.FROM, req.from);
      Atomics.store(c, CTL.COUNT, req.count);
    }
    Atomics.store(c, CTL.STATE, STATE.POSTED);
    Atomics.notify(c, CTL.STATE);
    return this.answer();
  }

  private async answer(): Promise<number> {
    await null; // the caller computes its own share first
    const c = this.ctl;
    for (;;) {
      const until = performance.now() + SLICE_MS;
      let s = Atomics.load(c, CTL.STATE);
      while ((s === STATE.POSTED || s === STATE.CLAIMED) && performance.now() < until)
        s = Atomics.load(c, CTL.STATE);
      if (s === STATE.DONE) {
        Atomics.store(c, CTL.STATE, STATE.IDLE);
        return this.nums[1];
      }
      if (s === STATE.FAILED) {
        this.failed = new BynerError('BYNER_MODEL', 'engine worker failed', {
          received: await this.errorText,
        });
      }
      if (this.failed) throw this.failed;
      await new Promise((resolve) => setImmediate(resolve)); // a slow worker: let events in, then spin again
    }
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class WorkerPool {
  readonly workers: EngineWorker[];
  readonly params: Float32Array;

  private constructor(workers: EngineWorker[], params: Float32Array) {
    this.workers = workers;
    this.params = params;
  }

  /**
   * Starts `count` workers sharing the data; `regionSize` floats per parameter / gradient block, train requests
   * of up to `capacity` samples.
   */
  static start(
    count: number,
    base: Omit<PoolInit, 'params' | 'grads' | 'ctl' | 'idx' | 'nums'>,
    regionSize: number,
    capacity: number,
  ): WorkerPool {
    const params = new SharedArrayBuffer(regionSize * 4);
    const workers = Array.from(
      { length: count },
      () =>
        new EngineWorker({
          ...base,
          params,
          grads: new SharedArrayBuffer(regionSize * 4),
          ctl: new SharedArrayBuffer(CTL.SIZE * 4),
          idx: new SharedArrayBuffer(Math.max(1, capacity) * 4),
          nums: new SharedArrayBuffer(16),
        }),
    );
    return new WorkerPool(workers, new Float32Array(params));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
