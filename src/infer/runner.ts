// Live inference (SPEC §8): consumes the tick stream, keeps the last 60 ticks, forecasts the next 5 on each tick,
// scores earlier forecasts as actual values arrive, stores all three and prints a line per tick. Choosing and
// loading the model is the caller's job (src/cli/commands/infer.ts loads it from the registry).
import type { EventSourceMessage } from 'eventsource-parser';
import type { Forecaster } from '../features/forecaster.js';
import type { Forecast, MetricsDoc, Store, StoreLogger } from '../store/types.js';
import { DEFAULT_STREAM, type Tick } from '../ticks/types.js';
import { type BatchJob, ForecastBatches } from './forecasting.js';
import { formatScoreLine, formatTickLine } from './printer.js';
import { resumeFromStore } from './resume.js';
import { Scorer, type ScoreSnapshot } from './scoring.js';
import { SseClient, type SseClientStats } from './sse-client.js';
import { type Gap, parseTickEvent, SeqTracker } from './validate.js';
import { TickWindow } from './window.js';
import { InferenceWriter, type WriterStats } from './writer.js';

export interface InferenceOptions {
  /** The stream's URL, e.g. http://127.0.0.1:5000/realtime_data */
  url: string;
  store: Store;
  forecaster: Forecaster;
  /** Stream whose stored inference history to resume after (Last-Event-ID). Default "synthetic". */
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
  /** Where the per-tick lines go; null prints nothing (--quiet). */
  out?: { write(text: string): unknown } | null;
  logger?: StoreLogger;
  idleTimeoutMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  writer?: { flushDelayMs?: number; batchSize?: number; maxPendingBytes?: number };
  /** Called after each accepted tick (tests, benchmarks). */
  onTick?: (tick: Tick, forecast: readonly number[] | null) => void;
}

export interface InferenceStats {
  /** Events received (valid or not). */
  events: number;
  accepted: number;
  /** Events skipped as unusable: bad JSON, missing fields, non-finite numbers, id ≠ seq. */
  invalid: number;
  duplicates: number;
  outOfOrder: number;
  /** Seq ranges that never arrived (the window restarts after each). */
  gaps: Gap[];
  forecasts: number;
  /** Forecasts that failed (threw, or came back in the wrong shape). */
  forecastErrors: number;
  /** Forecasts with a NaN or ±Infinity in them: skipped, never scored or stored (non_finite_forecasts). */
  nonFinite: number;
  /** Forecasts made at the start for stored ticks that had none (included in `forecasts`). */
  recovered: number;
  /** (forecast, horizon) pairs scored. */
  scored: number;
  /** Seq resumed after at start (from the store), or null. */
  resumedAfter: number | null;
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
  const { store, forecaster } = options;
  const logger = options.logger ?? { info() {}, warn() {}, error() {} };
  const stream = options.stream ?? DEFAULT_STREAM;
  const windowSize = Math.max(options.window ?? 60, forecaster.window);
  const horizon = forecaster.horizon;
  const scorer = new Scorer(horizon, options.scoreWindow ?? 100);
  const tracker = new SeqTracker();
  let lastTick: Tick | null = null;
  const tickWindow = new TickWindow(windowSize);
  const recent: number[] = [];
  const out = options.out ?? null;

  const metricsDoc = (): MetricsDoc => {
    const s = scorer.snapshot();
    return {
      timestamp: new Date(),
      metrics: s.metrics,
      forecast_horizon: horizon,
      model_version: forecaster.version,
      stream,
      last_seq: lastTick?.seq ?? null,
      window: s.window,
      scored: s.scored,
      scored_window: s.scoredWindow,
      non_finite_forecasts: stats.nonFinite,
    };
  };
  const writer = new InferenceWriter({ store, metrics: metricsDoc, logger, ...options.writer });

  const client = new SseClient({
    url: options.url,
    lastEventId: () => (tracker.last === null ? undefined : String(tracker.last)),
    onEvent: (event) => handleBatch([event]),
    onEvents: (events) => handleBatch(events),
    idleTimeoutMs: options.idleTimeoutMs,
    backoff: options.backoff,
    logger,
    onOpen: ({ resumedAfter }) =>
      logger.info({ url: options.url, resumedAfter }, `connected to ${options.url}`),
  });

  const stats: InferenceStats = {
    events: 0,
    accepted: 0,
    invalid: 0,
    duplicates: 0,
    outOfOrder: 0,
    gaps: tracker.gaps,
    forecasts: 0,
    forecastErrors: 0,
    nonFinite: 0,
    recovered: 0,
    scored: 0,
    resumedAfter: null,
    writes: writer.stats,
    stream: client.stats,
  };

  const batches = new ForecastBatches(forecaster, stats, logger, stream);

  interface Accepted {
    seq: number;
    tick: Tick;
    /** The full window ending at this tick (a snapshot), or null while it fills. */
    window: number[][] | null;
    recent: number[];
    have: number;
  }

  /** Validates one event and advances the window; null when the event is skipped. */
  function accept(event: EventSourceMessage): Accepted | null {
    stats.events += 1;
    if (event.event !== undefined && event.event !== 'message') return null; // other event types are not ticks
    const verdict = parseTickEvent(event.data, event.id);
    if (!verdict.ok) {
      stats.invalid += 1;
      logger.warn({ id: event.id, reason: verdict.reason }, `skipped an invalid event: ${verdict.reason}`);
      return null;
    }
    const tick = verdict.tick;
    const order = tracker.check(tick.seq);
    if (order === 'duplicate' || order === 'out_of_order') {
      if (order === 'duplicate') stats.duplicates += 1;
      else stats.outOfOrder += 1;
      logger.warn({ seq: tick.seq, last: tracker.last }, `skipped a ${order.replace('_', '-')} tick`);
      return null;
    }
    if (order === 'gap') {
      const gap = tracker.gaps[tracker.gaps.length - 1];
      logger.warn(gap, `ticks ${gap.from}..${gap.to} never arrived; restarting the window`);
    }
    stats.accepted += 1;
    tickWindow.push(tick);
    recent.push(tick.price);
    if (recent.length > 10) recent.shift();
    return {
      seq: tick.seq,
      tick,
      window: tickWindow.full(),
      recent: recent.slice(),
      have: tickWindow.length,
    };
  }

  /** Scores, prints and queues for storing a batch whose forecasts are (or are about to be) done, in order. */
  async function complete(items: readonly Accepted[], job: BatchJob): Promise<void> {
    const forecasts = job.finish();
    for (let i = 0; i < items.length; i++) {
      const { tick, window: input, recent: shown, have } = items[i];
      const forecast = forecasts[i];
      lastTick = tick;
      const scored = scorer.observe(tick.seq, tick.price);
      stats.scored += scored;
      let doc: Forecast | null = null;
      if (forecast !== null && input !== null) {
        scorer.addForecast(tick.seq, forecast);
        stats.forecasts += 1;
        doc = {
          timestamp: new Date(),
          input_sequence: input,
          forecast,
          model_version: forecaster.version,
          seq: tick.seq,
          stream: tick.stream,
        };
      }
      if (out !== null) {
        let text = `${formatTickLine(tick.seq, shown, forecast, { have, need: windowSize })}\n`;
        if (scored > 0) text += `${formatScoreLine(scorer.snapshot())}\n`;
        out.write(text);
      }
      options.onTick?.(tick, forecast);
      // a skipped forecast changes the metrics document too (its non_finite_forecasts)
      await writer.add(tick, doc, scored > 0 || (input !== null && forecast === null));
    }
  }

  // A replayed batch whose forecast thread may still be at work: it is completed when the next batch has been
  // read and windowed (the thread works meanwhile), or at the event loop's next turn when no batch is waiting
  // (so a live tick is never held back), or before the writer drains.
  let deferred: { items: Accepted[]; job: BatchJob } | null = null;
  let inBatch = false;
  let completing: Promise<void> | null = null;
  /** An error of a completion run at the next turn: thrown by the next batch (or at the end), as if inline. */
  let completionError: unknown = null;
  const rethrowCompletionError = (): void => {
    if (completionError === null) return;
    const error = completionError;
    completionError = null;
    throw error;
  };

  async function completeDeferred(): Promise<void> {
    const d = deferred;
    deferred = null;
    if (d) await complete(d.items, d.job);
  }

  function completeSoon(): void {
    setImmediate(() => {
      if (deferred === null || inBatch || completing) return;
      completing = completeDeferred()
        .catch((error) => {
          completionError = error;
        })
        .finally(() => {
          completing = null;
        });
    });
  }

  /**
   * Handles the events that arrived together (one when live, hundreds when replaying fast): validation and
   * windows in order, one batched forecast call, then scoring, printing and storing in order. With the forecast
   * thread, the thread's share of this batch runs while this thread completes the previous batch, stores, and
   * forecasts its own share; this batch is completed with the next one.
   */
  async function handleBatch(events: readonly EventSourceMessage[]): Promise<void> {
    inBatch = true;
    try {
      if (completing) await completing;
      rethrowCompletionError();
      const items: Accepted[] = [];
      for (const event of events) {
        const a = accept(event);
        if (a !== null) items.push(a);
      }
      await completeDeferred();
      const job = batches.start(items);
      if (!job.threaded) {
        await complete(items, job); // a live tick: the writer batches its writes (flushDelayMs) as usual
        return;
      }
      try {
        await writer.writeSoon(); // the previous batches' documents, while the forecast thread works on this one
      } catch (error) {
        job.finish(); // settles the forecast thread's share
        throw error;
      }
      job.work();
      deferred = { items, job };
    } finally {
      inBatch = false;
    }
    completeSoon();
  }

  async function resume(): Promise<void> {
    if (options.startAfter !== undefined) {
      tracker.last = options.startAfter;
      stats.resumedAfter = options.startAfter;
      return;
    }
    if (options.resume === false) return;
    const resumed = await resumeFromStore({
      store,
      stream,
      forecaster,
      window: tickWindow,
      scorer,
      batches,
      logger,
      limit: options.recoverLimit,
    });
    if (resumed === null) return;
    recent.push(...resumed.recent);
    lastTick = resumed.last;
    tracker.last = resumed.last.seq;
    stats.resumedAfter = tracker.last;
    stats.recovered = resumed.recovered;
    stats.forecasts += resumed.recovered;
    stats.scored += resumed.scored;
    if (resumed.scored > 0 || stats.nonFinite > 0) await store.writeMetrics('inf_metrics', [metricsDoc()]);
    logger.info(
      { seq: tracker.last, window: tickWindow.length },
      `resuming after seq ${tracker.last} (stored)`,
    );
  }

  let stopping = false;
  const done = (async () => {
    try {
      await resume();
      if (!stopping) await client.run();
    } finally {
      try {
        if (completing) await completing;
        await completeDeferred();
        rethrowCompletionError();
      } finally {
        await writer.drain();
      }
    }
    return stats;
  })();
  done.catch(() => {}); // callers observe failures through `done` or stop()

  return {
    stats,
    done,
    scores: () => scorer.snapshot(),
    stop() {
      stopping = true;
      client.stop();
      return done;
    },
  };
}
