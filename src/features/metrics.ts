// Per-horizon forecast errors (DESIGN §6): MSE and MAE of the raw forecast, MSE/MAE of the rounded forecast, exact-match
// accuracy of the rounded forecast, and MASE. Producing the forecasts is the caller's (walk-forward) step.
import { BynerError } from '../errors.js';
import { roundHalfEven } from '../ticks/generator.js';

/** Forecast errors per horizon 1..H (index 0 is horizon 1), DESIGN §6. */
export interface HorizonMetrics {
  /** Mean squared error of the raw forecast. */
  mse: number[];
  /** Mean absolute error of the raw forecast. */
  mae: number[];
  /** MSE of the forecast rounded half to even. */
  mse_rounded: number[];
  /** MAE of the forecast rounded half to even. */
  mae_rounded: number[];
  /** Fraction (0..1) of rounded forecasts equal to the actual value. */
  accuracy: number[];
  /** Forecasts scored. */
  count: number;
}

/** HorizonMetrics plus MASE: each absolute error divided by the scale given with its forecasts, then averaged. */
export interface ScaledHorizonMetrics extends HorizonMetrics {
  /** Null for a horizon where some forecast came with a scale of 0 (or none). */
  mase: (number | null)[];
}

/**
 * Running per-horizon error sums, so that forecasts scored in parts (the folds of a backtest) give per-part and
 * pooled figures from one pass. `add` takes flat (N, H) arrays.
 */
export class ErrorAccumulator {
  private readonly sums: Record<'se' | 'ae' | 'se_r' | 'ae_r' | 'hits' | 'scaled', Float64Array>;
  private count = 0;
  private scaled = true;

  constructor(readonly horizon: number) {
    const z = () => new Float64Array(horizon);
    this.sums = { se: z(), ae: z(), se_r: z(), ae_r: z(), hits: z(), scaled: z() };
  }

  /**
   * Adds `n` forecasts. `scale` divides the absolute errors for MASE (the in-sample MAE of the one-step naive
   * forecast on the data the model was fitted on); 0 or NaN makes MASE null.
   */
  add(predicted: ArrayLike<number>, actual: ArrayLike<number>, n: number, scale = Number.NaN): this {
    const H = this.horizon;
    if (predicted.length !== n * H || actual.length !== n * H) {
      throw new BynerError('BYNER_SHAPE', 'forecasts and actual values differ in shape', {
        expected: `${n} × ${H} = ${n * H} values each`,
        received: `${predicted.length} forecast, ${actual.length} actual values`,
      });
    }
    const s = this.sums;
    if (!(scale > 0 && Number.isFinite(scale))) this.scaled = false;
    for (let i = 0; i < n; i++) {
      for (let h = 0; h < H; h++) {
        const p = predicted[i * H + h];
        const a = actual[i * H + h];
        const r = roundHalfEven(p);
        const e = Math.abs(p - a);
        s.se[h] += e * e;
        s.ae[h] += e;
        s.se_r[h] += (r - a) ** 2;
        s.ae_r[h] += Math.abs(r - a);
        s.hits[h] += r === a ? 1 : 0;
        s.scaled[h] += e / scale;
      }
    }
    this.count += n;
    return this;
  }

  /** Means over every forecast added so far; throws when none was. */
  result(): ScaledHorizonMetrics {
    if (this.count === 0) {
      throw new BynerError('BYNER_SHAPE', 'no forecasts to score', {
        expected: 'at least one forecast',
        received: '0',
      });
    }
    const mean = (a: Float64Array) => Array.from(a, (v) => v / this.count);
    return {
      mse: mean(this.sums.se),
      mae: mean(this.sums.ae),
      mse_rounded: mean(this.sums.se_r),
      mae_rounded: mean(this.sums.ae_r),
      accuracy: mean(this.sums.hits),
      mase: this.scaled ? mean(this.sums.scaled) : Array(this.horizon).fill(null),
      count: this.count,
    };
  }
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
  predicted.forEach((p, i) => {
    if (p.length !== H || actual[i].length !== H) {
      throw new BynerError('BYNER_SHAPE', `forecast ${i} has the wrong horizon`, {
        expected: `${H} values`,
        received: `${p.length} forecast, ${actual[i].length} actual`,
      });
    }
  });
  const { mase: _, ...m } = new ErrorAccumulator(H)
    .add(predicted.flat(), actual.flat(), actual.length)
    .result();
  return m;
}

/** In-sample MAE of the one-step naive forecast over `prices` (the scale of MASE, after Hyndman & Koehler). */
export function naiveScale(prices: ArrayLike<number>): number {
  let sum = 0;
  for (let t = 1; t < prices.length; t++) sum += Math.abs(prices[t] - prices[t - 1]);
  return prices.length > 1 ? sum / (prices.length - 1) : Number.NaN;
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
