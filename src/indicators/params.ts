// Indicator periods (DESIGN §3) and the small formulas both the batch and the streaming forms share, so the
// two cannot drift apart. Hand-written because no maintained JS library matches TA-Lib (see README).
import { BynerError } from '../errors.js';

/** The indicators' periods (DESIGN §3); DEFAULT_INDICATOR_PARAMS holds the defaults. */
export interface IndicatorParams {
  /** SMA and Bollinger period (10). */
  maPeriod: number;
  /** Bollinger width in population standard deviations (2). */
  bbDeviations: number;
  /** Wilder RSI period (14). */
  rsiPeriod: number;
  /** MACD fast, slow and signal EMA periods (8, 17, 9). */
  macdFast: number;
  macdSlow: number;
  macdSignal: number;
}

/** SMA/Bollinger 10 with 2 deviations, RSI 14, MACD 8/17 with signal 9. */
export const DEFAULT_INDICATOR_PARAMS: Readonly<IndicatorParams> = Object.freeze({
  maPeriod: 10,
  bbDeviations: 2,
  rsiPeriod: 14,
  macdFast: 8,
  macdSlow: 17,
  macdSignal: 9,
});

/** First index (0-based, from the first price) at which each indicator is defined. */
export function firstIndex(p: IndicatorParams = DEFAULT_INDICATOR_PARAMS) {
  return {
    ma: p.maPeriod - 1,
    upper_bb: p.maPeriod - 1,
    lower_bb: p.maPeriod - 1,
    rsi: p.rsiPeriod,
    macd: p.macdSlow - 1,
    signal: p.macdSlow + p.macdSignal - 2,
  } as const;
}

/** Index from which all six are defined: where training windows may start. */
export function warmup(p: IndicatorParams = DEFAULT_INDICATOR_PARAMS): number {
  return Math.max(...Object.values(firstIndex(p)));
}

export function checkParams(p: IndicatorParams): void {
  const ints = ['maPeriod', 'rsiPeriod', 'macdFast', 'macdSlow', 'macdSignal'] as const;
  const bad = ints.filter((k) => !Number.isInteger(p[k]) || p[k] < 1).map((k) => `${k}=${p[k]}`);
  if (!Number.isFinite(p.bbDeviations) || p.bbDeviations < 0) bad.push(`bbDeviations=${p.bbDeviations}`);
  if (p.macdFast >= p.macdSlow) bad.push(`macdFast=${p.macdFast} >= macdSlow=${p.macdSlow}`);
  if (bad.length > 0) {
    throw new BynerError('BYNER_CONFIG', 'invalid indicator parameters', {
      expected: 'positive integer periods with macdFast < macdSlow, and bbDeviations >= 0',
      received: bad.join(', '),
    });
  }
}

/**
 * TA-Lib's TA_EPSILON (1e-14 in the TA-Lib bundled by the `talib` package): RSI is 0 when |g + l| is below it
 * (TA_IS_ZERO), and a variance below it counts as 0 (TA_IS_ZERO_OR_NEG).
 */
const TA_EPSILON = 1e-14;

/** RSI from Wilder averages; 0 when g + l is zero (TA-Lib's convention, never a fake 50 or 100). */
export function rsiFrom(avgGain: number, avgLoss: number): number {
  const s = avgGain + avgLoss;
  return s > -TA_EPSILON && s < TA_EPSILON ? 0 : 100 * (avgGain / s);
}

/** EMA smoothing factor as TA-Lib computes it. */
export const emaK = (period: number): number => 2 / (period + 1);

/**
 * Mean and population standard deviation of values[from .. from+n−1], in index order. A variance below
 * TA_EPSILON counts as 0, as in TA-Lib's BBANDS. Two passes (mean, then squared deviations) rather than TA-Lib's
 * E[x²] − mean²: the same value to ~1e-15 on real data, and exactly 0 on flat windows of any price level.
 */
export function meanSd(values: ArrayLike<number>, from: number, n: number): [mean: number, sd: number] {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[from + i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = values[from + i] - mean;
    ss += d * d;
  }
  const variance = ss / n;
  return [mean, variance < TA_EPSILON ? 0 : Math.sqrt(variance)];
}
