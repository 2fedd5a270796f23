// Loads a registered model (any kind, src/models/registry.ts) or a baseline from the store as a Forecaster for
// live inference and the dashboard. Choosing which version serves is the registry's (store); training is train.ts.
import { BynerError } from '../errors.js';
import type { Forecaster } from '../features/forecaster.js';
import { isBaselineKind } from '../models/kinds.js';
import { baselineForecaster, loadSavedModel, savedFromEntry } from '../models/registry.js';
import type { ModelEntry, Store } from '../store/index.js';

export { LstmForecaster } from '../models/lstm.js';

/** A registered model of any kind, ready to serve live (the LSTM with its forecast thread). */
export async function modelFromEntry(entry: ModelEntry): Promise<Forecaster> {
  const model = await loadSavedModel(savedFromEntry(entry));
  return model.forecaster(entry.version);
}

/**
 * A forecaster by name: a baseline kind (`naive`, `seasonal_naive`: no training needed), a registered version, or
 * undefined / `latest` for the serving model.
 */
export async function loadForecaster(
  store: Store,
  opts: { version?: string; horizon?: number; season?: number } = {},
): Promise<Forecaster> {
  const horizon = opts.horizon ?? 5;
  if (isBaselineKind(opts.version)) return baselineForecaster(opts.version, horizon, { season: opts.season });
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
