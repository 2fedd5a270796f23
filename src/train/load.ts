// Loads a registered model (TF.js files + scaler) from the store as a Forecaster for live inference and the
// dashboard. Choosing which version serves which stream is the registry's (store) business; training is train.ts.
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
import type { Store, StoredModel } from '../store/index.js';
import { DEFAULT_STREAM } from '../ticks/types.js';

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
export async function modelFromEntry(
  entry: Pick<StoredModel, 'version' | 'scaler' | 'artifact'>,
): Promise<LstmForecaster> {
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
 * A registered version, loaded with its forecast thread; `close()` stops the thread once the caller is done with it
 * (live inference swapping models). Throws BYNER_MODEL when the version is not registered.
 */
export async function loadRegistered(
  store: Store,
  version: string,
): Promise<{ forecaster: LstmForecaster; close(): Promise<void> }> {
  const entry = await store.getModel(version);
  if (entry === null) {
    throw new BynerError('BYNER_MODEL', `model version ${version} is not in the registry`, {
      expected: 'a version listed by `byner models`',
      received: version,
    });
  }
  const forecaster = await modelFromEntry(entry);
  return { forecaster, close: () => forecaster.model.closeForecastThread() };
}

/**
 * A forecaster by name: `naive` or `seasonal_naive` (baselines, no training needed), a registered version, or
 * undefined / `latest` for the serving model of `stream` (default `synthetic`).
 */
export async function loadForecaster(
  store: Store,
  opts: { version?: string; horizon?: number; season?: number; stream?: string } = {},
): Promise<Forecaster> {
  const horizon = opts.horizon ?? 5;
  if (opts.version === 'naive') return new NaiveForecaster(horizon);
  if (opts.version === 'seasonal_naive') return new SeasonalNaiveForecaster(horizon, opts.season ?? 10);
  const stream = opts.stream ?? DEFAULT_STREAM;
  const latest = opts.version === undefined || opts.version === 'latest';
  // `latest` means the stream's serving model: never a model that training refused to serve (see
  // train/serving.ts: worse than the baseline, interrupted without --force, or stopped on a NaN loss).
  const entry = latest ? await store.servingModel(stream) : await store.getModel(opts.version as string);
  if (entry === null) {
    const versions = (await store.listModels(latest ? { stream } : {})).map((m) => m.version);
    if (latest && versions.length > 0) {
      throw new BynerError(
        'BYNER_MODEL',
        `no model serves stream ${stream}: training registered none as serving`,
        {
          expected:
            'a serving model (a complete run that beat the seasonal-naive baseline on validation, or --force)',
          received: `${versions.length} registered for ${stream}, none serving: ${versions.join(', ')}`,
          hint: 'train again (byner train, or --force to serve anyway), pin one with --model-version, or use --model seasonal_naive',
        },
      );
    }
    throw new BynerError(
      'BYNER_MODEL',
      latest
        ? `no trained model for stream ${stream} in the registry`
        : `model version ${opts.version} is not in the registry`,
      {
        expected: latest
          ? `a model trained by \`byner train --stream ${stream}\``
          : `one of: ${versions.join(', ') || '(none)'}`,
        received: latest ? 'no model registered for it' : (opts.version as string),
        hint:
          versions.length === 0
            ? `run \`byner train --stream ${stream}\` first, or use --model seasonal_naive`
            : 'list versions with `byner models`',
      },
    );
  }
  return modelFromEntry(entry);
}
