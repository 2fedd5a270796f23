// The model interface of the ladder (after darts): `fit` and `predict` over scaled windows with direct multi-step
// targets, a base that checks every input, and the adapter that serves a fitted model as a live Forecaster.
// Which kinds exist and how they are made and loaded is registry.ts; walk-forward evaluation is src/backtest.
import { BynerError, describe } from '../errors.js';
import { checkWindows, FEATURES, type FeatureWindow, type Forecaster } from '../features/forecaster.js';
import { ErrorAccumulator } from '../features/metrics.js';
import type { MinMaxScaler, ScalerJson } from '../features/scaler.js';
import type { JsonObject } from '../store/types.js';
import { type FitData, type ScaledWindows, type Supervised, scaleRawWindows } from './data.js';
import type { ModelKind } from './kinds.js';

/** Input and output sizes every model is created with. */
export interface ModelShape {
  /** Rows per input window (60). */
  window: number;
  /** Prices forecast after each window (5). */
  horizon: number;
}

/** What ForecastModel.fit resolves with. */
export interface FitReport {
  /** Validation MSE per horizon of the fitted model; null when fitted without validation windows. */
  validation_mse: number[] | null;
  /** What the kind chose while fitting (λ, epochs, …), as JSON. */
  details: JsonObject;
}

/** A fitted model in registry form: the Store's ModelEntry holds `config`, `scaler` and `files` (artifact). */
export interface SavedModel {
  /** `kind`, `window`, `horizon` and whatever else the kind's loader reads besides the files. */
  config: JsonObject & { kind: ModelKind; window: number; horizon: number };
  /** The scaler the model was fitted with (its windows' scaler). */
  scaler: ScalerJson;
  /** File name (`[A-Za-z0-9._-]+`) → bytes; at least one file. */
  files: Record<string, Uint8Array>;
}

/** One model of the ladder. A model is fitted once; a walk-forward refit creates a new one. */
export interface ForecastModel {
  /** Its kind in the registry. */
  readonly kind: ModelKind;
  /** Rows per input window. */
  readonly window: number;
  /** Prices forecast after each window. */
  readonly horizon: number;
  /** Fewest training windows `fit` accepts. */
  readonly minTrainWindows: number;
  /** True once `fit` (or a load) gave it parameters and a scaler. */
  readonly fitted: boolean;
  /** The scaler of the windows it was fitted on (null before fit). */
  readonly scaler: MinMaxScaler | null;
  /** Fits on `data.train` (the scaler travels with the windows), choosing what it tunes on `data.validation`. */
  fit(data: FitData): Promise<FitReport>;
  /** Forecasts (n, horizon) raw prices for windows scaled by this model's scaler. BYNER_NOT_FITTED before fit. */
  predict(x: ScaledWindows): Float64Array;
  /** Registry form (config, scaler, files); `loadSavedModel` (registry.ts) gives back the same forecasts. */
  save(): Promise<SavedModel>;
  /** This fitted model behind the live Forecaster interface (raw windows in), named `version`. */
  forecaster(version: string): Promise<Forecaster>;
  /** Releases what the model holds besides memory (the LSTM's forecast thread). */
  dispose(): Promise<void>;
}

const shapeError = (who: string, what: string, expected: string, received: string): BynerError =>
  new BynerError('BYNER_SHAPE', `${who}: ${what}`, { expected, received });

/** Shape and finiteness of scaled windows for a model of `window` rows. */
function checkScaled(who: string, part: string, x: ScaledWindows, window: number, min: number): void {
  if (x === null || typeof x !== 'object' || !(x.x instanceof Float64Array)) {
    throw shapeError(
      who,
      `${part} windows are not ScaledWindows`,
      '{x: Float64Array, n, window, features, scaler}',
      describe(x),
    );
  }
  const want = `(n ≥ ${min}, ${window}, ${FEATURES})`;
  if (x.window !== window || x.features !== FEATURES || !Number.isInteger(x.n) || x.n < min) {
    const enough = Number.isInteger(x.n) && x.n >= min;
    throw new BynerError(
      enough ? 'BYNER_SHAPE' : 'BYNER_INPUT',
      `${who}: ${enough ? `${part} windows have the wrong shape` : `too few ${part} windows`}`,
      {
        expected: want,
        received: `(${x.n}, ${x.window}, ${x.features})`,
        hint: enough ? undefined : 'use more ticks, or a smaller share for validation and test',
      },
    );
  }
  if (x.x.length !== x.n * window * FEATURES) {
    throw shapeError(
      who,
      `${part} windows: data length does not match the shape`,
      `${x.n * window * FEATURES} values`,
      `${x.x.length}`,
    );
  }
  const bad = x.x.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new BynerError(
      'BYNER_NOT_FINITE',
      `${who}: ${part} window ${Math.floor(bad / (window * FEATURES))} holds a non-finite value`,
      {
        expected: 'finite numbers',
        received: String(x.x[bad]),
      },
    );
  }
}

function checkSupervised(who: string, part: string, d: Supervised, shape: ModelShape, min: number): void {
  checkScaled(who, part, d?.x, shape.window, min);
  if (d.horizon !== shape.horizon || !(d.y instanceof Float64Array) || d.y.length !== d.x.n * shape.horizon) {
    throw shapeError(
      who,
      `${part} targets have the wrong shape`,
      `Float64Array (${d.x.n}, ${shape.horizon})`,
      `${describe(d.y)}, horizon ${d.horizon}`,
    );
  }
  const bad = d.y.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new BynerError('BYNER_NOT_FINITE', `${who}: ${part} target ${bad} is not finite`, {
      expected: 'finite prices',
      received: String(d.y[bad]),
    });
  }
}

/**
 * The checks every kind shares: shapes, minimum lengths, finite numbers, fit once and before predict, and windows
 * scaled by the model's own scaler. A kind implements `fitChecked`, `predictChecked` and `saveChecked`.
 */
export abstract class BaseModel implements ForecastModel {
  readonly window: number;
  readonly horizon: number;
  private fittedScaler: MinMaxScaler | null = null;

  protected constructor(
    readonly kind: ModelKind,
    shape: ModelShape,
    readonly minTrainWindows = 1,
  ) {
    for (const [name, v] of [
      ['window', shape?.window],
      ['horizon', shape?.horizon],
    ] as const) {
      if (!Number.isInteger(v) || (v as number) < 1) {
        throw new BynerError('BYNER_CONFIG', `${kind}: invalid ${name}`, {
          expected: 'an integer ≥ 1',
          received: describe(v),
        });
      }
    }
    this.window = shape.window;
    this.horizon = shape.horizon;
  }

  get fitted(): boolean {
    return this.fittedScaler !== null;
  }

  get scaler(): MinMaxScaler | null {
    return this.fittedScaler;
  }

  async fit(data: FitData): Promise<FitReport> {
    if (this.fitted) {
      throw new BynerError('BYNER_STATE', `${this.kind}: the model is already fitted`, {
        expected: 'an unfitted model',
        received: 'a fitted one',
        hint: 'create a new model for each fit (newModel in src/models/registry.ts)',
      });
    }
    checkSupervised(this.kind, 'training', data?.train, this, this.minTrainWindows);
    const scaler = data.train.x.scaler;
    if (data.validation) {
      checkSupervised(this.kind, 'validation', data.validation, this, 1);
      this.checkScaler(data.validation.x, scaler, 'validation');
    }
    const details = await this.fitChecked(data);
    this.fittedScaler = scaler;
    const v = data.validation;
    const validation_mse = v
      ? new ErrorAccumulator(this.horizon).add(this.predictChecked(v.x), v.y, v.x.n).result().mse
      : null;
    return { validation_mse, details };
  }

  predict(x: ScaledWindows): Float64Array {
    const scaler = this.requireFitted('predict');
    checkScaled(this.kind, 'forecast', x, this.window, 1);
    this.checkScaler(x, scaler, 'forecast');
    return this.predictChecked(x);
  }

  async save(): Promise<SavedModel> {
    const scaler = this.requireFitted('save');
    const { config, files } = await this.saveChecked();
    return {
      config: { ...config, kind: this.kind, window: this.window, horizon: this.horizon },
      scaler: scaler.toJSON(),
      files,
    };
  }

  async forecaster(version: string): Promise<Forecaster> {
    return new ScaledModelForecaster(version, this, this.requireFitted('forecast'));
  }

  async dispose(): Promise<void> {}

  /** For loaders: the model's parameters came from files, fitted with `scaler`. */
  protected restore(scaler: MinMaxScaler): this {
    this.fittedScaler = scaler;
    return this;
  }

  protected requireFitted(what: string): MinMaxScaler {
    if (this.fittedScaler === null) {
      throw new BynerError('BYNER_NOT_FITTED', `${this.kind}: fit before ${what}`, {
        expected: 'a fitted model',
        received: 'a model that was never fitted',
        hint: 'call fit(), or load a fitted model from the registry',
      });
    }
    return this.fittedScaler;
  }

  private checkScaler(x: ScaledWindows, scaler: MinMaxScaler, part: string): void {
    if (!(x.scaler && typeof x.scaler.equals === 'function' && x.scaler.equals(scaler))) {
      throw new BynerError('BYNER_INPUT', `${this.kind}: ${part} windows were scaled by another scaler`, {
        expected: `windows scaled by the training scaler (min ${JSON.stringify(Array.from(scaler.min))})`,
        received: x.scaler ? `min ${JSON.stringify(Array.from(x.scaler.min))}` : describe(x.scaler),
        hint: 'scale every part with the scaler fitted on the training windows (fitData / scaledWindows)',
      });
    }
  }

  /** Fits on checked data; returns what it chose (JSON). */
  protected abstract fitChecked(data: FitData): Promise<JsonObject>;
  /** Forecasts checked windows: (n, horizon). */
  protected abstract predictChecked(x: ScaledWindows): Float64Array;
  /** The kind's config fields and files. */
  protected abstract saveChecked(): Promise<{ config: JsonObject; files: Record<string, Uint8Array> }>;
}

/** A fitted model behind the live Forecaster interface: scales raw windows with the model's scaler, predicts. */
class ScaledModelForecaster implements Forecaster {
  readonly window: number;
  readonly horizon: number;

  constructor(
    readonly version: string,
    private readonly model: ForecastModel,
    private readonly scaler: MinMaxScaler,
  ) {
    this.window = model.window;
    this.horizon = model.horizon;
  }

  forecast(windows: readonly FeatureWindow[]): number[][] {
    checkWindows(windows, this.window, this.version);
    const x = scaleRawWindows(
      windows,
      this.window,
      this.scaler,
      new Float64Array(windows.length * this.window * FEATURES),
    );
    const n = windows.length;
    if (n === 0) return [];
    const y = this.model.predict({ x, n, window: this.window, features: FEATURES, scaler: this.scaler });
    return windows.map((_, i) => Array.from(y.subarray(i * this.horizon, (i + 1) * this.horizon)));
  }
}
