// Pieces several commands share: the synthetic source's settings, the server's, and the default start time.
import { BynerError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { openStore, type Store } from '../../store/index.js';
import type { ServerOptions } from '../../stream/server.js';
import { DEFAULT_SOURCE, type SineSource, TICK_MS } from '../../ticks/generator.js';

export const SOURCE_SETTINGS = ['seed', 'amplitude', 'frequency', 'noise', 'bound'] as const;

/** The LSTM's network and training settings (its seed is `seed`, which `train` shares with the source). */
export const LSTM_SETTINGS = [
  'units',
  'activation',
  'dropout',
  'epochs',
  'batchSize',
  'patience',
  'learningRate',
  'workers',
] as const;

export function sourceFrom(s: Partial<Record<(typeof SOURCE_SETTINGS)[number], number>>): SineSource {
  return {
    seed: s.seed ?? DEFAULT_SOURCE.seed,
    amplitude: s.amplitude ?? DEFAULT_SOURCE.amplitude,
    frequency: s.frequency ?? DEFAULT_SOURCE.frequency,
    noise: s.noise ?? DEFAULT_SOURCE.noise,
    bound: s.bound ?? DEFAULT_SOURCE.bound,
  };
}

/** The first tick's time: as given, or whole seconds such that the last of `count` ticks is now. */
export function parseStartTime(iso: string | undefined, count: number, now = Date.now()): Date {
  if (iso === undefined) return new Date(Math.floor(now / 1000) * 1000 - (count - 1) * TICK_MS);
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    throw new BynerError('BYNER_CONFIG', 'invalid --start-time', {
      expected: 'an ISO-8601 date-time',
      received: iso,
    });
  }
  return d;
}

export const STORE_SETTINGS = ['dataDir', 'mongoUri', 'dbName'] as const;
/** For commands that write: how much a write queue may hold, and the embedded store's durability. */
export const WRITE_SETTINGS = ['maxBacklogMb', 'durable'] as const;

/** `--max-backlog-mb` in bytes (the default when the command does not take it). */
export const backlogBytes = (s: { maxBacklogMb?: number }): number => (s.maxBacklogMb ?? 64) * 2 ** 20;

/** The server's limits and timings, shared by `serve` and `demo`. */
export const SERVER_SETTINGS = [
  'heartbeat',
  'maxClients',
  'clientBuffer',
  'connectionTimeout',
  'headerTimeout',
  'allowedHost',
  'corsOrigin',
] as const;

export function serverOptionsFrom(s: {
  heartbeat?: number;
  maxClients?: number;
  clientBuffer?: number;
  connectionTimeout?: number;
  headerTimeout?: number;
  allowedHost?: string[];
  corsOrigin?: string[];
}): Pick<
  ServerOptions,
  | 'heartbeatMs'
  | 'maxClients'
  | 'maxClientBytes'
  | 'connectionTimeoutMs'
  | 'headersTimeoutMs'
  | 'allowedHosts'
  | 'corsOrigins'
> {
  return {
    heartbeatMs: s.heartbeat,
    maxClients: s.maxClients,
    maxClientBytes: s.clientBuffer,
    connectionTimeoutMs: s.connectionTimeout,
    headersTimeoutMs: s.headerTimeout,
    allowedHosts: s.allowedHost,
    corsOrigins: s.corsOrigin,
  };
}

/** Opens the store the settings name (MongoDB when a URI is given, else the embedded one) and says which. */
export async function openStoreFor(
  s: { dataDir?: string; mongoUri?: string; dbName?: string; maxBacklogMb?: number; durable?: boolean },
  logger: Logger,
): Promise<Store> {
  // The store itself logs which one is in use once it is open.
  return openStore({
    dataDir: s.dataDir,
    mongoUri: s.mongoUri,
    dbName: s.dbName,
    durable: s.durable,
    mongo: { maxBacklogBytes: backlogBytes(s) },
    logger,
  });
}
