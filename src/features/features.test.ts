// Windows, chronological split, the training-only scaler, baselines and metrics, on hand-checked examples.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { syntheticTicks } from '../indicators/ticks.js';
import { DEFAULT_SOURCE } from '../ticks/generator.js';
import { NaiveForecaster, SeasonalNaiveForecaster } from './forecaster.js';
import { scoreForecasts } from './metrics.js';
import { MinMaxScaler } from './scaler.js';
import { buildWindows, inputRows, rawWindow, splitWindows, targets, tensors } from './windows.js';

const ticks = syntheticTicks(DEFAULT_SOURCE, { start: 0, count: 1000, origin: new Date(0) });

describe('windows', () => {
  it('start at the first tick where all six indicators are defined, with the next 5 prices as targets', () => {
    const set = buildWindows(ticks, 60, 5);
    assert.equal(set.seqs[0], 24);
    assert.equal(set.count, 1000 - 24 - 60 - 5 + 1);
    const w = rawWindow(set, 3);
    assert.equal(w.length, 60);
    assert.deepEqual(w[0], [ticks[27].price, ...Object.values(ticks[27].indicators)]);
    assert.deepEqual(
      targets(set, 3),
      ticks.slice(24 + 3 + 60, 24 + 3 + 65).map((t) => t.price),
    );
  });

  it('refuse a gap in the ticks', () => {
    const gap = [...ticks.slice(0, 100), ...ticks.slice(101, 200)];
    assert.throws(() => buildWindows(gap, 60, 5), {
      code: 'BYNER_INPUT',
      message: /not consecutive at seq 99 → 101/,
    });
  });

  it('split 70/10/20 in time order and refuse too few windows', () => {
    assert.deepEqual(splitWindows(1000), { train: [0, 700], validation: [700, 800], test: [800, 1000] });
    assert.throws(() => splitWindows(3), { code: 'BYNER_INPUT' });
    assert.throws(() => splitWindows(100, { train: 0.8, validation: 0.3, test: 0.2 }), {
      code: 'BYNER_CONFIG',
    });
  });

  it('fit the scaler on training input rows only, then scale every part with it', () => {
    const set = buildWindows(ticks, 60, 5);
    const split = splitWindows(set.count);
    const rows = inputRows(set, split.train);
    assert.equal(rows.length / 7, split.train[1] - 1 + 60);
    const scaler = MinMaxScaler.fit(rows, 7);
    // The scaler has not seen a test row: a test value beyond the training range maps outside [0, 1].
    const s = MinMaxScaler.fit(new Float64Array([0, 10, 5, 20]), 2);
    assert.deepEqual([s.scale(5, 0), s.scale(30, 1)], [1, 2]);
    const { x, y, n } = tensors(set, split.test, (r, out, off) => scaler.transform(r, out, off));
    assert.equal(n, split.test[1] - split.test[0]);
    assert.equal(x.length, n * 60 * 7);
    assert.deepEqual(Array.from(y.subarray(0, 5)), targets(set, split.test[0]));
    assert.ok(Math.abs(x[0] - scaler.scale(set.rows[split.test[0] * 7], 0)) < 1e-6);
    const back = MinMaxScaler.fromJSON(JSON.parse(JSON.stringify(scaler)));
    assert.deepEqual(back.toJSON(), scaler.toJSON());
    assert.throws(() => MinMaxScaler.fromJSON({ kind: 'minmax', min: [1], max: [] }), {
      code: 'BYNER_MODEL',
    });
  });
});

describe('baselines and metrics', () => {
  const window = Array.from({ length: 12 }, (_, i) => [i * 10, 0, 0, 0, 0, 0, 0]);
  it('naive repeats the last value; seasonal naive takes the value one season before each target', () => {
    assert.deepEqual(new NaiveForecaster(5).forecast([window]), [[110, 110, 110, 110, 110]]);
    // Last row is index 11 (tick L). Season 10: tick L+h ← tick L+h−10 = row 1+h.
    assert.deepEqual(new SeasonalNaiveForecaster(5, 10).forecast([window]), [[20, 30, 40, 50, 60]]);
    // Season 3 < horizon 5: h=4 reuses h=1's source one season further back.
    assert.deepEqual(new SeasonalNaiveForecaster(5, 3).forecast([window]), [[90, 100, 110, 90, 100]]);
    assert.throws(() => new NaiveForecaster(5).forecast([[[1, 2]]]), { code: 'BYNER_SHAPE' });
    assert.throws(() => new NaiveForecaster(5).forecast([[[Number.NaN, 0, 0, 0, 0, 0, 0]]]), {
      code: 'BYNER_NOT_FINITE',
    });
  });

  it('score per horizon: raw and rounded MSE/MAE and exact-match accuracy (hand-computed)', () => {
    const m = scoreForecasts(
      [
        [1.4, 2.6],
        [3, 0.5],
      ],
      [
        [1, 2],
        [2, 1],
      ],
    );
    // h1: errors 0.4, 1 → mse (0.16+1)/2 = 0.58, mae 0.7; rounded 1, 3 → errors 0, 1 → mse 0.5, acc 0.5.
    // h2: errors 0.6, −0.5 → mse (0.36+0.25)/2 = 0.305, mae 0.55; rounded 3, 0 (half to even) → errors 1, −1.
    assert.deepEqual(
      [m.mse, m.mae, m.mse_rounded, m.mae_rounded, m.accuracy].map((a) => a.map((v) => Number(v.toFixed(6)))),
      [
        [0.58, 0.305],
        [0.7, 0.55],
        [0.5, 1],
        [0.5, 1],
        [0.5, 0],
      ],
    );
    assert.throws(() => scoreForecasts([[1]], []), { code: 'BYNER_SHAPE' });
  });
});
