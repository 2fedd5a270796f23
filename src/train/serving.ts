// Which newly trained model becomes the serving one, and why: the rule, and the registry entry that records the
// decision. Keeping at most one serving model and storing entries are the store's (saveModel, setServing).
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

/** The serving rule. */
export function servingDecision(run: RunOutcome): ServingDecision {
  const { model_mse: model, seasonal_naive_mse: baseline } = run.validation;
  const mses = `on validation (MSE ${model.toFixed(3)} vs ${baseline.toFixed(3)})`;
  const better = model < baseline && run.stoppedReason !== 'non-finite-loss';
  if (better) return decide(true, 'beats-baseline', `it beats the seasonal-naive baseline ${mses}`);
  if (run.force) {
    return decide(true, 'forced', `--force, although the seasonal-naive baseline is better ${mses}`);
  }
  return decide(
    false,
    'worse-than-baseline',
    `THE LSTM IS WORSE THAN THE SEASONAL-NAIVE BASELINE ${mses}; --force serves it anyway`,
  );
}

const decide = (serving: boolean, reason: ServingReason, why: string): ServingDecision => ({
  serving,
  reason,
  detail: `${serving ? 'serves' : 'does NOT serve'}: ${why}`,
});

/**
 * Stores `entry` in the registry with the serving decision of `run`: the flag, and `metrics.serving_decision`
 * ({serving, reason, detail}) saying why. Returns the decision.
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
