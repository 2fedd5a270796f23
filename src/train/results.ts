// What a training run stores besides the registry entry: every test window's forecast (`tr_predictions`) and its
// scores (`tr_metrics`), written so that a run completed after a crash stores nothing twice. Computing the
// forecasts and scores is the caller's.
import {
  allStored,
  type MetricsDoc,
  type Store,
  type TrainingPrediction,
  type WriteReceipt,
} from '../store/index.js';

/** One registered model's test results. */
export interface TestResults {
  version: string;
  /** In a fixed order: what an earlier attempt stored is a prefix of them. */
  predictions: TrainingPrediction[];
  /** One document per stream the model was scored on (each with `stream` when the model has several). */
  metrics: MetricsDoc[];
}

/**
 * Writes the results and waits until they are stored. With `completing` (the version was registered by an earlier
 * attempt of this run), skips the predictions and metrics documents that attempt stored.
 */
export async function storeTestResults(store: Store, r: TestResults, completing: boolean): Promise<void> {
  const storedPreds = completing ? (await store.trainingPredictions(r.version)).length : 0;
  const receipts: WriteReceipt[] = [];
  for (let i = storedPreds; i < r.predictions.length; i += 500) {
    receipts.push(await store.writeTrainingPredictions(r.predictions.slice(i, i + 500)));
  }
  for (const doc of r.metrics) {
    const stream = typeof doc.stream === 'string' ? doc.stream : undefined;
    const stored =
      completing &&
      (await store.recentMetrics('tr_metrics', 1, { modelVersion: r.version, stream })).length > 0;
    if (!stored) receipts.push(await store.writeMetrics('tr_metrics', [doc]));
  }
  await allStored(receipts); // these writes stored, or their failure reported here
}
