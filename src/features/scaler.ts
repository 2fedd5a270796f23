// Min-max scaling of the 7 features to [0, 1], fitted on the rows it is given; serialisation is plain JSON for the
// registry. Choosing the training rows alone (so no later row leaks into the scaling) is the callers' job: fitData.
import { BynerError, describe } from '../errors.js';

/** A MinMaxScaler as JSON (toJSON / fromJSON), as the model registry stores it. */
export interface ScalerJson {
  kind: 'minmax';
  /** Per feature, the smallest training value. */
  min: number[];
  /** Per feature, the largest training value. */
  max: number[];
  /** How many rows the scaler was fitted on, for the registry. */
  fitted_rows: number;
}

/**
 * Min-max scaling of each feature to [0, 1] over the rows it was fitted on: `(x − min) / (max − min)`, a constant
 * feature divided by 1. Fit it on training rows only (fitData does); values outside that range map outside [0, 1].
 */
export class MinMaxScaler {
  private constructor(
    readonly min: Float64Array,
    readonly max: Float64Array,
    readonly fittedRows: number,
  ) {}

  /** Fits on `rows` (R, F) in a flat array. Constant features scale by 1 (as scikit-learn does). */
  static fit(rows: Float64Array, features: number): MinMaxScaler {
    const n = rows.length / features;
    if (!Number.isInteger(n) || n < 1) {
      throw new BynerError('BYNER_SHAPE', 'scaler: cannot fit on these rows', {
        expected: `a non-empty (R, ${features}) array`,
        received: `${rows.length} values`,
      });
    }
    const min = new Float64Array(features).fill(Number.POSITIVE_INFINITY);
    const max = new Float64Array(features).fill(Number.NEGATIVE_INFINITY);
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < features; f++) {
        const v = rows[r * features + f];
        if (!Number.isFinite(v)) {
          throw new BynerError('BYNER_NOT_FINITE', `scaler: row ${r}, feature ${f} is not finite`, {
            expected: 'finite numbers',
            received: String(v),
          });
        }
        if (v < min[f]) min[f] = v;
        if (v > max[f]) max[f] = v;
      }
    }
    return new MinMaxScaler(min, max, n);
  }

  /** Rebuilds a scaler from toJSON's output; throws BYNER_MODEL for anything else. */
  static fromJSON(json: unknown): MinMaxScaler {
    const j = json as Partial<ScalerJson> | null;
    const ok =
      j !== null &&
      typeof j === 'object' &&
      j.kind === 'minmax' &&
      Array.isArray(j.min) &&
      Array.isArray(j.max) &&
      j.min.length === j.max.length &&
      j.min.length > 0 &&
      [...j.min, ...j.max].every(Number.isFinite);
    if (!ok) {
      throw new BynerError('BYNER_MODEL', 'invalid scaler in the model registry', {
        expected: '{kind: "minmax", min: number[F], max: number[F]}',
        received: describe(json),
        hint: 'retrain the model (byner train) to store a valid scaler',
      });
    }
    return new MinMaxScaler(Float64Array.from(j.min!), Float64Array.from(j.max!), j.fitted_rows ?? 0);
  }

  /** Number of features F. */
  get features(): number {
    return this.min.length;
  }

  /** Plain JSON (exact: every float survives JSON). */
  toJSON(): ScalerJson {
    return {
      kind: 'minmax',
      min: Array.from(this.min),
      max: Array.from(this.max),
      fitted_rows: this.fittedRows,
    };
  }

  /** Scales one feature value (out-of-range values map outside [0, 1], as they should). */
  scale(value: number, feature: number): number {
    const range = this.max[feature] - this.min[feature];
    return (value - this.min[feature]) / (range === 0 ? 1 : range);
  }

  /** The value that `scale` maps to `scaled` (baselines read prices back out of scaled windows). */
  unscale(scaled: number, feature: number): number {
    const range = this.max[feature] - this.min[feature];
    return scaled * (range === 0 ? 1 : range) + this.min[feature];
  }

  /** True when both scalers map every value the same way (same minima and maxima). */
  equals(other: MinMaxScaler): boolean {
    return (
      other === this ||
      (other.features === this.features &&
        this.min.every((v, f) => v === other.min[f] && this.max[f] === other.max[f]))
    );
  }

  /** Scales a flat (R, F) array into `out` (Float32 for the engine, Float64 for the model ladder). */
  transform(rows: ArrayLike<number>): Float32Array;
  transform<T extends Float32Array | Float64Array>(rows: ArrayLike<number>, out: T, offset?: number): T;
  transform(
    rows: ArrayLike<number>,
    out: Float32Array | Float64Array = new Float32Array(rows.length),
    offset = 0,
  ): Float32Array | Float64Array {
    const F = this.min.length;
    if (rows.length % F !== 0) {
      throw new BynerError('BYNER_SHAPE', 'scaler: rows do not have the fitted feature count', {
        expected: `a multiple of ${F} values`,
        received: `${rows.length} values`,
      });
    }
    for (let i = 0; i < rows.length; i++) out[offset + i] = this.scale(rows[i], i % F);
    return out;
  }
}
