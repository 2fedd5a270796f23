// Connecting to the bus (Redis, `--bus redis://HOST:PORT`): the one check of a --bus URL, a first PING with a
// deadline, reconnects with capped backoff, a timeout on every command, and a status for /healthz. What the keys
// mean is the other units' business (lease.ts, members.ts, ticks.ts; the training queue's in src/queue).
import type { Redis, RedisOptions } from 'ioredis';
import { BynerError } from '../errors.js';
import { metrics } from '../metrics/prometheus.js';
import type { StoreLogger } from '../store/types.js';

/** Timings of a bus connection; the defaults suit a Redis on the same network. */
export interface BusTimings {
  /** A command without an answer this long fails (the caller retries). Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Deadline of the first connection and PING at start. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Reconnect delays double from 50 ms up to this. Default 1000 ms. */
  maxReconnectDelayMs?: number;
}

/** A connection to the bus. Commands fail fast while Redis is unreachable: every caller retries with a deadline. */
export interface Bus {
  /** The URL without its password, for logs and messages. */
  readonly url: string;
  /** The connection for short commands (leases, appends, ranges). */
  readonly redis: Redis;
  /** Timings in force, defaults filled in. */
  readonly timings: Required<BusTimings>;
  /**
   * A second connection for blocking reads (XREAD BLOCK), whose command timeout is `blockMs` longer; closed with
   * the bus.
   */
  blockingConnection(blockMs: number): Redis;
  /** Whether Redis answers now, and since when it has not. */
  status(): BusStatus;
  /** Closes every connection of this bus. */
  close(): Promise<void>;
}

export interface BusStatus {
  /** `ready` when connected; `reconnecting` during an outage. */
  state: 'ready' | 'reconnecting' | 'closed';
  /** When the current outage began (ms since the epoch), or null when connected. */
  downSince: number | null;
  /** Reconnects after an outage since the bus was opened. */
  reconnects: number;
}

/** What a --bus URL looks like, for messages. */
export const BUS_URL_EXPECTED =
  'redis://[user:password@]HOST[:PORT][/DB] or rediss://… (e.g. redis://127.0.0.1:6379)';

/** Whether `url` is a --bus URL: redis: or rediss:, a host, an optional database 0-99, no query or fragment. */
export function isBusUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const db = u.pathname.replace(/^\//, '');
  return (
    (u.protocol === 'redis:' || u.protocol === 'rediss:') &&
    u.hostname !== '' &&
    (db === '' || /^\d{1,2}$/.test(db)) &&
    u.search === '' &&
    u.hash === ''
  );
}

/** `redis://user:***@host:port/db`: the URL with its password hidden, for logs and messages. */
export const redactRedisUrl = (url: string): string =>
  url.replace(/^(rediss?:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');

/** A --bus URL checked (BYNER_CONFIG when it is not one), with its password hidden for messages. */
export function parseBusUrl(url: string): { url: string; safe: string } {
  if (!isBusUrl(url)) {
    throw new BynerError('BYNER_CONFIG', 'invalid --bus URL', {
      expected: BUS_URL_EXPECTED,
      received: redactRedisUrl(url),
    });
  }
  return { url, safe: redactRedisUrl(url) };
}

/**
 * Connects a lazily connecting client and PINGs it within `deadlineMs`; when Redis does not answer, disconnects it
 * and throws BYNER_BUS_UNREACHABLE naming the URL (password hidden) with a hint.
 */
export async function firstPing(redis: Redis, safeUrl: string, deadlineMs: number): Promise<void> {
  let lastError: unknown;
  const onError = (e: unknown) => {
    lastError = e;
  };
  redis.on('error', onError);
  try {
    await withTimeout(
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      deadlineMs,
    );
  } catch (error) {
    redis.disconnect();
    const why =
      lastError instanceof Error ? lastError.message : error instanceof Error ? error.message : String(error);
    throw new BynerError('BYNER_BUS_UNREACHABLE', `cannot reach the bus at ${safeUrl}`, {
      expected: `a Redis server answering PING within ${deadlineMs} ms`,
      received: why,
      hint: 'start redis-server, or check --bus (host, port, password; 127.0.0.1 rather than localhost, which may be ::1)',
      cause: error,
    });
  } finally {
    redis.off('error', onError);
  }
}

/** The ioredis client class, loaded on first use: the commands that need no Redis do not pay for loading it. */
export async function redisClass(): Promise<typeof Redis> {
  return (await import('ioredis')).Redis;
}

const DEFAULTS: Required<BusTimings> = {
  commandTimeoutMs: 2000,
  connectTimeoutMs: 5000,
  maxReconnectDelayMs: 1000,
};

/** ioredis options: no offline queue (a command while disconnected fails at once), no resend after a drop. */
function redisOptions(t: Required<BusTimings>, commandTimeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: t.connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), t.maxReconnectDelayMs),
  };
}

/**
 * Connects to the bus and PINGs it within `connectTimeoutMs`: BYNER_BUS_UNREACHABLE with the URL and a hint when
 * it does not answer. Later outages are logged once each (lost, then back with its length) and retried for good.
 */
export async function connectBus(
  url: string,
  options: BusTimings & { logger?: StoreLogger; name?: string } = {},
): Promise<Bus> {
  const { safe } = parseBusUrl(url);
  const timings: Required<BusTimings> = {
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    maxReconnectDelayMs: options.maxReconnectDelayMs ?? DEFAULTS.maxReconnectDelayMs,
  };
  const logger = options.logger ?? { info() {}, warn() {}, error() {} };
  const RedisClient = await redisClass();
  const redis = new RedisClient(url, {
    ...redisOptions(timings, timings.commandTimeoutMs),
    connectionName: options.name,
  });
  await firstPing(redis, safe, timings.connectTimeoutMs);
  redis.on('error', () => {}); // reported through the status and by the callers that retry
  const status: BusStatus = { state: 'ready', downSince: null, reconnects: 0 };
  redis.on('close', () => {
    if (status.state !== 'ready') return;
    status.state = 'reconnecting';
    status.downSince = Date.now();
    metrics.busErrors.inc({ kind: 'connect' });
    logger.warn({ bus: safe }, 'lost the connection to the bus; reconnecting (work that needs it waits)');
  });
  redis.on('ready', () => {
    if (status.state !== 'reconnecting') return;
    const downMs = Date.now() - (status.downSince ?? Date.now());
    status.state = 'ready';
    status.downSince = null;
    status.reconnects += 1;
    logger.info({ bus: safe, downMs }, `the bus is back after ${(downMs / 1000).toFixed(1)} s`);
  });
  const extra = new Set<Redis>();
  return {
    url: safe,
    redis,
    timings,
    blockingConnection(blockMs) {
      const r = new RedisClient(url, {
        ...redisOptions(timings, timings.commandTimeoutMs + blockMs),
        lazyConnect: false,
        connectionName: options.name === undefined ? undefined : `${options.name}-reader`,
      });
      r.on('error', () => {});
      extra.add(r);
      return r;
    },
    status: () => ({ ...status }),
    async close() {
      status.state = 'closed';
      for (const r of [redis, ...extra]) r.disconnect();
      extra.clear();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
