// MongoDB Store: DESIGN §4 collections and document shapes through the official driver, writes behind a
// bounded retrying backlog, model artifacts in GridFS. Works on FerretDB 1.24 (no transactions or streams).

import {
  Binary,
  type Db,
  type Document,
  Double,
  GridFSBucket,
  MongoClient,
  MongoServerError,
  ObjectId,
} from 'mongodb';
import { BynerError } from '../../errors.js';
import { FEATURE_NAMES, INDICATOR_NAMES, type Indicators, type Tick } from '../../ticks/types.js';
import { deadline, sleep } from '../deadline.js';
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
];

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
    _id: new ObjectId(),
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
      isTransient,
      keyOf: documentKey,
      maxBacklogBytes: options.maxBacklogBytes,
      batchSize: options.batchSize,
      backoff: options.backoff,
      logger: this.logger,
      target: description,
    });
  }

  async createIndexes(): Promise<void> {
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
    try {
      await this.db.collection(collection).insertMany(docs, { ordered: false });
      return {};
    } catch (error) {
      const outcome = bulkOutcome(error);
      if (outcome !== undefined) return outcome;
      throw error;
    }
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
      if (afterWrites) await this.queue.drained(signal);
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
    return (await this.findTicks(collection, { stream }, -1, n, options)).reverse();
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
    return this.findTicks(collection, { stream, seq: { $gte: fromSeq, $lte: toSeq } }, 1, 0, options);
  }

  async lastSeq(collection: TickCollection, stream: string, options?: ReadOptions): Promise<number | null> {
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
    // Not through the backlog: an upsert that only moves forward is idempotent, so a plain write retried on lost
    // connections (within the read deadline) is enough; the caller writes it after the ticks it describes are stored.
    await this.read(
      `writing the state of stream ${s.stream}`,
      options,
      async () => {
        try {
          await this.db
            .collection<StateDoc>(STREAM_STATES)
            .updateOne(
              { _id: s.stream, seq: { $lt: s.seq } },
              { $set: { seq: s.seq, time: s.time, gaps: s.gaps, indicators: s.indicators } },
              { upsert: true },
            );
        } catch (error) {
          // The filter found no older state and the insert met the stream's document: a state as new is stored.
          if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return;
          throw error;
        }
      },
      false,
    );
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
        _id: new ObjectId(),
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
    const filter: Document =
      modelVersion === undefined ? { stream } : { stream, model_version: modelVersion };
    return this.read('reading inf_predictions', options, async (signal) => {
      const docs = await this.db
        .collection('inf_predictions')
        .find(filter, { signal })
        .sort({ seq: -1, model_version: -1 })
        .limit(limit)
        .toArray();
      return docs
        .map((d) => ({ ...withoutId<Forecast>(d), input_sequence: decodeRows(d.input_sequence) }))
        .reverse();
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
