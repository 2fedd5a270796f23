// Live inference of ONE stream from an SSE URL with one forecaster (the pipeline of pipeline.ts with an SseInput and
// a fixed ForecasterSet): the entry tests and benchmarks use. Several streams, stored-tick input and registry-following
// forecasters are wired by the caller of runPipeline (src/cli/commands/infer.ts, demo.ts).
import type { Forecaster } from '../features/forecaster.js';
import type { Store, StoreLogger } from '../store/types.js';
import { DEFAULT_STREAM, type Tick } from '../ticks/types.js';
import { ForecasterSet } from './forecasters.js';
import { type PipelineOptions, runPipeline, type StreamStats } from './pipeline.js';
import { Scorer, type ScoreSnapshot } from './scoring.js';
import { noSseStats, type SseClientStats } from './sse-client.js';
import { SseInput } from './sse-input.js';
import type { WriterStats } from './writer.js';

export interface InferenceOptions {
  /** The stream's URL, e.g. http://127.0.0.1:5000/realtime_data */
  url: string;
  store: Store;
  forecaster: Forecaster;
  /** The name the stream's ticks carry and are stored under (its resume point). Default "synthetic". */
  stream?: string;
  /**
   * Resume after the last tick stored in inf_historical_db (default true), first forecasting the stored ticks that
   * have no forecast yet; false starts live.
   */
  resume?: boolean;
  /** At most this many stored ticks are re-forecast when resuming (default RECOVER_LIMIT, 10,000). */
  recoverLimit?: number;
  /** Start after this seq instead (sent as Last-Event-ID: the server replays everything after it). */
  startAfter?: number;
  /** Ticks kept for a forecast: max(60, the model's window). */
  window?: number;
  /** Forecasts in the windowed metrics. Default 100. */
  scoreWindow?: number;
  /** The drift watch of the model (drift.ts); default on, without fallback; false: none. */
  drift?: PipelineOptions['drift'];
  /** Where the per-tick lines go; null prints nothing (--quiet). */
  out?: { write(text: string): unknown } | null;
  logger?: StoreLogger;
  idleTimeoutMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  writer?: { flushDelayMs?: number; batchSize?: number; maxPendingBytes?: number };
  /** Called after each accepted tick (tests, benchmarks). */
  onTick?: (tick: Tick, forecast: readonly number[] | null) => void;
}

/** The stream's counters, the writer's, and its connection's. */
export interface InferenceStats extends Omit<StreamStats, 'connection'> {
  writes: WriterStats;
  stream: SseClientStats;
}

export interface InferenceRun {
  /** Stops reading, writes everything still held, resolves with the final stats. */
  stop(): Promise<InferenceStats>;
  /** Resolves after stop() with the final stats; rejects when the server refuses the stream or the store fails. */
  done: Promise<InferenceStats>;
  /** Live counters. */
  readonly stats: InferenceStats;
  /** Current metrics. */
  scores(): ScoreSnapshot;
}

/** Starts inference in the background; see InferenceRun. */
export function runInference(options: InferenceOptions): InferenceRun {
  const stream = options.stream ?? DEFAULT_STREAM;
  const { startAfter } = options;
  const run = runPipeline({
    store: options.store,
    input: new SseInput({
      urlFor: () => options.url,
      idleTimeoutMs: options.idleTimeoutMs,
      backoff: options.backoff,
      logger: options.logger,
    }),
    forecasters: ForecasterSet.fixed(options.forecaster, options.logger),
    streams: [stream],
    resume: options.resume,
    recoverLimit: options.recoverLimit,
    startAfter: startAfter === undefined ? undefined : () => startAfter,
    window: options.window,
    scoreWindow: options.scoreWindow,
    drift: options.drift,
    out: options.out,
    logger: options.logger,
    writer: options.writer,
    onTick: options.onTick,
  });
  const view = (): InferenceStats => {
    const { connection, ...counts } = run.stats.streams.get(stream) as StreamStats;
    return { ...counts, writes: run.stats.writes, stream: connection ?? noSseStats() };
  };
  const empty = new Scorer(options.forecaster.horizon, options.scoreWindow ?? 100).snapshot();
  const done = run.done.then(view);
  done.catch(() => {}); // callers observe failures through `done` or stop()
  return {
    get stats() {
      return view();
    },
    done,
    scores: () => run.scores(stream) ?? empty,
    stop: () => run.stop().then(view),
  };
}
