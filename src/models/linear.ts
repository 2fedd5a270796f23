// The linear rung of the ladder: ridge regression of the next `horizon` prices on the flattened scaled window
// (window × 7 values) plus an intercept, all horizons at once, λ chosen on the validation windows. Deterministic.
// The linear algebra is linalg.ts; scaling and windows are the caller's (data.ts).
import { BynerError, describe } from '../errors.js';
import { ErrorAccumulator, mean } from '../features/metrics.js';
import type { MinMaxScaler } from '../features/scaler.js';
import type { JsonObject } from '../store/types.js';
import type { FitData, ScaledWindows } from './data.js';
import { cholesky, choleskySolve, crossProduct, gram } from './linalg.js';
import { BaseModel, type ModelShape } from './model.js';

/**
 * λ grid: 10^−6 … 10^1 in half decades (1e-6, 3.16e-6, 1e-5, …, 3.16, 10: 15 values). λ is per window: the fit minimises
 * (1/n)·Σ‖y − b − Wᵀx‖² + λ·‖W‖² over the n training windows, so one grid suits any training length. The
 * features lie in [0, 1] on training data; 10^−6 is near plain least squares, 10 shrinks every weight to ≈ 0
 * (the forecast becomes the training mean).
 */
export const DEFAULT_LAMBDAS: readonly number[] = Object.freeze(
  Array.from({ length: 15 }, (_, k) => Number((10 ** (k / 2 - 6)).toPrecision(3))),
);

/** Options of the `linear` kind (ridge regression). */
export interface LinearOptions {
  /** λ values to choose from on validation (default DEFAULT_LAMBDAS); one value needs no validation windows. */
  lambdas?: readonly number[];
}

export const LINEAR_FILE = 'linear.json';

interface LinearJson {
  format: 'byner-linear';
  formatVersion: 1;
  /** Inputs per window (window × features), weights row-major (inputs, horizon). */
  inputs: number;
  horizon: number;
  lambda: number;
  intercept: number[];
  weights: number[];
}

export class LinearModel extends BaseModel {
  readonly lambdas: readonly number[];
  private w: Float64Array | null = null;
  private b: Float64Array | null = null;
  private chosen = Number.NaN;

  constructor(shape: ModelShape, options: LinearOptions = {}) {
    super('linear', shape, 2);
    const grid = options.lambdas ?? DEFAULT_LAMBDAS;
    if (!Array.isArray(grid) || grid.length === 0 || !grid.every((l) => Number.isFinite(l) && l >= 0)) {
      throw new BynerError('BYNER_CONFIG', 'linear: invalid λ grid', {
        expected: 'a non-empty list of finite numbers ≥ 0',
        received: Array.isArray(grid) ? JSON.stringify(grid) : describe(grid),
      });
    }
    this.lambdas = [...new Set(grid)].sort((a, b) => a - b);
  }

  /** Weights (window·features, horizon) row-major, intercept (horizon) and λ of the fitted model. */
  get coefficients(): { weights: Float64Array; intercept: Float64Array; lambda: number } {
    this.requireFitted('reading coefficients');
    return { weights: this.w!.slice(), intercept: this.b!.slice(), lambda: this.chosen };
  }

  protected async fitChecked({ train, validation }: FitData): Promise<JsonObject> {
    if (this.lambdas.length > 1 && !validation) {
      throw new BynerError('BYNER_INPUT', 'linear: choosing λ needs validation windows', {
        expected: `validation windows, or a single λ (of ${this.lambdas.length} given)`,
        received: 'no validation windows',
        hint: 'give a validation share, or pass lambdas: [λ]',
      });
    }
    const { n } = train.x;
    const p = this.window * train.x.features;
    const H = this.horizon;
    // Centring the inputs and targets leaves the intercept out of the penalty: b = ȳ − Wᵀx̄.
    const mx = columnMeans(train.x.x, n, p);
    const my = columnMeans(train.y, n, H);
    const xc = centred(train.x.x, mx, n, p);
    const g = gram(new Float64Array(p * p), xc, n, p);
    const c = crossProduct(new Float64Array(p * H), xc, centred(train.y, my, n, H), n, p, H);

    const a = new Float64Array(p * p);
    const scores: (number | null)[] = [];
    let best: { lambda: number; w: Float64Array; b: Float64Array; score: number } | null = null;
    for (const lambda of this.lambdas) {
      a.set(g);
      for (let j = 0; j < p; j++) a[j * p + j] += lambda * n;
      if (!cholesky(a, p)) {
        scores.push(null);
        continue;
      }
      // One factorisation, `horizon` right-hand sides.
      const w = choleskySolve(a, c.slice(), p, H);
      const b = Float64Array.from(my, (m, h) => m - dotColumn(mx, w, h, p, H));
      const score = validation
        ? mean(
            new ErrorAccumulator(H)
              .add(affine(validation.x, w, b, p, H), validation.y, validation.x.n)
              .result().mse,
          )
        : 0;
      scores.push(score);
      // Ties go to the larger λ (the grid ascends): the simpler model.
      if (best === null || score <= best.score) best = { lambda, w, b, score };
    }
    if (best === null) {
      throw new BynerError(
        'BYNER_MODEL',
        'linear: the regularised normal equations are singular for every λ',
        {
          expected: 'XᵀX + λ·n·I positive definite for some λ of the grid',
          received: `λ ∈ ${JSON.stringify(this.lambdas)}`,
          hint: 'include a λ > 0 in the grid',
        },
      );
    }
    this.w = best.w;
    this.b = best.b;
    this.chosen = best.lambda;
    return { lambda: best.lambda, lambdas: [...this.lambdas], validation_mse_by_lambda: scores };
  }

  protected predictChecked(x: ScaledWindows): Float64Array {
    return affine(x, this.w!, this.b!, this.window * x.features, this.horizon);
  }

  protected async saveChecked() {
    const json: LinearJson = {
      format: 'byner-linear',
      formatVersion: 1,
      inputs: this.w!.length / this.horizon,
      horizon: this.horizon,
      lambda: this.chosen,
      intercept: Array.from(this.b!),
      weights: Array.from(this.w!),
    };
    // JSON keeps every Float64 exactly (shortest round-trip decimal), so a loaded model forecasts bit for bit.
    return {
      config: { lambda: this.chosen },
      files: { [LINEAR_FILE]: new TextEncoder().encode(`${JSON.stringify(json)}\n`) },
    };
  }

  /** Rebuilds a saved model from its linear.json bytes. */
  static fromFile(shape: ModelShape, bytes: Uint8Array | undefined, scaler: MinMaxScaler): LinearModel {
    const bad = (received: string) =>
      new BynerError('BYNER_MODEL_FILE', `linear model file ${LINEAR_FILE} is invalid`, {
        expected: `{format: "byner-linear", inputs: ${shape.window * scaler.features}, horizon: ${shape.horizon}, intercept, weights, lambda} with finite numbers`,
        received,
        hint: 'fit and register the model again',
      });
    if (!bytes) throw bad('no such file in the artifact');
    let j: Partial<LinearJson>;
    try {
      j = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LinearJson>;
    } catch (e) {
      throw bad(`not JSON (${(e as Error).message})`);
    }
    const p = shape.window * scaler.features;
    const H = shape.horizon;
    const finite = (a: unknown, len: number): a is number[] =>
      Array.isArray(a) && a.length === len && a.every(Number.isFinite);
    if (
      j?.format !== 'byner-linear' ||
      j.inputs !== p ||
      j.horizon !== H ||
      !finite(j.intercept, H) ||
      !finite(j.weights, p * H) ||
      !Number.isFinite(j.lambda)
    ) {
      throw bad(
        `format ${describe(j?.format)}, inputs ${describe(j?.inputs)}, horizon ${describe(j?.horizon)}`,
      );
    }
    const m = new LinearModel(shape, { lambdas: [j.lambda!] });
    m.w = Float64Array.from(j.weights);
    m.b = Float64Array.from(j.intercept);
    m.chosen = j.lambda!;
    return m.restore(scaler);
  }
}

function columnMeans(x: Float64Array, n: number, p: number): Float64Array {
  const m = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let a = 0; a < p; a++) m[a] += x[i * p + a];
  for (let a = 0; a < p; a++) m[a] /= n;
  return m;
}

function centred(x: Float64Array, m: Float64Array, n: number, p: number): Float64Array {
  const out = new Float64Array(n * p);
  for (let i = 0; i < n; i++) for (let a = 0; a < p; a++) out[i * p + a] = x[i * p + a] - m[a];
  return out;
}

/** Σ_a v[a]·w[a, h] for w (p, H) row-major. */
function dotColumn(v: Float64Array, w: Float64Array, h: number, p: number, H: number): number {
  let s = 0;
  for (let a = 0; a < p; a++) s += v[a] * w[a * H + h];
  return s;
}

/** (n, H) = b + x·w for scaled windows x (n, p). */
function affine(x: ScaledWindows, w: Float64Array, b: Float64Array, p: number, H: number): Float64Array {
  const out = new Float64Array(x.n * H);
  for (let i = 0; i < x.n; i++) {
    const row = x.x.subarray(i * p, (i + 1) * p);
    for (let h = 0; h < H; h++) out[i * H + h] = b[h] + dotColumn(row, w, h, p, H);
  }
  return out;
}
