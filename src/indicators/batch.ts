// The six indicators of DESIGN §3 over a whole price array: one column each, NaN before the first index
// (converted to null at the tick boundary by toIndicators). The streaming form is streaming.ts; both agree.
import { BynerError } from '../errors.js';
import { INDICATOR_NAMES, type IndicatorName, type Indicators } from '../ticks/types.js';
import {
  checkParams,
  DEFAULT_INDICATOR_PARAMS,
  emaK,
  type IndicatorParams,
  meanSd,
  rsiFrom,
} from './params.js';

/** One Float64Array per indicator, a value per price; NaN before the indicator's first index. */
export type IndicatorColumns = Record<IndicatorName, Float64Array>;

function checkPrices(prices: ArrayLike<number>): void {
  for (let i = 0; i < prices.length; i++) {
    if (!Number.isFinite(prices[i])) {
      throw new BynerError('BYNER_NOT_FINITE', `price at index ${i} is not a finite number`, {
        expected: 'finite numbers',
        received: String(prices[i]),
      });
    }
  }
}

/**
 * The six indicators of DESIGN §3 over a whole price array, TA-Lib's values to 1e-9. Throws BYNER_NOT_FINITE for a
 * NaN or ±Infinity price and BYNER_CONFIG for invalid periods.
 */
export function computeIndicators(
  prices: ArrayLike<number>,
  params: IndicatorParams = DEFAULT_INDICATOR_PARAMS,
): IndicatorColumns {
  checkParams(params);
  checkPrices(prices);
  const n = prices.length;
  const cols = Object.fromEntries(
    INDICATOR_NAMES.map((name) => [name, new Float64Array(n).fill(Number.NaN)]),
  ) as IndicatorColumns;

  // Moving average and Bollinger bands over the same window.
  const P = params.maPeriod;
  for (let i = P - 1; i < n; i++) {
    const [mean, sd] = meanSd(prices, i - P + 1, P);
    cols.ma[i] = mean;
    cols.upper_bb[i] = mean + params.bbDeviations * sd;
    cols.lower_bb[i] = mean - params.bbDeviations * sd;
  }

  // Wilder RSI: plain mean of the first R changes, then avg = (avg·(R−1) + x)/R.
  const R = params.rsiPeriod;
  if (n > R) {
    let g = 0;
    let l = 0;
    for (let i = 1; i <= R; i++) {
      const d = prices[i] - prices[i - 1];
      if (d < 0) l -= d;
      else g += d;
    }
    g /= R;
    l /= R;
    cols.rsi[R] = rsiFrom(g, l);
    for (let i = R + 1; i < n; i++) {
      const d = prices[i] - prices[i - 1];
      g *= R - 1;
      l *= R - 1;
      if (d < 0) l -= d;
      else g += d;
      g /= R;
      l /= R;
      cols.rsi[i] = rsiFrom(g, l);
    }
  }

  // MACD: both EMAs seeded at index S−1 (slow: mean of 0..S−1, fast: mean of the F prices ending there).
  const S = params.macdSlow;
  const F = params.macdFast;
  const G = params.macdSignal;
  if (n >= S) {
    let slow = 0;
    for (let i = 0; i < S; i++) slow += prices[i];
    slow /= S;
    let fast = 0;
    for (let i = S - F; i < S; i++) fast += prices[i];
    fast /= F;
    const ks = emaK(S);
    const kf = emaK(F);
    const kg = emaK(G);
    cols.macd[S - 1] = fast - slow;
    for (let i = S; i < n; i++) {
      slow = (prices[i] - slow) * ks + slow;
      fast = (prices[i] - fast) * kf + fast;
      cols.macd[i] = fast - slow;
    }
    // Signal: EMA of MACD seeded with the mean of its first G values.
    const first = S - 1 + G - 1;
    if (n > first) {
      let sig = 0;
      for (let i = S - 1; i <= first; i++) sig += cols.macd[i];
      sig /= G;
      cols.signal[first] = sig;
      for (let i = first + 1; i < n; i++) {
        sig = (cols.macd[i] - sig) * kg + sig;
        cols.signal[i] = sig;
      }
    }
  }
  return cols;
}

/** Row i of the columns as the tick's indicator object, with null (never NaN or 0) before warm-up. */
export function toIndicators(cols: IndicatorColumns, i: number): Indicators {
  const v = (x: number) => (Number.isNaN(x) ? null : x);
  return {
    ma: v(cols.ma[i]),
    rsi: v(cols.rsi[i]),
    upper_bb: v(cols.upper_bb[i]),
    lower_bb: v(cols.lower_bb[i]),
    macd: v(cols.macd[i]),
    signal: v(cols.signal[i]),
  };
}
