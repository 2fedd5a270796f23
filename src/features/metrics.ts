// Per-horizon forecast errors (SPEC §6): MSE and MAE of the raw forecast, MSE/MAE of the rounded forecast, and
// exact-match accuracy of the rounded forecast. Producing the forecasts is the caller's (walk-forward) step.
import { BynerError } from '../errors.js';
import { roundHalfEven } from '../ticks/generator.js';

export interface HorizonMetrics {
  mse: number[];
  mae: number[];
  mse_rounded: number[];
  mae_rounded: number[];
  /** Fraction (0..1) of rounded forecasts equal to the actual value. */
  accuracy: number[];
  count: number;
}

/** Scores forecasts (N, H) against actual values (N, H), per horizon. */
export function scoreForecasts(predicted: readonly number[][], actual: readonly number[][]): HorizonMetrics {
  if (predicted.length !== actual.length || predicted.length === 0) {
    throw new BynerError('BYNER_SHAPE', 'forecasts and actual values differ in count', {
      expected: 'the same number (> 0) of forecasts and actual sequences',
      received: `${predicted.length} forecasts, ${actual.length} actual`,
    });
  }
  const H = actual[0].length;
  const m: HorizonMetrics = {
    mse: Array(H).fill(0),
    mae: Array(H).fill(0),
    mse_rounded: Array(H).fill(0),
    mae_rounded: Array(H).fill(0),
    accuracy: Array(H).fill(0),
    count: actual.length,
  };
  for (let i = 0; i < actual.length; i++) {
    if (predicted[i].length !== H || actual[i].length !== H) {
      throw new BynerError('BYNER_SHAPE', `forecast ${i} has the wrong horizon`, {
        expected: `${H} values`,
        received: `${predicted[i].length} forecast, ${actual[i].length} actual`,
      });
    }
    for (let h = 0; h < H; h++) {
      const p = predicted[i][h];
      const a = actual[i][h];
      const r = roundHalfEven(p);
      m.mse[h] += (p - a) ** 2;
      m.mae[h] += Math.abs(p - a);
      m.mse_rounded[h] += (r - a) ** 2;
      m.mae_rounded[h] += Math.abs(r - a);
      m.accuracy[h] += r === a ? 1 : 0;
    }
  }
  for (const k of ['mse', 'mae', 'mse_rounded', 'mae_rounded', 'accuracy'] as const) {
    m[k] = m[k].map((v) => v / actual.length);
  }
  return m;
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
