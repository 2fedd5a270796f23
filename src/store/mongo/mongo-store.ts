// MongoDB Store: DESIGN §4 collections and document shapes through the official driver, writes behind a
// bounded retrying backlog, model artifacts in GridFS. Works on FerretDB 1.24 (no transactions or streams).

import {
  type AnyBulkWriteOperation,
  Binary,
  type Collection,
  type Db,
  type Document,
  Double,
  GridFSBucket,
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  ObjectId,
} from 'mongodb';
import { BynerError } from '../../errors.js';
import { FEATURE_NAMES, INDICATOR_NAMES, type Indicators, type Tick } from '../../ticks/types.js';
import { deadline, sleep, untilAborted } from '../deadline.js';
import { documentKey } from '../receipt.js';
import { rowsFromBytes, rowsToBytes } from '../rows.js';
import { DEFAULT_BACKLOG_BYTES, forecastBytes, metricsBytes, predictionBytes, TICK_BYTES } from '../size.js';
import type {
  Forecast,
  MetricsCollection,
  MetricsDoc,
  MetricsFilter,
  ModelEntry,
  ModelSummary,
  ReadOptions,
  ServingPointer,
  Store,
  StoredModel,
  StoreLogger,
  StoreStats,
  StreamState,
  StreamSummary,
  TickCollection,
  TrainingPrediction,
  WriteReceipt,
  WriteStats,
} from '../types.js';
import { COLLECTIONS, metricsFilter, silentLogger } from '../types.js';
import {
  checkReadArgs,
  notRegisteredFor,
  unknownVersion,
  validateForecasts,
  validateMetrics,
  validateModel,
  validateStreamState,
  validateTicks,
  validateTrainingPredictions,
} from '../validate.js';
import { bulkOutcome, DUPLICATE_KEY, isTransient, redactUri } from './errors.js';
import { type SinkResult, WriteQueue } from './write-queue.js';

export interface MongoStoreOptions {
  uri: string;
  /** Default `byner_analyzer`. */
  dbName?: string;
  logger?: StoreLogger;
  /** How long to look for a server before an operation fails (and, at start, before giving up). Default 5 s. */
  serverSelectionTimeoutMS?: number;
  /** Most bytes (estimated, store/size.ts) held while the server is unreachable; writers wait beyond. 64 MiB. */
  maxBacklogBytes?: number;
  /** Documents per insertMany. Default 1,000. */
  batchSize?: number;
  /** Retry backoff for writes. Default 100 ms doubling to 5 s. */
  backoff?: { initialMs: number; maxMs: number };
  /**
   * How long a read may wait, counted from its call: for the write backlog to drain (read-your-writes) and for a
   * lost connection to come back. Default 30 s. A query that runs is bounded by the caller's `signal` alone (a
   * training read of millions of ticks may take long); the signal also ends the waits sooner.
   */
  readTimeoutMs?: number;
}

export const DEFAULT_DB_NAME = 'byner_analyzer';
const ARTIFACT_BUCKET = 'model_artifacts';
/** Serving pointers `{stream, version, since}`, one per stream (upserted by stream: atomic without transactions). */
const SERVING = 'serving';

/** Stream states `{_id: stream, seq, time, gaps, indicators}` (Store.streamState). */
const STREAM_STATES = 'stream_states';
type StateDoc = Omit<StreamState, 'stream'> & { _id: string };
/** How long a stream state waits for others to be written with it: one bulk write instead of one write each. */
const STATE_LINGER_MS = 200;
interface PendingState {
  state: StreamState;
  calls: { resolve: () => void; reject: (error: unknown) => void }[];
}

/** Which collections get which unique/sort indexes at start. */
const INDEXES: { collection: string; key: Document; unique?: boolean }[] = [
  { collection: 'historical_data', key: { stream: 1, seq: 1 }, unique: true },
  { collection: 'inf_historical_db', key: { stream: 1, seq: 1 }, unique: true },
  { collection: 'inf_predictions', key: { stream: 1, seq: 1, model_version: 1 }, unique: true },
  { collection: 'tr_predictions', key: { model_version: 1 } },
  { collection: 'tr_metrics', key: { timestamp: 1 } },
  { collection: 'inf_metrics', key: { timestamp: 1 } },
  { collection: 'models', key: { version: 1 }, unique: true },
  { collection: SERVING, key: { stream: 1 }, unique: true },
  // Creates the collection before its first upsert, the way the others are: with an explicit createCollection
  // besides, FerretDB 1.24 stopped answering when two processes opened a fresh database at once.
  { collection: 'stream_heads', key: { seq: 1 } },
];

/**
 * Keyed reads. FerretDB 1.x answers a query through SQLite only when its filter is `{_id: <string>}`; any other
 * filter reads and decodes every document of the collection (120,000 ticks: seconds). So ticks and forecasts carry
 * `_id`s made of their unique keys, each stream's highest stored seq is kept in STREAM_HEADS, and the reads a
 * stream's start makes (its last seq, its last ticks, a window to refill) are lookups by `_id`, falling back to the
 * (stream, seq) query when a key is missing (documents stored before keyed `_id`s, or gaps). On MongoDB the same
 * lookups use the `_id` index.
 */
const STREAM_HEADS = 'stream_heads';
/** Collections whose per-stream highest seq STREAM_HEADS keeps. */
const HEADED = new Set(['historical_data', 'inf_historical_db', 'inf_predictions']);
/** How often a stream's head is raised at most (the first raise of a head this process placed is at once). */
const HEAD_EVERY_MS = 10_000;
/** Heads per bulk write: FerretDB 1.24 hangs the database on a bulk write of ≈ 100 upserts of existing documents. */
const HEAD_CHUNK = 32;
interface HeadState {
  /** The highest seq stored by this process (or seen stored, for a head found by a read: headSeen). */
  seq: number;
  /** The highest seq written to the head, and when (ms). */
  raised: number;
  at: number;
}

/**
 * Most documents a read looks up by `_id` before it asks a (stream, seq) query instead. On FerretDB 1.x a lookup
 * costs ≈ 2 ms and a query ≈ 0.05 ms per document of the collection (2 cores): up to 300 lookups (a window to
 * refill, a producer's ring tail, a stream's last ticks) win from ≈ 12,000 documents on; a page of 1,000 ticks is
 * one query.
 */
const KEYED_MAX = 300;
/** Lookups by `_id` in flight at once for one read. */
const KEYED_PARALLEL = 4;
/** Stream names hold no '/' (STREAM_NAME), so these keys are unambiguous. */
const tickKey = (stream: string, seq: number) => `${stream}/${seq}`;
const forecastKey = (stream: string, seq: number, version: string) => `${stream}/${seq}/${version}`;
const headKey = (collection: string, stream: string) => `${collection}/${stream}`;

const unreachableHint = (uri: string) =>
  [
    'start MongoDB or FerretDB, or leave MONGODB_URI / --mongo-uri unset to use the embedded store',
    /localhost/i.test(uri) ? 'try 127.0.0.1 instead of localhost (which may resolve to ::1)' : undefined,
    'check host, port and credentials',
  ]
    .filter(Boolean)
    .join('; ');

/** Connects, pings, creates the indexes; throws BYNER_STORE_UNREACHABLE naming the URI (password hidden). */
export async function openMongoStore(options: MongoStoreOptions): Promise<MongoStore> {
  const dbName = options.dbName ?? DEFAULT_DB_NAME;
  const shown = redactUri(options.uri);
  let client: MongoClient;
  try {
    client = new MongoClient(options.uri, {
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
      connectTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
      heartbeatFrequencyMS: 2000,
      appName: 'byner',
    });
  } catch (cause) {
    throw new BynerError('BYNER_CONFIG', `invalid MongoDB URI ${shown}`, {
      expected: 'mongodb://[user:password@]host[:port][/db][?options]',
      received: shown,
      cause,
    });
  }
  try {
    await client.connect();
    await client.db(dbName).command({ ping: 1 });
  } catch (cause) {
    await client.close().catch(() => {});
    throw new BynerError('BYNER_STORE_UNREACHABLE', `cannot reach MongoDB at ${shown}`, {
      received: cause instanceof Error ? cause.message : String(cause),
      hint: unreachableHint(options.uri),
      cause,
    });
  }
  const logger = options.logger ?? silentLogger;
  const nestedArrays = await supportsNestedArrays(client.db(dbName));
  const store = new MongoStore(client, client.db(dbName), `MongoDB at ${shown} (database ${dbName})`, {
    ...options,
    nestedArrays,
  });
  if (!nestedArrays) {
    logger.warn(
      { store: store.description },
      'this server (FerretDB 1.x) cannot store arrays of arrays: input_sequence rows are stored as ' +
        '{price, ma, rsi, upper_bb, lower_bb, macd, signal} documents in tr_predictions, and as float64 ' +
        'binary (60×7, row by row) in inf_predictions, instead of 7-number arrays',
    );
  }
  try {
    await store.createIndexes();
    await store.upgradeServingFlags();
  } catch (e) {
    await client.close().catch(() => {});
    throw e;
  }
  const backlogBytes = options.maxBacklogBytes ?? DEFAULT_BACKLOG_BYTES;
  logger.info(
    { store: store.description, maxBacklogBytes: backlogBytes },
    `store: ${store.description} (write backlog up to ${(backlogBytes / 2 ** 20).toFixed(0)} MiB)`,
  );
  return store;
}

/** FerretDB 1.x rejects arrays inside arrays (the input_sequence of DESIGN §4); FerretDB 2 and MongoDB accept them. */
async function supportsNestedArrays(db: Db): Promise<boolean> {
  const info = await db.command({ buildInfo: 1 }).catch(() => ({}) as Document);
  const ferret = typeof info.ferretdbVersion === 'string' ? info.ferretdbVersion : undefined;
  return ferret === undefined || !/^v?[01]\./.test(ferret);
}

type Rows = number[][];
/**
 * input_sequence as stored: the (window, 7) arrays of DESIGN §4; where arrays cannot nest (FerretDB 1.x), one document
 * per row for training windows, and for live forecasts the 420 numbers as float64 binary (little-endian, row by
 * row): FerretDB spends ≈ 1.6 ms storing a forecast with 60 row documents, 0.22 ms with the binary.
 */
const encodeRows = (rows: Rows, nested: boolean) =>
  nested ? rows : rows.map((r) => Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, r[i]])));
function encodeForecastRows(rows: Rows, nested: boolean): Rows | Binary {
  return nested ? rows : new Binary(rowsToBytes(rows));
}
function decodeRows(stored: unknown): Rows {
  if (stored instanceof Binary) return rowsFromBytes(stored.buffer);
  return (stored as unknown[]).map((r) =>
    Array.isArray(r) ? r : FEATURE_NAMES.map((name) => (r as Record<string, number>)[name]),
  );
}

/** The first path holding an array directly inside an array, if any. */
function nestedArrayPath(v: unknown, path: string): string | undefined {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (Array.isArray(v[i])) return `${path}[${i}]`;
      const inner = nestedArrayPath(v[i], `${path}[${i}]`);
      if (inner) return inner;
    }
  } else if (typeof v === 'object' && v !== null && !(v instanceof Date)) {
    for (const [k, x] of Object.entries(v)) {
      const inner = nestedArrayPath(x, path === '' ? k : `${path}.${k}`);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** BSON doubles for indicators, whole-number values too: DESIGN §4's documents hold indicators as doubles. */
const toDouble = (v: number | null) => (v === null ? null : new Double(v));

function tickDoc(t: Tick): Document {
  const indicators: Document = {};
  for (const name of INDICATOR_NAMES) indicators[name] = toDouble(t.indicators[name]);
  // An integral price serializes as a BSON int (as DESIGN §4's documents hold synthetic prices); others as double.
  return {
    _id: tickKey(t.stream, t.seq),
    timestamp: t.timestamp,
    price: t.price,
    indicators,
    seq: t.seq,
    stream: t.stream,
  };
}

function docTick(d: Document): Tick {
  const indicators = {} as Indicators;
  for (const name of INDICATOR_NAMES) indicators[name] = d.indicators?.[name] ?? null;
  return { seq: d.seq, stream: d.stream, timestamp: d.timestamp, price: d.price, indicators };
}

/**
 * The highest n ≥ start with has(n) (start itself when there is none above it), given that what is stored above
 * start is contiguous. Asks `width` seqs at a time, each round one round trip: start + 1, 2, 4, 8, then + 16 … 128,
 * and so on until one is missing, then `width` evenly spaced seqs between the highest found and the lowest
 * missing. A head 200 ticks behind takes 6 rounds (one lookup at a time, 16).
 */
export async function gallop(
  start: number,
  has: (n: number) => Promise<boolean>,
  width = KEYED_PARALLEL,
): Promise<number> {
  let lo = start; // stored (or the start)
  let hi = Number.POSITIVE_INFINITY; // the lowest seq known missing
  const narrow = async (probes: number[]) => {
    const found = await Promise.all(probes.map(has));
    const k = found.indexOf(false);
    if (k !== 0) lo = probes[k === -1 ? probes.length - 1 : k - 1];
    if (k !== -1) hi = probes[k];
  };
  for (let round = 0; hi === Number.POSITIVE_INFINITY; round++)
    await narrow(Array.from({ length: width }, (_, i) => start + 2 ** (round * width + i)));
  while (hi - lo > 1) {
    const n = Math.min(width, hi - lo - 1);
    await narrow(Array.from({ length: n }, (_, i) => lo + Math.round(((i + 1) * (hi - lo)) / (n + 1))));
  }
  return lo;
}

/**
 * One unordered bulk write of upserts by `_id`, once more when it only met duplicate keys: two processes creating
 * one document at once, the loser's upsert meets the winner's insert, and a second try updates it.
 */
async function upsertAll<T extends Document>(
  c: Collection<T>,
  ops: AnyBulkWriteOperation<T>[],
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await c.bulkWrite(ops, { ordered: false });
      return;
    } catch (error) {
      const raced =
        error instanceof MongoBulkWriteError &&
        [error.writeErrors].flat().every((w) => w.code === DUPLICATE_KEY);
      if (!raced || attempt > 0) throw error;
    }
  }
}

/** A stream head that could not be placed before the stream's documents: their batch is retried. */
class HeadsNotPlaced extends Error {
  constructor(cause: unknown) {
    super(`could not place stream heads: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

function withoutId<T>(d: Document): T {
  const { _id, ...rest } = d;
  return rest as T;
}

export class MongoStore implements Store {
  readonly kind = 'mongo' as const;
  private readonly queue: WriteQueue<Document>;
  private readonly bucket: GridFSBucket;
  private readonly logger: StoreLogger;
  private closed = false;
  /** Per head key: what this process stored and raised (raiseHeads). */
  private readonly heads = new Map<string, HeadState>();
  /** Collections whose every document was stored with heads (they were empty when a store first opened them). */
  private readonly keyedSince = new Set<string>();
  /** The newest state of each stream waiting for the next bulk write, and the writeStreamState calls it answers. */
  private pendingStates = new Map<string, PendingState>();
  /** The bulk writes of states running (one at a time), or null. */
  private stateFlush: Promise<void> | null = null;
  /** The seq of each stream's state as this process last read or wrote it. */
  private readonly stateSeqs = new Map<string, number>();

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    readonly description: string,
    private readonly options: MongoStoreOptions & { nestedArrays: boolean },
  ) {
    this.logger = options.logger ?? silentLogger;
    this.bucket = new GridFSBucket(db, { bucketName: ARTIFACT_BUCKET });
    this.queue = new WriteQueue<Document>({
      sink: (collection, docs) => this.insert(collection, docs),
      isTransient: (error) => error instanceof HeadsNotPlaced || isTransient(error),
      keyOf: documentKey,
      maxBacklogBytes: options.maxBacklogBytes,
      batchSize: options.batchSize,
      backoff: options.backoff,
      logger: this.logger,
      target: description,
    });
  }

  async createIndexes(): Promise<void> {
    // A collection empty at its first open gets a marker: a stream without a head there has no documents.
    const markers = this.db.collection<{ _id: string; seq: number }>(STREAM_HEADS);
    for (const collection of HEADED) {
      const _id = `keyed/${collection}`;
      if ((await markers.findOne({ _id })) === null) {
        if ((await this.db.collection(collection).findOne({}, { projection: { _id: 1 } })) !== null) continue;
        await markers.insertOne({ _id, seq: -1 }).catch((error) => {
          if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
        });
      }
      this.keyedSince.add(collection);
    }
    for (const { collection, key, unique } of INDEXES) {
      try {
        await this.db.collection(collection).createIndex(key, { unique: unique === true });
      } catch (cause) {
        const duplicate = cause instanceof MongoServerError && cause.code === DUPLICATE_KEY;
        throw new BynerError(
          'BYNER_STORE',
          `cannot create the index ${JSON.stringify(key)} on ${collection}`,
          {
            received: cause instanceof Error ? cause.message : String(cause),
            hint: duplicate
              ? `${collection} holds documents without unique ${Object.keys(key).join(', ')} (written by the ` +
                'original program?): use another database name, or add those fields'
              : undefined,
            cause,
          },
        );
      }
    }
  }

  /**
   * One unordered insertMany. Duplicate-key errors mean "already stored"; other per-document errors (a document
   * the server refuses, e.g. by a validator) are refusals of those documents alone.
   */
  private async insert(collection: string, docs: Document[]): Promise<SinkResult> {
    if (HEADED.has(collection)) await this.placeHeads(collection, docs);
    let result: SinkResult = {};
    try {
      await this.db.collection(collection).insertMany(docs, { ordered: false });
    } catch (error) {
      const outcome = bulkOutcome(error);
      if (outcome === undefined) throw error;
      result = outcome;
    }
    if (HEADED.has(collection)) await this.raiseHeads(collection, docs, result);
    return result;
  }

  /**
   * Raises the heads of the batch's streams to the highest seq of its stored documents, each head at most every
   * HEAD_EVERY_MS (FerretDB spends ≈ 1.2 ms an upsert; heads are lower bounds that keyed reads look past). A
   * connection error fails the batch (retried whole: its inserts then find duplicates). Any other failure leaves the
   * heads low, so it is logged, not thrown.
   */
  private async raiseHeads(collection: string, docs: Document[], result: SinkResult): Promise<void> {
    const refused = new Set(result.refused?.map((r) => r.index));
    docs.forEach((d, i) => {
      if (refused.has(i)) return;
      const key = headKey(collection, d.stream);
      const head = this.heads.get(key) ?? { seq: -1, raised: -2, at: 0 };
      head.seq = Math.max(head.seq, d.seq as number);
      this.heads.set(key, head);
    });
    const now = Date.now();
    await this.writeHeads((h) => h.seq > h.raised && now - h.at >= HEAD_EVERY_MS);
  }

  /**
   * Before a stream's first documents from this process: its head, at least just below them, so that a stream
   * never has documents without a head (a head whose tick is missing sends reads to the (stream, seq) query).
   */
  private async placeHeads(collection: string, docs: Document[]): Promise<void> {
    const low = new Map<string, number>();
    for (const d of docs) {
      const key = headKey(collection, d.stream);
      if ((this.heads.get(key)?.raised ?? -2) !== -2) continue; // placed (or raised) already
      low.set(key, Math.min(low.get(key) ?? Number.POSITIVE_INFINITY, (d.seq as number) - 1));
    }
    if (low.size === 0) return;
    const placed = [...low].map(([key, seq]) => {
      const head = { seq: Math.min(seq, this.heads.get(key)?.seq ?? seq), raised: -2, at: 0 };
      this.heads.set(key, head);
      return head;
    });
    await this.writeHeads((h) => h.raised === -2, true);
    for (const head of placed) head.at = 0; // raised at once after the documents are stored
  }

  /**
   * Writes the heads `due` picks, HEAD_CHUNK per bulk write. `placing`: a failure throws HeadsNotPlaced, which the
   * write queue retries like a lost connection (the documents wait: none is stored without its head).
   */
  private async writeHeads(due: (h: HeadState) => boolean, placing = false): Promise<void> {
    const todo = [...this.heads].filter(([, h]) => due(h));
    for (let i = 0; i < todo.length; i += HEAD_CHUNK) {
      const chunk = todo.slice(i, i + HEAD_CHUNK);
      const ops: AnyBulkWriteOperation<{ _id: string; seq: number }>[] = chunk.map(([_id, h]) => ({
        updateOne: { filter: { _id }, update: { $max: { seq: h.seq } }, upsert: true },
      }));
      try {
        await upsertAll(this.db.collection<{ _id: string; seq: number }>(STREAM_HEADS), ops);
      } catch (error) {
        if (isTransient(error)) throw error;
        if (placing) throw new HeadsNotPlaced(error);
        this.logger.warn(
          { error: error instanceof Error ? error.message : String(error) },
          `${this.description}: could not raise ${chunk.length} stream head(s); reads look past them`,
        );
        return;
      }
      const at = Date.now();
      for (const [, h] of chunk) {
        h.raised = h.seq;
        h.at = at;
      }
    }
  }

  /** The head of `stream` in `collection` (a lower bound of its highest stored seq), or null. */
  private async head(collection: string, stream: string): Promise<number | null> {
    const doc = await this.db.collection<{ _id: string; seq: number }>(STREAM_HEADS).findOne({
      _id: headKey(collection, stream),
    });
    if (doc === null) return null;
    this.headSeen(collection, stream, doc.seq);
    return doc.seq;
  }

  /**
   * Records that `stream`'s head exists in `collection` (read, or implied by its stored `seq` where every document
   * was stored after its head), so that this process's first documents of the stream do not place it again: a
   * stream taken over from another process stores its first ticks one upsert sooner. The head is raised once this
   * process stores past `seq` (HEAD_EVERY_MS from now), not before.
   */
  private headSeen(collection: string, stream: string, seq: number): void {
    const key = headKey(collection, stream);
    if (this.heads.has(key)) return;
    this.heads.set(key, { seq, raised: seq, at: Date.now() });
  }

  /** Looks each key up by `_id` (KEYED_PARALLEL at a time); null in place of a missing document. */
  private async lookUp(
    collection: string,
    keys: string[],
    projection?: Document,
  ): Promise<(Document | null)[]> {
    const out: (Document | null)[] = new Array(keys.length).fill(null);
    const c = this.db.collection<{ _id: string }>(collection);
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        out[i] = await c.findOne({ _id: keys[i] }, projection === undefined ? {} : { projection });
      }
    };
    await Promise.all(Array.from({ length: Math.min(KEYED_PARALLEL, keys.length) }, worker));
    return out;
  }

  /**
   * The highest stored seq of `stream` from its head: checks the head's tick is there, then gallops past it by
   * keyed lookups (the head lags its ticks by up to HEAD_EVERY_MS). Null when the stream has no head in a collection
   * whose every document was stored with heads (keyedSince); undefined when the head cannot be trusted (none in an
   * older collection, or its tick is missing): the caller asks the (stream, seq) query.
   */
  private async keyedLastSeq(collection: TickCollection, stream: string): Promise<number | null | undefined> {
    const head = await this.head(collection, stream);
    if (head === null) return this.keyedSince.has(collection) ? null : undefined;
    const has = (seq: number) => this.has(collection, tickKey(stream, seq));
    // The head's own tick is asked beside the first lookups past it (it is missing only after a loss of data).
    const [there, last] = await Promise.all([has(head), gallop(head, has)]);
    return there ? last : undefined;
  }

  private async has(collection: string, key: string): Promise<boolean> {
    return (await this.lookUp(collection, [key], { _id: 1 }))[0] !== null;
  }

  /** Ticks fromSeq..toSeq by keyed lookups; undefined when the range is too long or any of them is missing. */
  private async keyedTicks(
    collection: TickCollection,
    stream: string,
    fromSeq: number,
    toSeq: number,
    range = false,
  ): Promise<Tick[] | undefined> {
    const n = toSeq - fromSeq + 1;
    if (n > KEYED_MAX) return undefined;
    if (n <= 0) return [];
    const docs = await this.lookUp(
      collection,
      Array.from({ length: n }, (_, i) => tickKey(stream, fromSeq + i)),
    );
    // A missing key is a missing tick in a collection keyed since its start: a range read needs no query then.
    if (docs.some((d) => d === null) && !(range && this.keyedSince.has(collection))) return undefined;
    const ticks = docs.filter((d) => d !== null).map(docTick);
    if (ticks.length > 0 && this.keyedSince.has(collection)) this.headSeen(collection, stream, ticks[0].seq);
    return ticks;
  }

  private async enqueue(collection: string, docs: Document[], bytes: number[]): Promise<WriteReceipt> {
    if (this.closed) throw new BynerError('BYNER_STORE', `${this.description}: the store is closed`);
    return this.queue.enqueue(collection, docs, bytes);
  }

  /**
   * Runs a read once the writes acknowledged before it are through the backlog (unless `afterWrites` is false:
   * registry reads do not depend on queued ticks and forecasts), retrying lost connections; its waits end
   * readTimeoutMs after the call (BYNER_STORE_UNREACHABLE), and everything ends when the caller's signal aborts
   * (with its reason). A read given up on leaves nothing behind: its backlog waiter, sleep and query go.
   */
  private async read<T>(
    what: string,
    options: ReadOptions | undefined,
    fn: (signal: AbortSignal | undefined) => Promise<T>,
    afterWrites = true,
  ): Promise<T> {
    const ms = this.options.readTimeoutMs ?? 30_000;
    let lastError: unknown;
    const limit = deadline(
      ms,
      () => {
        const { pending } = this.queue.stats();
        const waiting = lastError === undefined && pending > 0;
        return new BynerError(
          'BYNER_STORE_UNREACHABLE',
          `${this.description}: ${what}: no answer within ${ms} ms`,
          {
            received: waiting
              ? `${pending} document(s) written before the read still waiting to be stored`
              : lastError instanceof Error
                ? lastError.message
                : String(lastError ?? 'no answer'),
            hint: unreachableHint(this.options.uri),
            cause: lastError,
          },
        );
      },
      options?.signal,
    );
    const { signal } = limit;
    try {
      if (afterWrites && options?.afterWrites !== false) await this.queue.drained(signal);
      let delay = 100;
      for (;;) {
        try {
          return await fn(options?.signal);
        } catch (error) {
          options?.signal?.throwIfAborted();
          if (!isTransient(error)) {
            if (error instanceof BynerError) throw error;
            throw new BynerError('BYNER_STORE', `${this.description}: ${what} failed`, {
              received: error instanceof Error ? error.message : String(error),
              cause: error,
            });
          }
          lastError = error;
          signal.throwIfAborted();
          await sleep(delay, signal);
          delay = Math.min(delay * 2, 2000);
        }
      }
    } finally {
      limit.dispose();
    }
  }

  /** Where arrays cannot nest, refuses such documents up front (instead of failing later in the backlog). */
  private checkNesting(doc: object, where: string): void {
    if (this.options.nestedArrays) return;
    const path = nestedArrayPath(doc, '');
    if (path === undefined) return;
    throw new BynerError('BYNER_INVALID_DOCUMENT', `${where}: field ${path} is an array inside an array`, {
      expected: 'no arrays of arrays outside input_sequence (this server, FerretDB 1.x, cannot store them)',
      received: 'a nested array',
      hint: 'use MongoDB or FerretDB 2, or store such values as objects of arrays',
    });
  }

  // --- ticks -------------------------------------------------------------------------------------------------

  async writeTicks(collection: TickCollection, ticks: readonly Tick[]): Promise<WriteReceipt> {
    validateTicks(ticks, `writeTicks(${collection})`);
    return this.enqueue(collection, ticks.map(tickDoc), new Array(ticks.length).fill(TICK_BYTES));
  }

  private async findTicks(
    collection: TickCollection,
    filter: Document,
    sort: 1 | -1,
    limit: number,
    options: ReadOptions | undefined,
  ) {
    return this.read(`reading ${collection}`, options, async (signal) => {
      const docs = await this.db
        .collection(collection)
        .find(filter, { projection: { _id: 0 }, signal })
        .sort({ seq: sort })
        .limit(limit)
        .toArray();
      return docs.map(docTick);
    });
  }

  async lastTicks(
    collection: TickCollection,
    stream: string,
    n: number,
    options?: ReadOptions,
  ): Promise<Tick[]> {
    checkReadArgs('lastTicks', { n });
    if (n === 0) return [];
    const keyed = await this.read(`reading ${collection}`, options, async () => {
      const last = await this.keyedLastSeq(collection, stream);
      if (last === null) return [];
      return last === undefined
        ? undefined
        : this.keyedTicks(collection, stream, Math.max(0, last - n + 1), last);
    });
    return keyed ?? (await this.findTicks(collection, { stream }, -1, n, options)).reverse();
  }

  async ticksAfter(
    collection: TickCollection,
    stream: string,
    afterSeq: number,
    limit: number,
    options?: ReadOptions,
  ): Promise<Tick[]> {
    checkReadArgs('ticksAfter', { afterSeq, limit });
    if (limit === 0) return [];
    // Keyed when every seq from afterSeq + 1 to min(afterSeq + limit, last) is stored: then those are the answer.
    const keyed = await this.read(`reading ${collection}`, options, async () => {
      const last = await this.keyedLastSeq(collection, stream);
      if (last === null) return [];
      if (last === undefined) return undefined;
      return this.keyedTicks(collection, stream, afterSeq + 1, Math.min(afterSeq + limit, last));
    });
    if (keyed !== undefined) return keyed;
    return this.findTicks(collection, { stream, seq: { $gt: afterSeq } }, 1, limit, options);
  }

  async ticksRange(
    collection: TickCollection,
    stream: string,
    fromSeq: number,
    toSeq: number,
    options?: ReadOptions,
  ): Promise<Tick[]> {
    checkReadArgs('ticksRange', { fromSeq, toSeq });
    // Keyed when every seq of the range is stored (a window ending at the last stored tick): no head needed.
    const keyed = await this.read(`reading ${collection}`, options, () =>
      this.keyedTicks(collection, stream, Math.max(0, fromSeq), toSeq, true),
    );
    if (keyed !== undefined) return keyed;
    return this.findTicks(collection, { stream, seq: { $gte: fromSeq, $lte: toSeq } }, 1, 0, options);
  }

  async lastSeq(collection: TickCollection, stream: string, options?: ReadOptions): Promise<number | null> {
    const keyed = await this.read(`reading ${collection}`, options, () =>
      this.keyedLastSeq(collection, stream),
    );
    if (keyed !== undefined) return keyed;
    const [last] = await this.findTicks(collection, { stream }, -1, 1, options);
    return last === undefined ? null : last.seq;
  }

  async countTicks(collection: TickCollection, stream?: string, options?: ReadOptions): Promise<number> {
    return this.read(`counting ${collection}`, options, (signal) =>
      this.db.collection(collection).countDocuments(stream === undefined ? {} : { stream }, { signal }),
    );
  }

  async listStreams(collection: TickCollection, options?: ReadOptions): Promise<StreamSummary[]> {
    // Counts in one $group; the last seq per stream from the (stream, seq) index (FerretDB has no $max there).
    const counts = await this.read(`listing the streams of ${collection}`, options, (signal) =>
      this.db
        .collection(collection)
        .aggregate([{ $group: { _id: '$stream', count: { $sum: 1 } } }, { $sort: { _id: 1 } }], { signal })
        .toArray(),
    );
    const out: StreamSummary[] = [];
    for (const r of counts) {
      const stream = String(r._id);
      const last = await this.lastSeq(collection, stream, options);
      if (last !== null) out.push({ stream, count: Number(r.count), last_seq: last });
    }
    return out;
  }

  // --- stream states -----------------------------------------------------------------------------------------
  // One document per stream in `stream_states`, `_id` = the stream name: reads find it by `_id` (the one filter
  // FerretDB 1.x answers from its index), and a write's scan is over one document per stream.

  async writeStreamState(state: StreamState, options?: ReadOptions): Promise<void> {
    const s = validateStreamState(state, 'writeStreamState');
    if (this.closed) throw new BynerError('BYNER_STORE', `${this.description}: the store is closed`);
    options?.signal?.throwIfAborted();
    // Not through the backlog: the caller writes a state after the ticks it describes are stored. States wait up to
    // STATE_LINGER_MS and go together, newest per stream, in bulk writes of replaces by `_id` (200 streams saving
    // every 5 s were 40 writes a second; FerretDB 1.x scans the collection for a filter on `seq`, so the stored seq
    // is read once per stream and then kept: a state never moves back here; two processes racing may leave the
    // older state, which still describes a stored tick). A call resolves once its state or a newer one is stored.
    const done = new Promise<void>((resolve, reject) => {
      const pending = this.pendingStates.get(s.stream);
      if (pending === undefined) this.pendingStates.set(s.stream, { state: s, calls: [{ resolve, reject }] });
      else {
        if (s.seq > pending.state.seq) pending.state = s;
        pending.calls.push({ resolve, reject });
      }
    });
    this.stateFlush ??= this.flushStates();
    // The caller's signal ends its wait (the state may still be written with the others).
    return untilAborted(done, options?.signal);
  }

  /** Writes the pending states, after STATE_LINGER_MS, until none is left. */
  private async flushStates(): Promise<void> {
    try {
      while (this.pendingStates.size > 0) {
        if (!this.closed) await new Promise((r) => setTimeout(r, STATE_LINGER_MS));
        const batch = this.pendingStates;
        this.pendingStates = new Map();
        try {
          await this.read(
            `writing ${batch.size} stream state(s)`,
            undefined,
            () => this.writeStates(batch),
            false,
          );
          for (const p of batch.values()) for (const c of p.calls) c.resolve();
        } catch (error) {
          for (const p of batch.values()) for (const c of p.calls) c.reject(error);
        }
      }
    } finally {
      this.stateFlush = null;
    }
  }

  /** One attempt at storing `batch`: the stored seqs not known yet, then the newer states, HEAD_CHUNK per write. */
  private async writeStates(batch: Map<string, PendingState>): Promise<void> {
    const unknown = [...batch.keys()].filter((stream) => !this.stateSeqs.has(stream));
    const stored = await this.lookUp(STREAM_STATES, unknown, { seq: 1 });
    for (const [i, stream] of unknown.entries())
      this.stateSeqs.set(stream, (stored[i]?.seq as number | undefined) ?? -1);
    const newer = [...batch.values()]
      .map((p) => p.state)
      .filter((st) => st.seq > (this.stateSeqs.get(st.stream) ?? -1));
    const states = this.db.collection<StateDoc>(STREAM_STATES);
    for (let i = 0; i < newer.length; i += HEAD_CHUNK) {
      const chunk = newer.slice(i, i + HEAD_CHUNK);
      const ops: AnyBulkWriteOperation<StateDoc>[] = chunk.map((st) => ({
        replaceOne: {
          filter: { _id: st.stream },
          replacement: { seq: st.seq, time: st.time, gaps: st.gaps, indicators: st.indicators },
          upsert: true,
        },
      }));
      await upsertAll(states, ops);
      for (const st of chunk) this.stateSeqs.set(st.stream, st.seq);
    }
  }

  async streamState(stream: string, options?: ReadOptions): Promise<StreamState | null> {
    return this.read(
      `reading the state of stream ${stream}`,
      options,
      async (signal) => {
        const d = await this.db.collection<StateDoc>(STREAM_STATES).findOne({ _id: stream }, { signal });
        if (d === null) return null;
        return { stream, seq: d.seq, time: d.time, gaps: d.gaps, indicators: d.indicators };
      },
      false,
    );
  }

  // --- predictions and metrics -------------------------------------------------------------------------------

  async writeTrainingPredictions(docs: readonly TrainingPrediction[]): Promise<WriteReceipt> {
    validateTrainingPredictions(docs, 'writeTrainingPredictions');
    // A client-side _id makes a retried batch idempotent: the retry hits duplicate keys, not new documents.
    return this.enqueue(
      'tr_predictions',
      docs.map((d) => ({
        _id: new ObjectId(),
        ...d,
        input_sequence: encodeRows(d.input_sequence, this.options.nestedArrays),
      })),
      docs.map(predictionBytes),
    );
  }

  async trainingPredictions(
    modelVersion: string,
    limit = 0,
    options?: ReadOptions,
  ): Promise<TrainingPrediction[]> {
    checkReadArgs('trainingPredictions', { limit });
    return this.read('reading tr_predictions', options, async (signal) => {
      const docs = await this.db
        .collection('tr_predictions')
        .find({ model_version: modelVersion }, { signal })
        .sort({ _id: 1 })
        .limit(limit)
        .toArray();
      return docs.map((d) => ({
        ...withoutId<TrainingPrediction>(d),
        input_sequence: decodeRows(d.input_sequence),
      }));
    });
  }

  async writeForecasts(docs: readonly Forecast[]): Promise<WriteReceipt> {
    validateForecasts(docs, 'writeForecasts');
    return this.enqueue(
      'inf_predictions',
      docs.map((d) => ({
        _id: forecastKey(d.stream, d.seq, d.model_version),
        timestamp: d.timestamp,
        input_sequence: encodeForecastRows(d.input_sequence, this.options.nestedArrays),
        forecast: d.forecast,
        model_version: d.model_version,
        seq: d.seq,
        stream: d.stream,
      })),
      docs.map(forecastBytes),
    );
  }

  async recentForecasts(
    stream: string,
    limit: number,
    modelVersion?: string,
    options?: ReadOptions,
  ): Promise<Forecast[]> {
    checkReadArgs('recentForecasts', { limit });
    if (limit === 0) return [];
    const decode = (d: Document) => ({
      ...withoutId<Forecast>(d),
      input_sequence: decodeRows(d.input_sequence),
    });
    if (modelVersion !== undefined && limit <= KEYED_MAX) {
      // Keyed when this model forecast each of the stream's last `limit` seqs (the common case: a stream's start).
      const keyed = await this.read('reading inf_predictions', options, async () => {
        const start = await this.head('inf_predictions', stream);
        if (start === null) return this.keyedSince.has('inf_predictions') ? [] : undefined;
        const head = await gallop(start, (seq) =>
          this.has('inf_predictions', forecastKey(stream, seq, modelVersion)),
        );
        const from = Math.max(0, head - limit + 1);
        const keys = Array.from({ length: head - from + 1 }, (_, i) =>
          forecastKey(stream, from + i, modelVersion),
        );
        const docs = await this.lookUp('inf_predictions', keys);
        return docs.some((d) => d === null) ? undefined : (docs as Document[]);
      });
      if (keyed !== undefined) return keyed.map(decode);
    }
    const filter: Document =
      modelVersion === undefined ? { stream } : { stream, model_version: modelVersion };
    return this.read('reading inf_predictions', options, async (signal) => {
      const docs = await this.db
        .collection('inf_predictions')
        .find(filter, { signal })
        .sort({ seq: -1, model_version: -1 })
        .limit(limit)
        .toArray();
      return docs.map(decode).reverse();
    });
  }

  /** The stream's head: raised at most every HEAD_EVERY_MS, so up to that much of the forecasts lower. */
  async lastForecastSeq(stream: string, options?: ReadOptions): Promise<number | null> {
    return this.read('reading inf_predictions', options, async (signal) => {
      const head = await this.head('inf_predictions', stream);
      if (head !== null) return head;
      if (this.keyedSince.has('inf_predictions')) return null;
      const [last] = await this.db
        .collection('inf_predictions')
        .find({ stream }, { projection: { seq: 1 }, signal })
        .sort({ seq: -1 })
        .limit(1)
        .toArray();
      return last === undefined ? null : (last.seq as number);
    });
  }

  async writeMetrics(collection: MetricsCollection, docs: readonly MetricsDoc[]): Promise<WriteReceipt> {
    validateMetrics(docs, `writeMetrics(${collection})`);
    for (let i = 0; i < docs.length; i++)
      this.checkNesting(docs[i], `writeMetrics(${collection}) index ${i}`);
    return this.enqueue(
      collection,
      docs.map((d) => ({ _id: new ObjectId(), ...d })),
      docs.map(metricsBytes),
    );
  }

  async recentMetrics(
    collection: MetricsCollection,
    limit: number,
    which?: string | MetricsFilter,
    options?: ReadOptions,
  ): Promise<MetricsDoc[]> {
    checkReadArgs('recentMetrics', { limit });
    if (limit === 0) return [];
    const { modelVersion, stream } = metricsFilter(which);
    const filter: Document = {};
    if (modelVersion !== undefined) filter.model_version = modelVersion;
    if (stream !== undefined) filter.stream = stream;
    return this.read(`reading ${collection}`, options, async (signal) => {
      const docs = await this.db
        .collection(collection)
        .find(filter, { signal })
        .sort({ timestamp: -1, _id: -1 })
        .limit(limit)
        .toArray();
      return docs.map((d) => withoutId<MetricsDoc>(d)).reverse();
    });
  }

  // --- model registry ----------------------------------------------------------------------------------------

  /**
   * Upgrades a registry that marks its serving model with a `serving: true` field instead of serving pointers:
   * such an entry becomes the serving pointer of its data_range.stream unless that stream has one (the newest entry
   * wins), then loses the field. Idempotent, so a crash half-way is completed at the next start.
   */
  async upgradeServingFlags(): Promise<void> {
    const models = this.db.collection('models');
    const flagged = await models
      .find({ serving: { $exists: true } })
      .sort({ created_at: -1, _id: -1 })
      .toArray();
    for (const doc of flagged) {
      if (doc.serving !== true) continue;
      await this.db
        .collection(SERVING)
        .updateOne(
          { stream: doc.data_range.stream },
          { $setOnInsert: { stream: doc.data_range.stream, version: doc.version, since: new Date() } },
          { upsert: true },
        );
    }
    if (flagged.length > 0)
      await models.updateMany({ serving: { $exists: true } }, { $unset: { serving: '' } });
  }

  async saveModel(entry: ModelEntry): Promise<void> {
    validateModel(entry, 'saveModel');
    const { artifact, ...fields } = entry;
    this.checkNesting(fields, 'saveModel');
    const models = this.db.collection('models');
    const id = new ObjectId();
    await this.read(`saving model ${entry.version}`, undefined, async () => {
      const existing = await models.findOne({ version: entry.version });
      if (existing !== null) {
        if (existing._id.equals(id)) return; // an earlier attempt of this very call got through
        throw new BynerError('BYNER_STORE', `model version ${entry.version} already exists`, {
          hint: 'model versions are immutable: save under a new version',
        });
      }
      // Files left by an earlier failed attempt of this version are orphans: remove them first.
      for (const f of await this.bucket.find({ 'metadata.version': entry.version }).toArray()) {
        await this.bucket.delete(f._id);
      }
      const files: { name: string; bytes: number; file_id: ObjectId }[] = [];
      for (const [name, bytes] of Object.entries(entry.artifact)) {
        const upload = this.bucket.openUploadStream(`${entry.version}/${name}`, {
          metadata: { version: entry.version, name },
        });
        await new Promise<void>((resolve, reject) => {
          upload.once('finish', () => resolve());
          upload.once('error', reject);
          upload.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        });
        files.push({ name, bytes: bytes.byteLength, file_id: upload.id as ObjectId });
      }
      await models.insertOne({
        _id: id,
        version: entry.version,
        created_at: entry.created_at,
        config: entry.config,
        scaler: entry.scaler,
        metrics: entry.metrics,
        data_range: entry.data_range,
        streams: entry.streams ?? [entry.data_range.stream],
        files,
      });
    });
    if (entry.serving === true) await this.setServing(entry.version);
  }

  private async download(fileId: ObjectId): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.bucket.openDownloadStream(fileId)) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }

  /** Stream → version of every serving pointer. */
  private async pointers(signal: AbortSignal | undefined): Promise<Map<string, string>> {
    const docs = await this.db.collection(SERVING).find({}, { signal }).toArray();
    return new Map(docs.map((d) => [d.stream as string, d.version as string]));
  }

  private summary(d: Document, pointers: Map<string, string>): Omit<ModelSummary, 'files'> {
    const serving_streams = [...pointers].filter(([, v]) => v === d.version).map(([stream]) => stream);
    serving_streams.sort();
    return {
      version: d.version,
      created_at: d.created_at,
      config: d.config,
      scaler: d.scaler,
      metrics: d.metrics,
      data_range: d.data_range,
      streams: Array.isArray(d.streams) ? d.streams : [d.data_range.stream],
      serving_streams,
      serving: serving_streams.length > 0,
    };
  }

  async getModel(version: string, options?: ReadOptions): Promise<StoredModel | null> {
    return this.read(
      'reading models',
      options,
      async (signal) => {
        const doc = await this.db.collection('models').findOne({ version }, { signal });
        if (doc === null) return null;
        const artifact: Record<string, Uint8Array> = {};
        for (const f of doc.files as { name: string; file_id: ObjectId }[]) {
          artifact[f.name] = await this.download(f.file_id);
        }
        return { ...this.summary(doc, await this.pointers(signal)), artifact };
      },
      false,
    );
  }

  async servingModel(stream: string, options?: ReadOptions): Promise<StoredModel | null> {
    const pointer = await this.read(
      'reading serving pointers',
      options,
      (signal) => this.db.collection(SERVING).findOne({ stream }, { signal }),
      false,
    );
    return pointer === null ? null : this.getModel(pointer.version, options);
  }

  async listModels(filter: { stream?: string } = {}, options?: ReadOptions): Promise<ModelSummary[]> {
    return this.read(
      'reading models',
      options,
      async (signal) => {
        const docs = await this.db
          .collection('models')
          .find({}, { signal })
          .sort({ created_at: 1, _id: 1 })
          .toArray();
        const pointers = await this.pointers(signal);
        return docs
          .map((d) => ({
            ...this.summary(d, pointers),
            files: (d.files as { name: string; bytes: number }[]).map(({ name, bytes }) => ({ name, bytes })),
          }))
          .filter((m) => filter.stream === undefined || m.streams.includes(filter.stream));
      },
      false,
    );
  }

  async setServing(version: string, stream?: string): Promise<void> {
    await this.read(
      `setting serving model ${version}`,
      undefined,
      async () => {
        const doc = await this.db.collection('models').findOne({ version });
        if (doc === null) throw unknownVersion(version);
        const streams: string[] = Array.isArray(doc.streams) ? doc.streams : [doc.data_range.stream];
        if (stream !== undefined && !streams.includes(stream))
          throw notRegisteredFor(version, stream, streams);
        const since = new Date();
        for (const s of stream === undefined ? streams : [stream]) {
          const point = () =>
            this.db
              .collection(SERVING)
              .updateOne({ stream: s }, { $set: { stream: s, version, since } }, { upsert: true });
          // Two upserts of a new stream at once: one wins the insert, the other is retried as an update.
          await point().catch((e) => {
            if (e instanceof MongoServerError && e.code === DUPLICATE_KEY) return point();
            throw e;
          });
        }
      },
      false,
    );
  }

  async servingPointers(options?: ReadOptions): Promise<ServingPointer[]> {
    return this.read(
      'reading serving pointers',
      options,
      async (signal) => {
        const docs = await this.db.collection(SERVING).find({}, { signal }).sort({ stream: 1 }).toArray();
        return docs.map((d) => ({ stream: d.stream, version: d.version, since: d.since }));
      },
      false,
    );
  }

  // --- housekeeping ------------------------------------------------------------------------------------------

  async stats(options?: ReadOptions): Promise<StoreStats> {
    return this.read('counting documents', options, async (signal) => {
      const out = {} as StoreStats;
      for (const c of COLLECTIONS) out[c] = await this.db.collection(c).countDocuments({}, { signal });
      return out;
    });
  }

  writeStats(): WriteStats {
    return this.queue.stats();
  }

  flush(): Promise<void> {
    return this.queue.drained();
  }

  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (options.timeoutMs === undefined) {
        await this.queue.drained();
        await this.stateFlush?.catch(() => {});
        await this.writeHeads((h) => h.seq > h.raised).catch(() => {}); // a lower head only costs lookups
      } else {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
        });
        const outcome = await Promise.race([this.queue.drained().then(() => 'ok' as const), timeout]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          const { pending } = this.queue.stats();
          this.queue.abandon();
          throw new BynerError(
            'BYNER_STORE',
            `${this.description}: ${pending} document(s) not stored at close`,
            {
              hint: 'the store stayed unreachable; those documents are lost unless re-sent',
            },
          );
        }
      }
    } finally {
      await this.client.close();
    }
  }
}
