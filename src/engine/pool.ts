// Worker threads for data-parallel training: each holds a kernel instance and the training data (shared memory);
// per batch it reads the parameters from a shared block and writes its shard's gradients to another. Requests go
// through a job channel (channel.ts: Atomics, no messages), so a worker that spins between batches picks the next
// one up in microseconds. A worker that fails, exits or misses a request's deadline fails the request with a
// BynerError. Leaves the split of the batch and the sum of the gradients to model.ts.
import type { Worker } from 'node:worker_threads';
import { channelBuffer, JobPoster } from './channel.js';
import type { ResolvedConfig } from './config.js';
import { engineModule, jobDeadlineMs, startWorker } from './threads.js';

export interface PoolInit {
  config: ResolvedConfig;
  x: SharedArrayBuffer; // (N, T, F) training windows
  y: SharedArrayBuffer; // (N, horizon) training targets
  vx: SharedArrayBuffer; // validation windows (may be empty)
  vy: SharedArrayBuffer; // validation targets
  params: SharedArrayBuffer; // parameter region, written by the main thread before each request
  grads: SharedArrayBuffer; // this worker's gradient region, written by the worker
  channel: SharedArrayBuffer; // the job channel: a request's arguments, its scale in and its sum of squares out
  idx: SharedArrayBuffer; // Int32Array(capacity): the sample indices of a train request
}

/** A request's integer arguments (channel args) and its numbers (channel nums). */
export const ARG = { KIND: 0, FROM: 1, COUNT: 2, EPOCH: 3, DROPOUT: 4 } as const;
export const NUM = { SCALE: 0, SSE: 1 } as const;
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

/** How long the main thread spins on a request before letting its event loop run (worker exits, signals). */
const SLICE_MS = 50;
/** The least time a request gets before its worker counts as hung. */
const DEADLINE_FLOOR_MS = 30_000;

class EngineWorker {
  private readonly worker: Worker;
  private readonly jobs: JobPoster;
  private readonly idx: Int32Array;
  readonly grads: Float32Array;

  constructor(
    private readonly init: PoolInit,
    n: number,
  ) {
    this.grads = new Float32Array(init.grads);
    this.idx = new Int32Array(init.idx);
    this.jobs = new JobPoster(init.channel, `engine training worker ${n}`);
    this.worker = startWorker(engineModule('worker'), init);
    this.worker.on('error', (e) => this.jobs.helperGone(e.stack ?? e.message));
    this.worker.on('exit', (code) => this.jobs.helperGone(`the thread exited with code ${code}`));
  }

  /** Posts a request; the returned promise settles once the worker answered (await it after your own share). */
  request(req: PoolRequest): Promise<number> {
    const { args, nums } = this.jobs;
    let windows: number;
    if (req.type === 'train') {
      this.idx.set(req.idx);
      args[ARG.KIND] = KIND.TRAIN;
      args[ARG.COUNT] = windows = req.idx.length;
      args[ARG.EPOCH] = req.epoch;
      args[ARG.DROPOUT] = req.dropout ? 1 : 0;
      nums[NUM.SCALE] = req.scale;
    } else {
      args[ARG.KIND] = KIND.EVAL;
      args[ARG.FROM] = req.from;
      args[ARG.COUNT] = windows = req.count;
    }
    try {
      this.jobs.post(
        jobDeadlineMs(this.init.config, windows, req.type === 'train' ? 3 : 1, DEADLINE_FLOOR_MS),
      );
    } catch (e) {
      return Promise.reject(e);
    }
    return this.answer();
  }

  private async answer(): Promise<number> {
    await null; // the caller computes its own share first
    if ((await this.jobs.waitAsync(SLICE_MS)) === 'done') return this.jobs.nums[NUM.SSE];
    throw this.jobs.failure;
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
    base: Omit<PoolInit, 'params' | 'grads' | 'channel' | 'idx'>,
    regionSize: number,
    capacity: number,
  ): WorkerPool {
    const params = new SharedArrayBuffer(regionSize * 4);
    const workers = Array.from(
      { length: count },
      (_, i) =>
        new EngineWorker(
          {
            ...base,
            params,
            grads: new SharedArrayBuffer(regionSize * 4),
            channel: channelBuffer(),
            idx: new SharedArrayBuffer(Math.max(1, capacity) * 4),
          },
          i + 1,
        ),
    );
    return new WorkerPool(workers, new Float32Array(params));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
