// A training job on the queue: what it carries (its streams, the options that decide the models, the stamp of the
// versions it registers), its id, and the check a worker makes of it. Putting jobs on the queue is enqueue.ts's job,
// running them worker.ts's.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BynerError } from '../errors.js';
import { KIND_NAMES, type ModelKind, TRAIN_CHOICES, type TrainChoice } from '../models/kinds.js';
import { STREAM_NAME } from '../ticks/types.js';
import { ladderVersion } from '../train/ladder.js';
import { newVersion } from '../train/train.js';

/** The BullMQ queue of training jobs, on the Redis of `--bus`. */
export const TRAIN_QUEUE = 'byner-train';

/** The options of a queued run: what to fit (`--model`) and every TrainOptions field that decides it, as JSON. */
export interface QueuedTrainOptions {
  /** `--model`: lstm (on one stream, the training job of train.ts), linear, or all (ladder.ts). */
  choice: TrainChoice;
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
  format: 2;
  /** The run this job belongs to (`--run-id`, default the enqueue time). */
  run: string;
  /** One stream (`--stream`), or several for one global model of them (`--streams`). */
  streams: string[];
  /**
   * The common part of the versions the job registers (`<kind>[-global]-<stamp>`: jobVersions), whichever worker
   * finishes it and however often it is retried.
   */
  stamp: string;
  enqueued_at: string;
  /** The MongoDB database the job was enqueued for; a worker on another database refuses it. */
  db_name: string;
  options: QueuedTrainOptions;
}

const positiveInt = z.number().int().min(1);
const finite = z.number().refine(Number.isFinite);
const optionsSchema = z.strictObject({
  choice: z.enum(TRAIN_CHOICES as [TrainChoice, ...TrainChoice[]]),
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
/** What a run id may hold (it is part of job ids, which BullMQ forbids to contain ':'). */
const RUN_ID = /^[A-Za-z0-9._-]{1,40}$/;
const jobSchema = z.strictObject({
  format: z.literal(2),
  run: z.string().regex(RUN_ID),
  streams: z
    .array(z.string().regex(STREAM_NAME))
    .min(1)
    .refine((names) => new Set(names).size === names.length, 'each stream once'),
  stamp: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  enqueued_at: z.iso.datetime(),
  db_name: z.string().min(1),
  options: optionsSchema,
});

/** The default run id: the enqueue time, to the millisecond (20261127T180512345Z). */
export const runIdAt = (at: Date): string => at.toISOString().replace(/[-:.]/g, '');

/** The first 10 hex digits of the SHA-256 of the options (key order as built by the caller). */
export const optionsHash = (options: QueuedTrainOptions): string =>
  createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 10);

/**
 * The job's id: `train.<streams joined by +>.<options hash>.<run>`. The same run, streams and options give the same
 * id, so enqueuing a job twice finds the first one instead of adding another.
 */
export const jobId = (run: string, streams: readonly string[], options: QueuedTrainOptions): string =>
  `train.${streams.join('+')}.${optionsHash(options)}.${run}`;

/**
 * The data of a new job. The stamp of its versions is the enqueue time, and for a job of one stream that stream:
 * `lstm-20261127T180512.345Z-co2` (a run that trains several streams one job each gives each its own versions),
 * `linear-global-20261127T180512.345Z` for a global model. Every attempt at the job registers these versions.
 */
export function newJobData(
  run: string,
  streams: readonly string[],
  options: QueuedTrainOptions,
  dbName: string,
  at: Date,
): TrainJobData {
  const time = newVersion(at).slice('lstm-'.length);
  return {
    format: 2,
    run,
    streams: [...streams],
    stamp: streams.length === 1 ? `${time}-${streams[0]}` : time,
    enqueued_at: at.toISOString(),
    db_name: dbName,
    options,
  };
}

/** The kinds a job registers: its `--model`, or every kind of the ladder for `all`. */
const jobKinds = (job: Pick<TrainJobData, 'options'>): ModelKind[] =>
  job.options.choice === 'all' ? [...KIND_NAMES] : [job.options.choice];

/** The versions a job registers, in ladder order. */
export const jobVersions = (job: Pick<TrainJobData, 'options' | 'streams' | 'stamp'>): string[] =>
  jobKinds(job).map((kind) => ladderVersion(kind, job.streams.length > 1, job.stamp));

/** The version of the job's LSTM run (which names its checkpoints in GridFS); null when the job fits no LSTM. */
export const lstmVersion = (job: Pick<TrainJobData, 'options' | 'streams' | 'stamp'>): string | null =>
  jobKinds(job).includes('lstm') ? ladderVersion('lstm', job.streams.length > 1, job.stamp) : null;

/** A job in a log line: `stream co2, version lstm-…-co2`; `streams a,b, model linear (global), version …`. */
export function describeJob(data: TrainJobData): string {
  const { streams, options } = data;
  const versions = jobVersions(data);
  return [
    streams.length === 1 ? `stream ${streams[0]}` : `streams ${streams.join(',')}`,
    ...(options.choice === 'lstm' && streams.length === 1
      ? []
      : [`model ${options.choice}${streams.length > 1 ? ' (global)' : ''}`]),
    `${versions.length === 1 ? 'version' : 'versions'} ${versions.join(', ')}`,
  ].join(', ');
}

/** The job's data, checked (a worker refuses a malformed job for good: BYNER_INPUT naming the bad fields). */
export function parseJobData(id: string | undefined, data: unknown): TrainJobData {
  const r = jobSchema.safeParse(data);
  if (r.success) return r.data as TrainJobData;
  throw new BynerError('BYNER_INPUT', `queued training job ${id ?? '(no id)'} holds malformed data`, {
    expected: 'the data `byner train --queue` enqueues (format 2: run, streams, stamp, options, …)',
    received: r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; '),
    hint: 'enqueue training jobs with `byner train --queue` of the same byner version as the workers',
  });
}
