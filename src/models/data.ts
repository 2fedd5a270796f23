// What the model ladder fits and forecasts on: windows min-max scaled by a scaler fitted on training rows only,
// with their direct multi-step targets (the next `horizon` raw prices). Building windows from ticks is features'.
import { BynerError } from '../errors.js';
import { FEATURES, type FeatureWindow } from '../features/forecaster.js';
import { MinMaxScaler } from '../features/scaler.js';
import { inputRows, type WindowSet } from '../features/windows.js';

/** Model input: (n, window, features) windows scaled by `scaler`. */
export interface ScaledWindows {
  /** (n, window, features) row-major: window i, row r, feature f at `(i·window + r)·features + f`. */
  readonly x: Float64Array;
  /** Number of windows. */
  readonly n: number;
  /** Rows per window. */
  readonly window: number;
  /** Features per row (7). */
  readonly features: number;
  /** The scaler that made `x` (fitted on training rows only); a fitted model forecasts only with its own. */
  readonly scaler: MinMaxScaler;
}

/** Windows with their targets. */
export interface Supervised {
  /** The scaled input windows. */
  readonly x: ScaledWindows;
  /** (n, horizon) raw prices following each window: `y[i·horizon + h−1]` is the price h ticks after window i. */
  readonly y: Float64Array;
  /** Targets per window. */
  readonly horizon: number;
}

/** The windows a model is fitted on. */
export interface FitData {
  /** The windows fitted on; their scaler becomes the model's. */
  readonly train: Supervised;
  /** Windows after the training ones, for early stopping and the choice of λ; never the windows forecast. */
  readonly validation?: Supervised;
  /** Aborting stops a long fit early (the LSTM keeps its best epoch); short fits ignore it. */
  readonly signal?: AbortSignal;
}

/** A [from, to) range of window indices. */
export type WindowRange = readonly [number, number];

/** Windows [from, to) of `set`, scaled by `scaler`. */
export function scaledWindows(set: WindowSet, [from, to]: WindowRange, scaler: MinMaxScaler): ScaledWindows {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to > from && to <= set.count)) {
    throw new BynerError('BYNER_INPUT', 'window range outside the window set', {
      expected: `0 ≤ from < to ≤ ${set.count}`,
      received: `[${from}, ${to})`,
    });
  }
  const per = set.window * FEATURES;
  const n = to - from;
  const x = new Float64Array(n * per);
  for (let i = 0; i < n; i++) {
    const at = (from + i) * FEATURES;
    scaler.transform(set.rows.subarray(at, at + per), x, i * per);
  }
  return { x, n, window: set.window, features: FEATURES, scaler };
}

/** The targets of windows [from, to): (n, horizon) raw prices. */
export function targetValues(set: WindowSet, [from, to]: WindowRange): Float64Array {
  const H = set.horizon;
  const y = new Float64Array((to - from) * H);
  for (let w = from; w < to; w++) {
    for (let h = 0; h < H; h++) y[(w - from) * H + h] = set.rows[(w + set.window + h) * FEATURES];
  }
  return y;
}

/** Windows [from, to) of `set` scaled by `scaler`, with their targets. */
export function supervised(set: WindowSet, range: WindowRange, scaler: MinMaxScaler): Supervised {
  return { x: scaledWindows(set, range, scaler), y: targetValues(set, range), horizon: set.horizon };
}

/**
 * FitData for the given training and validation windows, with the scaler fitted on the training windows' input
 * rows alone: the one way the ladder's callers get scaled data, so no later row can reach the scaler.
 */
export function fitData(
  set: WindowSet,
  parts: { train: WindowRange; validation?: WindowRange | null },
  signal?: AbortSignal,
): FitData {
  const scaler = MinMaxScaler.fit(inputRows(set, [parts.train[0], parts.train[1]]), FEATURES);
  const v = parts.validation;
  return {
    train: supervised(set, parts.train, scaler),
    validation: v && v[1] > v[0] ? supervised(set, v, scaler) : undefined,
    signal,
  };
}

/**
 * Prices of every tick that windows [from, to) read or forecast, from the set's first row: the in-sample series
 * whose one-step naive MAE is MASE's scale for a model fitted on those windows.
 */
export function partPrices(set: WindowSet, [, to]: WindowRange): Float64Array {
  const last = to - 1 + set.window + set.horizon - 1;
  const out = new Float64Array(last + 1);
  for (let r = 0; r <= last; r++) out[r] = set.rows[r * FEATURES];
  return out;
}

/** True when every price of the set is an integer: exact-match accuracy means something only then. */
export function integerPrices(set: WindowSet): boolean {
  for (let r = 0; r < set.rows.length; r += FEATURES) if (!Number.isInteger(set.rows[r])) return false;
  return true;
}

/** The last `window` rows of each raw window, scaled by `scaler` into `out` (N, window, features). */
export function scaleRawWindows<T extends Float32Array | Float64Array>(
  windows: readonly FeatureWindow[],
  window: number,
  scaler: MinMaxScaler,
  out: T,
): T {
  windows.forEach((w, i) => {
    const from = w.length - window;
    for (let r = 0; r < window; r++) {
      const row = w[from + r];
      for (let f = 0; f < FEATURES; f++) out[(i * window + r) * FEATURES + f] = scaler.scale(row[f], f);
    }
  });
  return out;
}
