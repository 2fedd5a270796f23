// Loads a registered model (any kind, src/models/registry.ts) or a baseline from the store as a Forecaster for
// live inference and the dashboard. Choosing which version serves which stream is the registry's (store) business;
// training is train.ts.
import { BynerError } from '../errors.js';
import type { Forecaster } from '../features/forecaster.js';
import { isBaselineKind } from '../models/kinds.js';
import { baselineForecaster, loadSavedModel, savedFromEntry } from '../models/registry.js';
import { isPerStream } from '../models/scalers.js';
import type { Store, StoredModel } from '../store/index.js';
import { DEFAULT_STREAM } from '../ticks/types.js';

export { LstmForecaster } from '../models/lstm.js';

/** A loaded model: its live forecaster, the stream it is for when it serves only that one, and how to free it. */
export interface LoadedModel {
  forecaster: Forecaster;
  /** Set for a global model (scaled per stream): the stream this instance forecasts. Unset: any stream. */
  stream?: string;
  close(): Promise<void>;
}

/**
 * A registered model of any kind, ready to serve `stream` live (the LSTM with its forecast thread); `close()` frees
 * it. A global model (one scaler per stream) needs the stream; a model with one scaler ignores it.
 */
async function openEntry(
  entry: Pick<StoredModel, 'version' | 'config' | 'scaler' | 'artifact'>,
  stream?: string,
): Promise<LoadedModel> {
  const model = await loadSavedModel(savedFromEntry(entry, stream));
  return {
    forecaster: await model.forecaster(entry.version),
    ...(isPerStream(entry.scaler) ? { stream } : {}),
    close: () => model.dispose(),
  };
}

/** A registered model of any kind as a live Forecaster for `stream` (kept open for the life of the process). */
export async function modelFromEntry(
  entry: Pick<StoredModel, 'version' | 'config' | 'scaler' | 'artifact'>,
  stream?: string,
): Promise<Forecaster> {
  return (await openEntry(entry, stream)).forecaster;
}

/**
 * A registered version, loaded to forecast `stream` (the LSTM with its forecast thread); `close()` frees it once
 * the caller is done with it (live inference swapping models). A global model is loaded with that stream's scaler:
 * without a stream, or for a stream it was not fitted on, it throws BYNER_MODEL; a model with one scaler serves any
 * stream given. Throws BYNER_MODEL when the version is not registered.
 */
export async function loadRegistered(store: Store, version: string, stream?: string): Promise<LoadedModel> {
  const entry = await store.getModel(version);
  if (entry === null) {
    throw new BynerError('BYNER_MODEL', `model version ${version} is not in the registry`, {
      expected: 'a version listed by `byner models`',
      received: version,
    });
  }
  return openEntry(entry, stream);
}

/**
 * A forecaster by name: a baseline kind (`naive`, `seasonal_naive`: no training needed), a registered version, or
 * undefined / `latest` for the serving model of `stream` (default `synthetic`).
 */
export async function loadForecaster(
  store: Store,
  opts: { version?: string; horizon?: number; season?: number; stream?: string } = {},
): Promise<Forecaster> {
  const horizon = opts.horizon ?? 5;
  if (isBaselineKind(opts.version)) return baselineForecaster(opts.version, horizon, { season: opts.season });
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
  return modelFromEntry(entry, stream);
}
