// Live inference (SPEC §8): consumes the tick stream, keeps the last 60 ticks, forecasts the next 5 on each tick,
// scores earlier forecasts as actual values arrive, stores all three and prints a line per tick. Choosing and
// loading the model is the caller's job (src/cli/commands/infer.ts loads it from the registry).
import type { EventSourceMessage } from 'eventsource-parser';
import type { FeatureWindow, Forecaster, ForecastJob } from '../features/forecaster.js';
import type { Forecast, MetricsDoc, Store, StoreLogger } from '../store/types.js';
import { DEFAULT_STREAM, INDICATOR_NAMES, type Tick } from '../ticks/types.js';
import { formatScoreLine, formatTickLine } from './printer.js';
import { Scorer, type ScoreSnapshot } from './scoring.js';
import { SseClient, type SseClientStats } from './sse-client.js';
import { type Gap, parseTickEvent, SeqTracker } from './validate.js';
import { InferenceWriter, type WriterStats } from './writer.js';

export interface InferenceOptions {
  /** The stream's URL, e.g. http://127.0.0.1:5000/realtime_data */
  url: string;
  store: Store;
  forecaster: Forecaster;
  /** Stream whose stored inference history to resume after (Last-Event-ID). Default "synthetic". */
  stream?: string;
  /** Resume after the last tick stored in inf_historical_db (default true); false starts live. */
  resume?: boolean;
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
  forecastErrors: number;
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

function featureRow(t: Tick): number[] | null {
  const row = [t.price];
  for (const name of INDICATOR_NAMES) {
    const v = t.indicators[name];
    if (v === null) return null;
    row.push(v);
  }
  return row;
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
  /** The window: (≤ windowSize, 7) rows of consecutive ticks, all indicators defined. */
  let rows: number[][] = [];
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
    scored: 0,
    resumedAfter: null,
    writes: writer.stats,
    stream: client.stats,
  };

  interface Accepted {
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
      rows = [];
    }
    stats.accepted += 1;
    const row = featureRow(tick);
    if (row === null) rows = [];
    else {
      rows.push(row);
      if (rows.length > windowSize) rows.shift();
    }
    recent.push(tick.price);
    if (recent.length > 10) recent.shift();
    return {
      tick,
      window: rows.length === windowSize ? rows.slice() : null,
      recent: recent.slice(),
      have: rows.length,
    };
  }

  /** A batch's forecasts under way: `work()` does this thread's part, `finish()` returns one entry per item. */
  interface BatchJob {
    threaded: boolean;
    work(): void;
    finish(): (number[] | null)[];
  }

  /**
   * Forecasts every full window in one call (the engine batches them), in parts when the forecaster can
   * (forecastStart: the forecast thread takes a share at once); a failing batch is retried one by one.
   */
  function startForecasts(items: readonly Accepted[]): BatchJob {
    const windows = items.filter((a) => a.window !== null).map((a) => a.window as FeatureWindow);
    const oneByOne = (): (number[] | null)[] =>
      windows.map((w) => {
        try {
          return forecaster.forecast([w])[0];
        } catch (error) {
          stats.forecastErrors += 1;
          logger.warn({ err: (error as Error).message }, 'forecast failed; skipping this tick');
          return null;
        }
      });
    let job: ForecastJob | null = null;
    if (windows.length > 1 && forecaster.forecastStart) {
      try {
        job = forecaster.forecastStart(windows);
      } catch {
        job = null;
      }
    }
    return {
      threaded: job?.threaded ?? false,
      work() {
        try {
          job?.work();
        } catch {
          // finish() tries this thread's part again (settling the forecast thread's), then one by one
        }
      },
      finish() {
        let results: (number[] | null)[] = [];
        if (windows.length > 0) {
          try {
            results = job ? job.finish() : forecaster.forecast(windows);
          } catch {
            results = oneByOne();
          }
        }
        let k = 0;
        return items.map((a) => (a.window === null ? null : results[k++]));
      },
    };
  }

  /** Scores, prints and queues for storing a batch whose forecasts are (or are about to be) done, in order. */
  async function complete(items: readonly Accepted[], job: BatchJob): Promise<void> {
    const forecasts = job.finish();
    for (let i = 0; i < items.length; i++) {
      const { tick, window, recent: shown, have } = items[i];
      const forecast = forecasts[i];
      lastTick = tick;
      const scored = scorer.observe(tick.seq, tick.price);
      stats.scored += scored;
      let doc: Forecast | null = null;
      if (forecast !== null && window !== null) {
        scorer.addForecast(tick.seq, forecast);
        stats.forecasts += 1;
        doc = {
          timestamp: new Date(),
          input_sequence: window,
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
      await writer.add(tick, doc, scored > 0);
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
      const job = startForecasts(items);
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

  async function resumeFromStore(): Promise<void> {
    if (options.startAfter !== undefined) {
      tracker.last = options.startAfter;
      stats.resumedAfter = options.startAfter;
      return;
    }
    if (options.resume === false) return;
    const last = await store.lastTicks('inf_historical_db', stream, windowSize);
    if (last.length === 0) return;
    const tail: Tick[] = [last[last.length - 1]];
    for (let i = last.length - 2; i >= 0 && last[i].seq === tail[0].seq - 1; i--) tail.unshift(last[i]);
    for (const t of tail) {
      const row = featureRow(t);
      if (row === null) rows = [];
      else rows.push(row);
      recent.push(t.price);
    }
    recent.splice(0, Math.max(0, recent.length - 10));
    tracker.last = tail[tail.length - 1].seq;
    lastTick = tail[tail.length - 1];
    stats.resumedAfter = tracker.last;
    // Forecasts made just before the stop whose targets are still to come: score them as those ticks arrive.
    const resumedAt = tracker.last;
    for (const f of await store.recentForecasts(stream, horizon, forecaster.version)) {
      const open = f.seq <= resumedAt && f.seq + horizon > resumedAt;
      if (open && f.forecast.length === horizon) scorer.addForecast(f.seq, f.forecast);
    }
    logger.info({ seq: tracker.last, window: rows.length }, `resuming after seq ${tracker.last} (stored)`);
  }

  let stopping = false;
  const done = (async () => {
    try {
      await resumeFromStore();
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
