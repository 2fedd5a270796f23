// The Store contract: everything the pipeline persists (ticks, stream states, predictions, metrics, model
// registry) and the reads it needs. Implementations live in store/sqlite and store/mongo; opening one is store/index.ts's job.

import type { IndicatorState } from '../indicators/streaming.js';
import type { Tick } from '../ticks/types.js';

/** Tick collections: `historical_data` (generated / served ticks), `inf_historical_db` (as received live). */
export const TICK_COLLECTIONS = ['historical_data', 'inf_historical_db'] as const;
/** One of TICK_COLLECTIONS. */
export type TickCollection = (typeof TICK_COLLECTIONS)[number];

/** Metrics collections: `tr_metrics` (one document per training run), `inf_metrics` (live scores). */
export const METRICS_COLLECTIONS = ['tr_metrics', 'inf_metrics'] as const;
/** One of METRICS_COLLECTIONS. */
export type MetricsCollection = (typeof METRICS_COLLECTIONS)[number];

/** Every collection of DESIGN §4, in `db stats` order. `models` is the registry (artifacts in GridFS on MongoDB). */
export const COLLECTIONS = [
  'historical_data',
  'inf_historical_db',
  'tr_predictions',
  'tr_metrics',
  'inf_predictions',
  'inf_metrics',
  'models',
] as const;
/** One of COLLECTIONS. */
export type CollectionName = (typeof COLLECTIONS)[number];

/** JSON-compatible value: what config, scaler, metrics and extra fields may hold (both stores round-trip it). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object (config, scaler and metrics of a registry entry). */
export type JsonObject = { [key: string]: JsonValue };

/** One test window of training (`tr_predictions`). */
export interface TrainingPrediction {
  /** When the window's last tick was made. */
  timestamp: Date;
  /** (window, 7): price then the six indicators, raw (unscaled) values. */
  input_sequence: number[][];
  /** (horizon) */
  true_next_sequence: number[];
  /** (horizon) */
  predicted_next_sequence: number[];
  /** The version of the model that made the forecast. */
  model_version: string;
}

/** One live forecast (`inf_predictions`); unique on (stream, seq, model_version). */
export interface Forecast {
  /** When the forecast was made. */
  timestamp: Date;
  /** (window, 7) */
  input_sequence: number[][];
  /** (horizon): the next values after tick `seq`. */
  forecast: number[];
  /** The version of the model (or the baseline's name) that made it. */
  model_version: string;
  /** Seq of the last input tick. */
  seq: number;
  /** The stream of the tick. */
  stream: string;
}

/** Per-horizon metrics; `null` where nothing has been scored yet for that horizon. */
export interface MetricValues {
  /** Mean squared error per horizon. */
  mse: (number | null)[];
  /** Mean absolute error per horizon. */
  mae: (number | null)[];
  /** Fraction (0..1) of rounded forecasts equal to the actual value, per horizon. */
  accuracy: (number | null)[];
  /** Further per-horizon arrays (e.g. `mse_rounded`) are allowed. */
  [name: string]: (number | null)[];
}

/** A metrics document (`tr_metrics`, `inf_metrics`); extra top-level JSON fields (baselines, counts) allowed. */
export interface MetricsDoc {
  /** When the metrics were computed. */
  timestamp: Date;
  /** The per-horizon numbers. */
  metrics: MetricValues;
  /** How many values ahead each forecast goes (the length of each metrics array). */
  forecast_horizon: number;
  /** The model the metrics are about. */
  model_version: string;
  [extra: string]: JsonValue | Date | MetricValues | undefined;
}

/** Which ticks a model was trained on (inclusive seq range of one stream). */
export interface DataRange {
  /** The stream trained on. */
  stream: string;
  /** Seq of its first tick used. */
  from_seq: number;
  /** Seq of its last tick used. */
  to_seq: number;
}

/** A registry entry with its artifact files (e.g. `model.json`, `weights.bin`), as saved. */
export interface ModelEntry {
  /** Unique and immutable, e.g. `lstm-20261127T180512.345Z-co2`. */
  version: string;
  /** When it was registered. */
  created_at: Date;
  /** The model's kind and settings (its network, for an LSTM). */
  config: JsonObject;
  /** The fitted scaler (ScalerJson). */
  scaler: JsonObject;
  /** Test scores, baselines and the serving decision with its reason. */
  metrics: JsonObject;
  /** Which ticks it was trained on. */
  data_range: DataRange;
  /**
   * The streams the model is registered for: the ones it may serve. Default `[data_range.stream]`; a global model
   * (trained for several streams) lists them all.
   */
  streams?: string[];
  /** Saving with `serving: true` also makes it the serving model of each of its streams. */
  serving?: boolean;
  /** File name (`[A-Za-z0-9._-]+`) → bytes. At least one file. */
  artifact: Record<string, Uint8Array>;
}

/** A registry entry as stored (`getModel`, `servingModel`): its streams, and the ones it serves now. */
export interface StoredModel extends Omit<ModelEntry, 'streams' | 'serving'> {
  /** The streams it is registered for (may serve). */
  streams: string[];
  /** The streams whose serving pointer names this model, sorted. */
  serving_streams: string[];
  /** True when it serves at least one stream. */
  serving: boolean;
}

/** A registry entry without its bytes, as `listModels()` returns it. */
export interface ModelSummary extends Omit<StoredModel, 'artifact'> {
  /** Its artifact files, by name, with their sizes. */
  files: { name: string; bytes: number }[];
}

/** Which model serves a stream (at most one per stream): the registry's `serving` table/collection. */
export interface ServingPointer {
  stream: string;
  version: string;
  /** When this model became the stream's serving one. */
  since: Date;
}

/**
 * Where a stream's indicators stand after one of its stored ticks (`stream_states`, one per stream of
 * `historical_data`): a producer that opens the stream starts from it and replays only the ticks after `seq`.
 */
export interface StreamState {
  stream: string;
  /** Seq of the stored tick the state is after. */
  seq: number;
  /** Timestamp (ms) of that tick. */
  time: number;
  /** Jumps in the stream's stored seqs up to `seq` (what a full replay would count). */
  gaps: number;
  /** The indicator state after that tick's price (IndicatorStream.getState()). */
  indicators: IndicatorState;
}

/** Document count per collection (`stats()`). */
export type StoreStats = Record<CollectionName, number>;

/** One stream of a tick collection, as `listStreams` reports it. */
export interface StreamSummary {
  stream: string;
  /** Ticks stored. */
  count: number;
  /** Highest stored seq. */
  last_seq: number;
}

/** Which metrics documents `recentMetrics` returns; a string is short for `{ modelVersion }`. */
export interface MetricsFilter {
  modelVersion?: string;
  /** Documents whose `stream` field is this (inf_metrics documents carry it). */
  stream?: string;
}

/** Counters of the write path since the store was opened (for logs and tests). */
export interface WriteStats {
  /** Documents newly stored (counted once stored, not when accepted). */
  stored: number;
  /** Documents that were already stored (same key), counted once each time they were re-sent. */
  duplicates: number;
  /** Documents the store refused for good (logged with their keys, reported to the write that made them). */
  rejected: number;
  /** Documents accepted but not stored yet (the backlog; always 0 for the embedded store). */
  pending: number;
  /** Estimated memory held by the backlog, in bytes (see store/size.ts). */
  pendingBytes: number;
  /** Write attempts that failed on a connection error and were retried. */
  retries: number;
  /** Reads waiting for the backlog to drain (read-your-writes). */
  waitingReads: number;
}

/** What became of the documents of one write call. */
export interface WriteOutcome {
  /** Documents newly stored. */
  stored: number;
  /** Documents that were already stored (same key). */
  duplicates: number;
}

/**
 * The receipt of one acknowledged write call. Its outcome belongs to the writer that made the call: no other call
 * (a flush, another write's receipt) reports or consumes it, and it stays until that writer asks.
 */
export interface WriteReceipt {
  /** Documents the call handed in. */
  readonly documents: number;
  /**
   * Resolves once every document of the call is stored, with the call's counts. Rejects with
   * BYNER_STORE_REJECTED (a RefusedDocumentsError naming each refused document's key; the call's other documents
   * are stored) when the store refused some for good, or with BYNER_STORE when the store was closed before it
   * could store them. Every call reports the same outcome.
   */
  stored(): Promise<WriteOutcome>;
}

/** Options of every read. */
export interface ReadOptions {
  /**
   * Gives up the read when it aborts: the read rejects with the signal's reason and releases what it held
   * (its place among the reads waiting for the backlog, its pending query).
   */
  signal?: AbortSignal;
  /**
   * False: the read does not first wait for this process's own writes still in the write backlog (MongoDB), for a
   * read of what other processes stored (a stream taken over). Default true: reads see every write acknowledged
   * before them.
   */
  afterWrites?: boolean;
}

/**
 * Everything byner persists. Semantics shared by both implementations (checked by store/contract.ts):
 * - A write resolves with a receipt when its documents are *acknowledged*: validated (all-or-nothing: one invalid
 *   document rejects the whole call with BYNER_INVALID_DOCUMENT and stores nothing of it) and either stored or
 *   held in a backlog bounded in bytes that is retried until stored. A full backlog makes writers wait; nothing
 *   is dropped. A document the store refuses for good (too large, refused by a server-side rule) is not retried:
 *   it is counted in writeStats().rejected, logged with its key, and reported by its write's receipt alone.
 * - Ticks are unique on (stream, seq), forecasts on (stream, seq, model_version): re-sending stores nothing
 *   new, the first write wins. Other documents are stored once per write call.
 * - Reads see every write acknowledged before the read was called (they wait for the backlog to drain). Every
 *   read has a deadline covering that wait (the store's own, and the caller's `signal`).
 * - Lists come back in chronological order (ascending seq for ticks and forecasts, oldest first otherwise).
 */
export interface Store {
  /** `sqlite` (the embedded store) or `mongo`. */
  readonly kind: 'sqlite' | 'mongo';
  /** Which store this is, for the start-up line: "embedded SQLite at data/byner.db", "MongoDB at …" (no password). */
  readonly description: string;

  // --- ticks -------------------------------------------------------------------------------------------------
  /** Stores ticks (any streams, any order). Duplicates of stored (stream, seq) are skipped. */
  writeTicks(collection: TickCollection, ticks: readonly Tick[]): Promise<WriteReceipt>;
  /** The last `n` ticks of `stream` by seq, ascending. */
  lastTicks(collection: TickCollection, stream: string, n: number, options?: ReadOptions): Promise<Tick[]>;
  /** Ticks with seq > `afterSeq`, ascending, at most `limit` (stream resume, Last-Event-ID replay). */
  ticksAfter(
    collection: TickCollection,
    stream: string,
    afterSeq: number,
    limit: number,
    options?: ReadOptions,
  ): Promise<Tick[]>;
  /** Ticks with `fromSeq` ≤ seq ≤ `toSeq`, ascending (a training range). */
  ticksRange(
    collection: TickCollection,
    stream: string,
    fromSeq: number,
    toSeq: number,
    options?: ReadOptions,
  ): Promise<Tick[]>;
  /** Highest stored seq of `stream`, or null when the stream is empty. */
  lastSeq(collection: TickCollection, stream: string, options?: ReadOptions): Promise<number | null>;
  /** Number of ticks, of one stream or of all. */
  countTicks(collection: TickCollection, stream?: string, options?: ReadOptions): Promise<number>;
  /** Every stream that has ticks in `collection`, by name, with its tick count and last seq. */
  listStreams(collection: TickCollection, options?: ReadOptions): Promise<StreamSummary[]>;

  // --- stream states -----------------------------------------------------------------------------------------
  /**
   * Stores the state of `state.stream` unless the stored one has a seq ≥ `state.seq` (a state never moves back);
   * resolves once stored or found older. A plain write (no receipt, no backlog): its caller writes it after the
   * ticks it describes are stored, and a lost state costs only a longer replay. BYNER_INVALID_DOCUMENT for an
   * invalid state; `signal` gives the write up (the state may or may not be stored then).
   */
  writeStreamState(state: StreamState, options?: ReadOptions): Promise<void>;
  /** The stream's stored state, or null when none was written. */
  streamState(stream: string, options?: ReadOptions): Promise<StreamState | null>;

  // --- predictions and metrics -------------------------------------------------------------------------------
  /** Stores the test windows of a training run (each write call's documents once). */
  writeTrainingPredictions(docs: readonly TrainingPrediction[]): Promise<WriteReceipt>;
  /** Training predictions of one model, in write order; the first `limit` of them (all when 0 or omitted). */
  trainingPredictions(
    modelVersion: string,
    limit?: number,
    options?: ReadOptions,
  ): Promise<TrainingPrediction[]>;
  /** Stores live forecasts; duplicates of stored (stream, seq, model_version) are skipped. */
  writeForecasts(docs: readonly Forecast[]): Promise<WriteReceipt>;
  /** The last `limit` forecasts of `stream` by seq (optionally of one model), ascending. */
  recentForecasts(
    stream: string,
    limit: number,
    modelVersion?: string,
    options?: ReadOptions,
  ): Promise<Forecast[]>;
  /**
   * The highest seq of `stream` that has a forecast of any model, or null when none has: exact in the embedded
   * store; on MongoDB the stream's head, which may be up to 10 s of forecasts lower (a model's own latest forecasts,
   * `recentForecasts` with its version, are exact).
   */
  lastForecastSeq(stream: string, options?: ReadOptions): Promise<number | null>;
  /** Stores metrics documents (each write call's documents once). */
  writeMetrics(collection: MetricsCollection, docs: readonly MetricsDoc[]): Promise<WriteReceipt>;
  /** The last `limit` metrics documents by timestamp (optionally of one model and/or stream), oldest first. */
  recentMetrics(
    collection: MetricsCollection,
    limit: number,
    filter?: string | MetricsFilter,
    options?: ReadOptions,
  ): Promise<MetricsDoc[]>;

  // --- model registry ----------------------------------------------------------------------------------------
  /**
   * Stores a model and its artifact bytes; resolves once stored (not buffered). Versions are immutable: saving
   * an existing version throws BYNER_STORE. `serving: true` also makes it the serving model of its streams.
   */
  saveModel(entry: ModelEntry): Promise<void>;
  /** The given version, or null when absent. */
  getModel(version: string, options?: ReadOptions): Promise<StoredModel | null>;
  /** The model serving `stream`, or null when none does. */
  servingModel(stream: string, options?: ReadOptions): Promise<StoredModel | null>;
  /** Models without bytes, oldest first; with `stream`, only those registered for it. */
  listModels(filter?: { stream?: string }, options?: ReadOptions): Promise<ModelSummary[]>;
  /**
   * Makes `version` the serving model of `stream` (default: of each stream it is registered for), replacing the
   * stream's previous one; other streams keep theirs. Atomic per stream. Throws BYNER_STORE when the version does
   * not exist or is not registered for the stream.
   */
  setServing(version: string, stream?: string): Promise<void>;
  /**
   * Every stream's serving pointer, sorted by stream: one small read, so that a running inference can poll it
   * (a few times a second) to pick up a newly serving model. Does not wait for queued tick or forecast writes.
   */
  servingPointers(options?: ReadOptions): Promise<ServingPointer[]>;

  // --- housekeeping ------------------------------------------------------------------------------------------
  /** Document count per collection. */
  stats(options?: ReadOptions): Promise<StoreStats>;
  /** Counters of the write path since the store was opened (no I/O). */
  writeStats(): WriteStats;
  /**
   * Resolves when every write acknowledged before the call has been through the store (stored, or refused and
   * reported to its own receipt). It reports no write's outcome: whether a write was stored is its receipt's
   * answer, so one writer never sees, or consumes, another's failure.
   */
  flush(): Promise<void>;
  /** Flushes, then releases the store. With `timeoutMs`, gives up flushing after that long (BYNER_STORE). */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** Minimal logger (pino-compatible): the store reports outages and retries through it. */
export interface StoreLogger {
  /** Start-up and recovery lines. */
  info(obj: object, msg?: string): void;
  /** An outage, a retry. */
  warn(obj: object, msg?: string): void;
  /** Documents refused or given up. */
  error(obj: object, msg?: string): void;
}

/** The filter of `recentMetrics` in its object form. */
export const metricsFilter = (filter: string | MetricsFilter | undefined): MetricsFilter =>
  typeof filter === 'string' ? { modelVersion: filter } : (filter ?? {});

export const silentLogger: StoreLogger = { info() {}, warn() {}, error() {} };
