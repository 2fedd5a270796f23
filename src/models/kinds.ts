// The names of the model kinds: the one list every other file takes them from (registry, loader, dashboard).
// Imports nothing, so that a server can tell a baseline's name from a version without loading any model code.

/** Every model kind, in ladder order (simplest first), with whether it is a baseline (serves without training). */
export const MODEL_KINDS = {
  naive: { baseline: true, summary: 'last value: every horizon repeats the last price' },
  seasonal_naive: {
    baseline: true,
    summary: 'value one season ago: horizon h repeats the price `season` ticks before the tick it forecasts',
  },
  linear: {
    baseline: false,
    summary: 'ridge regression on the flattened scaled window, all horizons at once, λ chosen on validation',
  },
  lstm: { baseline: false, summary: 'the DESIGN §5 LSTM network of src/engine' },
} as const;

/** A kind's name: `naive`, `seasonal_naive`, `linear` or `lstm`. */
export type ModelKind = keyof typeof MODEL_KINDS;

/** The kinds whose `baseline` is true. */
export type BaselineKind = {
  [K in ModelKind]: (typeof MODEL_KINDS)[K]['baseline'] extends true ? K : never;
}[ModelKind];

/** The kinds' names in ladder order. */
export const KIND_NAMES = Object.keys(MODEL_KINDS) as ModelKind[];

/** The baselines' names. */
export const BASELINE_KINDS = KIND_NAMES.filter((k) => MODEL_KINDS[k].baseline) as BaselineKind[];

/** The kinds that learn parameters (not baselines): what `byner train --model` fits, alone or as a global model. */
export type FittedKind = Exclude<ModelKind, BaselineKind>;

/** The fitted kinds' names, in ladder order. */
export const FITTED_KINDS = KIND_NAMES.filter((k) => !MODEL_KINDS[k].baseline) as FittedKind[];

/** What `byner train --model` takes: one fitted kind, or `all` (every kind of the ladder). */
export type TrainChoice = FittedKind | 'all';

/** The choices of `byner train --model`, fitted kinds first. */
export const TRAIN_CHOICES: readonly TrainChoice[] = [...FITTED_KINDS, 'all'];

/** A backtest's name for the global model of a fitted kind (one model fitted on several streams): `global:linear`. */
export const globalName = (kind: FittedKind): string => `global:${kind}`;

/** The names `byner backtest --models` takes: every kind (fitted per stream), and `global:<kind>` of the fitted ones. */
export const MODEL_NAMES: readonly string[] = [...KIND_NAMES, ...FITTED_KINDS.map(globalName)];

/** The kind of a backtest model name and whether it is a global model; null for an unknown name. */
export function parseModelName(name: string): { kind: ModelKind; global: boolean } | null {
  if (isModelKind(name)) return { kind: name, global: false };
  const kind = name.startsWith('global:') ? name.slice('global:'.length) : '';
  return isFittedKind(kind) ? { kind, global: true } : null;
}

/** Position in the ladder (0 the simplest): on a tie, the simpler model is preferred. */
export const simplicity = (kind: ModelKind): number => KIND_NAMES.indexOf(kind);

/** True when `name` is a kind of the registry. */
export const isModelKind = (name: unknown): name is ModelKind =>
  typeof name === 'string' && Object.hasOwn(MODEL_KINDS, name);

/** True when `name` is a fitted kind (linear, lstm). */
export const isFittedKind = (name: unknown): name is FittedKind =>
  isModelKind(name) && !MODEL_KINDS[name].baseline;

/** True when `name` is a baseline's kind. */
export const isBaselineKind = (name: unknown): name is BaselineKind =>
  isModelKind(name) && MODEL_KINDS[name].baseline;
