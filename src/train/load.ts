// Loads a registered model (any kind, src/models/registry.ts) or a baseline from the store as a Forecaster for
// live inference and the dashboard. Choosing which version serves which stream is the registry's (store) business;
// training is train.ts.
import { BynerError } from '../errors.js';
import type { Forecaster } from '../features/forecaster.js';
import { isBaselineKind } from '../models/kinds.js';
import { baselineForecaster, loadSavedModel, savedFromEntry } from '../models/registry.js';
import type { Store, StoredModel } from '../store/index.js';
import { DEFAULT_STREAM } from '../ticks/types.js';

export { LstmForecaster } from '../models/lstm.js';

/** A registered model of any kind, ready to serve live (the LSTM with its forecast thread); `close()` frees it. */
async function openEntry(
  entry: Pick<StoredModel, 'version' | 'config' | 'scaler' | 'artifact'>,
): Promise<{ forecaster: Forecaster; close(): Promise<void> }> {
  const model = await loadSavedModel(savedFromEntry(entry));
  return { forecaster: await model.forecaster(entry.version), close: () => model.dispose() };
}

/** A registered model of any kind as a live Forecaster (kept open for the life of the process). */
export async function modelFromEntry(
  entry: Pick<StoredModel, 'version' | 'config' | 'scaler' | 'artifact'>,
): Promise<Forecaster> {
  return (await openEntry(entry)).forecaster;
}

/**
 * A registered version, loaded (the LSTM with its forecast thread); `close()` frees it once the caller is done with
 * it (live inference swapping models). Throws BYNER_MODEL when the version is not registered.
 */
export async function loadRegistered(
  store: Store,
  version: string,
): Promise<{ forecaster: Forecaster; close(): Promise<void> }> {
  const entry = await store.getModel(version);
  if (entry === null) {
    throw new BynerError('BYNER_MODEL', `model version ${version} is not in the registry`, {
      expected: 'a version listed by `byner models`',
      received: version,
    });
  }
  return openEntry(entry);
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
  return modelFromEntry(entry);
}
