// A training worker: takes jobs from queue `byner-train` (BullMQ) and runs each in a thread of its own
// (train-thread.ts), reporting epochs as the job's progress. BullMQ holds a lock per job that this process renews;
// when a worker dies, another one's stalled-job check puts the job back on the queue and a worker resumes it from
// its GridFS checkpoint. A graceful stop ends the current epoch, checkpoints it and puts the job back at once.
import { hostname } from 'node:os';
import type { Worker as Thread } from 'node:worker_threads';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { startWorker } from '../engine/threads.js';
import type { Logger } from '../log/logger.js';
import { parseJobData, TRAIN_QUEUE, type TrainJobData } from './jobs.js';
import type { TrainThreadCommand, TrainThreadInput, TrainThreadMessage } from './train-thread.js';

export interface TrainingWorkerOptions {
  redis: Redis;
  mongoUri: string;
  dbName: string;
  maxBacklogBytes: number;
  /** Jobs run at once (each in its own thread). */
  concurrency: number;
  /** BullMQ lockDuration: a job whose lock is not renewed for this long is taken for abandoned. */
  lockMs: number;
  /** BullMQ stalledInterval: how often this worker looks for abandoned jobs. */
  stalledMs: number;
  /** BullMQ maxStalledCount: how often a job may be abandoned before it fails for good. */
  maxStalled: number;
  logger: Logger;
  logLevel: TrainThreadInput['logLevel'];
  /** The worker's name in logs and in the checkpoints it owns. Default `<host>:<pid>`. */
  name?: string;
}

export interface TrainingWorker {
  readonly name: string;
  /** Stops taking jobs; each running job finishes its epoch, checkpoints it and goes back to the queue. */
  stop(): Promise<void>;
  /** Settles when the worker has closed. */
  readonly closed: Promise<void>;
}

/** Errors of a job that another attempt may not repeat: the store or the network failing. Others fail for good. */
const RETRYABLE = new Set([
  'BYNER_STORE',
  'BYNER_STORE_UNREACHABLE',
  'BYNER_STORE_TIMEOUT',
  'BYNER_STORE_REJECTED',
  undefined,
]);

/** The thread module: train-thread.js in dist, train-thread.ts under tsx (tests). */
const threadModule = new URL(
  `./train-thread.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`,
  import.meta.url,
);

/** pino's numeric levels (the thread's log lines) → this logger's methods; fatal is logged as error. */
const LEVELS: Record<number, 'debug' | 'info' | 'warn' | 'error'> = {
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'error',
};

type Outcome = Extract<TrainThreadMessage, { type: 'done' | 'stopped' | 'failed' }>;

interface Running {
  stop(): void;
  kill(reason: string): void;
}

export async function startTrainingWorker(opts: TrainingWorkerOptions): Promise<TrainingWorker> {
  const name = opts.name ?? `${hostname()}:${process.pid}`;
  const { logger } = opts;
  const running = new Map<string, Running>();
  let stopping = false;

  /** Runs the job's thread to its last message (or its death). */
  const runThread = (job: Job, data: TrainJobData, owner: string): Promise<Outcome> => {
    const id = job.id as string;
    const input: TrainThreadInput = {
      job: data,
      jobId: id,
      owner,
      mongoUri: opts.mongoUri,
      dbName: opts.dbName,
      maxBacklogBytes: opts.maxBacklogBytes,
      logLevel: opts.logLevel,
    };
    const thread: Thread = startWorker(threadModule, input);
    return new Promise<Outcome>((resolve) => {
      let outcome: Outcome | undefined;
      const finish = (o: Outcome) => {
        outcome ??= o;
        running.delete(id);
        resolve(outcome);
      };
      running.set(id, {
        stop: () => thread.postMessage({ type: 'stop' } satisfies TrainThreadCommand),
        kill: (reason) => {
          outcome ??= { type: 'failed', error: { message: reason } };
          void thread.terminate();
        },
      });
      thread.on('message', (m: TrainThreadMessage) => {
        if (m.type === 'log') logger[LEVELS[m.level] ?? 'info'](`[${id}] ${m.msg}`);
        else if (m.type === 'epoch') {
          const val = m.valLoss === undefined ? '' : `, validation ${m.valLoss.toFixed(6)}`;
          logger.info(
            `[${id}] epoch ${m.epoch}/${m.epochs}: loss ${m.loss.toFixed(6)}${val}${m.improved ? ' (best)' : ''}`,
          );
          job
            .updateProgress({ epoch: m.epoch, epochs: m.epochs, loss: m.loss, val_loss: m.valLoss ?? null })
            .catch((e: Error) => logger.warn(`[${id}] could not report progress: ${e.message}`));
        } else {
          outcome ??= m;
          void thread.terminate();
        }
      });
      thread.on('error', (e) => {
        outcome ??= { type: 'failed', error: { message: `the training thread crashed: ${e.message}` } };
      });
      thread.on('exit', (code) =>
        finish({
          type: 'failed',
          error: { message: `the training thread exited (code ${code}) without a result` },
        }),
      );
    });
  };

  const processJob = async (job: Job, token?: string): Promise<unknown> => {
    const id = job.id as string;
    let data: TrainJobData;
    try {
      data = parseJobData(id, job.data);
    } catch (e) {
      throw new UnrecoverableError((e as Error).message);
    }
    if (data.db_name !== opts.dbName) {
      throw new UnrecoverableError(
        `job ${id} was enqueued for MongoDB database ${data.db_name}, this worker uses ${opts.dbName}: ` +
          'start workers with the --db-name (and --mongo-uri) of `byner train --queue`',
      );
    }
    if (stopping) return backToQueue(job, token, 'the worker is stopping');
    logger.info(
      `[${id}] ${job.attemptsStarted > 1 ? `attempt ${job.attemptsStarted}` : 'starting'}: stream ` +
        `${data.stream}, version ${data.version}`,
    );
    const outcome = await runThread(job, data, `${name}/${token ?? 'no-token'}`);
    if (outcome.type === 'done') return outcome.result;
    if (outcome.type === 'stopped') return backToQueue(job, token, `stopped after epoch ${outcome.epochs}`);
    const { code, message } = outcome.error;
    throw RETRYABLE.has(code) ? new Error(message) : new UnrecoverableError(message);
  };

  /** Puts an active job back on the queue without counting an attempt (BullMQ: moveToWait + WaitingError). */
  const backToQueue = async (job: Job, token: string | undefined, why: string): Promise<never> => {
    logger.info(`[${job.id}] back on the queue (${why}): the next worker resumes it from its checkpoint`);
    await job.moveToWait(token);
    throw new WaitingError();
  };

  const worker = new Worker(TRAIN_QUEUE, processJob, {
    connection: opts.redis,
    name,
    concurrency: opts.concurrency,
    lockDuration: opts.lockMs,
    stalledInterval: opts.stalledMs,
    maxStalledCount: opts.maxStalled,
    autorun: false,
  });
  const closed = new Promise<void>((resolve) => worker.once('closed', () => resolve()));
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      logger.error(`[${id}] lost its hold on the job (Redis unreachable or too slow): stopping it at once`);
      running.get(id)?.kill('this worker lost its hold on the job; another worker retries it');
    }
  });
  worker.on('completed', (job, result) => {
    const r = result as { model_version?: string; serving_reason?: string };
    logger.info(`[${job.id}] completed: registered ${r.model_version} (${r.serving_reason})`);
  });
  worker.on('failed', (job, e) => {
    const left = job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1);
    logger.error(`[${job?.id}] failed${left ? ' (it will be retried)' : ''}: ${e.message}`);
  });
  worker.on('stalled', (id) => logger.warn(`[${id}] its worker stopped answering: back on the queue`));
  worker.on('error', (e) => logger.warn(`queue: ${e.message}`));
  await worker.waitUntilReady();
  void worker.run().catch((e: Error) => logger.error(`queue: the worker stopped: ${e.message}`));

  return {
    name,
    closed,
    async stop() {
      if (stopping) return closed;
      stopping = true;
      for (const job of running.values()) job.stop();
      await worker.close();
    },
  };
}
