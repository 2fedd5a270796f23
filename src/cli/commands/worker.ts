// `byner worker`: runs the training jobs of `byner train --queue` (src/queue/worker.ts) until SIGTERM or SIGINT,
// then stops gracefully: running jobs finish their epoch, checkpoint it and go back to the queue. A second signal
// quits at once (the job is retried from its last checkpoint once its lock expires).
import type { Command } from 'commander';
import { redactRedisUrl } from '../../bus/redis.js';
import { connectRedis } from '../../queue/connection.js';
import { TRAIN_QUEUE } from '../../queue/jobs.js';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import { nextStopSignal } from './serve.js';
import { backlogBytes, openStoreFor, requireCluster } from './shared.js';

const NAMES = [
  'bus',
  'mongoUri',
  'dbName',
  'maxBacklogMb',
  'concurrency',
  'lockMs',
  'stalledMs',
  'maxStalled',
] as const;

export function workerCommand(program: Command): Command {
  const cmd = program
    .command('worker')
    .description(
      'runs queued training jobs (`byner train --queue`) until SIGTERM; a job whose worker dies is resumed by another from its last checkpoint',
    );
  addSettings(cmd, NAMES);
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const { bus, mongoUri } = requireCluster('byner worker', s);
    const { logger, level } = makeContext(cmd);
    // Both reachable before taking a job: a worker that cannot store a model should not hold one.
    await (await openStoreFor(s, logger)).close();
    // The queue's client is loaded on use: other commands do not pay for it at start.
    const { startTrainingWorker } = await import('../../queue/worker.js');
    const redis = await connectRedis(bus);
    try {
      const worker = await startTrainingWorker({
        redis,
        mongoUri,
        dbName: s.dbName!,
        maxBacklogBytes: backlogBytes(s),
        concurrency: s.concurrency!,
        lockMs: s.lockMs!,
        stalledMs: s.stalledMs!,
        maxStalled: s.maxStalled!,
        logger,
        logLevel: level,
      });
      logger.info(
        `worker ${worker.name}: taking training jobs from queue ${TRAIN_QUEUE} at ${redactRedisUrl(bus)} ` +
          `(${s.concurrency} at a time; a job is taken for abandoned after ${s.lockMs} ms without its worker)`,
      );
      const signal = await Promise.race([nextStopSignal(), worker.closed.then(() => null)]);
      if (signal !== null) {
        logger.warn(
          `${signal}: stopping — running jobs finish their epoch, checkpoint it and go back to the queue ` +
            `(${signal} again to quit at once)`,
        );
        const quit = () => process.kill(process.pid, 'SIGKILL');
        process.once('SIGTERM', quit);
        process.once('SIGINT', quit);
        await worker.stop();
        process.off('SIGTERM', quit);
        process.off('SIGINT', quit);
      }
      logger.info(`worker ${worker.name}: stopped`);
    } finally {
      redis.disconnect();
    }
  });
  return cmd;
}
