// `byner train --queue`: puts training jobs on the queue that `byner worker` processes (src/queue/enqueue.ts): one
// per stream of `--stream a,b,c`, or one global model of `--streams a,b,c`; prints the job ids and versions, and with
// --wait each job's result as `train --json` prints it. The options of the job are train's own (`--model` too);
// training itself happens on the workers.
import { type Command, Option } from 'commander';
import { BynerError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { TrainChoice } from '../../models/kinds.js';
import { connectRedis } from '../../queue/connection.js';
import type { JobOutcome } from '../../queue/enqueue.js';
import { describeJob, type QueuedTrainOptions, runIdAt } from '../../queue/jobs.js';
import { DEFAULT_FIT } from '../../train/train.js';
import { addSettings, flagOf, givenOnCommandLine, readSettings } from '../options.js';
import { openStoreFor, requireCluster, sourceFrom } from './shared.js';

const QUEUE_SETTINGS = ['bus', 'runId', 'attempts', 'waitTimeout'] as const;
/** Train settings with no meaning for a queued job (they concern the machine that would train). */
const LOCAL_ONLY = ['outputDir', 'dataDir', 'durable', 'maxBacklogMb'] as const;
/** Workers' threads per batch when --workers is not given: fixed at enqueue, so every retry splits batches alike. */
const QUEUED_WORKERS = 2;

/** Adds --queue, --wait and the queue's settings to `byner train`. */
export function addQueueOptions(cmd: Command): void {
  cmd
    .addOption(
      new Option(
        '--queue',
        'enqueue the training for `byner worker` processes instead of training here: one job per stream of ' +
          '--stream (a comma list allowed), or one job fitting the global model of --streams',
      ),
    )
    .addOption(new Option('--wait', 'with --queue: wait for the jobs and print each result as --json does'));
  addSettings(cmd, QUEUE_SETTINGS);
}

/** Whether `train` was asked to enqueue; options that need --queue are refused without it (BYNER_CONFIG). */
export function queueRequested(cmd: Command): boolean {
  const flags = cmd.opts() as { queue?: boolean; wait?: boolean };
  if (flags.queue === true) return true;
  const given = [
    ...(flags.wait === true ? ['--wait'] : []),
    ...givenOnCommandLine(cmd, QUEUE_SETTINGS).map(flagOf),
  ];
  if (given.length > 0) {
    throw new BynerError('BYNER_CONFIG', `${given.join(', ')} only go with --queue`, {
      expected: '--queue with them, or none of them (training here)',
      received: given.join(' '),
      hint: 'add --queue to enqueue the training for `byner worker` processes',
    });
  }
  return false;
}

/** The train settings a queued job carries. */
interface TrainSettings {
  trainStream?: string[];
  trainStreams?: string[];
  trainModel?: TrainChoice;
  ticks?: number;
  window?: number;
  horizon?: number;
  units?: number[];
  activation?: 'relu' | 'tanh';
  dropout?: number;
  epochs?: number;
  batchSize?: number;
  patience?: number;
  learningRate?: number;
  workers?: number;
  split?: number[];
  season?: number;
  seed?: number;
  amplitude?: number;
  frequency?: number;
  noise?: number;
  bound?: number;
  mongoUri?: string;
  dbName?: string;
}

/** The job's options from train's settings: what `byner train` would pass to the training job. */
function queuedOptions(s: TrainSettings, force: boolean): QueuedTrainOptions {
  return {
    choice: s.trainModel!,
    ticks: s.ticks!,
    source: sourceFrom(s),
    model: {
      window: s.window!,
      horizon: s.horizon!,
      layers: s.units!.map((units) => ({ units, activation: s.activation! })),
      dropout: s.dropout!,
      seed: s.seed!,
    },
    fit: {
      epochs: s.epochs ?? DEFAULT_FIT.epochs,
      batchSize: s.batchSize ?? DEFAULT_FIT.batchSize,
      patience: s.patience ?? DEFAULT_FIT.patience,
      learningRate: s.learningRate ?? DEFAULT_FIT.learningRate,
      workers: s.workers ?? QUEUED_WORKERS,
    },
    split: { train: s.split![0], validation: s.split![1], test: s.split![2] },
    season: s.season!,
    force,
  };
}

/** `byner train --queue`: enqueues, prints, and with --wait waits; a failed or unfinished job makes it fail. */
export async function enqueueFromCommand(cmd: Command, s: TrainSettings, logger: Logger): Promise<void> {
  const q = readSettings(cmd, QUEUE_SETTINGS);
  const flags = cmd.opts() as { resume?: boolean; force?: boolean; json?: boolean; wait?: boolean };
  const { bus } = requireCluster('byner train --queue', { bus: q.bus, mongoUri: s.mongoUri });
  const refused = [
    ...(flags.resume === true ? ['--resume'] : []),
    ...givenOnCommandLine(cmd, LOCAL_ONLY).map(flagOf),
  ];
  if (refused.length > 0) {
    throw new BynerError('BYNER_CONFIG', `${refused.join(', ')} do not go with --queue`, {
      expected:
        'train options only: a queued job resumes by itself from its checkpoint in MongoDB, draws no plots, ' +
        "uses the worker's store settings",
      received: refused.join(' '),
      hint: 'leave them out',
    });
  }
  // --streams: one job, the global model of them all; --stream a,b,c: one job per stream.
  const jobStreams = s.trainStreams !== undefined ? [s.trainStreams] : s.trainStream!.map((x) => [x]);
  // MongoDB must answer before jobs that need it are queued.
  await (await openStoreFor(s, logger)).close();
  // The queue's client is loaded on use: other commands do not pay for it at start.
  const { enqueueTraining, waitForJobs } = await import('../../queue/enqueue.js');
  const redis = await connectRedis(bus);
  try {
    const now = new Date();
    const jobs = await enqueueTraining(redis, {
      run: q.runId ?? runIdAt(now),
      jobs: jobStreams,
      options: queuedOptions(s, flags.force === true),
      dbName: s.dbName!,
      attempts: q.attempts!,
      now,
    });
    for (const j of jobs) {
      const line = `job ${j.id}: ${describeJob(j.data)}, ${j.added ? 'queued' : `already on the queue (${j.state})`}`;
      if (flags.wait) logger.info(line);
      else if (flags.json) {
        const { id, data: _, ...rest } = j;
        process.stdout.write(`${JSON.stringify({ job: id, ...rest })}\n`);
      } else process.stdout.write(`${line}\n`);
    }
    if (!flags.wait) return;
    const streams = new Map(jobs.map((j) => [j.id, j.streams]));
    const outcomes = await waitForJobs(
      redis,
      jobs.map((j) => j.id),
      {
        timeoutMs: q.waitTimeout!,
        onProgress: (id, p) => {
          const { epoch, epochs } = (p ?? {}) as { epoch?: number; epochs?: number };
          if (epoch !== undefined) logger.info(`job ${id}: epoch ${epoch}/${epochs}`);
        },
      },
      (o: JobOutcome) => {
        if (o.ok)
          process.stdout.write(`${JSON.stringify({ job: o.id, streams: streams.get(o.id), ...o.result })}\n`);
        else logger.error(`job ${o.id} failed: ${o.reason}`);
      },
    );
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0) {
      throw new BynerError('BYNER_STATE', `${failed.length} of ${outcomes.length} training jobs failed`, {
        expected: 'every job completed',
        received: failed.map((o) => `${o.id}: ${o.ok ? '' : o.reason.split('\n')[0]}`).join('; '),
        hint: "see the workers' logs; fix the cause and enqueue again",
      });
    }
  } finally {
    redis.disconnect();
  }
}
