// Starting the engine's worker threads (dist/*.js, or the .ts sources under tsx), and how long a job on one may
// take before its thread counts as hung. Leaves the job protocol to channel.ts, the jobs to pool.ts and
// forecast-thread.ts.
import { Worker } from 'node:worker_threads';
import { type ResolvedConfig, windowFlops } from './config.js';

/** A module of this folder as a worker entry: name.js in dist, name.ts under tsx (tests). */
export function engineModule(name: string): URL {
  return new URL(`./${name}.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
}

/**
 * Starts a worker thread at `entry`. A .ts entry first registers tsx's loader in the worker itself (a worker does
 * not inherit `--import tsx` hooks on Node 20).
 */
export function startWorker(entry: URL, workerData: unknown): Worker {
  // Inherit the parent's flags except those that only make sense for an entry script given as a string.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData, execArgv });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((a) => { a.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData, execArgv });
}

/** The slowest a working thread is taken to be: 0.1 GFLOPS, ≈ 1/400 of one core of the machine in BENCHMARKS.md. */
const SLOWEST_FLOPS_PER_MS = 1e5;

/**
 * When the answer to a job of `windows` windows is due, in ms: `floorMs` plus the job's FLOPs at the slowest speed
 * (a forward pass is one pass; forward + backward ≈ three).
 */
export function jobDeadlineMs(cfg: ResolvedConfig, windows: number, passes: number, floorMs: number): number {
  return floorMs + Math.ceil((windows * passes * windowFlops(cfg)) / SLOWEST_FLOPS_PER_MS);
}
