// Checked forecasts of live inference: unusable forecasts are skipped and counted, each kind logged once per model
// version; a failing batch is retried window by window; windows of several streams go to their forecaster together.
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
const items = (forecaster: Forecaster, ...prices: (number | null)[]) =>
  prices.map((p, seq) => ({
    stream: 's',
    seq,
    window: p === null ? null : [[p, ...W[0].slice(1)]],
    forecaster,
  }));

/** Counts of skipped windows, as the pipeline keeps them. */
function skipCounter() {
  const counts = { forecastErrors: 0, nonFinite: 0 };
  return { counts, onSkip: (_item: unknown, kind: 'forecastErrors' | 'nonFinite') => (counts[kind] += 1) };
}

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
        const { counts, onSkip } = skipCounter();
        const { warnings, logger } = logged();
        const batches = new ForecastBatches(logger, onSkip);
        const out = batches.start(items(f, 1, -1, null, -2, 3)).finish();
        assert.deepEqual(out, [[1, 1], null, null, null, [3, 3]]);
        assert.equal(counts[counter], 2);
        assert.equal(counts[counter === 'nonFinite' ? 'forecastErrors' : 'nonFinite'], 0);
        assert.deepEqual(calls, refuse ? [4, 1, 1, 1, 1] : [4]);
        batches.start(items(f, -1)).finish(); // the same model again: counted, not logged again
        assert.equal(counts[counter], 3);
        const mine = warnings.filter((w) => message.test(w.msg));
        assert.equal(mine.length, 1, JSON.stringify(warnings));
        assert.deepEqual([mine[0].obj.model_version, mine[0].obj.stream, mine[0].obj.seq], ['m1', 's', 1]);
        assert.match(mine[0].msg, /model m1 .* after seq 1/);
      });
    }
  }

  it('sends the windows of several streams to their forecaster in one call per forecaster, results in item order', () => {
    const shared = scripted('global', (p) => [p, p + 1]);
    const own = scripted('own', (p) => [-p, -p]);
    const { counts, onSkip } = skipCounter();
    const batches = new ForecastBatches(logged().logger, onSkip);
    const row = (p: number) => [[p, ...W[0].slice(1)]];
    const job = batches.start([
      { stream: 'a', seq: 10, window: row(1), forecaster: shared.f },
      { stream: 'c', seq: 7, window: row(5), forecaster: own.f },
      { stream: 'b', seq: 3, window: row(2), forecaster: shared.f },
      { stream: 'b', seq: 4, window: null, forecaster: shared.f },
      { stream: 'a', seq: 11, window: row(3), forecaster: shared.f },
    ]);
    assert.deepEqual(
      [...job.forecasters].map((f) => f.version),
      ['global', 'own'],
    );
    assert.deepEqual(job.finish(), [[1, 2], [-5, -5], [2, 3], null, [3, 4]]);
    assert.deepEqual(shared.calls, [3], 'the shared model: one call for streams a and b');
    assert.deepEqual(own.calls, [1]);
    assert.deepEqual(counts, { forecastErrors: 0, nonFinite: 0 });
  });
});
