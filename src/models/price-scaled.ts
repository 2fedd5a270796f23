// One stream's view of a global model. A global model is fitted on the windows of several streams with each
// stream's targets scaled like its prices (its scaler's price feature), so that streams at different levels share
// one model; for a stream, the view scales windows with that stream's scaler, predicts, and maps the forecasts back
// to the stream's prices. Fitting the global model is global.ts's; loading a view from the registry registry.ts's.
import { BynerError } from '../errors.js';
import type { FeatureWindow, Forecaster } from '../features/forecaster.js';
import type { MinMaxScaler } from '../features/scaler.js';
import type { FitData, ScaledWindows } from './data.js';
import type { ModelKind } from './kinds.js';
import type { FitReport, ForecastModel, SavedModel } from './model.js';

/** Targets in a stream's scaled price units: `(price − min) / (max − min)` of its scaler's price feature. */
export function scaleTargets(y: Float64Array, scaler: MinMaxScaler): Float64Array {
  return Float64Array.from(y, (v) => scaler.scale(v, 0));
}

/** Forecasts in scaled price units back to the stream's prices. */
function unscaleForecasts<T extends Float64Array | number[][]>(y: T, scaler: MinMaxScaler): T {
  if (y instanceof Float64Array) return Float64Array.from(y, (v) => scaler.unscale(v, 0)) as T;
  return (y as number[][]).map((row) => row.map((v) => scaler.unscale(v, 0))) as T;
}

/** A global model's inner model (with one stream's scaler) forecasting that stream's prices. */
export class PriceScaledModel implements ForecastModel {
  readonly kind: ModelKind;
  readonly window: number;
  readonly horizon: number;
  readonly minTrainWindows: number;
  readonly fitted = true;

  /** `inner` was fitted on scaled targets and holds the stream's scaler. */
  constructor(private readonly inner: ForecastModel) {
    if (inner.scaler === null) {
      throw new BynerError('BYNER_NOT_FITTED', `${inner.kind}: a stream's view needs a fitted model`, {
        expected: 'a fitted model with the stream’s scaler',
        received: 'a model that was never fitted',
      });
    }
    this.kind = inner.kind;
    this.window = inner.window;
    this.horizon = inner.horizon;
    this.minTrainWindows = inner.minTrainWindows;
  }

  get scaler(): MinMaxScaler {
    return this.inner.scaler as MinMaxScaler;
  }

  async fit(_data: FitData): Promise<FitReport> {
    throw new BynerError('BYNER_STATE', `${this.kind}: a stream's view of a global model is fitted already`, {
      expected: 'a new global model to fit (GlobalModel.fit)',
      received: 'fit() on the view of one stream',
    });
  }

  predict(x: ScaledWindows): Float64Array {
    return unscaleForecasts(this.inner.predict(x), this.scaler);
  }

  async save(): Promise<SavedModel> {
    throw new BynerError(
      'BYNER_STATE',
      `${this.kind}: a stream's view of a global model is not saved on its own`,
      {
        expected: 'the global model saved (GlobalModel.save: one scaler per stream)',
        received: 'save() on the view of one stream',
      },
    );
  }

  async forecaster(version: string): Promise<Forecaster> {
    const f = await this.inner.forecaster(version);
    const scaler = this.scaler;
    const start = f.forecastStart?.bind(f);
    return {
      version: f.version,
      window: f.window,
      horizon: f.horizon,
      forecast: (windows: readonly FeatureWindow[]) => unscaleForecasts(f.forecast(windows), scaler),
      ...(start
        ? {
            forecastStart: (windows: readonly FeatureWindow[]) => {
              const job = start(windows);
              return {
                threaded: job.threaded,
                work: () => job.work(),
                finish: () => unscaleForecasts(job.finish(), scaler),
              };
            },
          }
        : {}),
    };
  }

  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}
