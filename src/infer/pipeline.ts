// Live inference (DESIGN §8) of one or many streams, wired in one place from the small parts of src/infer (see
// runPipeline). Choosing the input and the forecasters is the caller's: src/infer/runner.ts, src/cli.

import type { Forecaster } from '../features/forecaster.js';
import { metrics } from '../metrics/prometheus.js';
import type { Forecast, MetricsDoc, Store, StoreLogger } from '../store/types.js';
import type { Tick } from '../ticks/types.js';
import { DRIFT_WINDOWS, type DriftOptions, DriftWatch } from './drift.js';
import type { ForecasterSet } from './forecasters.js';
import { type BatchJob, ForecastBatches, type SkipKind, type WindowItem } from './forecasting.js';
import type { InputCounts, InputTick, TickInput } from './input.js';
import { formatScoreLine, formatTickLine } from './printer.js';
import { applyResume, readResume } from './resume.js';
import { type ScoreSnapshot, StreamScores } from './scoring.js';
import type { StreamList } from './stream-list.js';
import { type Accepted, StreamWindows, type WindowCounts } from './stream-windows.js';
import { TurnBatcher } from './turns.js';
import { InferenceWriter, type WriterOptions, type WriterStats } from './writer.js';

/** One stream's counters. */
export interface StreamStats extends InputCounts, WindowCounts {
  /** Forecasts made (and handed to the writer). */
  forecasts: number;
  /** Forecasts that failed (threw, or came back in the wrong shape). */
  forecastErrors: number;
  /** Forecasts with a NaN or ±Infinity in them: skipped, never scored or stored (non_finite_forecasts). */
  nonFinite: number;
  /** Forecasts made at the start for stored ticks that had none (included in `forecasts`). */
  recovered: number;
  /** Forecasts by a baseline instead of the drifting model (--fallback; included in `forecasts`). */
  fallbackForecasts: number;
  /** Drift episodes of the stream's serving models (drift.ts). */
  driftEpisodes: number;
  /** (forecast, horizon) pairs scored. */
  scored: number;
  /** Seq resumed after at start (from the store, or as asked), or null. */
  resumedAfter: number | null;
}

export interface PipelineStats {
  /** Per stream, in the order the streams were added. */
  streams: Map<string, StreamStats>;
  writes: WriterStats;
}

export interface PipelineOptions {
  store: Store;
  input: TickInput;
  forecasters: ForecasterSet;
  /** The streams forecast from the start. */
  streams: readonly string[];
  /** More streams: the list is re-read every `everyMs` (default 10 s) and the streams it names are added. */
  discover?: { list: StreamList; everyMs?: number };
  /**
   * Streams come and go while running (PipelineRun.add and remove, called one at a time, e.g. as leases are taken
   * and lost); the run ends only at stop().
   */
  dynamic?: boolean;
  /**
   * Resume each stream after the last tick stored in inf_historical_db (default true), first forecasting the
   * stored ticks that have no forecast yet; false starts live.
   */
  resume?: boolean;
  /** At most this many stored ticks are re-forecast when resuming (default RECOVER_LIMIT, 10,000). */
  recoverLimit?: number;
  /** Start a stream after this seq instead of resuming (sent as Last-Event-ID); undefined: resume as usual. */
  startAfter?: (stream: string) => number | undefined | Promise<number | undefined>;
  /** Rows every window holds at least (forecasts store them as input_sequence). Default 60. */
  window?: number;
  /** Forecasts in the windowed metrics. Default 100. */
  scoreWindow?: number;
  /**
   * The drift watch of each stream's serving model (drift.ts): default on, 3 windows of 100 forecasts, season 10,
   * no fallback; false: none.
   */
  drift?: Partial<DriftOptions> | false;
  /** Where the per-tick lines go; null prints nothing (--quiet). */
  out?: { write(text: string): unknown } | null;
  /** Start each printed line with `[stream] ` (several streams). */
  labelLines?: boolean;
  logger?: StoreLogger;
  writer?: Omit<WriterOptions, 'store' | 'metrics' | 'logger'>;
  /** Called after each accepted tick (tests, benchmarks). */
  onTick?: (tick: Tick, forecast: readonly number[] | null) => void;
}

export interface PipelineRun {
  /** Live counters. */
  readonly stats: PipelineStats;
  /** The metrics of the stream's current forecaster, or null before it has any. */
  scores(stream: string): ScoreSnapshot | null;
  /** The stream's forecaster now. */
  forecaster(stream: string): Forecaster;
  /** Adds streams while running: each resumed from the store, then read, like the first ones. */
  add(streams: readonly string[]): Promise<void>;
  /**
   * Stops forecasting a stream: its input stops reading it at once, the ticks already read are handled, and its
   * state is dropped (added again later, it resumes from the store). With `drainMs`, then waits up to that long
   * for the writes held to be stored (a stream handed over; a lost one does not wait).
   */
  remove(stream: string, options?: { drainMs?: number }): Promise<void>;
  /** Seq of the stream's last accepted (or resumed) tick, or null. */
  lastSeq(stream: string): number | null;
  /** Stops reading, writes everything still held, resolves with the final stats. */
  stop(): Promise<PipelineStats>;
  /**
   * Resolves after stop() (or once a finite input has delivered everything) with the final stats; rejects when the
   * server refuses a stream or the store fails.
   */
  done: Promise<PipelineStats>;
}

/** An accepted tick with the forecaster its window goes to. */
type Item = Accepted<Forecaster>;

/**
 * Streams whose starts (store reads, then the window refill in their turn) run at once: a worker taking over a
 * dead one's streams starts them side by side; more would only queue on the store.
 */
const RESUME_PARALLEL = 4;

const newStats = (): StreamStats => ({
  events: 0,
  invalid: 0,
  connection: null,
  accepted: 0,
  duplicates: 0,
  outOfOrder: 0,
  gaps: [],
  forecasts: 0,
  forecastErrors: 0,
  nonFinite: 0,
  recovered: 0,
  fallbackForecasts: 0,
  driftEpisodes: 0,
  scored: 0,
  resumedAfter: null,
});

/**
 * Starts inference in the background; see PipelineRun. The parts, in the order a tick meets them:
 *   input (an SSE connection per stream | stored ticks) → TurnBatcher (what arrives in one turn is one batch, one
 *   batch at a time) → StreamWindows (per stream: order, window, recent prices) → ForecastBatches (one call per
 *   forecaster; each stream's forecaster from the ForecasterSet) → StreamScores (per stream and model version)
 *   → InferenceWriter (ticks, forecasts, metrics documents) and the printed lines.
 */
export function runPipeline(options: PipelineOptions): PipelineRun {
  const { store, input, forecasters } = options;
  const logger = options.logger ?? { info() {}, warn() {}, error() {} };
  const out = options.out ?? null;
  const windows = new StreamWindows(options.window ?? 60, logger);
  const scores = new Map<string, StreamScores>();
  /** The version each stream forecast its last batch with: a change retires the old one's scores. */
  const versions = new Map<string, string>();
  const d = options.drift;
  const driftOptions: DriftOptions | null =
    d === false
      ? null
      : {
          windows: d?.windows ?? DRIFT_WINDOWS,
          size: d?.size,
          season: d?.season ?? 10,
          fallback: d?.fallback ?? false,
        };
  const drifts = new Map<string, DriftWatch>();
  /** The version that made each stream's last forecast: its model, or a baseline during a fallback. */
  const served = new Map<string, string>();
  /** The stream's metrics documents that changed, each with the stream's drift state. */
  const docsOf = (sc: StreamScores): MetricsDoc[] => {
    const state = drifts.get(sc.stream)?.state() ?? null;
    const docs = sc.takeDocs();
    return state === null ? docs : docs.map((doc) => ({ ...doc, drift: state }));
  };
  const writer = new InferenceWriter({
    store,
    metrics: () => [...scores.values()].flatMap(docsOf),
    logger,
    ...options.writer,
  });
  const stats: PipelineStats = { streams: new Map(), writes: writer.stats };
  const streamStats = (stream: string) => stats.streams.get(stream) as StreamStats;
  const streamScores = (stream: string) => scores.get(stream) as StreamScores;

  const batches = new ForecastBatches(logger, (item: WindowItem, kind: SkipKind) => {
    streamStats(item.stream)[kind] += 1;
    metrics.forecastsSkipped.inc({
      stream: item.stream,
      reason: kind === 'nonFinite' ? 'non_finite' : 'error',
    });
    if (kind === 'nonFinite')
      streamScores(item.stream).countNonFinite(item.forecaster.version, item.forecaster.horizon);
  });

  /** The stream's forecaster for this batch. */
  function forecasterFor(stream: string): Forecaster {
    const f = forecasters.get(stream);
    const before = versions.get(stream);
    if (before !== f.version) {
      if (before !== undefined) streamScores(stream).retire(before);
      versions.set(stream, f.version);
    }
    return f;
  }

  /**
   * What the stream serves after `tick`: the model's forecast, or during a fallback the better baseline's (drift.ts).
   * A baseline that stops serving is retired from the scores once its last forecasts are scored.
   */
  function serve(
    stream: string,
    tick: Tick,
    forecaster: Forecaster,
    input: readonly (readonly number[])[] | null,
    forecast: number[] | null,
  ): { version: string; forecast: number[] | null } {
    const watch = drifts.get(stream);
    if (watch === undefined) return { version: forecaster.version, forecast };
    const s = watch.step(tick.seq, tick.price, forecaster, input, forecast);
    streamStats(stream).driftEpisodes = watch.episodes;
    const before = served.get(stream);
    if (before !== undefined && before !== s.version && before !== forecaster.version) {
      streamScores(stream).retire(before);
    }
    served.set(stream, s.version);
    return s;
  }

  /** Scores, prints and queues for storing a batch whose forecasts are (or are about to be) done, in order. */
  async function complete(items: readonly Item[], job: BatchJob): Promise<void> {
    const forecasts = job.finish();
    // Ticks accepted and pairs scored per stream: one update of each counter per stream and batch.
    const counted = new Map<string, { ticks: number; scored: number }>();
    for (let i = 0; i < items.length; i++) {
      const { stream, tick, window: input, recent, have, need, forecaster } = items[i];
      const own = forecasts[i];
      const st = streamStats(stream);
      const sc = streamScores(stream);
      const scored = sc.observe(tick.seq, tick.price);
      st.scored += scored;
      const c = counted.get(stream) ?? counted.set(stream, { ticks: 0, scored: 0 }).get(stream)!;
      c.ticks += 1;
      c.scored += scored;
      // The model's forecast is scored even while a baseline forecasts instead (its drift can end).
      if (own !== null) sc.addForecast(forecaster.version, tick.seq, own);
      const { version, forecast } = serve(stream, tick, forecaster, input, own);
      let doc: Forecast | null = null;
      if (forecast !== null && input !== null) {
        if (version !== forecaster.version) {
          sc.addForecast(version, tick.seq, forecast);
          st.fallbackForecasts += 1;
        }
        st.forecasts += 1;
        doc = {
          timestamp: new Date(),
          input_sequence: input,
          forecast,
          model_version: version,
          seq: tick.seq,
          stream,
        };
      }
      if (out !== null) {
        const label = options.labelLines ? `[${stream}] ` : '';
        const by = version === forecaster.version ? undefined : `${version}: ${forecaster.version} drifts`;
        let text = `${label}${formatTickLine(tick.seq, recent, forecast, { have, need }, by)}\n`;
        const snapshot = scored > 0 ? sc.snapshot(version) : null;
        if (snapshot !== null) text += `${label}${formatScoreLine(snapshot)}\n`;
        out.write(text);
      }
      options.onTick?.(tick, forecast);
      // a skipped forecast changes the metrics documents too (their non_finite_forecasts)
      await writer.add(tick, doc, sc.dirty);
    }
    for (const [stream, c] of counted) {
      metrics.inferTicks.inc({ stream }, c.ticks);
      if (c.scored > 0) metrics.scored.inc({ stream }, c.scored);
    }
  }

  // A batch whose forecast thread may still be at work: completed when the next batch has been read and windowed
  // (the thread works meanwhile), or when a turn brings nothing new (a live tick is never held back), or at the end.
  let deferred: { items: Item[]; job: BatchJob } | null = null;
  async function completeDeferred(): Promise<void> {
    const d = deferred;
    deferred = null;
    if (d) await complete(d.items, d.job);
  }

  /**
   * The ticks that arrived together (one when live, hundreds when replaying fast, several streams' at once):
   * windows in order, one forecast call per forecaster, then scoring, printing and storing in order. With a
   * forecast thread, the thread's share of this batch runs while this thread completes the previous batch, stores,
   * and forecasts its own share; this batch is completed with the next one.
   */
  async function handle(ticks: readonly InputTick[]): Promise<void> {
    const items: Item[] = [];
    for (const { stream, tick } of ticks) {
      const a = windows.accept(stream, tick, forecasterFor(stream));
      if (a !== null) items.push(a);
    }
    await completeDeferred();
    forecasters.release(new Set(items.map((a) => a.forecaster)));
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
  }

  const turns = new TurnBatcher<InputTick>({
    handle,
    idle: async () => {
      await completeDeferred();
      forecasters.release(new Set());
    },
  });

  /** Streams this run has started before (its writes of them may still be in the store's backlog). */
  const started = new Set<string>();
  /**
   * Where a newly added stream starts: after a given seq, or after its stored ticks (re-forecasting those). The
   * store is read outside the turns (streams start side by side while others are forecast); the window is refilled
   * and the recovered ticks forecast in the stream's turn.
   */
  async function resume(stream: string): Promise<void> {
    const st = streamStats(stream);
    const w = windows.get(stream);
    if (w === undefined) return;
    const startAfter = await options.startAfter?.(stream);
    if (startAfter !== undefined) {
      w.tracker.last = startAfter;
      st.resumedAfter = startAfter;
      return;
    }
    if (options.resume === false) return;
    const ownWrites = started.has(stream);
    started.add(stream);
    const read = await readResume({
      ownWrites,
      store,
      stream,
      forecaster: forecasterFor(stream),
      logger,
      limit: options.recoverLimit,
      rows: Math.max(w.rows.size, forecasterFor(stream).window),
      recent: input.recent && ((from, to) => input.recent?.(stream, from, to) ?? Promise.resolve([])),
    });
    if (read === null) return;
    await turns.task(async () => {
      const sc = streamScores(stream);
      const resumed = await applyResume(read, {
        store,
        stream,
        forecaster: forecasterFor(stream),
        window: w,
        scores: sc,
        batches,
        logger,
      });
      st.resumedAfter = resumed.last.seq;
      st.recovered = resumed.recovered;
      st.forecasts += resumed.recovered;
      st.scored += resumed.scored;
      metrics.scored.inc({ stream }, resumed.scored);
      if (sc.dirty) await store.writeMetrics('inf_metrics', docsOf(sc));
      logger.info(
        { stream, seq: resumed.last.seq, window: w.rows.length },
        `${stream}: resuming after seq ${resumed.last.seq} (stored)`,
      );
    });
  }

  // Streams being read, and how the run ends: stopped, failed, or (a finite input) every stream delivered.
  let stopping = false;
  const opened: Promise<void>[] = [];
  /** Each stream's reading (settled when it stops), for remove(). */
  const openedBy = new Map<string, Promise<void>>();
  let failWith: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    failWith = reject;
  });
  failed.catch(() => {});
  let stopped: () => void = () => {};
  const stopSignal = new Promise<void>((resolve) => {
    stopped = resolve;
  });

  async function addStreams(names: readonly string[]): Promise<void> {
    const fresh = names.filter((n) => !stats.streams.has(n));
    if (fresh.length === 0) return;
    for (const stream of fresh) {
      const st = newStats();
      stats.streams.set(stream, st);
      for (const counter of [metrics.inferTicks, metrics.scored]) counter.inc({ stream }, 0);
      windows.add(stream, st);
      scores.set(stream, new StreamScores(stream, options.scoreWindow ?? 100));
      if (driftOptions !== null) drifts.set(stream, new DriftWatch(stream, driftOptions, logger));
    }
    await forecasters.add(fresh);
    const start = async (stream: string) => {
      logger.info(
        { stream, model: forecasters.get(stream).version },
        `${stream}: forecasting with ${forecasters.get(stream).version}`,
      );
      if (!stats.streams.has(stream)) return; // removed before its start (a lease given back)
      await resume(stream);
      if (stopping || !stats.streams.has(stream)) return;
      const reading = input
        .open(stream, {
          sink: (ticks) => turns.push(ticks),
          after: () => windows.lastSeq(stream),
          counts: streamStats(stream),
        })
        .catch((error) => failWith(error));
      opened.push(reading);
      openedBy.set(stream, reading);
    };
    // Each stream is read as soon as its own start is done, RESUME_PARALLEL starts at a time.
    let next = 0;
    let broken = false;
    const starter = async () => {
      while (next < fresh.length && !stopping && !broken) {
        try {
          await start(fresh[next++]);
        } catch (error) {
          broken = true; // the other starters stop too; addStreams rejects with the first error
          throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RESUME_PARALLEL, fresh.length) }, starter));
  }

  async function removeStream(stream: string, drainMs: number | undefined): Promise<void> {
    if (!stats.streams.has(stream)) return;
    input.close?.(stream);
    await openedBy.get(stream);
    openedBy.delete(stream);
    // After the stream's ticks already read (and the deferred batch) are handled.
    await turns.task(async () => {
      const sc = scores.get(stream);
      if (sc?.dirty) await store.writeMetrics('inf_metrics', docsOf(sc));
      windows.remove(stream);
      scores.delete(stream);
      drifts.delete(stream);
      served.delete(stream);
      versions.delete(stream);
      stats.streams.delete(stream);
    });
    if (drainMs !== undefined) await writer.settle(drainMs);
  }

  async function discover(): Promise<void> {
    const d = options.discover;
    if (d === undefined) return;
    while (!stopping) {
      await Promise.race([stopSignal, new Promise((resolve) => setTimeout(resolve, d.everyMs ?? 10_000))]);
      if (stopping) return;
      try {
        await addStreams(await d.list.names());
      } catch (error) {
        logger.warn(
          { err: (error as Error).message },
          'cannot re-read the list of streams; trying again later',
        );
      }
    }
  }

  const done = (async () => {
    try {
      await Promise.race([addStreams(options.streams), stopSignal, failed, turns.failure]);
      const discovering = discover();
      // A finite input ends once every stream delivered everything; an endless one (SSE) at stop().
      const delivered =
        options.discover || options.dynamic
          ? new Promise<void>(() => {})
          : Promise.all(opened).then(() => {});
      await Promise.race([stopSignal, delivered, failed, turns.failure]);
      stopping = true;
      stopped();
      await discovering;
    } finally {
      stopping = true;
      stopped();
      input.stop();
      try {
        await Promise.allSettled(opened);
        await turns.drain();
      } finally {
        try {
          await writer.drain();
        } finally {
          await forecasters.close();
        }
      }
    }
    return stats;
  })();
  done.catch(() => {}); // callers observe failures through `done` or stop()

  return {
    stats,
    done,
    scores: (stream) => {
      const version = versions.get(stream);
      return version === undefined ? null : (scores.get(stream)?.snapshot(version) ?? null);
    },
    forecaster: (stream) => forecasters.get(stream),
    add: (streams) => addStreams(streams),
    remove: (stream, removeOptions) => removeStream(stream, removeOptions?.drainMs),
    lastSeq: (stream) => windows.lastSeq(stream),
    stop() {
      stopping = true;
      stopped();
      input.stop();
      writer.beginStop(); // bounds the stop, a reader waiting for the writer's space included
      return done;
    },
  };
}
