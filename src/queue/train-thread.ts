// The thread that runs one queued training job (train/train.ts) with its checkpoints in GridFS, so that the
// worker's main thread stays free to renew the job's lock however long an epoch takes. It reports to the worker
// (worker.ts) by messages; the worker decides what becomes of the job.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { isBynerError } from '../errors.js';
import { openStore } from '../store/index.js';
import { DEFAULT_FIT, summaryJson, train } from '../train/train.js';
import { gridfsCheckpoints } from './gridfs-checkpoints.js';
import type { TrainJobData } from './jobs.js';

/** What the worker hands the thread. */
export interface TrainThreadInput {
  job: TrainJobData;
  jobId: string;
  /** This attempt's identity as the owner of the run's checkpoints. */
  owner: string;
  mongoUri: string;
  dbName: string;
  maxBacklogBytes: number;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
}

/** A serialized error: its BYNER_… code when it is a BynerError. */
export interface ThreadError {
  code?: string;
  message: string;
}

/** What the thread tells the worker; `done`, `stopped` and `failed` are last. */
export type TrainThreadMessage =
  | { type: 'log'; level: number; msg: string }
  | { type: 'epoch'; epoch: number; epochs: number; loss: number; valLoss?: number; improved: boolean }
  | { type: 'done'; result: ReturnType<typeof summaryJson> }
  | { type: 'stopped'; epochs: number }
  | { type: 'failed'; error: ThreadError };

/** What the worker may tell the thread: finish the current epoch, checkpoint it, then stop. */
export type TrainThreadCommand = { type: 'stop' };

/** Thrown from the epoch hook, after the epoch's checkpoint is stored, to stop the run where a retry resumes it. */
class StopAfterEpoch extends Error {
  constructor(readonly epochs: number) {
    super(`stopped after epoch ${epochs}`);
  }
}

async function run(input: TrainThreadInput, port: NonNullable<typeof parentPort>): Promise<void> {
  const post = (m: TrainThreadMessage) => port.postMessage(m);
  let stopRequested = false;
  const onCommand = (m: TrainThreadCommand) => {
    if (m.type === 'stop') stopRequested = true;
  };
  port.on('message', onCommand);
  const logger = pino(
    { level: input.logLevel, base: {}, timestamp: false },
    {
      write(line: string) {
        const { level, msg } = JSON.parse(line) as { level: number; msg?: string };
        post({ type: 'log', level, msg: msg ?? '' });
      },
    },
  );
  const { job } = input;
  const client = new MongoClient(input.mongoUri, {
    serverSelectionTimeoutMS: 10_000,
    appName: 'byner-worker',
  });
  let store: Awaited<ReturnType<typeof openStore>> | undefined;
  const workDir = await mkdtemp(join(tmpdir(), 'byner-job-'));
  let last: TrainThreadMessage;
  try {
    await client.connect();
    store = await openStore({
      mongoUri: input.mongoUri,
      dbName: input.dbName,
      mongo: { maxBacklogBytes: input.maxBacklogBytes },
      logger,
    });
    const checkpoints = gridfsCheckpoints(client.db(input.dbName), job.version, input.owner);
    await checkpoints.claim();
    const resume = await checkpoints.exists();
    const { options } = job;
    const summary = await train(
      store,
      {
        stream: job.stream,
        ticks: options.ticks,
        source: options.source,
        model: options.model,
        fit: { ...DEFAULT_FIT, ...options.fit },
        split: options.split,
        season: options.season,
        outputDir: null,
        workDir,
        resume,
        force: options.force,
        checkpoints,
        version: job.version,
      },
      {
        logger,
        onEpoch: (e) => {
          post({ type: 'epoch', ...e, epoch: e.epoch + 1 });
          if (stopRequested) throw new StopAfterEpoch(e.epoch + 1);
        },
      },
    );
    last = { type: 'done', result: summaryJson(summary) };
  } catch (e) {
    last =
      e instanceof StopAfterEpoch
        ? { type: 'stopped', epochs: e.epochs }
        : {
            type: 'failed',
            error: {
              code: isBynerError(e) ? e.code : undefined,
              message: (e as Error)?.message ?? String(e),
            },
          };
  }
  // The store flushes its writes on close: the job's results are stored before the worker hears it is done.
  const closed = await Promise.allSettled([store?.close(), client.close(), rm(workDir, { recursive: true })]);
  const failedClose = closed.find((r) => r.status === 'rejected');
  if (last.type === 'done' && failedClose !== undefined) {
    last = { type: 'failed', error: { message: `closing the store: ${String(failedClose.reason)}` } };
  }
  port.off('message', onCommand); // nothing keeps the thread alive after its last message
  post(last);
}

if (parentPort !== null) await run(workerData as TrainThreadInput, parentPort);
