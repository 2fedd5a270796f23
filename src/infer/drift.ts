// Drift of a stream's serving model, live: its forecasts and the two baselines' (naive, seasonal naive: lookups into
// the model's own window) scored on the same (forecast, horizon) pairs, in consecutive windows of 100 forecasts; the
// model drifts while it is worse than the seasonal-naive baseline, and with fallback the better baseline forecasts
// meanwhile. Storing, printing and the per-horizon metrics are the pipeline's and scoring.ts's.
import {
  type FeatureWindow,
  type Forecaster,
  NaiveForecaster,
  SeasonalNaiveForecaster,
} from '../features/forecaster.js';
import { isBaselineKind } from '../models/kinds.js';
import type { StoreLogger } from '../store/types.js';

/** Forecasts per drift window. */
export const DRIFT_WINDOW = 100;
/** Consecutive worse windows before the model drifts (--drift-windows). */
export const DRIFT_WINDOWS = 3;

/** The baselines the model is compared with, and that forecast instead of it with fallback. */
export type BaselineName = 'naive' | 'seasonal_naive';

export interface DriftOptions {
  /** Consecutive windows in which the model is worse than the seasonal-naive baseline before it drifts. */
  windows: number;
  /** Forecasts per window. Default DRIFT_WINDOW (100). */
  size?: number;
  /** Season of the seasonal-naive baseline (--season). */
  season: number;
  /** While the model drifts, the stream's forecasts come from the better baseline (--fallback). */
  fallback: boolean;
}

/** Pooled MSE (all horizons) of one closed window: the model's and each baseline's, on the same pairs. */
export interface WindowResult {
  /** The tick that closed the window. */
  endSeq: number;
  /** Forecasts in it, and (forecast, horizon) pairs scored. */
  forecasts: number;
  pairs: number;
  model: number;
  naive: number;
  seasonal_naive: number;
}

/** A forecast after tick `seq` by the model and the two baselines, and their squared errors so far. */
interface Paired {
  seq: number;
  model: readonly number[];
  naive: readonly number[];
  seasonal: readonly number[];
  sq: [number, number, number];
  pairs: number;
}

/**
 * Scores the model's forecasts and the baselines' for the same ticks as their targets arrive, and cuts them into
 * consecutive windows of `size` forecasts, in the order the forecasts complete (when the tick of their last horizon
 * arrives, or a later one after a gap; a forecast none of whose targets arrived is left out).
 */
export class PairedWindows {
  /** Forecasts still waiting for targets, seq ascending. */
  private pending: Paired[] = [];
  private forecasts = 0;
  private pairs = 0;
  private sq: [number, number, number] = [0, 0, 0];

  constructor(
    readonly horizon: number,
    readonly size: number,
  ) {}

  /** The three forecasts made after tick `seq` (ticks after the last one added). */
  add(seq: number, model: readonly number[], naive: readonly number[], seasonal: readonly number[]): void {
    this.pending.push({ seq, model, naive, seasonal, sq: [0, 0, 0], pairs: 0 });
  }

  /** The price of tick `seq` arrived: scores the forecasts it is a target of; returns the windows it closed. */
  observe(seq: number, price: number): WindowResult[] {
    const closed: WindowResult[] = [];
    for (const p of this.pending) {
      const h = seq - p.seq;
      if (h > this.horizon) continue;
      if (h < 1) break;
      const errors = [p.model[h - 1] - price, p.naive[h - 1] - price, p.seasonal[h - 1] - price];
      for (let k = 0; k < 3; k++) p.sq[k] += errors[k] * errors[k];
      p.pairs += 1;
    }
    while (this.pending.length > 0 && this.pending[0].seq + this.horizon <= seq) {
      const p = this.pending.shift() as Paired;
      if (p.pairs === 0) continue;
      this.forecasts += 1;
      this.pairs += p.pairs;
      for (let k = 0; k < 3; k++) this.sq[k] += p.sq[k];
      if (this.forecasts < this.size) continue;
      const n = this.pairs;
      closed.push({
        endSeq: seq,
        forecasts: this.forecasts,
        pairs: n,
        model: this.sq[0] / n,
        naive: this.sq[1] / n,
        seasonal_naive: this.sq[2] / n,
      });
      this.forecasts = 0;
      this.pairs = 0;
      this.sq = [0, 0, 0];
    }
    return closed;
  }
}

/** What a closed window changed: an episode started or ended. */
export type DriftChange = 'started' | 'ended' | null;

/**
 * The hysteresis: a window is worse when the model's MSE is above the seasonal-naive baseline's; the model drifts
 * from the `needed`-th consecutive worse window on, and stops at the first window that is not worse (MSE at most
 * the baseline's). Entering takes `needed` windows, leaving one, so a new episode starts at least `needed` windows
 * after the last one ended.
 */
export class DriftDetector {
  /** Consecutive worse windows, up to the last closed one. */
  worse = 0;
  active = false;
  /** The tick that closed the window starting the current episode. */
  since: number | null = null;
  episodes = 0;

  constructor(readonly needed: number) {}

  update(w: WindowResult): DriftChange {
    if (w.model > w.seasonal_naive) {
      this.worse += 1;
      if (this.active || this.worse < this.needed) return null;
      this.active = true;
      this.since = w.endSeq;
      this.episodes += 1;
      return 'started';
    }
    this.worse = 0;
    if (!this.active) return null;
    this.active = false;
    this.since = null;
    return 'ended';
  }
}

/** The drift state of a stream, as its inf_metrics documents carry it (`drift`). */
export type DriftState = {
  /** The serving model compared with the baselines. */
  model_version: string;
  /** What it is compared with, the season of that baseline, and the window. */
  baseline: 'seasonal_naive';
  season: number;
  window: number;
  /** Consecutive worse windows that make drift (--drift-windows). */
  windows_needed: number;
  /** Windows closed since the model started serving in this run. */
  windows_closed: number;
  /** Consecutive worse windows, up to the last closed one. */
  worse_windows: number;
  active: boolean;
  /** During an episode: the tick that closed its first drift window (the `windows_needed`-th worse one). */
  since_seq: number | null;
  /** The last closed window: pooled MSE over its forecasts and horizons, of the model and each baseline. */
  model_mse: number | null;
  baseline_mse: number | null;
  naive_mse: number | null;
  /** The tick that closed the last window. */
  window_end_seq: number | null;
  /** Episodes of this model in this run. */
  episodes: number;
  /** With --fallback during an episode: the baseline forecasting instead of the model; otherwise null. */
  fallback: BaselineName | null;
};

/** What the stream forecasts after a tick: the model's forecast, or during a fallback the baseline's. */
export interface Served {
  version: string;
  forecast: number[] | null;
}

/** The model currently watched on a stream. */
interface Watched {
  version: string;
  windows: PairedWindows;
  detector: DriftDetector;
  naive: NaiveForecaster;
  seasonal: SeasonalNaiveForecaster;
  last: WindowResult | null;
  closed: number;
  fallback: BaselineName | null;
}

const fmt = (x: number) => x.toFixed(3);

/**
 * One stream's drift watch. Fed every accepted tick in order with the model's forecast after it; a forecaster that
 * is a built-in baseline (`naive`, `seasonal_naive`: `--model naive|seasonal_naive`, or the baseline that forecasts
 * a stream no model serves) is not watched. A new serving model starts afresh (an episode of the old one ends).
 */
export class DriftWatch {
  private watched: Watched | null = null;
  /** Logged once per stream: a season longer than the model's window leaves the stream unwatched. */
  private seasonWarned = false;
  private readonly size: number;
  private started = 0;

  constructor(
    readonly stream: string,
    readonly options: DriftOptions,
    private readonly logger: StoreLogger,
  ) {
    this.size = options.size ?? DRIFT_WINDOW;
  }

  /**
   * Tick `seq` (price `price`) arrived; `forecast` is what `model` forecast from `window`, the full window ending
   * at it (null: no forecast, or the window is filling). Scores the pending forecasts (closing windows, starting or
   * ending an episode), records the three forecasts after this tick, and returns what the stream serves after it.
   */
  step(
    seq: number,
    price: number,
    model: Pick<Forecaster, 'version' | 'horizon'>,
    window: FeatureWindow | null,
    forecast: number[] | null,
  ): Served {
    const w = this.follow(model);
    const own: Served = { version: model.version, forecast };
    if (w === null) return own;
    for (const result of w.windows.observe(seq, price)) this.close(w, result);
    if (window === null) return own;
    if (window.length < this.options.season) {
      this.warnSeason(window.length);
      return own;
    }
    const naive = w.naive.forecast([window])[0];
    const seasonal = w.seasonal.forecast([window])[0];
    if (forecast !== null) w.windows.add(seq, forecast, naive, seasonal);
    if (w.fallback === null) return own;
    return { version: w.fallback, forecast: w.fallback === 'naive' ? naive : seasonal };
  }

  /** Drift episodes on this stream in this run, of every model that served it. */
  get episodes(): number {
    return this.started;
  }

  /** The state for the stream's metrics documents, or null while no model is watched. */
  state(): DriftState | null {
    const w = this.watched;
    if (w === null) return null;
    return {
      model_version: w.version,
      baseline: 'seasonal_naive',
      season: this.options.season,
      window: this.size,
      windows_needed: this.options.windows,
      windows_closed: w.closed,
      worse_windows: w.detector.worse,
      active: w.detector.active,
      since_seq: w.detector.since,
      model_mse: w.last?.model ?? null,
      baseline_mse: w.last?.seasonal_naive ?? null,
      naive_mse: w.last?.naive ?? null,
      window_end_seq: w.last?.endSeq ?? null,
      episodes: w.detector.episodes,
      fallback: w.fallback,
    };
  }

  /** The watch of `model`: kept while it serves, started afresh for a new one, none for a baseline. */
  private follow(model: Pick<Forecaster, 'version' | 'horizon'>): Watched | null {
    const w = this.watched;
    if (w !== null && w.version === model.version && w.windows.horizon === model.horizon) return w;
    if (w?.detector.active) {
      this.logger.info(
        { stream: this.stream, model_version: w.version, next: model.version },
        `${this.stream}: model ${w.version} no longer serves; its drift episode ends`,
      );
    }
    this.watched = null;
    if (isBaselineKind(model.version)) return null;
    const { horizon } = model;
    this.watched = {
      version: model.version,
      windows: new PairedWindows(horizon, this.size),
      detector: new DriftDetector(this.options.windows),
      naive: new NaiveForecaster(horizon),
      seasonal: new SeasonalNaiveForecaster(horizon, this.options.season),
      last: null,
      closed: 0,
      fallback: null,
    };
    return this.watched;
  }

  private close(w: Watched, result: WindowResult): void {
    w.last = result;
    w.closed += 1;
    const change = w.detector.update(result);
    const better: BaselineName = result.naive < result.seasonal_naive ? 'naive' : 'seasonal_naive';
    w.fallback = this.options.fallback && w.detector.active ? better : null;
    const where = {
      stream: this.stream,
      model_version: w.version,
      model_mse: result.model,
      baseline_mse: result.seasonal_naive,
      naive_mse: result.naive,
      seq: result.endSeq,
    };
    const mses = `window MSE ${fmt(result.model)} vs ${fmt(result.seasonal_naive)}`;
    if (change === 'started') {
      this.started += 1;
      this.logger.warn(
        { ...where, windows: this.options.windows, fallback: w.fallback },
        `${this.stream}: DRIFT: model ${w.version} forecast worse than the seasonal-naive baseline in ` +
          `${this.options.windows} consecutive windows of ${this.size} forecasts (last: ${mses}, at seq ` +
          `${result.endSeq}); ` +
          (w.fallback === null
            ? 'still forecasting with it (--fallback would switch to the better baseline meanwhile)'
            : `forecasting with the ${w.fallback} baseline until the model is better again`),
      );
    } else if (change === 'ended') {
      this.logger.info(
        where,
        `${this.stream}: model ${w.version} is no worse than the seasonal-naive baseline again (${mses}, at seq ` +
          `${result.endSeq}): drift over${this.options.fallback ? '; forecasting with it again' : ''}`,
      );
    }
  }

  private warnSeason(rows: number): void {
    if (this.seasonWarned) return;
    this.seasonWarned = true;
    this.logger.warn(
      { stream: this.stream, season: this.options.season, rows },
      `${this.stream}: no drift watch: the season (${this.options.season}) is longer than the window (${rows} rows)`,
    );
  }
}
