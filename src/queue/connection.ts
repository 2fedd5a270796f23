// The Redis connection of the training queue (`--bus`): the URL checked and the first PING under a deadline as for
// the bus (src/bus/redis.ts), then reconnecting with a capped backoff. What the queue does on it is BullMQ's
// (enqueue.ts, worker.ts).
import type { Redis } from 'ioredis';
import { firstPing, parseBusUrl, redisClass } from '../bus/redis.js';

export interface RedisConnectOptions {
  /** How long the first connection and PING may take. Default 5 s. */
  deadlineMs?: number;
}

/**
 * Connects to `url` and PINGs it. Unlike the bus's fail-fast connection, this one waits through later outages
 * (reconnecting every 0.1 – 5 s, commands queued meanwhile), as BullMQ's blocking reads require:
 * `maxRetriesPerRequest: null`. Throws BYNER_CONFIG for a malformed URL, BYNER_BUS_UNREACHABLE (naming the URL,
 * password hidden) when Redis does not answer by the deadline.
 */
export async function connectRedis(url: string, options: RedisConnectOptions = {}): Promise<Redis> {
  const { safe } = parseBusUrl(url);
  const deadlineMs = options.deadlineMs ?? 5000;
  const RedisClient = await redisClass();
  const redis = new RedisClient(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: deadlineMs,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
  });
  await firstPing(redis, safe, deadlineMs);
  // Without a listener ioredis prints every failed reconnection; the caller sees outages through its commands.
  redis.on('error', () => {});
  return redis;
}
