// Walk-forward backtests: the fold layout by hand, one fit per fold on strictly growing data (or one fit), no
// look-ahead (perturbing everything after a fold's first forecast changes nothing the fold forecast from what it
// knew; with several streams, for a global model too), the scores, and the ladder on a random walk and on a
// seasonal series.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mean } from '../features/metrics.js';
import { buildWindows } from '../features/windows.js';
import { syntheticTicks, ticksFromPrices } from '../indicators/ticks.js';
import { NaiveModel } from '../models/baselines.js';
import type { FitData } from '../models/data.js';
import type { ModelShape } from '../models/model.js';
import type { ModelSpec } from '../models/registry.js';
import { DEFAULT_SOURCE, generatePrices } from '../ticks/generator.js';
import { seedKey, standardNormal } from '../ticks/noise.js';
import {
  type BacktestModel,
  backtest,
  historicalForecasts,
  scoreBacktest,
  streamForecasts,
} from './backtest.js';
import { planFolds } from './folds.js';

const origin = new Date(0);
const synthetic = (count: number, source = DEFAULT_SOURCE) =>
  syntheticTicks(source, { start: 0, count, origin });
const TINY_LSTM: ModelSpec = {
  kind: 'lstm',
  options: { network: { layers: [{ units: 6 }], dropout: 0, seed: 3 }, fit: { epochs: 1, workers: 1 } },
};
const LADDER: ModelSpec[] = [{ kind: 'naive' }, { kind: 'seasonal_naive' }, { kind: 'linear' }, TINY_LSTM];

/** A Gaussian random walk (σ = 1 per tick), not rounded: prices that are not integers. */
function randomWalk(count: number, seed: number): Float64Array {
  const p = new Float64Array(count);
  for (let t = 1; t < count; t++) p[t] = p[t - 1] + standardNormal(seedKey(seed), t);
  return p;
}

describe('fold layout', () => {
  it('K equal folds over the latest windows; training and validation end where their targets reach the fold', () => {
    // 136 ticks − 24 warm-up = 112 rows → 112 − 10 − 3 + 1 = 100 windows of 10 (horizon 3).
    const set = buildWindows(synthetic(136), 10, 3);
    assert.equal(set.count, 100);
    const folds = planFolds(set, { folds: 2 });
    // 20 windows forecast in 2 folds of 10. Fold 0 starts at 80: windows ≤ 77 have every target at or before
    // the fold's first forecast (window w's last target is row w + 12; the fold forecasts after row 89), so 78
    // are usable: validation floor(78 / 8) = 9 → [69, 78), training up to 69 − 3 + 1 = 67.
    assert.deepEqual(
      folds.map((f) => [f.train.windows, f.validation?.windows, f.test.windows]),
      [
        [
          [0, 67],
          [69, 78],
          [80, 90],
        ],
        [
          [0, 75],
          [77, 88],
          [90, 100],
        ],
      ],
    );
    // Seqs: first tick read (row 0 = seq 24) .. last tick forecast (row 66 + 12 = 78 → seq 102).
    assert.deepEqual(folds[0].train.seqs, [24, 102]);
    assert.deepEqual(folds[1].test.seqs, [24 + 90, 24 + 99 + 12]);
    for (const f of folds) {
      const firstForecastAfter = f.test.windows[0] + 9; // row of the fold's first window's last input
      assert.ok(f.validation!.windows[1] - 1 + 12 <= firstForecastAfter);
      assert.ok(f.train.windows[1] - 1 + 12 <= f.validation!.windows[0] + 9);
    }
    assert.deepEqual(
      planFolds(set, { folds: 1, testShare: 0.1, validationShare: 0 }).map((f) => [
        f.train.windows,
        f.validation,
      ]),
      [[[0, 88], null]],
    );
  });

  it('refuses bad options and too little data, saying what it needs', () => {
    const set = buildWindows(synthetic(136), 10, 3);
    for (const [options, code] of [
      [{ folds: 0 }, 'BYNER_CONFIG'],
      [{ folds: 1.5 }, 'BYNER_CONFIG'],
      [{ folds: 2, testShare: 1 }, 'BYNER_CONFIG'],
      [{ folds: 2, validationShare: -0.1 }, 'BYNER_CONFIG'],
      [{ folds: 21 }, 'BYNER_INPUT'],
      [{ folds: 1, testShare: 0.99 }, 'BYNER_INPUT'],
    ] as const) {
      assert.throws(() => planFolds(set, options), { code }, JSON.stringify(options));
    }
  });
});

/** Naive, recording what every fit was given. */
function spy(): { model: BacktestModel; calls: { train: number; validation: number; scalerRows: number }[] } {
  const calls: { train: number; validation: number; scalerRows: number }[] = [];
  class SpyModel extends NaiveModel {
    override fit(data: FitData) {
      calls.push({
        train: data.train.x.n,
        validation: data.validation?.x.n ?? 0,
        scalerRows: data.train.x.scaler.fittedRows,
      });
      return super.fit(data);
    }
  }
  return { model: { name: 'spy', create: (shape: ModelShape) => new SpyModel(shape) }, calls };
}

describe('walk-forward fitting', () => {
  const ticks = synthetic(1200);

  it('K folds: K fits on strictly growing training data, the scaler fitted on the training rows alone', async () => {
    const { model, calls } = spy();
    const set = buildWindows(ticks, 20, 5);
    const hf = await historicalForecasts(set, { folds: 4, models: [model] });
    assert.equal(calls.length, 4);
    calls.forEach((c, k) => {
      assert.equal(c.train, hf.folds[k].train.windows[1]);
      assert.equal(c.scalerRows, c.train + 20 - 1, 'input rows of the training windows');
      assert.ok(c.validation > 0);
      if (k > 0) assert.ok(c.train > calls[k - 1].train, 'training data grows');
    });
    assert.deepEqual(
      hf.models[0].folds.map((f) => f.predicted.length),
      hf.folds.map((f) => (f.test.windows[1] - f.test.windows[0]) * 5),
    );
  });

  it("refit 'once' fits once, on the data before the first fold, and forecasts every fold with that fit", async () => {
    const { model, calls } = spy();
    const r = await backtest(ticks, {
      window: 20,
      folds: 4,
      refit: 'once',
      models: [model, { kind: 'naive' }],
    });
    assert.equal(calls.length, 1);
    assert.equal(calls[0].train, r.folds[0].train.windows[1]);
    assert.equal(r.models[0].fits.filter((f) => f !== null).length, 1);
    assert.deepEqual(r.models[0].overall.mse, r.models[1].overall.mse, 'a spy is naive');
    assert.ok(r.models[0].folds.slice(1).every((s) => s.fit_seconds === 0));
  });

  it('refuses a model list without distinct names and an unknown refit, and stops when aborted', async () => {
    const set = buildWindows(ticks, 20, 5);
    await assert.rejects(historicalForecasts(set, { folds: 2, models: [] }), { code: 'BYNER_CONFIG' });
    await assert.rejects(
      historicalForecasts(set, { folds: 2, models: [{ kind: 'naive' }, { kind: 'naive' }] }),
      {
        code: 'BYNER_CONFIG',
        message: /"naive" twice/,
      },
    );
    await assert.rejects(
      historicalForecasts(set, { folds: 2, models: [{ kind: 'naive' }], refit: 'sometimes' as never }),
      { code: 'BYNER_CONFIG' },
    );
    await assert.rejects(
      historicalForecasts(set, { folds: 2, models: [{ kind: 'naive' }], signal: AbortSignal.abort() }),
      { code: 'BYNER_STATE', message: /aborted at fold 0/ },
    );
  });

  it('stops at the next step when aborted from another task (a Ctrl-C handler) while it runs', async () => {
    // A signal handler or a timer runs only when the event loop turns: the backtest must let it between steps.
    const set = buildWindows(ticks, 20, 5);
    const abort = new AbortController();
    const steps: string[] = [];
    await assert.rejects(
      historicalForecasts(set, {
        folds: 3,
        models: [{ kind: 'naive' }, { kind: 'seasonal_naive' }],
        signal: abort.signal,
        onStep: (s) => {
          steps.push(`${s.fold} ${s.model} ${s.step}`);
          if (steps.length === 1) setImmediate(() => abort.abort());
        },
      }),
      { code: 'BYNER_STATE', message: /aborted at fold 0 of 3/ },
    );
    assert.deepEqual(steps, ['0 naive fit', '0 naive forecast']);
  });

  it('no look-ahead: changing every price after a fold’s first forecast changes none of what it forecast before', async () => {
    // The later prices jump to ≈ 1000× their level: a scaler or a training target that saw any of them would
    // move the forecasts of everything fitted for the fold.
    const WINDOW = 20;
    const prices = generatePrices(DEFAULT_SOURCE, 0, 1200);
    const set = buildWindows(ticksFromPrices(prices, { start: 0, origin }), WINDOW, 5);
    const options = { folds: 3, models: LADDER };
    const base = await historicalForecasts(set, options);
    for (const fold of base.folds) {
      const k = fold.fold;
      const cut = set.seqs[fold.test.windows[0] + WINDOW - 1]; // the last tick known at the fold's first forecast
      const changed = prices.map((p, t) => (t > cut ? 1000 * p + 5000 : p));
      const other = await historicalForecasts(
        buildWindows(ticksFromPrices(changed, { start: 0, origin }), WINDOW, 5),
        options,
      );
      base.models.forEach((m, i) => {
        const o = other.models[i].folds;
        for (let j = 0; j < k; j++)
          assert.deepEqual(o[j].predicted, m.folds[j].predicted, `${m.name}, fold ${j}`);
        assert.deepEqual(
          o[k].predicted.subarray(0, 5),
          m.folds[k].predicted.subarray(0, 5),
          `${m.name}, fold ${k}`,
        );
      });
      // The change is visible as soon as a window reads it: the test can see a leak.
      const naive = (h: typeof base) => h.models[0].folds[k].predicted;
      assert.notDeepEqual(naive(other).subarray(5), naive(base).subarray(5));
    }
  });

  it('several streams: a global model sees no stream’s prices after a fold’s first forecast; per-stream models only their own', async () => {
    const WINDOW = 20;
    const a = generatePrices(DEFAULT_SOURCE, 0, 1200);
    const b = generatePrices({ ...DEFAULT_SOURCE, seed: 9 }, 0, 1200).map((p) => 3 * p + 100);
    const streams = (pb: ArrayLike<number>) =>
      [
        ['a', a],
        ['b', pb],
      ].map(([stream, prices]) => ({
        stream: stream as string,
        set: buildWindows(ticksFromPrices(prices as ArrayLike<number>, { start: 0, origin }), WINDOW, 5),
      }));
    const options = {
      folds: 3,
      models: [{ kind: 'linear' }, { kind: 'linear', global: true }] as BacktestModel[],
    };
    const base = await streamForecasts(streams(b), options);
    assert.deepEqual(
      base[0].models.map((m) => [m.name, m.global]),
      [
        ['linear', false],
        ['global:linear', true],
      ],
    );
    const seqs = streams(b)[1].set.seqs;
    const predicted = (h: typeof base, j: number, i: number) => h[j].models[i].folds.map((f) => f.predicted);
    for (const fold of base[0].folds) {
      const k = fold.fold;
      const cut = seqs[fold.test.windows[0] + WINDOW - 1]; // the last tick known at the fold's first forecast
      const other = await streamForecasts(streams(b.map((p, t) => (t > cut ? 1000 * p + 5000 : p))), options);
      for (const j of [0, 1]) {
        const [before, after] = [predicted(base, j, 1), predicted(other, j, 1)];
        for (let f = 0; f < k; f++) assert.deepEqual(after[f], before[f], `stream ${j}, fold ${f}`);
        assert.deepEqual(after[k].subarray(0, 5), before[k].subarray(0, 5), `stream ${j}, fold ${k}`);
      }
      // Stream a's own model never sees b; the global model does, from the fold after the change on.
      assert.deepEqual(predicted(other, 0, 0), predicted(base, 0, 0));
      if (k < 2) assert.notDeepEqual(predicted(other, 0, 1)[2], predicted(base, 0, 1)[2]);
    }
  });
});

describe('backtest scores', () => {
  it('per fold and pooled: MSE, MAE, MASE against the fold’s in-sample naive MAE, timings; JSON', async () => {
    const ticks = synthetic(1200);
    const set = buildWindows(ticks, 20, 5);
    const hf = await historicalForecasts(set, {
      folds: 2,
      models: [{ kind: 'naive' }, { kind: 'seasonal_naive' }],
    });
    const r = scoreBacktest(set, hf);
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
    for (const m of r.models) {
      m.folds.forEach((s, k) => {
        const scale = r.folds[k].mase_scale!;
        s.mase.forEach((v, h) => {
          assert.ok(Math.abs(v! - s.mae[h] / scale) < 1e-12);
        });
        assert.equal(s.count, hf.folds[k].test.windows[1] - hf.folds[k].test.windows[0]);
      });
      // Equal folds: the pooled MSE is the mean of the folds'.
      m.overall.mse.forEach((v, h) => {
        assert.ok(Math.abs(v - (m.folds[0].mse[h] + m.folds[1].mse[h]) / 2) < 1e-12);
      });
      assert.equal(m.overall.accuracy?.length, 5, 'integer prices: accuracy');
      assert.ok(m.overall.fit_seconds >= 0 && m.overall.forecast_seconds >= 0);
    }
    // The in-sample one-step naive MAE of the first fold's training prices, by hand.
    const last = r.folds[0].train.windows[1] - 1 + 20 + 5 - 1;
    const prices = set.rows.filter((_, i) => i % 7 === 0).subarray(0, last + 1);
    let sum = 0;
    for (let t = 1; t < prices.length; t++) sum += Math.abs(prices[t] - prices[t - 1]);
    assert.equal(r.folds[0].mase_scale, sum / (prices.length - 1));
  });

  it('on a seasonal series seasonal naive beats naive at every horizon (and is exact without noise)', async () => {
    for (const noise of [DEFAULT_SOURCE.noise, 0]) {
      const r = await backtest(synthetic(1500, { ...DEFAULT_SOURCE, noise }), {
        window: 30,
        folds: 2,
        models: [{ kind: 'naive' }, { kind: 'seasonal_naive' }],
      });
      const [naive, seasonal] = r.models;
      seasonal.overall.mse.forEach((v, h) => {
        assert.ok(v < naive.overall.mse[h], `noise ${noise}, h${h + 1}`);
      });
      if (noise === 0) assert.deepEqual(seasonal.overall.mse, [0, 0, 0, 0, 0]);
    }
  });

  it('on a random walk naive has the best mean validation MSE of the ladder, and accuracy is null (prices not integers)', async () => {
    // Naive is the Bayes forecast of a random walk; on a finite validation part chance can favour another model at
    // one horizon, so the comparison is of the mean over horizons (what a choice between models compares).
    for (const seed of [1, 2, 3]) {
      const ticks = ticksFromPrices(randomWalk(6000, seed), { start: 0, origin });
      const r = await backtest(ticks, { window: 20, folds: 1, models: LADDER });
      const validation = r.models.map((m) => mean(m.fits[0]!.validation_mse!));
      const [naive, ...others] = validation;
      others.forEach((v, i) => {
        assert.ok(naive < v, `seed ${seed}: ${r.models[i + 1].name} ${v} ≤ naive ${naive}`);
      });
      assert.ok(r.models.every((m) => m.overall.accuracy === null));
      // One-step naive on a random walk is its own MASE scale's forecast: MASE ≈ 1 at h = 1.
      assert.ok(Math.abs(r.models[0].overall.mase[0]! - 1) < 0.15);
    }
  });
});
