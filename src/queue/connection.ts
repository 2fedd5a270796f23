// The Redis connection of the training queue (`--bus`): opened with a first PING under a deadline, so that an
// unreachable Redis is an error at start naming the URL, then reconnecting with a capped backoff. What the queue
// does on it is BullMQ's (enqueue.ts, worker.ts).
import type { Redis } from 'ioredis';
import { BynerError } from '../errors.js';

/** `redis://user:***@host:port/db`: the URL with its password hidden, for messages. */
export const redactRedisUrl = (url: string): string =>
  url.replace(/^(rediss?:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');

export interface RedisConnectOptions {
  /** How long the first connection and PING may take. Default 5 s. */
  deadlineMs?: number;
}

/**
 * Connects to `url` and PINGs it. The connection waits through later outages (reconnecting every 0.1 – 5 s,
 * commands queued meanwhile, as BullMQ's blocking reads require: `maxRetriesPerRequest: null`). Throws
 * BYNER_BUS_UNREACHABLE, naming the URL (password hidden), when Redis does not answer by the deadline.
 */
export async function connectRedis(url: string, options: RedisConnectOptions = {}): Promise<Redis> {
  const deadlineMs = options.deadlineMs ?? 5000;
  // Loaded on use: every `byner` command would otherwise pay for the Redis client at start.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: deadlineMs,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
  });
  let lastError: unknown;
  // Without a listener ioredis prints every failed reconnection; the caller sees outages through its commands.
  redis.on('error', (e) => {
    lastError = e;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs);
      }),
    ]);
    return redis;
  } catch (e) {
    redis.disconnect();
    const why = lastError instanceof Error ? lastError.message : (e as Error).message;
    throw new BynerError('BYNER_BUS_UNREACHABLE', `cannot reach Redis at ${redactRedisUrl(url)}`, {
      expected: 'a Redis server answering PING (--bus redis://HOST:PORT)',
      received: why,
      hint: 'start Redis, or check the host, port and password of --bus',
      cause: e,
    });
  } finally {
    clearTimeout(timer);
  }
}
