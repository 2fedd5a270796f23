// What inference counts in the process's Prometheus metrics (src/metrics) beyond one-line increments: forecasts
// once the store's receipt says they are stored, and the latency from a tick to its stored forecast. When to call
// them is the writer's and the resume's business.
import { metrics } from '../metrics/prometheus.js';
import { type RefusedDocument, RefusedDocumentsError } from '../store/receipt.js';
import type { Forecast, WriteReceipt } from '../store/types.js';

const keyOf = (stream: unknown, seq: unknown, model: unknown) => `${stream}\n${seq}\n${model}`;

/**
 * Counts the forecasts of one write that the store took (stored, or stored already), per stream and model version,
 * leaving out the ones it refused. With `tickTimes` (ms, one per forecast: its tick's timestamp), also observes each
 * one's latency from its tick to now, the store's receipt.
 */
export function countStoredForecasts(
  docs: readonly Forecast[],
  refused: readonly RefusedDocument[],
  tickTimes?: readonly number[],
): void {
  const left = new Set(refused.map((r) => keyOf(r.key.stream, r.key.seq, r.key.model_version)));
  const now = Date.now();
  const counts = new Map<string, { stream: string; model: string; n: number }>();
  docs.forEach((doc, i) => {
    if (left.size > 0 && left.has(keyOf(doc.stream, doc.seq, doc.model_version))) return;
    const key = `${doc.stream}\n${doc.model_version}`;
    const c = counts.get(key);
    if (c === undefined) counts.set(key, { stream: doc.stream, model: doc.model_version, n: 1 });
    else c.n += 1;
    if (tickTimes !== undefined) metrics.forecastLatency.observe(Math.max(0, now - tickTimes[i]) / 1000);
  });
  for (const { stream, model, n } of counts.values()) metrics.forecasts.inc({ stream, model }, n);
}

/**
 * Counts the forecasts of a receipt once it settles (see countStoredForecasts); a receipt the store gave up on
 * counts nothing (its writer reports that failure). Never rejects.
 */
export function countForecastsOnReceipt(docs: readonly Forecast[], receipt: WriteReceipt): void {
  receipt.stored().then(
    () => countStoredForecasts(docs, []),
    (error: unknown) => {
      if (error instanceof RefusedDocumentsError) countStoredForecasts(docs, error.refused);
    },
  );
}
