// A training job on the queue: what it carries (the options that decide the model, the version it registers), its
// id, and the check a worker makes of it. Putting jobs on the queue is enqueue.ts's job, running them worker.ts's.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BynerError } from '../errors.js';
import { STREAM_NAME } from '../ticks/types.js';
import { newVersion } from '../train/train.js';

/** The BullMQ queue of training jobs, on the Redis of `--bus`. */
export const TRAIN_QUEUE = 'byner-train';

/** The options of a queued run: every TrainOptions field that decides the model, as JSON. */
export interface QueuedTrainOptions {
  ticks: number;
  source: { seed: number; amplitude: number; frequency: number; noise: number; bound: number };
  model: {
    window: number;
    horizon: number;
    layers: { units: number; activation: 'relu' | 'tanh' }[];
    dropout: number;
    seed: number;
  };
  /** `workers` is fixed at enqueue time: a retry on another machine must split batches the same way. */
  fit: { epochs: number; batchSize: number; patience: number; learningRate: number; workers: number };
  split: { train: number; validation: number; test: number };
  season: number;
  force: boolean;
}

export interface TrainJobData {
  format: 1;
  /** The run this job belongs to (`--run-id`, default the enqueue time). */
  run: string;
  stream: string;
  /** The model version the job registers, whichever worker finishes it and however often it is retried. */
  version: string;
  enqueued_at: string;
  /** The MongoDB database the job was enqueued for; a worker on another database refuses it. */
  db_name: string;
  options: QueuedTrainOptions;
}

const positiveInt = z.number().int().min(1);
const finite = z.number().refine(Number.isFinite);
const optionsSchema = z.strictObject({
  ticks: positiveInt,
  source: z.strictObject({
    seed: z.number().int().min(0),
    amplitude: finite,
    frequency: finite,
    noise: finite,
    bound: finite,
  }),
  model: z.strictObject({
    window: z.number().int().min(2),
    horizon: positiveInt,
    layers: z.array(z.strictObject({ units: positiveInt, activation: z.enum(['relu', 'tanh']) })).min(1),
    dropout: z.number().min(0).max(0.95),
    seed: z.number().int().min(0),
  }),
  fit: z.strictObject({
    epochs: positiveInt,
    batchSize: positiveInt,
    patience: positiveInt,
    learningRate: z.number().gt(0).max(1),
    workers: z.number().int().min(1).max(64),
  }),
  split: z.strictObject({ train: finite, validation: finite, test: finite }),
  season: positiveInt,
  force: z.boolean(),
});
const RUN_ID = /^[A-Za-z0-9._-]{1,40}$/;
const jobSchema = z.strictObject({
  format: z.literal(1),
  run: z.string().regex(RUN_ID),
  stream: z.string().regex(STREAM_NAME),
  version: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  enqueued_at: z.iso.datetime(),
  db_name: z.string().min(1),
  options: optionsSchema,
});

/** What a run id may hold (it is part of job ids, which BullMQ forbids to contain ':'). */
export const RUN_ID_PATTERN = RUN_ID;

/** The default run id: the enqueue time, to the millisecond (20261127T180512345Z). */
export const runIdAt = (at: Date): string => at.toISOString().replace(/[-:.]/g, '');

/** The first 10 hex digits of the SHA-256 of the options (key order as built by the caller). */
export const optionsHash = (options: QueuedTrainOptions): string =>
  createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 10);

/**
 * The job's id: `train.<stream>.<options hash>.<run>`. The same run, stream and options give the same id, so
 * enqueuing a job twice finds the first one instead of adding another.
 */
export const jobId = (run: string, stream: string, options: QueuedTrainOptions): string =>
  `train.${stream}.${optionsHash(options)}.${run}`;

/**
 * The data of a new job. Its version is `<the usual version of the enqueue time>-<stream>`: a run that trains
 * several streams at once gives each its own, and every attempt at the job registers this one.
 */
export function newJobData(
  run: string,
  stream: string,
  options: QueuedTrainOptions,
  dbName: string,
  at: Date,
): TrainJobData {
  return {
    format: 1,
    run,
    stream,
    version: `${newVersion(at)}-${stream}`,
    enqueued_at: at.toISOString(),
    db_name: dbName,
    options,
  };
}

/** The job's data, checked (a worker refuses a malformed job for good: BYNER_INPUT naming the bad fields). */
export function parseJobData(id: string | undefined, data: unknown): TrainJobData {
  const r = jobSchema.safeParse(data);
  if (r.success) return r.data as TrainJobData;
  throw new BynerError('BYNER_INPUT', `queued training job ${id ?? '(no id)'} holds malformed data`, {
    expected: 'the data `byner train --queue` enqueues (format 1: run, stream, version, options, …)',
    received: r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; '),
    hint: 'enqueue training jobs with `byner train --queue` of the same byner version as the workers',
  });
}
