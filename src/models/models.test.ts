// The contract every model kind passes (one table, one suite): input checks, fit once and before predict, the
// scaler travelling with the model, save → load → identical forecasts, and the live Forecaster adapter.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FEATURES } from '../features/forecaster.js';
import { MinMaxScaler } from '../features/scaler.js';
import { buildWindows, rawWindow } from '../features/windows.js';
import { syntheticTicks } from '../indicators/ticks.js';
import { DEFAULT_SOURCE } from '../ticks/generator.js';
import { fitData, type ScaledWindows, scaledWindows } from './data.js';
import { BASELINE_KINDS, KIND_NAMES, MODEL_KINDS, type ModelKind } from './kinds.js';
import type { ForecastModel } from './model.js';
import {
  baselineForecaster,
  entryFromSaved,
  loadSavedModel,
  type ModelSpec,
  newModel,
  savedFromEntry,
} from './registry.js';

const WINDOW = 12;
const HORIZON = 3;
const shape = { window: WINDOW, horizon: HORIZON };
const ticks = syntheticTicks(DEFAULT_SOURCE, { start: 0, count: 400, origin: new Date(0) });
const set = buildWindows(ticks, WINDOW, HORIZON);
// 400 − 24 − 12 − 3 + 1 = 362 windows: train 0..250, validation 250..300, the rest forecast.
const data = fitData(set, { train: [0, 250], validation: [250, 300] });
const later: [number, number] = [300, set.count];

/** One small model of every kind; the LSTM is tiny so that the suite stays quick. */
const SPECS: Record<ModelKind, ModelSpec> = {
  naive: { kind: 'naive' },
  seasonal_naive: { kind: 'seasonal_naive', options: { season: 10 } },
  linear: { kind: 'linear' },
  lstm: {
    kind: 'lstm',
    options: { network: { layers: [{ units: 6 }], dropout: 0, seed: 7 }, fit: { epochs: 2, workers: 1 } },
  },
};

const make = (kind: ModelKind): ForecastModel => newModel(kind, shape, SPECS[kind].options as never);
const models: ForecastModel[] = [];
after(async () => {
  for (const m of models) await m.dispose();
});

const withX = (x: ScaledWindows, patch: Partial<ScaledWindows>): ScaledWindows => ({ ...x, ...patch });

describe('model registry', () => {
  it('names every kind once, baselines first, and refuses unknown ones', async () => {
    assert.deepEqual(KIND_NAMES, ['naive', 'seasonal_naive', 'linear', 'lstm']);
    assert.deepEqual(BASELINE_KINDS, ['naive', 'seasonal_naive']);
    assert.throws(() => newModel('arima' as ModelKind, shape), {
      code: 'BYNER_CONFIG',
      message: /one of naive/,
    });
    await assert.rejects(
      () =>
        loadSavedModel({
          config: { kind: 'arima' as ModelKind, window: 1, horizon: 1 },
          scaler: data.train.x.scaler.toJSON(),
          files: {},
        }),
      { code: 'BYNER_CONFIG' },
    );
  });

  it('serves baselines live without fitting, with the season given', () => {
    const w = rawWindow(set, 5);
    assert.deepEqual(baselineForecaster('naive', 2).forecast([w]), [[w[WINDOW - 1][0], w[WINDOW - 1][0]]]);
    const s = baselineForecaster('seasonal_naive', 1, { season: 4 });
    assert.deepEqual(s.forecast([w]), [[w[WINDOW - 4][0]]]);
  });
});

for (const kind of KIND_NAMES) {
  describe(`model contract: ${kind} (${MODEL_KINDS[kind].baseline ? 'baseline' : 'fitted'})`, () => {
    it('refuses to predict, save or serve before fit (BYNER_NOT_FITTED)', async () => {
      const m = make(kind);
      models.push(m);
      assert.equal(m.fitted, false);
      assert.throws(() => m.predict(data.train.x), {
        code: 'BYNER_NOT_FITTED',
        message: /fit before predict/,
      });
      await assert.rejects(m.save(), { code: 'BYNER_NOT_FITTED' });
      await assert.rejects(m.forecaster('v'), { code: 'BYNER_NOT_FITTED' });
    });

    it('checks shapes, minimum length and finite values before fitting', async () => {
      const m = make(kind);
      models.push(m);
      const x = data.train.x;
      const bad: [string, () => unknown, string][] = [
        [
          'wrong window',
          () => ({ ...data, train: { ...data.train, x: withX(x, { window: WINDOW + 1 }) } }),
          'BYNER_SHAPE',
        ],
        ['wrong horizon', () => ({ ...data, train: { ...data.train, horizon: HORIZON + 1 } }), 'BYNER_SHAPE'],
        [
          'data length',
          () => ({ ...data, train: { ...data.train, x: withX(x, { x: x.x.subarray(1) }) } }),
          'BYNER_SHAPE',
        ],
        [
          'too few windows',
          () => ({
            train: {
              x: withX(x, {
                n: m.minTrainWindows - 1,
                x: x.x.subarray(0, (m.minTrainWindows - 1) * WINDOW * FEATURES),
              }),
              y: data.train.y.subarray(0, (m.minTrainWindows - 1) * HORIZON),
              horizon: HORIZON,
            },
          }),
          'BYNER_INPUT',
        ],
        [
          'NaN input',
          () => {
            const nan = x.x.slice();
            nan[123] = Number.NaN;
            return { ...data, train: { ...data.train, x: withX(x, { x: nan }) } };
          },
          'BYNER_NOT_FINITE',
        ],
        [
          'validation scaled by another scaler',
          () => ({
            ...data,
            validation: {
              ...data.validation!,
              x: withX(data.validation!.x, { scaler: MinMaxScaler.fit(set.rows, 7) }),
            },
          }),
          'BYNER_INPUT',
        ],
      ];
      for (const [what, input, code] of bad) {
        await assert.rejects(m.fit(input() as never), { code }, what);
        assert.equal(m.fitted, false, what);
      }
    });

    it('fits once; forecasts only windows scaled by its own scaler; reports validation MSE', async () => {
      const m = make(kind);
      models.push(m);
      const report = await m.fit(data);
      assert.equal(m.fitted, true);
      assert.equal(m.scaler, data.train.x.scaler);
      assert.equal(report.validation_mse?.length, HORIZON);
      assert.ok(report.validation_mse!.every((v) => Number.isFinite(v) && v >= 0));
      assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'the report is JSON');
      await assert.rejects(m.fit(data), { code: 'BYNER_STATE' });
      const x = scaledWindows(set, later, m.scaler!);
      const y = m.predict(x);
      assert.equal(y.length, x.n * HORIZON);
      assert.ok(y.every(Number.isFinite));
      // The same scaling by an equal scaler is accepted; another scaler is refused.
      const same = MinMaxScaler.fromJSON(m.scaler!.toJSON());
      assert.deepEqual(m.predict(withX(x, { scaler: same })), y);
      assert.throws(() => m.predict(scaledWindows(set, later, MinMaxScaler.fit(set.rows, 7))), {
        code: 'BYNER_INPUT',
        message: /another scaler/,
      });
      assert.throws(() => m.predict(withX(x, { window: WINDOW - 1 })), { code: 'BYNER_SHAPE' });
    });

    it('save → load gives the same forecasts bit for bit, through the registry entry form too', async () => {
      const m = make(kind);
      models.push(m);
      await m.fit(data);
      const saved = await m.save();
      assert.equal(saved.config.kind, kind);
      assert.deepEqual([saved.config.window, saved.config.horizon], [WINDOW, HORIZON]);
      assert.ok(Object.keys(saved.files).length >= 1);
      assert.deepEqual(JSON.parse(JSON.stringify(saved.config)), saved.config, 'config is JSON');
      const x = scaledWindows(set, later, m.scaler!);
      const expected = m.predict(x);
      const entry = { version: `${kind}-1`, ...entryFromSaved(saved) };
      for (const back of [await loadSavedModel(saved), await loadSavedModel(savedFromEntry(entry))]) {
        models.push(back);
        assert.equal(back.kind, kind);
        assert.equal(back.fitted, true);
        assert.deepEqual(back.predict(scaledWindows(set, later, back.scaler!)), expected);
      }
    });

    it('serves live: raw windows in, the forecasts `predict` makes on the scaled windows out', async () => {
      const m = make(kind);
      models.push(m);
      await m.fit(data);
      const f = await m.forecaster(`${kind}-v1`);
      assert.equal(f.version, `${kind}-v1`);
      assert.equal(f.horizon, HORIZON);
      const raw = Array.from({ length: later[1] - later[0] }, (_, i) => rawWindow(set, later[0] + i));
      const y = m.predict(scaledWindows(set, later, m.scaler!));
      const live = f.forecast(raw);
      // Baselines serve raw prices exactly; the others scale exactly as scaledWindows does.
      live.forEach((row, i) => {
        row.forEach((v, h) => {
          assert.ok(
            Math.abs(v - y[i * HORIZON + h]) <= 1e-9,
            `window ${i}, h${h + 1}: ${v} vs ${y[i * HORIZON + h]}`,
          );
        });
      });
      assert.throws(() => f.forecast([[[1, 2]]]), { code: 'BYNER_SHAPE' });
    });
  });
}

describe('the lstm kind', () => {
  it('stops after the epoch in which another task (a Ctrl-C handler) aborts its fit, on one worker too', async () => {
    // Such a task runs only when the event loop turns; a fit on one worker has no messages that would turn it.
    const abort = new AbortController();
    const m = newModel('lstm', shape, {
      network: { layers: [{ units: 4 }], dropout: 0, seed: 1 },
      fit: { epochs: 200, patience: 200, workers: 1 },
      onEpoch: (e) => {
        if (e.epoch === 0) setImmediate(() => abort.abort());
      },
    });
    models.push(m);
    const report = await m.fit({ ...data, signal: abort.signal });
    assert.deepEqual([report.details.stopped_reason, report.details.epochs], ['aborted', 1]);
  });
});

describe('loading registry entries', () => {
  it('an entry without a kind (registered by the LSTM-only training job) loads as an LSTM', async () => {
    const m = make('lstm');
    models.push(m);
    await m.fit(data);
    const saved = await m.save();
    const legacy = {
      version: 'lstm-legacy',
      config: { model: saved.config.network, fit: { epochs: 2 }, season: 10 },
      scaler: saved.scaler as never,
      artifact: saved.files,
    };
    const back = await loadSavedModel(savedFromEntry(legacy));
    models.push(back);
    assert.equal(back.kind, 'lstm');
    const x = scaledWindows(set, later, m.scaler!);
    assert.deepEqual(back.predict(x), m.predict(x));
  });

  it('files that do not match the config are refused', async () => {
    const m = make('lstm');
    models.push(m);
    await m.fit(data);
    const saved = await m.save();
    await assert.rejects(loadSavedModel({ ...saved, config: { ...saved.config, window: WINDOW + 1 } }), {
      code: 'BYNER_MODEL_FILE',
      message: /do not match its config/,
    });
  });

  it('a corrupted linear file is refused with a hint', async () => {
    const m = make('linear');
    await m.fit(data);
    const saved = await m.save();
    const text = new TextDecoder().decode(saved.files['linear.json']).replace('"weights":[', '"weights":[1,');
    await assert.rejects(
      loadSavedModel({ ...saved, files: { 'linear.json': new TextEncoder().encode(text) } }),
      { code: 'BYNER_MODEL_FILE', message: /hint: fit and register the model again/ },
    );
    await assert.rejects(loadSavedModel({ ...saved, files: {} }), { code: 'BYNER_MODEL_FILE' });
  });
});
