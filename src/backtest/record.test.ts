// What a backtest leaves behind: the best model, the tr_metrics document (valid for both stores, DESIGN §4's metrics
// shape, non-finite scores as null) and the plotted series, aligned with the seqs they forecast.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mean } from '../features/metrics.js';
import { buildWindows } from '../features/windows.js';
import { syntheticTicks, ticksFromPrices } from '../indicators/ticks.js';
import { validateMetrics } from '../store/validate.js';
import { DEFAULT_SOURCE } from '../ticks/generator.js';
import { historicalForecasts, scoreBacktest } from './backtest.js';
import {
  BACKTEST_KIND,
  type BacktestRecordMeta,
  backtestDocument,
  bestModel,
  fitCount,
  foldErrorRows,
  foldSeries,
} from './record.js';

const ticks = syntheticTicks(DEFAULT_SOURCE, { start: 0, count: 500, origin: new Date(0) });
const set = buildWindows(ticks, 15, 5);
const forecasts = await historicalForecasts(set, {
  folds: 3,
  models: [{ kind: 'naive' }, { kind: 'seasonal_naive' }, { kind: 'linear' }],
});
const result = scoreBacktest(set, forecasts);
const meta: BacktestRecordMeta = {
  backtest_id: 'id-1',
  timestamp: new Date('2026-01-01T00:00:00Z'),
  stream: 'synthetic',
  data_range: { from_seq: 0, to_seq: 499, ticks: 500 },
  fold_options: { folds: 3, testShare: 0.2, validationShare: 0.125 },
};
const priceAt = new Map(ticks.map((t) => [t.seq, t.price]));

describe('the backtest record', () => {
  it('names as best the lowest mean MSE over all folds, and never a model with a non-finite score', () => {
    const means = result.models.map((m) => mean(m.overall.mse));
    assert.equal(bestModel(result).name, result.models[means.indexOf(Math.min(...means))].name);
    assert.equal(bestModel(result).name, 'linear');
    const diverged = structuredClone(result);
    diverged.models[2].overall.mse[0] = Number.NaN;
    assert.equal(bestModel(diverged).name, 'seasonal_naive');
  });

  it('is a tr_metrics document both stores accept: the best model in DESIGN §4 shape, every model and fold beside it', () => {
    const doc = backtestDocument(result, meta);
    validateMetrics([doc], 'test');
    const best = result.models[2];
    assert.deepEqual(
      [doc.kind, doc.model_version, doc.stream, doc.forecast_horizon, doc.best, doc.refit, doc.window],
      [BACKTEST_KIND, 'backtest:linear', 'synthetic', 5, 'linear', 'every', 15],
    );
    assert.deepEqual(doc.metrics, {
      mse: best.overall.mse,
      mae: best.overall.mae,
      accuracy: best.overall.accuracy,
      mase: best.overall.mase,
    });
    assert.deepEqual(doc.folds, JSON.parse(JSON.stringify(result.folds)));
    const models = doc.models as { name: string; fit_count: number; overall: unknown; folds: unknown[] }[];
    assert.deepEqual(
      models.map((m) => [m.name, m.fit_count, m.folds.length]),
      [
        ['naive', 3, 3],
        ['seasonal_naive', 3, 3],
        ['linear', 3, 3],
      ],
    );
    assert.deepEqual(models[1].overall, result.models[1].overall);
    assert.deepEqual(doc.data_range, { stream: 'synthetic', from_seq: 0, to_seq: 499, ticks: 500 });
  });

  it('stores accuracy as nulls for prices that are not integers, and non-finite scores as null', () => {
    const floats = ticksFromPrices(
      ticks.map((t) => t.price + 0.25),
      { start: 0, origin: new Date(0) },
    );
    const fset = buildWindows(floats, 15, 5);
    const r = scoreBacktest(
      fset,
      // the same forecasts scored against the shifted prices
      { ...forecasts, models: forecasts.models.slice(0, 2) },
    );
    r.models[1].folds[0].mae[2] = Number.POSITIVE_INFINITY;
    const doc = backtestDocument(r, meta);
    validateMetrics([doc], 'test');
    assert.deepEqual(doc.metrics.accuracy, [null, null, null, null, null]);
    assert.equal((doc.models as { folds: { mae: unknown[] }[] }[])[1].folds[0].mae[2], null);
  });

  it('counts fits: one per fold with refit every, one with once', async () => {
    assert.deepEqual(result.models.map(fitCount), [3, 3, 3]);
    const once = scoreBacktest(
      set,
      await historicalForecasts(set, { folds: 3, refit: 'once', models: [{ kind: 'naive' }] }),
    );
    assert.equal(fitCount(once.models[0]), 1);
  });

  it('plots each model’s mean MSE per fold', () => {
    assert.deepEqual(
      foldErrorRows(result),
      result.models.map((m) => ({ model: m.name, mse: m.folds.map((f) => mean(f.mse)) })),
    );
  });

  it('plots a fold’s forecasts at the seqs they forecast, against the prices of those seqs', () => {
    const s = foldSeries(set, forecasts, 'naive');
    assert.equal(s.fold, 2);
    const f = result.folds[2];
    const n = f.test.windows[1] - f.test.windows[0];
    assert.equal(s.actual.seqs.length, n + 4);
    assert.deepEqual(s.actual.seqs[0], set.seqs[f.test.windows[0] + 15]);
    assert.deepEqual(s.actual.seqs.at(-1), f.test.seqs[1]);
    for (const [i, seq] of s.actual.seqs.entries())
      assert.equal(s.actual.prices[i], priceAt.get(seq), `seq ${seq}`);
    assert.deepEqual(
      s.forecasts.map((x) => x.horizon),
      [1, 5],
    );
    // The naive forecast h ticks ahead is the price h ticks before the tick it forecasts.
    for (const { horizon, seqs, prices } of s.forecasts) {
      assert.equal(seqs.length, n);
      for (const [i, seq] of seqs.entries())
        assert.equal(prices[i], priceAt.get(seq - horizon), `h${horizon} seq ${seq}`);
    }
    assert.throws(() => foldSeries(set, forecasts, 'lstm'), { code: 'BYNER_INPUT' });
  });
});
