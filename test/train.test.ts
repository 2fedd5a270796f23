// The training job end to end on a small network (the default job is measured by hand and in BENCHMARKS.md):
// seeding, leak-free split, stored predictions/metrics/registry, plots, interruption + --resume, the CLI.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/log/logger.js';
import { openStore } from '../src/store/index.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { loadForecaster } from '../src/train/load.js';
import { DEFAULT_FIT, type TrainOptions, train } from '../src/train/train.js';
import { byner } from './helpers/cli.js';

const small = (dir: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
  stream: 'synthetic',
  ticks: 700,
  source: DEFAULT_SOURCE,
  model: { window: 20, horizon: 5, layers: [{ units: 12 }], dropout: 0.1, seed: 3 },
  fit: { ...DEFAULT_FIT, epochs: 4, batchSize: 32, patience: 5, workers: 1 },
  split: { train: 0.7, validation: 0.1, test: 0.2 },
  season: 10,
  outputDir: join(dir, 'out'),
  workDir: dir,
  resume: false,
  force: true,
  ...over,
});

describe('byner train (library)', () => {
  it('seeds, trains, evaluates against baselines, stores predictions, metrics, the registry entry and plots', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-train-'));
    const store = await openStore({ dataDir: dir });
    try {
      const r = await train(store, small(dir), { logger: silentLogger });
      assert.equal(await store.countTicks('historical_data', 'synthetic'), 700);
      // 700 ticks − 24 warm-up = 676 rows → 676 − 20 − 5 + 1 = 652 windows → 456 / 65 / 131.
      assert.deepEqual(r.windows, { train: 456, validation: 65, test: 131 });
      assert.equal(r.epochs, 4);
      for (const part of [r.test, r.baselines.naive, r.baselines.seasonal_naive]) {
        assert.equal(part.mse.length, 5);
        assert.ok(part.mse.every((v) => Number.isFinite(v) && v >= 0));
        assert.ok(part.accuracy.every((v) => v >= 0 && v <= 1));
      }
      const stats = await store.stats();
      assert.equal(stats.tr_predictions, 131);
      assert.equal(stats.tr_metrics, 1);
      assert.equal(stats.models, 1);
      const [pred] = await store.trainingPredictions(r.model_version, 1);
      assert.equal(pred.input_sequence.length, 20);
      assert.equal(pred.input_sequence[0].length, 7);
      assert.equal(pred.true_next_sequence.length, 5);
      const [metrics] = await store.recentMetrics('tr_metrics', 1);
      assert.deepEqual(metrics.metrics.mse, r.test.mse);
      assert.equal(metrics.forecast_horizon, 5);
      // The registered model forecasts what training measured (same weights, same scaler).
      const f = await loadForecaster(store, { version: r.model_version });
      assert.deepEqual(
        f.forecast([pred.input_sequence])[0].map((v) => v.toFixed(4)),
        pred.predicted_next_sequence.map((v) => v.toFixed(4)),
      );
      for (const png of ['multi_step_forecasts.png', 'loss_curve.png', 'horizon_errors.png']) {
        const bytes = readFileSync(join(dir, 'out', png));
        assert.equal(bytes.subarray(1, 4).toString(), 'PNG', png);
      }
      assert.ok(!existsSync(join(dir, 'checkpoints', 'synthetic')), 'a finished run leaves no checkpoint');
    } finally {
      await store.close();
    }
  });

  it('stops cleanly when interrupted, keeps the best model so far, and --resume finishes the run exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-resume-'));
    const store = await openStore({ dataDir: dir });
    try {
      const abort = new AbortController();
      const partial = await train(store, small(dir, { outputDir: null, signal: abort.signal }), {
        logger: silentLogger,
        onEpoch: (e) => {
          if (e.epoch === 1) abort.abort();
        },
      });
      assert.equal(partial.stopped_reason, 'aborted');
      assert.equal(partial.epochs, 2);
      assert.match(partial.model_version, /-partial-e2$/);
      assert.ok(existsSync(join(dir, 'checkpoints', 'synthetic', 'checkpoint.json')));
      const resumed = await train(store, small(dir, { outputDir: null, resume: true }), {
        logger: silentLogger,
      });
      assert.equal(resumed.epochs, 4, 'the resumed run continues at epoch 3 and ends at the same maximum');
      assert.equal(resumed.model_version, partial.model_version.replace(/-partial-e2$/, ''));
      const versions = (await store.listModels()).map((m) => m.version);
      assert.deepEqual(versions, [partial.model_version, resumed.model_version]);
      // Exactly the uninterrupted run: same shuffles, dropout masks, Adam moments and early-stopping state.
      const fullDir = mkdtempSync(join(tmpdir(), 'byner-full-'));
      const fullStore = await openStore({ dataDir: fullDir });
      try {
        const full = await train(fullStore, small(fullDir, { outputDir: null }), { logger: silentLogger });
        assert.deepEqual(resumed.test, full.test);
        const history = async (s: typeof store, v: string) => (await s.getModel(v))?.metrics.history;
        assert.deepEqual(
          await history(store, resumed.model_version),
          await history(fullStore, full.model_version),
        );
      } finally {
        await fullStore.close();
      }
      await assert.rejects(train(store, small(dir, { resume: true }), { logger: silentLogger }), {
        code: 'BYNER_STATE',
      });
    } finally {
      await store.close();
    }
  });
});

describe('the serving model', () => {
  it('is never one that training refused: `latest` fails clearly when none serves, a pinned version loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-noserve-'));
    const store = await openStore({ dataDir: dir });
    try {
      const fit = { ...DEFAULT_FIT, epochs: 1, batchSize: 32, patience: 5, workers: 1 };
      const r = await train(store, small(dir, { outputDir: null, force: false, fit }), {
        logger: silentLogger,
      });
      assert.equal(
        r.serving,
        false,
        'one epoch of a small network does not beat the seasonal-naive baseline',
      );
      await assert.rejects(loadForecaster(store), { code: 'BYNER_MODEL', message: /no model serves/ });
      await assert.rejects(loadForecaster(store, { version: 'latest' }), { code: 'BYNER_MODEL' });
      assert.equal((await loadForecaster(store, { version: r.model_version })).version, r.model_version);
    } finally {
      await store.close();
    }
  });
});

describe('byner train (command line)', () => {
  it('prints a JSON summary, and `byner models` lists the registered model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-train-cli-'));
    const common = ['--data-dir', dir];
    const r = await byner([
      'train',
      ...common,
      '--ticks',
      '600',
      '--window',
      '20',
      '--units',
      '8',
      '--epochs',
      '2',
      '--output-dir',
      'none',
      '--force',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(summary).slice(0, 4), ['model_version', 'epochs', 'seconds', 'test']);
    assert.deepEqual(Object.keys(summary.test), ['mse', 'mae', 'accuracy']);
    assert.deepEqual(Object.keys(summary.baselines), ['naive', 'seasonal_naive']);
    assert.equal(summary.test_rounded.mse.length, 5);
    const models = await byner(['models', ...common]);
    assert.equal(models.code, 0, models.stderr);
    assert.match(models.stdout, new RegExp(summary.model_version));
    const bad = await byner(['train', ...common, '--units', '10,x', '--split', '0.5,0.5', '--epochs', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--units: expected comma-separated integers/);
    assert.match(bad.stderr, /--split: expected three comma-separated fractions/);
    assert.match(bad.stderr, /--epochs: expected an integer between 1 and 10,000/);
  });
});
