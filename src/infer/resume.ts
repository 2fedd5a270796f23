// Where live inference resumes a stream after a stop or a crash: its window refilled from the ticks stored in
// inf_historical_db, and the stored ticks that have no forecast yet (a crash between storing ticks and storing their
// forecasts) forecast, stored and scored. Reading the stream and storing live results is the pipeline's job.
import type { Forecaster } from '../features/forecaster.js';
import type { Forecast, Store, StoreLogger } from '../store/types.js';
import type { Tick } from '../ticks/types.js';
import type { ForecastBatches } from './forecasting.js';
import { countForecastsOnReceipt } from './meters.js';
import type { StreamScores } from './scoring.js';
import type { StreamWindow } from './stream-windows.js';

/** Stored ticks re-forecast at most at a start (the last ones): one batch of the writer holds up to 1,000. */
export const RECOVER_LIMIT = 10_000;
/** Windows forecast, scored and stored together while recovering. */
const CHUNK = 1000;

export interface ResumeParts {
  store: Store;
  stream: string;
  forecaster: Forecaster;
  /** Filled with the stored ticks; its size is the rows of a full window. */
  window: StreamWindow;
  /** Given the forecasts whose targets are still to come, and scores the recovered ones. */
  scores: StreamScores;
  batches: ForecastBatches;
  logger: StoreLogger;
  /** Re-forecast at most this many stored ticks (default RECOVER_LIMIT). */
  limit?: number;
}

export interface Resumed {
  /** The last stored tick: the stream resumes after it. */
  last: Tick;
  /** Forecasts made and stored for stored ticks that had none. */
  recovered: number;
  /** (forecast, horizon) pairs scored meanwhile. */
  scored: number;
}

/** What the store holds for a stream's start: read before the stream's turn, so that streams start side by side. */
export interface ResumeRead {
  stream: string;
  /** The last stored tick's seq. */
  lastSeq: number;
  /** The first stored tick to re-forecast (lastSeq + 1 when none is). */
  recoverFrom: number;
  /** The stored ticks that refill the window, then those to re-forecast. */
  ticks: Tick[];
  /** The model the open forecasts were read for, and its forecasts whose targets are from recoverFrom on. */
  version: string;
  open: Forecast[];
}

/**
 * Reads where a stream resumes: its last stored tick, the stored ticks after its last stored forecast (of any
 * model version: a model that takes over does not redo what another forecast), at most `limit` of them, the ticks
 * before them that fill a window, and the model's forecasts still open. Null when nothing is stored.
 */
export async function readResume(
  p: Pick<ResumeParts, 'store' | 'stream' | 'forecaster' | 'logger' | 'limit'> & {
    rows: number;
    /** Where the ticks may be read first (the bus input's tick log); the store when it lacks any of them. */
    recent?: (fromSeq: number, toSeq: number) => Promise<Tick[]>;
    /** This process may have written the stream (it read it before): its reads wait for its write backlog. */
    ownWrites?: boolean;
  },
): Promise<ResumeRead | null> {
  const { store, stream, forecaster, logger, rows } = p;
  const limit = p.limit ?? RECOVER_LIMIT;
  const read = { afterWrites: p.ownWrites !== false };
  const { horizon, version } = forecaster;
  // Three independent reads side by side (on MongoDB each is a few rounds of lookups by `_id`). The model's own
  // latest forecasts are exact; the stream's last forecast of any model may lag (the MongoDB head).
  const [lastSeq, own, lastForecast] = await Promise.all([
    store.lastSeq('inf_historical_db', stream, read),
    store.recentForecasts(stream, horizon, version, read),
    store.lastForecastSeq(stream, read),
  ]);
  if (lastSeq === null) return null;
  const unforecast = Math.max(lastForecast ?? -1, own.at(-1)?.seq ?? -1) + 1;
  const recoverFrom = Math.max(unforecast, lastSeq - limit + 1);
  if (recoverFrom > unforecast) {
    logger.warn(
      { stream, from: unforecast, to: recoverFrom - 1, limit },
      `stored ticks ${unforecast}..${recoverFrom - 1} stay without a forecast: a start re-forecasts at most the ` +
        `last ${limit} stored ticks`,
    );
  }
  const from = Math.max(0, Math.min(recoverFrom, lastSeq) - rows + 1);
  const held = (await p.recent?.(from, lastSeq)) ?? [];
  // The held ticks stand for the stored ones when they cover the range and the store holds its first one too (the
  // stored ticks are consecutive: the window is not filled with ticks that inference never stored).
  const whole =
    held.length === lastSeq - from + 1 &&
    held.every((t, i) => t.seq === from + i) &&
    (await store.ticksRange('inf_historical_db', stream, from, from, read)).length === 1;
  const ticks = whole ? held : await store.ticksRange('inf_historical_db', stream, from, lastSeq, read);
  const open = own.filter(
    (f) => f.seq < recoverFrom && f.seq + horizon >= recoverFrom && f.forecast.length === horizon,
  );
  return { stream, lastSeq, recoverFrom, ticks, version, open };
}

/**
 * Refills the window from what readResume read and forecasts the stored ticks to recover, idempotently (forecasts
 * are unique per stream, seq and model version). Runs in the stream's turn: it uses the forecast thread.
 */
export async function applyResume(read: ResumeRead, p: ResumeParts): Promise<Resumed> {
  const { store, stream, forecaster, window, scores, logger } = p;
  const { recoverFrom, ticks, lastSeq } = read;
  window.rows.resize(Math.max(window.rows.size, forecaster.window));
  const { version } = forecaster;
  // Forecasts made before the stop whose targets are among the recovered ticks or still to come.
  if (read.version === version) for (const f of read.open) scores.addForecast(version, f.seq, f.forecast);

  let recovered = 0;
  let scored = 0;
  let chunk: {
    tick: Tick;
    stream: string;
    seq: number;
    window: number[][] | null;
    forecaster: Forecaster;
  }[] = [];
  const forecastChunk = async () => {
    const forecasts = p.batches.start(chunk).finish();
    const docs: Forecast[] = [];
    chunk.forEach(({ tick, window: w }, i) => {
      scored += scores.observe(tick.seq, tick.price);
      const forecast = forecasts[i];
      if (forecast === null || w === null) return;
      scores.addForecast(version, tick.seq, forecast);
      docs.push({
        timestamp: new Date(),
        input_sequence: w,
        forecast,
        model_version: version,
        seq: tick.seq,
        stream,
      });
    });
    if (docs.length > 0) countForecastsOnReceipt(docs, await store.writeForecasts(docs));
    recovered += docs.length;
    chunk = [];
  };
  for (const tick of ticks) {
    window.restore(tick);
    if (tick.seq < recoverFrom) continue;
    chunk.push({ tick, stream, seq: tick.seq, window: window.rows.full(), forecaster });
    if (chunk.length >= CHUNK) await forecastChunk();
  }
  if (chunk.length > 0) await forecastChunk();
  if (recovered > 0) {
    logger.info(
      { stream, from: recoverFrom, to: lastSeq, forecasts: recovered, model_version: version },
      `re-forecast ${recovered} stored tick(s) that had no forecast (seq ${recoverFrom}..${lastSeq})`,
    );
  }
  return { last: ticks[ticks.length - 1], recovered, scored };
}

/** readResume, then applyResume: a stream's start in one step. Null when nothing is stored. */
export async function resumeFromStore(p: ResumeParts): Promise<Resumed | null> {
  const rows = Math.max(p.window.rows.size, p.forecaster.window);
  const read = await readResume({ ...p, rows });
  return read === null ? null : applyResume(read, p);
}
