// The public API of the `byner` package: every name users may import. Everything else is internal and may change.
// Importing it starts nothing and opens no file; the store and server code (SQLite, MongoDB, Fastify) loads on the
// first openStore / startServer call. The CLI (src/cli) is the `byner` command, not part of this API.

import type * as store from './store/index.js';
import type * as server from './stream/server.js';

// --- walk-forward backtests ------------------------------------------------------------------------------------
export {
  type BacktestModel,
  type BacktestOptions,
  type BacktestResult,
  type BacktestStep,
  backtest,
  type FoldForecasts,
  type HistoricalForecasts,
  historicalForecasts,
  type ModelBacktest,
  type Scores,
  type StreamWindows,
  scoreBacktest,
  streamForecasts,
} from './backtest/backtest.js';
export type { Fold, FoldOptions, FoldPart } from './backtest/folds.js';
// --- the LSTM engine (also `byner/engine`) ---------------------------------------------------------------------
export * from './engine/index.js';
// --- errors ----------------------------------------------------------------------------------------------------
export {
  BYNER_ERROR_CODES,
  BynerError,
  type BynerErrorCode,
  type BynerErrorDetails,
  isBynerError,
} from './errors.js';
// --- windows, scaling, the Forecaster interface, scores --------------------------------------------------------
export type { FeatureWindow, Forecaster, ForecastJob } from './features/forecaster.js';
export { type HorizonMetrics, scoreForecasts } from './features/metrics.js';
export { MinMaxScaler, type ScalerJson } from './features/scaler.js';
export {
  buildWindows,
  DEFAULT_SPLIT,
  type Split,
  type SplitFractions,
  splitWindows,
  type WindowSet,
} from './features/windows.js';
// --- indicators and ticks (also `byner/indicators`) ------------------------------------------------------------
export * from './indicators/index.js';
// --- the model ladder and its registry -------------------------------------------------------------------------
export type { SeasonalNaiveOptions } from './models/baselines.js';
export {
  type FitData,
  fitData,
  type ScaledWindows,
  type Supervised,
  scaledWindows,
  type WindowRange,
} from './models/data.js';
export { GlobalModel, pooledFitData, type StreamPart } from './models/global.js';
export {
  type BaselineKind,
  FITTED_KINDS,
  type FittedKind,
  isModelKind,
  KIND_NAMES,
  MODEL_KINDS,
  type ModelKind,
} from './models/kinds.js';
export type { LinearOptions } from './models/linear.js';
export type { LstmFitSettings, LstmOptions } from './models/lstm.js';
export type { FitReport, ForecastModel, ModelShape, SavedModel } from './models/model.js';
export {
  baselineForecaster,
  entryFromSaved,
  type KindOptions,
  loadSavedModel,
  type ModelSpec,
  newModel,
  savedFromEntry,
} from './models/registry.js';
export type { PerStreamScalerJson, StoredScalerJson } from './models/scalers.js';

// --- the store ---------------------------------------------------------------------------------------------------
export type {
  CollectionName,
  DataRange,
  Forecast,
  JsonObject,
  JsonValue,
  MetricsCollection,
  MetricsDoc,
  MetricValues,
  ModelEntry,
  ModelSummary,
  ReadOptions,
  Store,
  StoreLogger,
  StoreOptions,
  StoreStats,
  StreamState,
  TickCollection,
  TrainingPrediction,
  WriteOutcome,
  WriteReceipt,
  WriteStats,
} from './store/index.js';

/**
 * Opens a store: MongoDB when `options.mongoUri` is given, otherwise the embedded SQLite file
 * `<dataDir>/byner.db` (`dataDir` default `./data`, created when missing). Close it with `store.close()`, which
 * first stores every acknowledged write.
 *
 * The store's code (better-sqlite3, the MongoDB driver) is loaded on the first call, not when `byner` is imported.
 *
 * @throws {@link BynerError} `BYNER_STORE_UNREACHABLE` when MongoDB cannot be reached (the URI with its password
 * hidden, and what to try); `BYNER_CONFIG` for options that do not go together (`durable` with MongoDB).
 */
export const openStore: typeof store.openStore = async (options) =>
  (await import('./store/index.js')).openStore(options);

// --- price sources of live streams ------------------------------------------------------------------------------
export { type ReplayOptions, ReplaySource } from './sources/replay.js';
export { type SyntheticOptions, SyntheticSource } from './sources/synthetic.js';
export type { PricePoint, PriceSource, SourceStats, StreamPosition } from './sources/types.js';
// --- the SSE stream server -------------------------------------------------------------------------------------
export type {
  RunningServer,
  ServerOptions,
  ServerStopReport,
  StreamConfig,
  StreamInfo,
} from './stream/server.js';

/**
 * Starts the HTTP server of `byner serve` (DESIGN §7): `GET /realtime_data` streams ticks as Server-Sent Events
 * (one per `intervalMs`, continuing the stream stored in the store, stored before they are sent, made only while
 * a client reads), with replay after `Last-Event-ID`, and the REST reads of the store under `/api`. Resolves once
 * it listens (`port: 0` picks a free port: see `url`); `close()` stops it. Without `store` it opens one from
 * `storeOptions` and closes it on `close()`. Binds 127.0.0.1 unless `host` says otherwise.
 *
 * The server's code (Fastify) is loaded on the first call, not when `byner` is imported.
 *
 * @throws {@link BynerError} `BYNER_CONFIG` for invalid options (naming the option, expected and received).
 */
export const startServer: typeof server.startServer = async (options) =>
  (await import('./stream/server.js')).startServer(options);

export {
  type InferenceOptions,
  type InferenceRun,
  type InferenceStats,
  runInference,
} from './infer/runner.js';
// --- live inference --------------------------------------------------------------------------------------------
export type { ScoreSnapshot } from './infer/scoring.js';
