// Checked forecasts of live inference: unusable forecasts are skipped and counted, each kind logged once per model
// version; a failing batch is retried window by window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FeatureWindow, Forecaster } from '../features/forecaster.js';
import { ForecastBatches } from './forecasting.js';

const W = [[0, 0, 0, 0, 0, 0, 0]];
/** A forecaster that returns what `answer(last price)` says for each window, and records its calls. */
function scripted(version: string, answer: (price: number) => unknown, refuseBatches = false) {
  const calls: number[] = [];
  const f: Forecaster = {
    version,
    window: 1,
    horizon: 2,
    forecast(windows: readonly FeatureWindow[]) {
      calls.push(windows.length);
      if (refuseBatches && windows.length > 1) throw new Error('no batches');
      return windows.map((w) => answer(w[0][0]) as number[]);
    },
  };
  return { f, calls };
}
const items = (...prices: (number | null)[]) =>
  prices.map((p, seq) => ({ seq, window: p === null ? null : [[p, ...W[0].slice(1)]] }));

function logged() {
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  return {
    warnings,
    logger: {
      info() {},
      error() {},
      warn: (obj: object, msg = '') => warnings.push({ obj: obj as Record<string, unknown>, msg }),
    },
  };
}

describe('ForecastBatches', () => {
  const CASES: [string, (p: number) => unknown, 'nonFinite' | 'forecastErrors', RegExp][] = [
    ['NaN', (p) => (p < 0 ? [1, Number.NaN] : [p, p]), 'nonFinite', /non-finite/],
    ['Infinity', (p) => (p < 0 ? [Number.NEGATIVE_INFINITY, 1] : [p, p]), 'nonFinite', /non-finite/],
    ['too few values', (p) => (p < 0 ? [1] : [p, p]), 'forecastErrors', /not 2 numbers/],
    ['not numbers', (p) => (p < 0 ? ['1', '2'] : [p, p]), 'forecastErrors', /not 2 numbers/],
  ];
  for (const [what, answer, counter, message] of CASES) {
    for (const refuse of [false, true]) {
      it(`skips forecasts with ${what} (${refuse ? 'retried one by one' : 'one batch'}), logs it once`, () => {
        const { f, calls } = scripted('m1', answer, refuse);
        const counts = { forecastErrors: 0, nonFinite: 0 };
        const { warnings, logger } = logged();
        const batches = new ForecastBatches(f, counts, logger, 's');
        const out = batches.start(items(1, -1, null, -2, 3)).finish();
        assert.deepEqual(out, [[1, 1], null, null, null, [3, 3]]);
        assert.equal(counts[counter], 2);
        assert.equal(counts[counter === 'nonFinite' ? 'forecastErrors' : 'nonFinite'], 0);
        assert.deepEqual(calls, refuse ? [4, 1, 1, 1, 1] : [4]);
        batches.start(items(-1)).finish(); // the same model again: counted, not logged again
        assert.equal(counts[counter], 3);
        const mine = warnings.filter((w) => message.test(w.msg));
        assert.equal(mine.length, 1, JSON.stringify(warnings));
        assert.deepEqual([mine[0].obj.model_version, mine[0].obj.stream, mine[0].obj.seq], ['m1', 's', 1]);
        assert.match(mine[0].msg, /model m1 .* after seq 1/);
      });
    }
  }
});
