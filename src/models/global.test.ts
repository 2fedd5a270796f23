// Global models and per-stream scalers: the pooled data (each stream scaled by a scaler fitted on its own training
// windows), a model fitted on three streams of very different levels forecasting each in its own range, its
// registry form (one scaler per stream) loaded per stream, the errors for a missing or unknown stream, entries with
// one scaler (every entry before global models) loading for any stream, and what is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noisySine } from '../../test/helpers/series.js';
import { FEATURES } from '../features/forecaster.js';
import { ErrorAccumulator, mean } from '../features/metrics.js';
import { MinMaxScaler } from '../features/scaler.js';
import { buildWindows, inputRows, rawWindow, splitWindows } from '../features/windows.js';
import { fitData, scaledWindows, targetValues } from './data.js';
import { GlobalModel, globalEntry, IDENTITY_SCALER, pooledFitData, type StreamPart } from './global.js';
import { entryFromSaved, loadSavedModel, newModel, savedFromEntry } from './registry.js';
import { isPerStream } from './scalers.js';

const WINDOW = 15;
const HORIZON = 3;
const shape = { window: WINDOW, horizon: HORIZON };
/** Three streams whose prices lie far apart: near 0, near 1,000 (wider), near −20,000 (narrower). */
const LEVELS = [
  { stream: 'low', level: 0, amplitude: 8, noise: 1 },
  { stream: 'high', level: 1000, amplitude: 60, noise: 6 },
  { stream: 'deep', level: -20_000, amplitude: 0.5, noise: 0.05 },
];
const parts: StreamPart[] = LEVELS.map(({ stream, ...o }, k) => {
  const set = buildWindows(noisySine(stream, 500 + 40 * k, { ...o, seed: k + 1 }), WINDOW, HORIZON);
  const split = splitWindows(set.count);
  return { stream, set, train: split.train, validation: split.validation };
});
const testRange = (p: StreamPart): [number, number] => [p.validation![1], p.set.count];
const range = (r: readonly [number, number]): [number, number] => [r[0], r[1]];
const pricesOf = (p: StreamPart) =>
  Array.from({ length: p.set.rows.length / FEATURES }, (_, r) => p.set.rows[r * FEATURES]);

describe('pooled data of several streams', () => {
  it('scales each stream by a scaler fitted on its own training windows, and stacks them in order', () => {
    const { data, scalers } = pooledFitData(parts);
    assert.deepEqual([...scalers.keys()], ['low', 'high', 'deep']);
    for (const p of parts) {
      const own = MinMaxScaler.fit(inputRows(p.set, range(p.train)), FEATURES);
      assert.ok(scalers.get(p.stream)!.equals(own), `${p.stream}: fitted on its training rows only`);
    }
    const n = (r: readonly [number, number] | null | undefined) => (r ? r[1] - r[0] : 0);
    assert.equal(
      data.train.x.n,
      parts.reduce((a, p) => a + n(p.train), 0),
    );
    assert.equal(
      data.validation?.x.n,
      parts.reduce((a, p) => a + n(p.validation), 0),
    );
    assert.ok(data.train.x.scaler.equals(IDENTITY_SCALER), 'pooled windows are scaled already');
    // The second stream's first training window is its own scaler's scaling of its raw rows.
    const at = n(parts[0].train);
    const per = WINDOW * FEATURES;
    const own = scaledWindows(parts[1].set, [0, 1], scalers.get('high')!);
    assert.deepEqual(data.train.x.x.subarray(at * per, (at + 1) * per), own.x);
    assert.ok(
      Array.from(data.train.x.x).every((v) => v > -0.5 && v < 1.5),
      'every stream in the unit range',
    );
  });

  it('refuses a stream twice, no stream, and streams of different window shapes', () => {
    assert.throws(() => pooledFitData([parts[0], parts[0]]), {
      code: 'BYNER_INPUT',
      message: /invalid stream/,
    });
    assert.throws(() => pooledFitData([]), { code: 'BYNER_INPUT' });
    const other = { ...parts[1], set: buildWindows(noisySine('x', 300, LEVELS[1]), 10, HORIZON) };
    assert.throws(() => pooledFitData([parts[0], { ...other, train: [0, 100], validation: null }]), {
      code: 'BYNER_INPUT',
    });
  });
});

describe('a global linear model of three streams at very different levels', async () => {
  const { model } = await GlobalModel.fit(newModel('linear', shape), parts);
  const entry = await model.save();

  it('forecasts each stream in its own range, with its own scaler', async () => {
    for (const p of parts) {
      const view = await model.forStream(p.stream);
      assert.ok(view.scaler?.equals(model.scalers.get(p.stream)!), `${p.stream}: its scaler`);
      const live = await view.forecaster('global');
      const windows = [];
      for (let w = testRange(p)[0]; w < testRange(p)[1]; w += 7) windows.push(rawWindow(p.set, w));
      const prices = pricesOf(p);
      const [lo, hi] = [Math.min(...prices), Math.max(...prices)];
      const margin = 0.25 * (hi - lo);
      for (const f of live.forecast(windows).flat()) {
        assert.ok(f > lo - margin && f < hi + margin, `${p.stream}: forecast ${f} outside ${lo}..${hi}`);
      }
      // Close to the stream's own prices: its test MSE is far below the variance of its prices (a wrong scaler
      // would put the forecasts at another stream's level).
      const x = scaledWindows(p.set, testRange(p), view.scaler!);
      const mse = mean(
        new ErrorAccumulator(HORIZON).add(view.predict(x), targetValues(p.set, testRange(p)), x.n).result()
          .mse,
      );
      const mu = mean(prices);
      const variance = mean(prices.map((v) => (v - mu) ** 2));
      assert.ok(mse < 0.2 * variance, `${p.stream}: test MSE ${mse} vs price variance ${variance}`);
    }
  });

  it('is registered with one scaler per stream and loads, per stream, the forecasts it makes', async () => {
    assert.ok(isPerStream(entry.scaler));
    assert.deepEqual(Object.keys((entry.scaler as { streams: object }).streams), ['low', 'high', 'deep']);
    assert.deepEqual(
      [entry.config.kind, entry.config.global, entry.config.streams],
      ['linear', true, ['low', 'high', 'deep']],
    );
    for (const p of parts) {
      const loaded = await loadSavedModel(savedFromEntry({ version: 'g', ...entry }, p.stream));
      const x = scaledWindows(p.set, testRange(p), loaded.scaler!);
      assert.deepEqual(loaded.predict(x), (await model.forStream(p.stream)).predict(x));
    }
  });

  it('needs the stream it forecasts: none, or one it was not fitted on, is refused with its streams', () => {
    assert.throws(() => savedFromEntry({ version: 'g', ...entry }), {
      code: 'BYNER_MODEL',
      message:
        /model g is a global model: its forecasts need the stream[\s\S]*expected: one of its streams: low, high, deep/,
    });
    assert.throws(() => savedFromEntry({ version: 'g', ...entry }, 'other'), {
      code: 'BYNER_MODEL',
      message: /model g has no scaler for stream other[\s\S]*hint: use a model registered for other/,
    });
  });
});

describe('entries with one scaler', () => {
  it('load for any stream, the same model as without a stream', async () => {
    const m = newModel('linear', shape);
    const p = parts[0];
    await m.fit(fitData(p.set, p));
    const form = entryFromSaved(await m.save());
    const plain = savedFromEntry({ version: 'one', ...form });
    assert.deepEqual(savedFromEntry({ version: 'one', ...form }, 'any-stream'), plain);
    assert.deepEqual(savedFromEntry({ version: 'one', ...form }, 'low'), plain);
  });
});

describe('what a global model refuses', () => {
  it('a baseline kind', async () => {
    await assert.rejects(GlobalModel.fit(newModel('naive', shape), parts), {
      code: 'BYNER_CONFIG',
      message: /a global model cannot be of kind naive/,
    });
  });

  it('an inner model not fitted on pooled windows', async () => {
    const m = newModel('seasonal_naive', shape);
    const p = parts[0];
    const scaler = MinMaxScaler.fit(inputRows(p.set, range(p.train)), FEATURES);
    const x = scaledWindows(p.set, p.train, scaler);
    await m.fit({ train: { x, y: new Float64Array(x.n * HORIZON), horizon: HORIZON } });
    await assert.rejects(async () => globalEntry(await m.save(), new Map([['low', scaler]])), {
      code: 'BYNER_STATE',
      message: /not fitted on pooled windows/,
    });
  });
});
