// Estimated memory of documents held for writing (write backlogs are bounded in bytes): arithmetic on their known
// shapes, never a serialization. Measured in V8's heap: a tick ≈ 380 bytes (≈ 640 as a MongoDB document, with its
// ObjectId and BSON doubles), a forecast with its 60×7 window ≈ 7,000. Exactness is not the point; bounds are.

import type { Forecast, MetricsDoc, TrainingPrediction } from './types.js';

/** Default bound of each write backlog (`--max-backlog-mb`). */
export const DEFAULT_BACKLOG_BYTES = 64 * 2 ** 20;

/** A tick, as held by a writer or as a MongoDB document. */
export const TICK_BYTES = 640;
/** A document's object, dates, strings and short arrays. */
const DOC_BYTES = 400;

/** A (rows, cols) number[][]: per row an array object and its doubles. */
const rowsBytes = (rows: readonly (readonly number[])[]): number =>
  rows.length * (56 + 8 * (rows[0]?.length ?? 0));

export const forecastBytes = (f: Forecast): number =>
  DOC_BYTES + rowsBytes(f.input_sequence) + 8 * f.forecast.length;

export const predictionBytes = (p: TrainingPrediction): number =>
  DOC_BYTES +
  rowsBytes(p.input_sequence) +
  8 * (p.true_next_sequence.length + p.predicted_next_sequence.length);

/** Metrics documents have free-form extra fields: a shallow walk (they are written once per batch, not per tick). */
export const metricsBytes = (m: MetricsDoc): number => 64 + valueBytes(m, 0);

/** V8's footprint, roughly: 32 per object or array, 8 per slot, 16 per boxed number, strings by length. */
function valueBytes(v: unknown, depth: number): number {
  if (typeof v === 'string') return 16 + v.length;
  if (v instanceof Date) return 32;
  if (typeof v !== 'object' || v === null || depth > 8) return 16;
  let n = 32;
  if (Array.isArray(v)) for (const x of v) n += typeof x === 'number' ? 8 : 8 + valueBytes(x, depth + 1);
  else for (const x of Object.values(v)) n += 8 + valueBytes(x, depth + 1);
  return n;
}
