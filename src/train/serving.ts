// Which newly trained model becomes the serving one of its stream, and why: the rule, and the registry entry that
// records the decision. Keeping one serving model per stream and storing entries are the store's (saveModel, setServing).
import type { StopReason } from '../engine/index.js';
import type { ModelEntry, Store } from '../store/index.js';

/** Why a model serves (`beats-baseline`, `forced`) or does not (the others), as recorded in its entry. */
export type ServingReason =
  | 'beats-baseline'
  | 'forced'
  | 'worse-than-baseline'
  | 'partial-run'
  | 'non-finite-loss';

export interface ServingDecision {
  serving: boolean;
  reason: ServingReason;
  /** The same in a sentence, with the validation MSEs compared. */
  detail: string;
}

export interface RunOutcome {
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
  return decide(
    false,
    'worse-than-baseline',
    `THE LSTM IS WORSE THAN THE SEASONAL-NAIVE BASELINE on validation ${mses}; --force serves it anyway`,
  );
}

const decide = (serving: boolean, reason: ServingReason, why: string): ServingDecision => ({
  serving,
  reason,
  detail: `${serving ? 'serves' : 'does NOT serve'}: ${why}`,
});

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
  await store.saveModel({
    ...entry,
    metrics: {
      ...entry.metrics,
      serving_decision: { serving: decision.serving, reason: decision.reason, detail: decision.detail },
    },
    serving: decision.serving,
  });
  return decision;
}
