// A global model: one model of a fitted kind (linear, lstm) trained on the pooled windows of several streams, each
// stream's windows and targets scaled by its own scaler fitted on that stream's training windows alone (targets like
// its prices), so that streams at any level share one model. For a stream it forecasts through that stream's scaler
// (price-scaled.ts), which is what the registry loads for the stream. Splitting each stream by time and deciding
// where the model serves are the caller's (src/train, src/backtest).
import { BynerError } from '../errors.js';
import { FEATURES } from '../features/forecaster.js';
import { MinMaxScaler } from '../features/scaler.js';
import { inputRows, type WindowSet } from '../features/windows.js';
import { type FitData, type Supervised, supervised, type WindowRange } from './data.js';
import { FITTED_KINDS, isFittedKind } from './kinds.js';
import type { FitReport, ForecastModel, SavedModel } from './model.js';
import { scaleTargets } from './price-scaled.js';
import { type EntryForm, entryFromSaved, loadSavedModel, savedFromEntry } from './registry.js';
import { perStreamScalerJson } from './scalers.js';

/** One stream's share of a global fit: its windows and the ranges fitted and validated on. */
export interface StreamPart {
  stream: string;
  set: WindowSet;
  /** Windows fitted on; the stream's scaler is fitted on their input rows alone. */
  train: WindowRange;
  /** Windows after them for early stopping and λ (scaled by the same stream's scaler). */
  validation?: WindowRange | null;
}

/**
 * The scaler of pooled windows: the identity on features that each stream's own scaler has scaled already. The
 * global model's inner model is fitted with it; per stream, the registry pairs the inner model with that stream's
 * scaler instead.
 */
export const IDENTITY_SCALER = MinMaxScaler.fit(
  new Float64Array([...Array(FEATURES).fill(0), ...Array(FEATURES).fill(1)]),
  FEATURES,
);

function checkParts(parts: readonly StreamPart[]): void {
  const names = Array.isArray(parts) ? parts.map((p) => p?.stream) : [];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  const shapes = new Set(
    Array.isArray(parts) ? parts.map((p) => `${p?.set?.window}×${p?.set?.horizon}`) : [],
  );
  if (names.length === 0 || dup !== undefined || shapes.size !== 1) {
    throw new BynerError('BYNER_INPUT', 'global model: invalid stream parts', {
      expected: 'one part per stream, at least one, all with the same window and horizon',
      received:
        dup !== undefined
          ? `stream ${dup} twice`
          : `${names.length} part(s), shapes ${[...shapes].join(', ') || 'none'}`,
    });
  }
}

/** Stacks supervised parts (inputs and targets scaled by their own stream's scaler) under the identity scaler. */
function pooled(parts: readonly Supervised[]): Supervised {
  const n = parts.reduce((a, p) => a + p.x.n, 0);
  const { window, features } = parts[0].x;
  const horizon = parts[0].horizon;
  const x = new Float64Array(n * window * features);
  const y = new Float64Array(n * horizon);
  let at = 0;
  for (const p of parts) {
    x.set(p.x.x, at * window * features);
    y.set(p.y, at * horizon);
    at += p.x.n;
  }
  return { x: { x, n, window, features, scaler: IDENTITY_SCALER }, y, horizon };
}

/**
 * The pooled FitData of several streams: each stream's scaler fitted on its own training windows' input rows, its
 * training and validation windows scaled by it (targets by its price feature), then stacked in the order given.
 * Returns the scalers too.
 */
export function pooledFitData(
  parts: readonly StreamPart[],
  signal?: AbortSignal,
): { data: FitData; scalers: Map<string, MinMaxScaler> } {
  checkParts(parts);
  const scalers = new Map<string, MinMaxScaler>();
  const train: Supervised[] = [];
  const validation: Supervised[] = [];
  for (const p of parts) {
    const scaler = MinMaxScaler.fit(inputRows(p.set, [p.train[0], p.train[1]]), FEATURES);
    scalers.set(p.stream, scaler);
    const part = (range: WindowRange): Supervised => {
      const d = supervised(p.set, range, scaler);
      return { ...d, y: scaleTargets(d.y, scaler) };
    };
    train.push(part(p.train));
    const v = p.validation;
    if (v && v[1] > v[0]) validation.push(part(v));
  }
  return {
    data: {
      train: pooled(train),
      validation: validation.length > 0 ? pooled(validation) : undefined,
      signal,
    },
    scalers,
  };
}

/**
 * The registry form of a global model: the inner model's config and files (it was fitted on pooled windows under
 * IDENTITY_SCALER, targets scaled per stream) with `global: true` and its streams in the config, and one scaler per
 * stream. Loaded for a stream, `global: true` makes the registry map its forecasts back to that stream's prices.
 */
export function globalEntry(saved: SavedModel, scalers: ReadonlyMap<string, MinMaxScaler>): EntryForm {
  if (!MinMaxScaler.fromJSON(saved.scaler).equals(IDENTITY_SCALER)) {
    throw new BynerError('BYNER_STATE', 'global model: the inner model was not fitted on pooled windows', {
      expected: 'a model fitted on pooledFitData (identity scaler)',
      received: `a model fitted with scaler min ${JSON.stringify(saved.scaler.min)}`,
    });
  }
  return entryFromSaved(
    { ...saved, config: { ...saved.config, global: true, streams: [...scalers.keys()] } },
    perStreamScalerJson(scalers),
  );
}

/** A fitted global model: its inner model and the scaler of each stream. */
export class GlobalModel {
  private entry: Promise<EntryForm> | null = null;

  private constructor(
    readonly inner: ForecastModel,
    readonly scalers: ReadonlyMap<string, MinMaxScaler>,
  ) {}

  /** Fits `model` (a new model of a fitted kind) on the pooled windows of `parts`. */
  static async fit(
    model: ForecastModel,
    parts: readonly StreamPart[],
    signal?: AbortSignal,
  ): Promise<{ model: GlobalModel; report: FitReport }> {
    if (!isFittedKind(model.kind)) {
      throw new BynerError('BYNER_CONFIG', `a global model cannot be of kind ${model.kind}`, {
        expected: `a fitted kind: ${FITTED_KINDS.join(', ')}`,
        received: model.kind,
        hint: 'baselines forecast each window from its own prices: fit them per stream',
      });
    }
    const { data, scalers } = pooledFitData(parts, signal);
    const report = await model.fit(data);
    return { model: new GlobalModel(model, scalers), report };
  }

  /**
   * A global model from an inner model fitted elsewhere on pooled windows (the training job's checkpointed LSTM),
   * each stream's scaled by `scalers`' scaler of that stream.
   */
  static of(inner: ForecastModel, scalers: ReadonlyMap<string, MinMaxScaler>): GlobalModel {
    return new GlobalModel(inner, scalers);
  }

  /** The streams it was fitted on, in fitting order. */
  get streams(): string[] {
    return [...this.scalers.keys()];
  }

  /** Registry form (config with `global` and `streams`, per-stream scalers, the inner model's files). */
  save(): Promise<EntryForm> {
    this.entry ??= this.inner.save().then((saved) => globalEntry(saved, this.scalers));
    return this.entry;
  }

  /** The model as the registry serves it for `stream`: the inner model through that stream's scaler. */
  async forStream(stream: string): Promise<ForecastModel> {
    return loadSavedModel(
      savedFromEntry(
        { version: `global model of ${this.streams.join(',')}`, ...(await this.save()) },
        stream,
      ),
    );
  }

  async dispose(): Promise<void> {
    await this.inner.dispose();
  }
}
