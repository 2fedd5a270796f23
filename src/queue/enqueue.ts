// Putting training jobs on the queue (one per stream) and waiting for their results. The job's contents are
// jobs.ts's; running them is worker.ts's.
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { BynerError } from '../errors.js';
import { jobId, newJobData, parseJobData, type QueuedTrainOptions, TRAIN_QUEUE } from './jobs.js';

/** How long finished jobs (their results, for `--wait` and for a second enqueue of the same run) are kept. */
const KEEP_FINISHED = { age: 30 * 24 * 3600, count: 10_000 };

export interface EnqueueRequest {
  run: string;
  streams: readonly string[];
  options: QueuedTrainOptions;
  dbName: string;
  /** Tries of a job that fails with an error (not counting a worker that died: the worker's --max-stalled). */
  attempts: number;
  now?: Date;
}

export interface EnqueuedJob {
  id: string;
  stream: string;
  /** The version the job registers (as stored in the job: the first enqueue's). */
  version: string;
  /** False when the job was on the queue already (same run, stream and options). */
  added: boolean;
  /** BullMQ's state of the job: waiting, active, delayed, completed, failed… */
  state: string;
}

/** One job per stream on queue `byner-train`; a job already there (same id) is reported, not added again. */
export async function enqueueTraining(redis: Redis, req: EnqueueRequest): Promise<EnqueuedJob[]> {
  const queue = new Queue(TRAIN_QUEUE, { connection: redis });
  try {
    const now = req.now ?? new Date();
    const out: EnqueuedJob[] = [];
    for (const stream of req.streams) {
      const id = jobId(req.run, stream, req.options);
      const existing = await queue.getJob(id);
      if (existing === undefined) {
        await queue.add('train', newJobData(req.run, stream, req.options, req.dbName, now), {
          jobId: id,
          attempts: req.attempts,
          backoff: { type: 'exponential', delay: 5000 },
          removeOnComplete: KEEP_FINISHED,
          removeOnFail: KEEP_FINISHED,
        });
      }
      // Read back what the queue holds: of two enqueuers racing on one id, both report the job that was kept.
      const job = await queue.getJob(id);
      if (job === undefined) {
        throw new BynerError('BYNER_STATE', `job ${id} vanished right after it was enqueued`, {
          expected: 'the job on queue byner-train',
          received: 'no such job (removed by someone else?)',
          hint: 'enqueue again',
        });
      }
      const data = parseJobData(id, job.data);
      out.push({
        id,
        stream,
        version: data.version,
        added: existing === undefined,
        state: await job.getState(),
      });
    }
    return out;
  } finally {
    await queue.close();
  }
}

export type JobOutcome =
  | { id: string; ok: true; result: Record<string, unknown> }
  | { id: string; ok: false; reason: string };

export interface WaitOptions {
  timeoutMs: number;
  /** Each progress report of a job (what the worker reported after an epoch). */
  onProgress?: (id: string, progress: unknown) => void;
}

/**
 * Waits for the jobs to finish, each outcome passed to `onDone` as it comes, and returns them all in the order of
 * `ids`. Throws BYNER_STATE naming the unfinished jobs when `timeoutMs` passes first (they go on running).
 */
export async function waitForJobs(
  redis: Redis,
  ids: readonly string[],
  opts: WaitOptions,
  onDone: (outcome: JobOutcome) => void = () => {},
): Promise<JobOutcome[]> {
  const queue = new Queue(TRAIN_QUEUE, { connection: redis });
  // QueueEvents blocks on its connection (XREAD BLOCK): BullMQ gives it a duplicate of `redis`.
  const events = new QueueEvents(TRAIN_QUEUE, { connection: redis });
  const mine = new Set(ids);
  const onProgress = ({ jobId: id, data }: { jobId: string; data: unknown }) => {
    if (mine.has(id)) opts.onProgress?.(id, data);
  };
  events.on('progress', onProgress);
  const started = Date.now();
  const unfinished = new Set(ids);
  try {
    await events.waitUntilReady();
    const outcomes = await Promise.all(
      ids.map(async (id): Promise<JobOutcome> => {
        const job = await Job.fromId(queue, id);
        if (job === undefined) return { id, ok: false, reason: 'the job is not on the queue (removed?)' };
        const left = Math.max(1, opts.timeoutMs - (Date.now() - started));
        let outcome: JobOutcome;
        try {
          const result = (await job.waitUntilFinished(events, left)) as Record<string, unknown>;
          outcome = { id, ok: true, result };
        } catch (e) {
          const reason = (e as Error).message;
          if (/timed out before finishing/.test(reason)) throw timedOut(opts.timeoutMs, unfinished);
          outcome = { id, ok: false, reason };
        }
        unfinished.delete(id);
        onDone(outcome);
        return outcome;
      }),
    );
    return outcomes;
  } finally {
    events.off('progress', onProgress);
    await events.close();
    await queue.close();
  }
}

const timedOut = (ms: number, unfinished: Set<string>) =>
  new BynerError('BYNER_STATE', `the queued training jobs did not finish within ${ms} ms`, {
    expected: 'every job completed or failed',
    received: `unfinished: ${[...unfinished].join(', ')}`,
    hint: 'they go on running on the workers: wait longer with --wait-timeout, or list the models later with `byner models`',
  });
