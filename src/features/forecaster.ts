// The forecasting interface every model serves through (the LSTM and the baselines alike), after darts:
// a window of raw ticks in, the next `horizon` prices out. Scaling is each model's own business.
import { BynerError, describe } from '../errors.js';
import { FEATURE_NAMES } from '../ticks/types.js';

/** One input window: `window` rows of the 7 raw features (price, ma, rsi, upper_bb, lower_bb, macd, signal). */
export type FeatureWindow = readonly (readonly number[])[];

/** A started forecast (Forecaster.forecastStart). */
export interface ForecastJob {
  /** True when part of the work runs on another thread until `finish()`. */
  readonly threaded: boolean;
  /** Forecasts the calling thread's share now (optional: `finish()` does what is left). */
  work(): void;
  /** Completes the forecasts and returns what `forecast` would have. */
  finish(): number[][];
}

/**
 * The live forecasting interface (after darts): raw windows of the 7 features in, the next `horizon` prices out.
 * Served by fitted models (ForecastModel.forecaster) and baselines (baselineForecaster); runInference takes one.
 */
export interface Forecaster {
  /** Registry version for models, or a baseline's name ("naive", "seasonal_naive"). */
  readonly version: string;
  /** Rows per input window (60 for the LSTM). */
  readonly window: number;
  /** Values forecast after the window's last tick (5). */
  readonly horizon: number;
  /** Forecasts for each window: (N, window, 7) raw features → (N, horizon) prices. */
  forecast(windows: readonly FeatureWindow[]): number[][];
  /**
   * Optional: `forecast` in parts, so that the caller's other work overlaps the forecasts. The LSTM hands part of
   * a batch to its second thread at once (`threaded`); `work()` forecasts the rest on the calling thread, and
   * `finish()` returns what `forecast` would have (doing what is left).
   */
  forecastStart?(windows: readonly FeatureWindow[]): ForecastJob;
}

export const FEATURES = FEATURE_NAMES.length;

/** Boundary check for forecast inputs: shapes and finite numbers, with expected vs received. */
export function checkWindows(windows: readonly FeatureWindow[], window: number, who: string): void {
  if (!Array.isArray(windows)) {
    throw new BynerError('BYNER_SHAPE', `${who}: forecast input must be an array of windows`, {
      expected: `(N, ${window}, ${FEATURES})`,
      received: describe(windows),
    });
  }
  windows.forEach((w, i) => {
    if (!Array.isArray(w) || w.length < window) {
      throw new BynerError('BYNER_SHAPE', `${who}: window ${i} is too short`, {
        expected: `${window} rows of ${FEATURES} features`,
        received: Array.isArray(w) ? `${w.length} rows` : describe(w),
      });
    }
    for (let r = w.length - window; r < w.length; r++) {
      const row = w[r];
      if (!Array.isArray(row) || row.length !== FEATURES || !row.every(Number.isFinite)) {
        throw new BynerError(
          Array.isArray(row) && row.length === FEATURES ? 'BYNER_NOT_FINITE' : 'BYNER_SHAPE',
          `${who}: window ${i}, row ${r} is not ${FEATURES} finite numbers`,
          {
            expected: `${FEATURES} finite numbers (${FEATURE_NAMES.join(', ')})`,
            received: JSON.stringify(row),
          },
        );
      }
    }
  });
}

/** Rows before a window's last one that seasonal naive reads for horizon h (1-based): h > season reuses earlier seasons. */
export function seasonalLag(h: number, season: number): number {
  let back = season - h;
  while (back < 0) back += season;
  return back;
}

/** Throws BYNER_CONFIG unless `season` is an integer ≥ 1. */
export function checkSeason(season: number): void {
  if (!Number.isInteger(season) || season < 1) {
    throw new BynerError('BYNER_CONFIG', 'invalid season', {
      expected: 'an integer >= 1',
      received: String(season),
    });
  }
}

/** Last value: every horizon repeats the window's last price. */
export class NaiveForecaster implements Forecaster {
  readonly window = 1;
  constructor(
    readonly horizon: number,
    readonly version = 'naive',
  ) {}
  forecast(windows: readonly FeatureWindow[]): number[][] {
    checkWindows(windows, this.window, this.version);
    return windows.map((w) => Array(this.horizon).fill(w[w.length - 1][0]));
  }
}

/** Value one season ago: horizon h gets the price `season` ticks before the tick it forecasts. */
export class SeasonalNaiveForecaster implements Forecaster {
  readonly window: number;
  constructor(
    readonly horizon: number,
    readonly season: number,
    readonly version = 'seasonal_naive',
  ) {
    checkSeason(season);
    // Horizon h (1-based) needs the price at (last + h − season); for h > season it reuses earlier seasons.
    this.window = season;
  }
  forecast(windows: readonly FeatureWindow[]): number[][] {
    checkWindows(windows, this.window, this.version);
    return windows.map((w) => {
      const n = w.length;
      const out: number[] = [];
      for (let h = 1; h <= this.horizon; h++) out.push(w[n - 1 - seasonalLag(h, this.season)][0]);
      return out;
    });
  }
}
