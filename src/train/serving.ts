// Which newly trained model becomes the serving one of its stream, and why: the rules (one model against the
// stream's seasonal-naive baseline; a ladder run's best on validation), and the registry entries that record the
// decision. Keeping one serving model per stream and storing entries are the store's (saveModel, setServing).
import type { StopReason } from '../engine/index.js';
import { KIND_NAMES, type ModelKind, simplicity } from '../models/kinds.js';
import type { ModelEntry, Store } from '../store/index.js';

/**
 * Why a model serves (`beats-baseline`, `forced`, `best-on-validation`, `simpler-within-1%`) or does not (the
 * others), as recorded in its entry; `per-stream` is a global model's summary (its decisions per stream beside it).
 */
export type ServingReason =
  | 'beats-baseline'
  | 'forced'
  | 'worse-than-baseline'
  | 'partial-run'
  | 'non-finite-loss'
  | 'best-on-validation'
  | 'simpler-within-1%'
  | 'another-serves'
  | 'per-stream';

/** The rule for one model (`--model lstm`, `--model linear`, a global model per stream), as entries record it. */
export const SINGLE_RULE =
  "serves its stream when its validation MSE there is lower than the seasonal-naive baseline's, or with --force; " +
  'an interrupted run serves only with --force; a run stopped on a NaN/Infinity loss never serves';

/** How close to the lowest validation MSE counts as a tie in a ladder run (1%). */
export const TIE_TOLERANCE = 0.01;

/** The rule for a ladder run (`--model all`), as entries record it. */
export const LADDER_RULE =
  `of the run's models, the simplest (${KIND_NAMES.join(' < ')}) whose validation MSE is within ` +
  `${100 * TIE_TOLERANCE}% of the lowest serves the stream; a run stopped on a NaN/Infinity loss never serves`;

export interface ServingDecision {
  serving: boolean;
  reason: ServingReason;
  /** The same in a sentence, with the validation MSEs compared. */
  detail: string;
  /** The rule that decided (SINGLE_RULE or LADDER_RULE). */
  rule: string;
}

export interface RunOutcome {
  /** The model's kind, named in the decision (default lstm). */
  kind?: ModelKind;
  stoppedReason: StopReason;
  /** Mean validation MSE of the model and of the seasonal-naive baseline. */
  validation: { model_mse: number; seasonal_naive_mse: number };
  /** `--force`: serve even when the baseline is better. */
  force: boolean;
}

/**
 * The serving rule, for the stream the model was trained on (its baseline is that stream's):
 * - a run that stopped on a NaN/Infinity loss never serves, whatever the flags;
 * - an interrupted (partial) run serves only with --force;
 * - a complete run (all epochs, or stopped early) serves when it beats the seasonal-naive baseline on validation
 *   MSE, or with --force.
 */
export function servingDecision(run: RunOutcome): ServingDecision {
  const { model_mse: model, seasonal_naive_mse: baseline } = run.validation;
  const mses = `(validation MSE ${model.toFixed(3)}, seasonal naive ${baseline.toFixed(3)})`;
  if (run.stoppedReason === 'non-finite-loss') {
    return decide(
      false,
      'non-finite-loss',
      'training stopped on a NaN/Infinity loss (never serves, even with --force)',
    );
  }
  if (run.stoppedReason === 'aborted') {
    return run.force
      ? decide(true, 'forced', `--force, although the run was interrupted ${mses}`)
      : decide(
          false,
          'partial-run',
          'the run was interrupted (serves only with --force; --resume finishes it)',
        );
  }
  if (model < baseline)
    return decide(true, 'beats-baseline', `it beats the seasonal-naive baseline on validation ${mses}`);
  if (run.force) {
    return decide(
      true,
      'forced',
      `--force, although the seasonal-naive baseline is better on validation ${mses}`,
    );
  }
  const name =
    (run.kind ?? 'lstm') === 'lstm' ? 'THE LSTM' : `THE ${(run.kind as string).toUpperCase()} MODEL`;
  return decide(
    false,
    'worse-than-baseline',
    `${name} IS WORSE THAN THE SEASONAL-NAIVE BASELINE on validation ${mses}; --force serves it anyway`,
  );
}

const decide = (
  serving: boolean,
  reason: ServingReason,
  why: string,
  rule = SINGLE_RULE,
): ServingDecision => ({
  serving,
  reason,
  detail: `${serving ? 'serves' : 'does NOT serve'}: ${why}`,
  rule,
});

/** One model of a ladder run, as the ladder rule sees it. */
export interface LadderCandidate {
  kind: ModelKind;
  /** Mean validation MSE on the stream (NaN when there is none). */
  validation_mse: number;
  /** How its fit ended (`completed` for the kinds without epochs). */
  stoppedReason: StopReason;
}

/**
 * The ladder rule (`byner train --model all`), for one stream: a model that stopped on a NaN/Infinity loss, was
 * interrupted, or has no finite validation MSE is out; of the rest, the simplest whose validation MSE is within
 * TIE_TOLERANCE of the lowest serves (a baseline may); the others do not. Decisions in the candidates' order.
 */
export function ladderDecisions(candidates: readonly LadderCandidate[]): ServingDecision[] {
  const eligible = candidates.filter(
    (c) =>
      c.stoppedReason !== 'non-finite-loss' &&
      c.stoppedReason !== 'aborted' &&
      Number.isFinite(c.validation_mse),
  );
  const lowest = Math.min(...eligible.map((c) => c.validation_mse));
  const winner = eligible
    .filter((c) => c.validation_mse <= lowest * (1 + TIE_TOLERANCE))
    .reduce<LadderCandidate | null>(
      (best, c) => (best === null || simplicity(c.kind) < simplicity(best.kind) ? c : best),
      null,
    );
  const all = candidates.map((c) => `${c.kind} ${c.validation_mse.toFixed(3)}`).join(', ');
  const pct = `${100 * TIE_TOLERANCE}%`;
  return candidates.map((c) => {
    if (c.stoppedReason === 'non-finite-loss')
      return decide(
        false,
        'non-finite-loss',
        'training stopped on a NaN/Infinity loss (never serves)',
        LADDER_RULE,
      );
    if (c.stoppedReason === 'aborted')
      return decide(false, 'partial-run', 'the run was interrupted (--resume finishes it)', LADDER_RULE);
    if (!Number.isFinite(c.validation_mse))
      return decide(false, 'non-finite-loss', 'its validation MSE is not a finite number', LADDER_RULE);
    if (c === winner) {
      const simpler = c.validation_mse > lowest;
      return decide(
        true,
        simpler ? 'simpler-within-1%' : 'best-on-validation',
        simpler
          ? `the simplest model within ${pct} of the lowest validation MSE (${all})`
          : `the lowest validation MSE of the ladder, no simpler model within ${pct} (${all})`,
        LADDER_RULE,
      );
    }
    const w = winner as LadderCandidate;
    const tie = c.validation_mse <= lowest * (1 + TIE_TOLERANCE);
    return decide(
      false,
      'another-serves',
      `${w.kind} serves the stream: ${tie ? `within ${pct} of the lowest validation MSE, as this model is, and simpler` : `this model's validation MSE is not within ${pct} of the lowest`} (${all})`,
      LADDER_RULE,
    );
  });
}

/**
 * Stores `entry` in the registry with the serving decision of `run`: when it serves, it becomes the serving model of
 * its streams (by default the stream it was trained on; other streams keep theirs), and `metrics.serving_decision`
 * ({serving, reason, detail}) says why it serves or not. Returns the decision.
 */
export async function registerModel(
  store: Store,
  entry: Omit<ModelEntry, 'serving'>,
  run: RunOutcome,
): Promise<ServingDecision> {
  const decision = servingDecision(run);
  await registerDecided(store, entry, decision);
  return decision;
}

const decisionJson = (d: ServingDecision) => ({
  serving: d.serving,
  reason: d.reason,
  detail: d.detail,
  rule: d.rule,
});

/** Stores `entry` (of one stream) with a decision already made: it serves its stream when the decision says so. */
export async function registerDecided(
  store: Store,
  entry: Omit<ModelEntry, 'serving'>,
  decision: ServingDecision,
): Promise<void> {
  await store.saveModel({
    ...entry,
    metrics: { ...entry.metrics, serving_decision: decisionJson(decision) },
    serving: decision.serving,
  });
}

/**
 * Stores a global model's entry (registered for every stream of `decisions`) with one decision per stream in
 * `metrics.serving_decisions` and their summary in `metrics.serving_decision`, then makes it the serving model of
 * the streams where it serves. Called again for an entry already stored (a run completed after a crash), it only
 * points those streams at it.
 */
export async function registerGlobal(
  store: Store,
  entry: Omit<ModelEntry, 'serving' | 'streams'>,
  decisions: ReadonlyMap<string, ServingDecision>,
  stored = false,
): Promise<void> {
  const streams = [...decisions.keys()];
  const serves = streams.filter((s) => decisions.get(s)!.serving);
  if (!stored) {
    const summary: ServingDecision = {
      serving: serves.length > 0,
      reason: 'per-stream',
      detail: streams.map((s) => `${s} ${decisions.get(s)!.detail}`).join('; '),
      rule: SINGLE_RULE,
    };
    await store.saveModel({
      ...entry,
      streams,
      metrics: {
        ...entry.metrics,
        serving_decision: decisionJson(summary),
        serving_decisions: Object.fromEntries(streams.map((s) => [s, decisionJson(decisions.get(s)!)])),
      },
      serving: false,
    });
  }
  for (const s of serves) {
    if ((await store.servingModel(s))?.version !== entry.version) await store.setServing(entry.version, s);
  }
}
