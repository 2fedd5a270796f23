// Loads a registered model (TF.js files + scaler) from the store as a Forecaster for live inference and the
// dashboard. Choosing which version serves is the registry's (store) business; training is train.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LstmModel, loadModel } from '../engine/index.js';
import { BynerError } from '../errors.js';
import {
  checkWindows,
  FEATURES,
  type FeatureWindow,
  type Forecaster,
  type ForecastJob,
  NaiveForecaster,
  SeasonalNaiveForecaster,
} from '../features/forecaster.js';
import { MinMaxScaler } from '../features/scaler.js';
import type { ModelEntry, Store } from '../store/index.js';

/** The LSTM behind the Forecaster interface: scales raw windows with its training scaler, then predicts. */
export class LstmForecaster implements Forecaster {
  readonly window: number;
  readonly horizon: number;
  private readonly buf: Float32Array;

  constructor(
    readonly version: string,
    readonly model: LstmModel,
    readonly scaler: MinMaxScaler,
  ) {
    this.window = model.config.window;
    this.horizon = model.config.horizon;
    if (model.config.features !== FEATURES || scaler.features !== FEATURES) {
      throw new BynerError('BYNER_MODEL', `model ${version} does not take the 7 tick features`, {
        expected: `${FEATURES} features in the model and its scaler`,
        received: `model ${model.config.features}, scaler ${scaler.features}`,
      });
    }
    this.buf = new Float32Array(this.window * FEATURES);
  }

  forecast(windows: readonly FeatureWindow[]): number[][] {
    return this.forecastStart(windows).finish();
  }

  forecastStart(windows: readonly FeatureWindow[]): ForecastJob {
    checkWindows(windows, this.window, this.version);
    const T = this.window;
    const x = windows.length === 1 ? this.buf : new Float32Array(windows.length * T * FEATURES);
    windows.forEach((w, i) => {
      const from = w.length - T;
      for (let r = 0; r < T; r++) {
        const row = w[from + r];
        for (let f = 0; f < FEATURES; f++) x[(i * T + r) * FEATURES + f] = this.scaler.scale(row[f], f);
      }
    });
    const job = this.model.predictStart({ data: x, shape: [windows.length, T, FEATURES] });
    return {
      threaded: job.threaded,
      work: () => job.work(),
      finish: () => {
        const out = job.finish();
        return windows.map((_, i) => Array.from(out.subarray(i * this.horizon, (i + 1) * this.horizon)));
      },
    };
  }
}

/** Builds the engine model from a registry entry's artifact files (model.json + weights.bin). */
export async function modelFromEntry(entry: ModelEntry): Promise<LstmForecaster> {
  const dir = await mkdtemp(join(tmpdir(), 'byner-model-'));
  try {
    for (const [name, bytes] of Object.entries(entry.artifact)) await writeFile(join(dir, name), bytes);
    const model = await loadModel(dir);
    // Live forecasts use both cores: one window pipelined over two threads, a replayed batch split in halves.
    await model.startForecastThread();
    return new LstmForecaster(entry.version, model, MinMaxScaler.fromJSON(entry.scaler));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const BASELINES = ['naive', 'seasonal_naive'] as const;

/**
 * A forecaster by name: `naive` or `seasonal_naive` (baselines, no training needed), a registered version, or
 * undefined / `latest` for the serving model.
 */
export async function loadForecaster(
  store: Store,
  opts: { version?: string; horizon?: number; season?: number } = {},
): Promise<Forecaster> {
  const horizon = opts.horizon ?? 5;
  if (opts.version === 'naive') return new NaiveForecaster(horizon);
  if (opts.version === 'seasonal_naive') return new SeasonalNaiveForecaster(horizon, opts.season ?? 10);
  const models = await store.listModels();
  // `latest` means the serving model: never a model that training refused to serve (see train/serving.ts: worse
  // than the baseline, interrupted without --force, or stopped on a NaN loss).
  const version =
    opts.version === undefined || opts.version === 'latest'
      ? models.find((m) => m.serving)?.version
      : opts.version;
  const entry = version === undefined ? null : await store.getModel(version);
  if (entry === null) {
    const versions = models.map((m) => m.version);
    if (version === undefined && versions.length > 0) {
      throw new BynerError('BYNER_MODEL', 'no model serves: training registered none as serving', {
        expected:
          'a serving model (a complete run that beat the seasonal-naive baseline on validation, or --force)',
        received: `${versions.length} registered, none serving: ${versions.join(', ')}`,
        hint: 'train again (byner train, or --force to serve anyway), pin one with --model-version, or use --model seasonal_naive',
      });
    }
    throw new BynerError(
      'BYNER_MODEL',
      version ? `model version ${version} is not in the registry` : 'no trained model in the registry',
      {
        expected: version ? `one of: ${versions.join(', ') || '(none)'}` : 'a model trained by `byner train`',
        received: version ?? 'an empty registry',
        hint:
          versions.length === 0
            ? 'run `byner train` first, or use --model seasonal_naive'
            : 'list versions with `byner models`',
      },
    );
  }
  return modelFromEntry(entry);
}
