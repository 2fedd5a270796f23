// The model registry: kind name → how to create a model of that kind, load a saved one, and (baselines) serve one
// live without fitting. Names come from kinds.ts; storing entries is the Store's, choosing the serving one train's.
import { BynerError, describe } from '../errors.js';
import { type Forecaster, NaiveForecaster, SeasonalNaiveForecaster } from '../features/forecaster.js';
import { MinMaxScaler } from '../features/scaler.js';
import type { JsonObject, ModelEntry } from '../store/types.js';
import { NaiveModel, SeasonalNaiveModel, type SeasonalNaiveOptions } from './baselines.js';
import { type BaselineKind, isModelKind, KIND_NAMES, type ModelKind } from './kinds.js';
import { LINEAR_FILE, LinearModel, type LinearOptions } from './linear.js';
import { LstmKindModel, type LstmOptions } from './lstm.js';
import type { ForecastModel, ModelShape, SavedModel } from './model.js';
import { PriceScaledModel } from './price-scaled.js';
import { type StoredScalerJson, scalerForStream } from './scalers.js';

/** Each kind's creation options. */
export interface KindOptions {
  /** The naive baseline has no options. */
  naive: Record<string, never>;
  /** The seasonal-naive baseline: its season. */
  seasonal_naive: SeasonalNaiveOptions;
  /** The linear model: the ridge penalties to choose from. */
  linear: LinearOptions;
  /** The LSTM: its network and training settings. */
  lstm: LstmOptions;
}

/** A kind and its options: what a backtest or a training job is asked to fit. */
export type ModelSpec = { [K in ModelKind]: { kind: K; options?: KindOptions[K] } }[ModelKind];

interface KindEntry<K extends ModelKind> {
  create(shape: ModelShape, options: KindOptions[K]): ForecastModel;
  /** Rebuilds a fitted model from its registry form. */
  load(saved: SavedModel, scaler: MinMaxScaler): Promise<ForecastModel>;
}

const REGISTRY: { [K in ModelKind]: KindEntry<K> } = {
  naive: {
    create: (shape) => new NaiveModel(shape),
    load: async (saved, scaler) => NaiveModel.fromSaved(saved.config, scaler),
  },
  seasonal_naive: {
    create: (shape, options) => new SeasonalNaiveModel(shape, options),
    load: async (saved, scaler) => SeasonalNaiveModel.fromSaved(saved.config, scaler),
  },
  linear: {
    create: (shape, options) => new LinearModel(shape, options),
    load: async (saved, scaler) => LinearModel.fromFile(saved.config, saved.files[LINEAR_FILE], scaler),
  },
  lstm: {
    create: (shape, options) => new LstmKindModel(shape, options),
    load: (saved, scaler) => LstmKindModel.fromFiles(saved.files, scaler),
  },
};

/** The live forecaster of each baseline, which needs no fitted model (nor a scaler). */
const BASELINE_LIVE: { [K in BaselineKind]: (horizon: number, options: KindOptions[K]) => Forecaster } = {
  naive: (horizon) => new NaiveForecaster(horizon),
  seasonal_naive: (horizon, options) => new SeasonalNaiveForecaster(horizon, options.season ?? 10),
};

function unknownKind(kind: unknown, where: string): BynerError {
  return new BynerError('BYNER_CONFIG', `unknown model kind ${describe(kind)}${where}`, {
    expected: `one of ${KIND_NAMES.join(', ')}`,
    received: describe(kind),
  });
}

/** A new, unfitted model of `kind`; BYNER_CONFIG for an unknown kind or invalid options. */
export function newModel<K extends ModelKind>(
  kind: K,
  shape: ModelShape,
  options?: KindOptions[K],
): ForecastModel {
  if (!isModelKind(kind)) throw unknownKind(kind, '');
  return (REGISTRY[kind] as KindEntry<K>).create(shape, options ?? ({} as KindOptions[K]));
}

/** A baseline's live forecaster, without fitting: what `byner infer --model naive` serves. */
export function baselineForecaster<K extends BaselineKind>(
  kind: K,
  horizon: number,
  options?: KindOptions[K],
): Forecaster {
  return BASELINE_LIVE[kind](horizon, options ?? ({} as KindOptions[K]));
}

/** The engine's resolved config that a saved LSTM's model.json carries (userDefinedMetadata.byner.config). */
function lstmFileConfig(artifact: Record<string, Uint8Array>): JsonObject | undefined {
  const file = artifact['model.json'];
  if (file === undefined) return undefined;
  try {
    const json = JSON.parse(new TextDecoder().decode(file)) as {
      userDefinedMetadata?: { byner?: { config?: JsonObject } };
    };
    return json.userDefinedMetadata?.byner?.config;
  } catch {
    return undefined; // the loader reports a bad file with its own message
  }
}

/**
 * The registry form of a Store entry, for forecasts of `stream`. Entries without `config.kind` are LSTMs. An entry
 * with one scaler forecasts any stream with it; a global model's entry (one scaler per stream, scalers.ts) needs the
 * stream, and gives the model with that stream's scaler.
 */
export function savedFromEntry(
  entry: Pick<ModelEntry, 'version' | 'config' | 'scaler' | 'artifact'>,
  stream?: string,
): SavedModel {
  const config = entry.config ?? {};
  const kind = config.kind ?? 'lstm';
  if (!isModelKind(kind)) throw unknownKind(kind, ` in registry entry ${entry.version}`);
  // Entries without a kind hold the LSTM's resolved config under `model`, or only in the TF.js file's metadata.
  const shape = (config.kind === undefined ? (config.model ?? lstmFileConfig(entry.artifact)) : config) as
    | JsonObject
    | undefined;
  const size = (name: 'window' | 'horizon') => (typeof shape?.[name] === 'number' ? shape[name] : 0);
  return {
    config: { ...config, kind, window: size('window'), horizon: size('horizon') },
    scaler: scalerForStream(entry.scaler, stream, entry.version).toJSON(),
    files: entry.artifact,
  };
}

/** The fields of a Store entry that hold a saved model (the rest — version, metrics, data range — are the caller's). */
export type EntryForm = Pick<ModelEntry, 'config' | 'scaler' | 'artifact'>;

/** The entry form of a saved model; `scaler` replaces its scaler (a global model's one per stream). */
export function entryFromSaved(saved: SavedModel, scaler: StoredScalerJson = saved.scaler): EntryForm {
  return {
    config: saved.config,
    scaler: scaler as unknown as JsonObject,
    artifact: saved.files,
  };
}

/**
 * Rebuilds a fitted model of the saved kind: it forecasts what the saved model did, bit for bit. A global model's
 * (`config.global`, saved for one stream by savedFromEntry) forecasts that stream's prices (price-scaled.ts).
 */
export async function loadSavedModel(saved: SavedModel): Promise<ForecastModel> {
  const kind = saved?.config?.kind;
  if (!isModelKind(kind)) throw unknownKind(kind, ' in a saved model');
  const entry = REGISTRY[kind] as KindEntry<ModelKind>;
  const model = await entry.load(saved, MinMaxScaler.fromJSON(saved.scaler));
  if (model.window !== saved.config.window || model.horizon !== saved.config.horizon) {
    await model.dispose();
    throw new BynerError('BYNER_MODEL_FILE', `the saved ${kind} model's files do not match its config`, {
      expected: `window ${saved.config.window}, horizon ${saved.config.horizon} (config)`,
      received: `window ${model.window}, horizon ${model.horizon} (files)`,
      hint: 'register the model again: its files and config come from different saves',
    });
  }
  return saved.config.global === true ? new PriceScaledModel(model) : model;
}
