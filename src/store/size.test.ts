// Checks the backlog size estimates against what V8 really holds for the same documents (heap growth over 5,000
// of them after a full GC): of the right magnitude, and never below it by much.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeTick } from './contract.js';
import { forecastBytes, metricsBytes, TICK_BYTES } from './size.js';
import type { Forecast, MetricsDoc } from './types.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap bytes per document held, over `n` documents. */
function heapPerDoc(make: (i: number) => unknown, n = 5000): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const held = Array.from({ length: n }, (_, i) => make(i));
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  assert.equal(held.length, n);
  return bytes / n;
}

const forecast = (seq: number): Forecast => ({
  timestamp: new Date(seq * 1000),
  input_sequence: Array.from({ length: 60 }, (_, r) => [r + 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, seq + 0.5]),
  forecast: [1.5, 2.5, 3.5, 4.5, seq + 0.5],
  model_version: 'v1',
  seq,
  stream: 'synthetic',
});

const metrics = (i: number): MetricsDoc => ({
  timestamp: new Date(i),
  metrics: { mse: [1.5, 2.5, 3.5, 4.5, i], mae: [1, 2, 3, 4, 5], accuracy: [0.5, 0.5, 0.5, 0.5, 0.5] },
  forecast_horizon: 5,
  model_version: 'v1',
  stream: 'synthetic',
  scored: i,
});

describe('backlog size estimates', () => {
  const cases: [string, (i: number) => unknown, number][] = [
    ['tick', (i) => makeTick(i), TICK_BYTES],
    ['forecast (60×7 window)', forecast, forecastBytes(forecast(0))],
    ['metrics document', metrics, metricsBytes(metrics(0))],
  ];
  for (const [what, make, estimate] of cases) {
    it(`estimates a ${what} at 0.9 to 2.5 times what V8 holds for it`, () => {
      const measured = heapPerDoc(make);
      const ratio = estimate / measured;
      assert.ok(ratio >= 0.9 && ratio <= 2.5, `estimate ${estimate} bytes, measured ${measured.toFixed(0)}`);
    });
  }
});
