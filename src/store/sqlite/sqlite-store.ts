// Embedded Store: one better-sqlite3 file (`<dataDir>/byner.db`, WAL), every write one transaction, so a
// write resolves only once stored (its receipt is settled at once). Same contract as the MongoDB store; the
// DESIGN §4 shapes are Mongo's concern.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BynerError } from '../../errors.js';
import { metrics } from '../../metrics/prometheus.js';
import { INDICATOR_NAMES, type Indicators, type Tick } from '../../ticks/types.js';
import { documentKey, logRefused, Receipt, type RefusedDocument } from '../receipt.js';
import { rowsFromBytes, rowsToBytes } from '../rows.js';
import type {
  DataRange,
  Forecast,
  JsonObject,
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

export interface SqliteStoreOptions {
  /** Directory of `byner.db`; created when missing. */
  dataDir: string;
  /**
   * Sync every transaction to disk (`synchronous=FULL`): stored data survives a power loss or an OS crash.
   * Default off (`synchronous=NORMAL` in WAL mode): stored data survives the byner process being killed, but
   * the last transactions may be lost if the machine loses power.
   */
  durable?: boolean;
  logger?: StoreLogger;
}

export const SQLITE_FILE = 'byner.db';
/**
 * The file's schema: serving pointers per stream (table `serving`), the streams each model is registered for
 * (`models.streams`), input_sequence as a float64 BLOB (packRows) or JSON text. Files of schema 1 (a single
 * `models.serving` flag, input_sequence as JSON text) and 2 (the flag, input_sequence as a BLOB or JSON text) are
 * upgraded in place when opened (upgradeSchema); a byner that reads only schema 1 or 2 refuses the upgraded file
 * with a clear error rather than misread it.
 */
const SCHEMA_VERSION = '3';
const IND_COLUMNS = INDICATOR_NAMES.map((n) => `"${n}"`).join(', ');

const tickTable = (name: string) => `
  CREATE TABLE IF NOT EXISTS ${name} (
    stream TEXT NOT NULL, seq INTEGER NOT NULL, timestamp INTEGER NOT NULL, price REAL NOT NULL,
    ${INDICATOR_NAMES.map((n) => `"${n}" REAL`).join(', ')},
    PRIMARY KEY (stream, seq)
  ) WITHOUT ROWID;`;

const metricsTable = (name: string) => `
  CREATE TABLE IF NOT EXISTS ${name} (
    id INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, model_version TEXT NOT NULL, doc TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS ${name}_time ON ${name} (timestamp, id);
  CREATE INDEX IF NOT EXISTS ${name}_model ON ${name} (model_version, timestamp, id);`;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  ${tickTable('historical_data')}
  ${tickTable('inf_historical_db')}
  CREATE TABLE IF NOT EXISTS tr_predictions (
    id INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, model_version TEXT NOT NULL,
    input_sequence TEXT NOT NULL, true_next_sequence TEXT NOT NULL, predicted_next_sequence TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS tr_predictions_model ON tr_predictions (model_version, id);
  -- input_sequence: a float64 BLOB (packRows); JSON text in files written before, still read. A rowid table with
  -- a unique index: rows of 3.4 KB are what WITHOUT ROWID tables are bad at (files written before keep theirs).
  CREATE TABLE IF NOT EXISTS inf_predictions (
    stream TEXT NOT NULL, seq INTEGER NOT NULL, model_version TEXT NOT NULL, timestamp INTEGER NOT NULL,
    input_sequence TEXT NOT NULL, forecast TEXT NOT NULL,
    UNIQUE (stream, seq, model_version)
  );
  ${metricsTable('tr_metrics')}
  ${metricsTable('inf_metrics')}
  -- streams: JSON array of the stream names the model is registered for.
  CREATE TABLE IF NOT EXISTS models (
    version TEXT PRIMARY KEY, created_at INTEGER NOT NULL,
    config TEXT NOT NULL, scaler TEXT NOT NULL, metrics TEXT NOT NULL, data_range TEXT NOT NULL, streams TEXT
  );
  CREATE TABLE IF NOT EXISTS model_files (
    version TEXT NOT NULL REFERENCES models (version), name TEXT NOT NULL, bytes BLOB NOT NULL,
    PRIMARY KEY (version, name)
  );
  CREATE TABLE IF NOT EXISTS serving (
    stream TEXT PRIMARY KEY, version TEXT NOT NULL REFERENCES models (version), since INTEGER NOT NULL
  );
  -- One row per stream of historical_data: its indicator state (JSON) after the tick at seq (Store.streamState).
  CREATE TABLE IF NOT EXISTS stream_states (
    stream TEXT PRIMARY KEY, seq INTEGER NOT NULL, time INTEGER NOT NULL, gaps INTEGER NOT NULL,
    indicators TEXT NOT NULL
  );`;

/**
 * Brings a file of schema 1 or 2 to the current one, in one transaction: each model is registered for the stream
 * it was trained on, and the model flagged as serving becomes that stream's serving pointer.
 */
function upgradeSchema(db: Database.Database): void {
  db.transaction(() => {
    const columns = (db.prepare('PRAGMA table_info(models)').all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('streams')) db.exec('ALTER TABLE models ADD COLUMN streams TEXT');
    db.exec(
      "UPDATE models SET streams = json_array(json_extract(data_range, '$.stream')) WHERE streams IS NULL",
    );
    if (columns.includes('serving')) {
      // At most one model was flagged; the newest wins should a crash have left two.
      db.exec(`INSERT OR IGNORE INTO serving (stream, version, since)
        SELECT json_extract(data_range, '$.stream'), version, created_at FROM models WHERE serving = 1
        ORDER BY created_at DESC, rowid DESC`);
      db.exec('ALTER TABLE models DROP COLUMN serving');
    }
    db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(SCHEMA_VERSION, 'schema_version');
  })();
}

type Row = Record<string, unknown>;

/** Ticks per INSERT statement: binding 64 rows in one call stores ticks ≈ 3× faster than 64 calls of one row
 * (docs/BENCHMARKS.md, Import). Duplicates within one statement are ignored like any other: the first one wins. */
const TICKS_PER_INSERT = 64;
const TICK_FIELDS = 4 + INDICATOR_NAMES.length;
const TICK_VALUES = `(${Array(TICK_FIELDS).fill('?').join(', ')})`;

/** Puts a tick's column values into `args` from `at` on, in the INSERT's column order. */
function tickArgs(args: unknown[], at: number, t: Tick): unknown[] {
  args[at] = t.stream;
  args[at + 1] = t.seq;
  args[at + 2] = t.timestamp.getTime();
  args[at + 3] = t.price;
  for (let k = 0; k < INDICATOR_NAMES.length; k++) args[at + 4 + k] = t.indicators[INDICATOR_NAMES[k]];
  return args;
}

function rowTick(r: Row): Tick {
  const indicators = {} as Indicators;
  for (const n of INDICATOR_NAMES) indicators[n] = r[n] as number | null;
  return {
    seq: r.seq as number,
    stream: r.stream as string,
    timestamp: new Date(r.timestamp as number),
    price: r.price as number,
    indicators,
  };
}

/** input_sequence as stored here: a float64 BLOB (rows.ts); rows stored under schema 1 hold JSON text (read too). */
function packRows(rows: readonly (readonly number[])[]): Buffer {
  const bytes = rowsToBytes(rows);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function unpackRows(value: unknown): number[][] {
  return typeof value === 'string' ? JSON.parse(value) : rowsFromBytes(value as Buffer);
}

/** Opens (creating when missing) the database; throws BYNER_STORE_UNREACHABLE when the file cannot be opened. */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const path = join(options.dataDir, SQLITE_FILE);
  let db: Database.Database;
  try {
    mkdirSync(options.dataDir, { recursive: true });
    db = new Database(path);
    // 8 KB pages (takes effect in new files only): a forecast row is ≈ 3.4 KB, so two fill a page with little to
    // spare, where a 4 KB page would hold one and waste the rest (docs/BENCHMARKS.md, Live)
    db.pragma('page_size = 8192');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.durable === true ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA);
    const version = db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get('schema_version');
    if (version === undefined)
      db.prepare('INSERT INTO meta VALUES (?, ?)').run('schema_version', SCHEMA_VERSION);
    else if (version === '1' || version === '2') upgradeSchema(db);
    else if (version !== SCHEMA_VERSION) {
      throw new BynerError('BYNER_STORE', `${path} has schema version ${version}`, {
        expected: `schema version ${SCHEMA_VERSION}`,
        hint: 'use another BYNER_DATA_DIR, or move the old file away',
      });
    }
  } catch (cause) {
    if (cause instanceof BynerError) throw cause;
    throw new BynerError('BYNER_STORE_UNREACHABLE', `cannot open the embedded store at ${path}`, {
      received: cause instanceof Error ? cause.message : String(cause),
      hint: 'check that the directory is writable, or set BYNER_DATA_DIR / --data-dir to another one',
      cause,
    });
  }
  const logger = options.logger ?? silentLogger;
  const store = new SqliteStore(db, `embedded SQLite at ${path}`, logger);
  logger.info(
    { store: store.description, synchronous: store.synchronous },
    `store: ${store.description} (WAL, synchronous=${store.synchronous})`,
  );
  return store;
}

/** SQLite errors about a document itself (a constraint or trigger refuses it, too big): retrying cannot help. */
const isRefusal = (error: unknown) =>
  error instanceof Database.SqliteError &&
  (error.code.startsWith('SQLITE_CONSTRAINT') ||
    error.code === 'SQLITE_TOOBIG' ||
    error.code === 'SQLITE_MISMATCH');

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly counters = { stored: 0, duplicates: 0, rejected: 0 };
  private closed = false;

  /** Prepared statements by SQL text: compiling one costs more than running it (a write batch runs a few). */
  private readonly statements = new Map<string, Database.Statement>();
  /** Per tick collection, its INSERT of one tick and of TICKS_PER_INSERT ticks (tickInserts). */
  private readonly tickStatements = new Map<
    TickCollection,
    { one: Database.Statement; many: Database.Statement }
  >();

  constructor(
    private readonly db: Database.Database,
    readonly description: string,
    private readonly logger: StoreLogger = silentLogger,
  ) {}

  /** The connection's `synchronous` setting, as SQLite reports it: NORMAL (default) or FULL (`durable`). */
  get synchronous(): 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA' {
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    return (['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const)[level];
  }

  private prepare(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  /** Runs `fn` in one transaction; SQLite errors become BYNER_STORE naming what was being done. */
  private tx<T>(what: string, fn: () => T): T {
    if (this.closed) throw new BynerError('BYNER_STORE', `${this.description}: the store is closed`);
    try {
      return this.db.transaction(fn)();
    } catch (cause) {
      if (cause instanceof BynerError) throw cause;
      throw new BynerError('BYNER_STORE', `${this.description}: ${what} failed`, {
        received: cause instanceof Error ? cause.message : String(cause),
        cause,
      });
    }
  }

  /**
   * Stores `docs` of one write call in one transaction (`insert` returns 1 when stored, 0 for a duplicate). When
   * SQLite refuses a document, the call is redone one document per savepoint: the others are stored, the refused
   * ones are counted, logged with their keys and reported by the receipt.
   */
  /**
   * Stores `docs` in one transaction (through `insertAll` when given, e.g. a multi-row INSERT); when SQLite
   * refuses one of them, stores them again one by one so that only the refused documents are left out.
   */
  private write<T>(
    collection: string,
    docs: readonly T[],
    insert: (doc: T) => number,
    insertAll?: (docs: readonly T[]) => number,
  ): WriteReceipt {
    let inserted = 0;
    const refused: RefusedDocument[] = [];
    const timer = metrics.storeWriteSeconds.startTimer({ collection });
    try {
      this.tx(`writing ${collection}`, () => {
        if (insertAll) inserted = insertAll(docs);
        else for (const d of docs) inserted += insert(d);
      });
    } catch (error) {
      if (!(error instanceof BynerError && isRefusal(error.cause))) {
        metrics.storeWriteErrors.inc({ collection, kind: 'error' });
        throw error;
      }
      inserted = 0;
      this.tx(`writing ${collection}`, () => {
        for (const d of docs) {
          try {
            inserted += this.db.transaction(insert)(d);
          } catch (cause) {
            if (!isRefusal(cause)) throw cause;
            refused.push({ key: documentKey(d), reason: (cause as Error).message });
          }
        }
      });
      logRefused(this.logger, this.description, collection, refused);
      metrics.storeWriteErrors.inc({ collection, kind: 'refused' }, refused.length);
    }
    timer();
    const duplicates = docs.length - inserted - refused.length;
    this.counters.stored += inserted;
    this.counters.duplicates += duplicates;
    this.counters.rejected += refused.length;
    return Receipt.settled(this.description, collection, docs.length, {
      stored: inserted,
      duplicates,
      refused,
    });
  }

  /** Reads run at once; one whose signal has aborted is not started. */
  private startRead(options: ReadOptions | undefined): void {
    options?.signal?.throwIfAborted();
  }

  // --- ticks -------------------------------------------------------------------------------------------------

  async writeTicks(collection: TickCollection, ticks: readonly Tick[]): Promise<WriteReceipt> {
    validateTicks(ticks, `writeTicks(${collection})`);
    const { one, many } = this.tickInserts(collection);
    const rest = new Array(TICK_FIELDS);
    const insertOne = (t: Tick) => one.run(tickArgs(rest, 0, t)).changes;
    return this.write(collection, ticks, insertOne, (all) => {
      let n = 0;
      let i = 0;
      const args: unknown[] = all.length >= TICKS_PER_INSERT ? new Array(TICKS_PER_INSERT * TICK_FIELDS) : [];
      for (; i + TICKS_PER_INSERT <= all.length; i += TICKS_PER_INSERT) {
        for (let r = 0; r < TICKS_PER_INSERT; r++) tickArgs(args, r * TICK_FIELDS, all[i + r]);
        n += many.run(args).changes;
      }
      for (; i < all.length; i++) n += insertOne(all[i]);
      return n;
    });
  }

  /**
   * The INSERTs of one tick and of TICKS_PER_INSERT ticks into a collection, prepared once: a live server stores
   * one tick per call, and building the 64-row statement's text for each call cost ≈ 7% of its CPU.
   */
  private tickInserts(collection: TickCollection): { one: Database.Statement; many: Database.Statement } {
    let statements = this.tickStatements.get(collection);
    if (statements === undefined) {
      const insert = (rows: number) =>
        this.db.prepare(
          `INSERT OR IGNORE INTO ${collection} (stream, seq, timestamp, price, ${IND_COLUMNS})
           VALUES ${Array(rows).fill(TICK_VALUES).join(', ')}`,
        );
      statements = { one: insert(1), many: insert(TICKS_PER_INSERT) };
      this.tickStatements.set(collection, statements);
    }
    return statements;
  }

  private selectTicks(collection: TickCollection, where: string, order: string, ...args: unknown[]): Tick[] {
    const rows = this.prepare(
      `SELECT stream, seq, timestamp, price, ${IND_COLUMNS} FROM ${collection} WHERE ${where} ${order}`,
    ).all(...args) as Row[];
    return rows.map(rowTick);
  }

  async lastTicks(
    collection: TickCollection,
    stream: string,
    n: number,
    options?: ReadOptions,
  ): Promise<Tick[]> {
    checkReadArgs('lastTicks', { n });
    this.startRead(options);
    return this.selectTicks(collection, 'stream = ?', 'ORDER BY seq DESC LIMIT ?', stream, n).reverse();
  }

  async ticksAfter(
    collection: TickCollection,
    stream: string,
    afterSeq: number,
    limit: number,
    options?: ReadOptions,
  ): Promise<Tick[]> {
    checkReadArgs('ticksAfter', { afterSeq, limit });
    this.startRead(options);
    return this.selectTicks(
      collection,
      'stream = ? AND seq > ?',
      'ORDER BY seq LIMIT ?',
      stream,
      afterSeq,
      limit,
    );
  }

  async ticksRange(
    collection: TickCollection,
    stream: string,
    fromSeq: number,
    toSeq: number,
    options?: ReadOptions,
  ): Promise<Tick[]> {
    checkReadArgs('ticksRange', { fromSeq, toSeq });
    this.startRead(options);
    return this.selectTicks(
      collection,
      'stream = ? AND seq BETWEEN ? AND ?',
      'ORDER BY seq',
      stream,
      fromSeq,
      toSeq,
    );
  }

  async lastSeq(collection: TickCollection, stream: string, options?: ReadOptions): Promise<number | null> {
    this.startRead(options);
    const seq = this.prepare(`SELECT MAX(seq) FROM ${collection} WHERE stream = ?`).pluck().get(stream);
    return (seq as number | null) ?? null;
  }

  async countTicks(collection: TickCollection, stream?: string, options?: ReadOptions): Promise<number> {
    this.startRead(options);
    const sql = `SELECT COUNT(*) FROM ${collection}${stream === undefined ? '' : ' WHERE stream = ?'}`;
    const stmt = this.prepare(sql).pluck();
    return (stream === undefined ? stmt.get() : stmt.get(stream)) as number;
  }

  async listStreams(collection: TickCollection, options?: ReadOptions): Promise<StreamSummary[]> {
    this.startRead(options);
    return this.prepare(
      `SELECT stream, COUNT(*) AS count, MAX(seq) AS last_seq FROM ${collection} GROUP BY stream ORDER BY stream`,
    ).all() as StreamSummary[];
  }

  // --- stream states -----------------------------------------------------------------------------------------

  async writeStreamState(state: StreamState, options?: ReadOptions): Promise<void> {
    const s = validateStreamState(state, 'writeStreamState');
    this.startRead(options);
    // One statement, so a state never moves back: an older or equal seq leaves the stored row as it is.
    this.tx(`writing the state of stream ${s.stream}`, () =>
      this.prepare(
        `INSERT INTO stream_states (stream, seq, time, gaps, indicators) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, time = excluded.time, gaps = excluded.gaps,
           indicators = excluded.indicators
         WHERE excluded.seq > stream_states.seq`,
      ).run(s.stream, s.seq, s.time, s.gaps, JSON.stringify(s.indicators)),
    );
  }

  async streamState(stream: string, options?: ReadOptions): Promise<StreamState | null> {
    this.startRead(options);
    const row = this.prepare('SELECT * FROM stream_states WHERE stream = ?').get(stream) as Row | undefined;
    if (row === undefined) return null;
    return {
      stream: row.stream as string,
      seq: row.seq as number,
      time: row.time as number,
      gaps: row.gaps as number,
      indicators: JSON.parse(row.indicators as string),
    };
  }

  // --- predictions and metrics -------------------------------------------------------------------------------

  async writeTrainingPredictions(docs: readonly TrainingPrediction[]): Promise<WriteReceipt> {
    validateTrainingPredictions(docs, 'writeTrainingPredictions');
    const insert = this.prepare(
      `INSERT INTO tr_predictions (timestamp, model_version, input_sequence, true_next_sequence,
       predicted_next_sequence) VALUES (?, ?, ?, ?, ?)`,
    );
    return this.write(
      'tr_predictions',
      docs,
      (d) =>
        insert.run(
          d.timestamp.getTime(),
          d.model_version,
          packRows(d.input_sequence),
          JSON.stringify(d.true_next_sequence),
          JSON.stringify(d.predicted_next_sequence),
        ).changes,
    );
  }

  async trainingPredictions(
    modelVersion: string,
    limit = 0,
    options?: ReadOptions,
  ): Promise<TrainingPrediction[]> {
    checkReadArgs('trainingPredictions', { limit });
    this.startRead(options);
    const rows = this.prepare('SELECT * FROM tr_predictions WHERE model_version = ? ORDER BY id LIMIT ?').all(
      modelVersion,
      limit === 0 ? -1 : limit,
    ) as Row[];
    return rows.map((r) => ({
      timestamp: new Date(r.timestamp as number),
      input_sequence: unpackRows(r.input_sequence),
      true_next_sequence: JSON.parse(r.true_next_sequence as string),
      predicted_next_sequence: JSON.parse(r.predicted_next_sequence as string),
      model_version: r.model_version as string,
    }));
  }

  async writeForecasts(docs: readonly Forecast[]): Promise<WriteReceipt> {
    validateForecasts(docs, 'writeForecasts');
    const insert = this.prepare(
      `INSERT OR IGNORE INTO inf_predictions (stream, seq, model_version, timestamp, input_sequence, forecast)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    return this.write(
      'inf_predictions',
      docs,
      (d) =>
        insert.run(
          d.stream,
          d.seq,
          d.model_version,
          d.timestamp.getTime(),
          packRows(d.input_sequence),
          JSON.stringify(d.forecast),
        ).changes,
    );
  }

  async lastForecastSeq(stream: string, options?: ReadOptions): Promise<number | null> {
    this.startRead(options);
    const seq = this.prepare('SELECT MAX(seq) FROM inf_predictions WHERE stream = ?').pluck().get(stream);
    return (seq as number | null) ?? null;
  }

  async recentForecasts(
    stream: string,
    limit: number,
    modelVersion?: string,
    options?: ReadOptions,
  ): Promise<Forecast[]> {
    checkReadArgs('recentForecasts', { limit });
    this.startRead(options);
    const byModel = modelVersion === undefined ? '' : ' AND model_version = ?';
    const args = modelVersion === undefined ? [stream, limit] : [stream, modelVersion, limit];
    const rows = this.prepare(
      `SELECT * FROM inf_predictions WHERE stream = ?${byModel} ORDER BY seq DESC, model_version DESC LIMIT ?`,
    ).all(...args) as Row[];
    return rows.reverse().map((r) => ({
      timestamp: new Date(r.timestamp as number),
      input_sequence: unpackRows(r.input_sequence),
      forecast: JSON.parse(r.forecast as string),
      model_version: r.model_version as string,
      seq: r.seq as number,
      stream: r.stream as string,
    }));
  }

  async writeMetrics(collection: MetricsCollection, docs: readonly MetricsDoc[]): Promise<WriteReceipt> {
    validateMetrics(docs, `writeMetrics(${collection})`);
    const insert = this.prepare(`INSERT INTO ${collection} (timestamp, model_version, doc) VALUES (?, ?, ?)`);
    return this.write(
      collection,
      docs,
      ({ timestamp, ...rest }) =>
        insert.run(timestamp.getTime(), rest.model_version, JSON.stringify(rest)).changes,
    );
  }

  async recentMetrics(
    collection: MetricsCollection,
    limit: number,
    filter?: string | MetricsFilter,
    options?: ReadOptions,
  ): Promise<MetricsDoc[]> {
    checkReadArgs('recentMetrics', { limit });
    this.startRead(options);
    const { modelVersion, stream } = metricsFilter(filter);
    const where: string[] = [];
    const args: unknown[] = [];
    if (modelVersion !== undefined) {
      where.push('model_version = ?');
      args.push(modelVersion);
    }
    if (stream !== undefined) {
      where.push("json_extract(doc, '$.stream') = ?");
      args.push(stream);
    }
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    const rows = this.prepare(
      `SELECT timestamp, doc FROM ${collection} ${clause} ORDER BY timestamp DESC, id DESC LIMIT ?`,
    ).all(...args, limit) as Row[];
    return rows
      .reverse()
      .map((r) => ({ timestamp: new Date(r.timestamp as number), ...JSON.parse(r.doc as string) }));
  }

  // --- model registry ----------------------------------------------------------------------------------------

  async saveModel(entry: ModelEntry): Promise<void> {
    validateModel(entry, 'saveModel');
    const streams = entry.streams ?? [entry.data_range.stream];
    this.tx(`saving model ${entry.version}`, () => {
      const exists = this.prepare('SELECT 1 FROM models WHERE version = ?').get(entry.version);
      if (exists !== undefined) {
        throw new BynerError('BYNER_STORE', `model version ${entry.version} already exists`, {
          hint: 'model versions are immutable: save under a new version',
        });
      }
      this.prepare(
        `INSERT INTO models (version, created_at, config, scaler, metrics, data_range, streams)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        entry.version,
        entry.created_at.getTime(),
        JSON.stringify(entry.config),
        JSON.stringify(entry.scaler),
        JSON.stringify(entry.metrics),
        JSON.stringify(entry.data_range),
        JSON.stringify(streams),
      );
      const file = this.prepare('INSERT INTO model_files (version, name, bytes) VALUES (?, ?, ?)');
      for (const [name, bytes] of Object.entries(entry.artifact)) {
        file.run(entry.version, name, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      }
      if (entry.serving === true) this.serve(entry.version, undefined);
    });
  }

  /** Stream → version of every serving pointer. */
  private pointers(): Map<string, string> {
    const rows = this.prepare('SELECT stream, version FROM serving').all() as Row[];
    return new Map(rows.map((r) => [r.stream as string, r.version as string]));
  }

  private summary(r: Row, pointers: Map<string, string>) {
    const data_range = JSON.parse(r.data_range as string) as DataRange;
    const version = r.version as string;
    const serving_streams = [...pointers].filter(([, v]) => v === version).map(([stream]) => stream);
    serving_streams.sort();
    return {
      version,
      created_at: new Date(r.created_at as number),
      config: JSON.parse(r.config as string) as JsonObject,
      scaler: JSON.parse(r.scaler as string) as JsonObject,
      metrics: JSON.parse(r.metrics as string) as JsonObject,
      data_range,
      streams: r.streams === null ? [data_range.stream] : (JSON.parse(r.streams as string) as string[]),
      serving_streams,
      serving: serving_streams.length > 0,
    };
  }

  async getModel(version: string, options?: ReadOptions): Promise<StoredModel | null> {
    this.startRead(options);
    const row = this.prepare('SELECT * FROM models WHERE version = ?').get(version) as Row | undefined;
    if (row === undefined) return null;
    const files = this.prepare('SELECT name, bytes FROM model_files WHERE version = ? ORDER BY rowid').all(
      row.version,
    ) as { name: string; bytes: Buffer }[];
    const artifact: Record<string, Uint8Array> = {};
    for (const f of files) artifact[f.name] = new Uint8Array(f.bytes);
    return { ...this.summary(row, this.pointers()), artifact };
  }

  async servingModel(stream: string, options?: ReadOptions): Promise<StoredModel | null> {
    this.startRead(options);
    const version = this.prepare('SELECT version FROM serving WHERE stream = ?').pluck().get(stream);
    return version === undefined ? null : this.getModel(version as string);
  }

  async listModels(filter: { stream?: string } = {}, options?: ReadOptions): Promise<ModelSummary[]> {
    this.startRead(options);
    const rows = this.prepare('SELECT * FROM models ORDER BY created_at, rowid').all() as Row[];
    const files = this.prepare(
      'SELECT name, length(bytes) AS bytes FROM model_files WHERE version = ? ORDER BY rowid',
    );
    const pointers = this.pointers();
    return rows
      .map((r) => this.summary(r, pointers))
      .filter((m) => filter.stream === undefined || m.streams.includes(filter.stream))
      .map((m) => ({ ...m, files: files.all(m.version) as { name: string; bytes: number }[] }));
  }

  /** Points `stream` (default: each of the model's streams) at `version`; inside a transaction. */
  private serve(version: string, stream: string | undefined): void {
    const row = this.prepare('SELECT data_range, streams FROM models WHERE version = ?').get(version) as
      | Row
      | undefined;
    if (row === undefined) throw unknownVersion(version);
    const streams: string[] =
      row.streams === null
        ? [(JSON.parse(row.data_range as string) as DataRange).stream]
        : JSON.parse(row.streams as string);
    if (stream !== undefined && !streams.includes(stream)) throw notRegisteredFor(version, stream, streams);
    const point = this.prepare(
      `INSERT INTO serving (stream, version, since) VALUES (?, ?, ?)
       ON CONFLICT (stream) DO UPDATE SET version = excluded.version, since = excluded.since`,
    );
    const now = Date.now();
    for (const s of stream === undefined ? streams : [stream]) point.run(s, version, now);
  }

  async setServing(version: string, stream?: string): Promise<void> {
    this.tx(`setting serving model ${version}`, () => this.serve(version, stream));
  }

  async servingPointers(options?: ReadOptions): Promise<ServingPointer[]> {
    this.startRead(options);
    const rows = this.prepare('SELECT stream, version, since FROM serving ORDER BY stream').all() as Row[];
    return rows.map((r) => ({
      stream: r.stream as string,
      version: r.version as string,
      since: new Date(r.since as number),
    }));
  }

  // --- housekeeping ------------------------------------------------------------------------------------------

  async stats(options?: ReadOptions): Promise<StoreStats> {
    this.startRead(options);
    const out = {} as StoreStats;
    for (const c of COLLECTIONS) out[c] = this.prepare(`SELECT COUNT(*) FROM ${c}`).pluck().get() as number;
    return out;
  }

  writeStats(): WriteStats {
    return { ...this.counters, pending: 0, pendingBytes: 0, retries: 0, waitingReads: 0 };
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
