// Worker threads for data-parallel training: each holds a kernel instance and the training data (shared memory);
// per batch it reads the parameters from a shared block and writes its shard's gradients to another.
// Leaves the split of the batch and the sum of the gradients to model.ts.
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
}

export type PoolRequest =
  | { type: 'train'; idx: Int32Array; epoch: number; scale: number; dropout: boolean }
  | { type: 'eval'; from: number; count: number };

export type PoolResponse = { ok: true; sse: number } | { ok: false; error: string };

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

class EngineWorker {
  private readonly worker: Worker;
  private pending: { resolve: (r: number) => void; reject: (e: Error) => void } | null = null;
  private failed: Error | null = null;
  readonly grads: Float32Array;

  constructor(init: PoolInit) {
    this.grads = new Float32Array(init.grads);
    this.worker = startWorker('worker', init);
    this.worker.on('message', (res: PoolResponse) => {
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      if (res.ok) p.resolve(res.sse);
      else p.reject(new BynerError('BYNER_MODEL', 'engine worker failed', { received: res.error }));
    });
    const fail = (e: Error): void => {
      this.failed = new BynerError('BYNER_MODEL', 'engine worker stopped', { received: e.message, cause: e });
      this.pending?.reject(this.failed);
      this.pending = null;
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (this.pending) fail(new Error(`worker exited with code ${code}`));
    });
  }

  request(req: PoolRequest): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(req);
    });
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

  /** Starts `count` workers sharing the data; `regionSize` floats per parameter / gradient block. */
  static start(count: number, base: Omit<PoolInit, 'params' | 'grads'>, regionSize: number): WorkerPool {
    const params = new SharedArrayBuffer(regionSize * 4);
    const workers = Array.from(
      { length: count },
      () => new EngineWorker({ ...base, params, grads: new SharedArrayBuffer(regionSize * 4) }),
    );
    return new WorkerPool(workers, new Float32Array(params));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
