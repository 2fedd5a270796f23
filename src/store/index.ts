// Opens the chosen store (MongoDB when a URI is given, else the embedded SQLite in the data dir) and the
// helpers the CLI wires up (describe, stats, seeding). Flags and environment precedence is the config's job.

import { join } from 'node:path';
import { BynerError } from '../errors.js';
import type { Tick } from '../ticks/types.js';
import { redactUri } from './mongo/errors.js';
import { DEFAULT_DB_NAME, type MongoStoreOptions, openMongoStore } from './mongo/mongo-store.js';
import { openSqliteStore, SQLITE_FILE } from './sqlite/sqlite-store.js';
import type { Store, StoreLogger, TickCollection } from './types.js';

export { redactUri } from './mongo/errors.js';
export { DEFAULT_DB_NAME } from './mongo/mongo-store.js';
export { allStored, RefusedDocumentsError } from './receipt.js';
export * from './types.js';

export const DEFAULT_DATA_DIR = './data';

export interface StoreOptions {
  /** MongoDB connection string; when absent the embedded store is used. */
  mongoUri?: string;
  /** MongoDB database name. Default `byner_analyzer`. */
  dbName?: string;
  /** Directory of the embedded store. Default `./data`. */
  dataDir?: string;
  /** Embedded store only: sync every write to disk (SQLite synchronous=FULL), surviving a power loss. */
  durable?: boolean;
  logger?: StoreLogger;
  /** MongoDB tuning: server selection timeout, backlog bytes, batch size, retry backoff, read deadline. */
  mongo?: Omit<MongoStoreOptions, 'uri' | 'dbName' | 'logger'>;
}

/** "embedded SQLite at data/byner.db" or "MongoDB at mongodb://user:***@host/ (database byner_analyzer)". */
export function describeStore(options: StoreOptions): string {
  if (options.mongoUri !== undefined) {
    return `MongoDB at ${redactUri(options.mongoUri)} (database ${options.dbName ?? DEFAULT_DB_NAME})`;
  }
  return `embedded SQLite at ${join(options.dataDir ?? DEFAULT_DATA_DIR, SQLITE_FILE)}`;
}

/**
 * Opens the store and logs which one is in use. Throws BYNER_STORE_UNREACHABLE (with the URI, password hidden,
 * and what to try) when it cannot be reached. Closing the store flushes every acknowledged write.
 */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  if (options.mongoUri !== undefined && options.durable === true) {
    throw new BynerError('BYNER_CONFIG', '--durable applies to the embedded store only', {
      expected: '--durable without --mongo-uri / MONGODB_URI',
      received: `--durable with MongoDB at ${redactUri(options.mongoUri)}`,
      hint: "MongoDB's durability is its own (journal, write concern): leave --durable out",
    });
  }
  if (options.mongoUri !== undefined) {
    return openMongoStore({
      ...options.mongo,
      uri: options.mongoUri,
      dbName: options.dbName,
      logger: options.logger,
    });
  }
  return openSqliteStore({
    dataDir: options.dataDir ?? DEFAULT_DATA_DIR,
    durable: options.durable,
    logger: options.logger,
  });
}

export interface SeedOptions {
  collection?: TickCollection;
  stream: string;
  /** How many ticks to add. */
  count: number;
  /** Add to a non-empty stream (continuing after its last seq) instead of leaving it as it is. */
  append?: boolean;
  /** Produces `count` ticks starting at `startSeq` (0 for an empty stream, last seq + 1 when appending). */
  makeTicks: (startSeq: number, count: number) => Iterable<Tick>;
  /** Called after each stored batch. */
  onProgress?: (done: number, total: number) => void;
  batchSize?: number;
}

export type SeedResult =
  | { seeded: true; written: number; startSeq: number }
  | { seeded: false; existing: number; reason: string };

/**
 * Stores generated ticks only into an empty stream unless `append` (a stream that holds ticks is left as it is,
 * and the result says why); resolves once stored.
 */
export async function seedTicks(store: Store, options: SeedOptions): Promise<SeedResult> {
  const collection = options.collection ?? 'historical_data';
  if (!Number.isSafeInteger(options.count) || options.count < 0) {
    throw new BynerError('BYNER_INPUT', 'seedTicks: count must be an integer ≥ 0', {
      received: String(options.count),
    });
  }
  const existing = await store.countTicks(collection, options.stream);
  if (existing > 0 && options.append !== true) {
    return {
      seeded: false,
      existing,
      reason: `${collection} already holds ${existing} tick(s) of stream "${options.stream}" (use --append to add more)`,
    };
  }
  const last = existing > 0 ? await store.lastSeq(collection, options.stream) : null;
  const startSeq = last === null ? 0 : last + 1;
  const batchSize = options.batchSize ?? 1000;
  let batch: Tick[] = [];
  let written = 0;
  const put = async () => {
    // progress counts stored ticks, not just accepted ones
    await (await store.writeTicks(collection, batch)).stored();
    written += batch.length;
    batch = [];
    options.onProgress?.(written, options.count);
  };
  for (const tick of options.makeTicks(startSeq, options.count)) {
    batch.push(tick);
    if (batch.length >= batchSize) await put();
  }
  if (batch.length > 0) await put();
  return { seeded: true, written, startSeq };
}
