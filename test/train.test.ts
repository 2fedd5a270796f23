// The training job end to end on a small network (the default job is measured by hand and in BENCHMARKS.md):
// seeding, leak-free split, stored predictions/metrics/registry, plots, interruption + --resume, the CLI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isBynerError } from '../src/errors.js';
import { syntheticTicks, ticksFromPrices } from '../src/indicators/ticks.js';
import { silentLogger } from '../src/log/logger.js';
import { openStore, type Store } from '../src/store/index.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { loadForecaster } from '../src/train/load.js';
import { DEFAULT_FIT, type TrainOptions, type TrainSummary, train } from '../src/train/train.js';
import { byner, childEnv, ROOT } from './helpers/cli.js';

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

/** A run of `small` interrupted (as by Ctrl-C) at the end of its second epoch. */
function interruptedAfterEpoch2(store: Store, dir: string): Promise<TrainSummary> {
  const abort = new AbortController();
  return train(store, small(dir, { outputDir: null, signal: abort.signal }), {
    logger: silentLogger,
    onEpoch: (e) => {
      if (e.epoch === 1) abort.abort();
    },
  });
}

/** The uninterrupted run of `small` (computed once): what every resumed run must equal exactly. */
let reference: Promise<{ summary: TrainSummary; history: unknown }> | null = null;
function uninterrupted(): Promise<{ summary: TrainSummary; history: unknown }> {
  reference ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-full-'));
    const store = await openStore({ dataDir: dir });
    try {
      const summary = await train(store, small(dir, { outputDir: null }), { logger: silentLogger });
      return { summary, history: (await store.getModel(summary.model_version))?.metrics.history };
    } finally {
      await store.close();
    }
  })();
  return reference;
}

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
      const partial = await interruptedAfterEpoch2(store, dir);
      assert.equal(partial.stopped_reason, 'aborted');
      assert.equal(partial.epochs, 2);
      assert.match(partial.model_version, /-partial-e2$/);
      assert.deepEqual(
        [partial.serving, partial.serving_decision.reason],
        [true, 'forced'],
        'an interrupted run serves only with --force',
      );
      assert.ok(existsSync(join(dir, 'checkpoints', 'synthetic', 'CURRENT')));
      const resumed = await train(store, small(dir, { outputDir: null, resume: true }), {
        logger: silentLogger,
      });
      assert.equal(resumed.epochs, 4, 'the resumed run continues at epoch 3 and ends at the same maximum');
      assert.equal(resumed.model_version, partial.model_version.replace(/-partial-e2$/, ''));
      const versions = (await store.listModels()).map((m) => m.version);
      assert.deepEqual(versions, [partial.model_version, resumed.model_version]);
      // Exactly the uninterrupted run: same shuffles, dropout masks, Adam moments and early-stopping state.
      const full = await uninterrupted();
      assert.deepEqual(resumed.test, full.summary.test);
      assert.deepEqual((await store.getModel(resumed.model_version))?.metrics.history, full.history);
      await assert.rejects(train(store, small(dir, { resume: true }), { logger: silentLogger }), {
        code: 'BYNER_STATE',
      });
    } finally {
      await store.close();
    }
  });
});

/** The store of a process that dies when it reaches `method`: that call and everything after it never happen. */
function crashingAt(store: Store, method: keyof Store): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === method) return () => Promise.reject(new Error(`simulated crash in ${method}`));
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('checkpoints and crashes', () => {
  it('a crash after any step of writing a checkpoint: --resume continues exactly from the last complete one', async () => {
    const CRASH_EPOCH = 2;
    const steps: string[] = [];
    const dir0 = mkdtempSync(join(tmpdir(), 'byner-steps-'));
    const store0 = await openStore({ dataDir: dir0 });
    await train(store0, small(dir0, { outputDir: null }), {
      logger: silentLogger,
      onCheckpointStep: (step, epoch) => {
        if (epoch === CRASH_EPOCH) steps.push(step);
      },
    }).finally(() => store0.close());
    assert.ok(steps.length >= 4, `the checkpoint is written in steps: ${steps.join(', ')}`);
    const full = await uninterrupted();
    for (const step of steps) {
      const dir = mkdtempSync(join(tmpdir(), 'byner-crash-'));
      const store = await openStore({ dataDir: dir });
      try {
        await assert.rejects(
          train(store, small(dir, { outputDir: null }), {
            logger: silentLogger,
            onCheckpointStep: (s, epoch) => {
              if (epoch === CRASH_EPOCH && s === step) throw new Error(`simulated crash after ${s}`);
            },
          }),
          /simulated crash/,
        );
        const resumed = await train(store, small(dir, { outputDir: null, resume: true }), {
          logger: silentLogger,
        });
        assert.deepEqual(resumed.test, full.summary.test, `crash after step ${step}`);
        assert.deepEqual(
          (await store.getModel(resumed.model_version))?.metrics.history,
          full.history,
          `crash after step ${step}`,
        );
      } finally {
        await store.close();
      }
    }
  });
  it('a crash while registering the finished run: --resume completes the registration, storing nothing twice', async () => {
    const full = await uninterrupted();
    for (const method of ['saveModel', 'writeTrainingPredictions', 'writeMetrics'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'byner-reg-crash-'));
      const store = await openStore({ dataDir: dir });
      try {
        await assert.rejects(
          train(crashingAt(store, method), small(dir, { outputDir: null }), { logger: silentLogger }),
          /simulated crash/,
        );
        const resumed = await train(store, small(dir, { outputDir: null, resume: true }), {
          logger: silentLogger,
        });
        assert.deepEqual(resumed.test, full.summary.test, `crash in ${method}`);
        const stats = await store.stats();
        assert.deepEqual(
          [stats.models, stats.tr_metrics, stats.tr_predictions],
          [1, 1, resumed.windows.test],
          `crash in ${method}: one model, one metrics document, one prediction per test window`,
        );
        assert.ok(
          !existsSync(join(dir, 'checkpoints', 'synthetic')),
          'the finished run leaves no checkpoint',
        );
      } finally {
        await store.close();
      }
    }
  });

  it('--resume refuses a damaged checkpoint, naming the part and how to start afresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-damaged-'));
    const store = await openStore({ dataDir: dir });
    try {
      await interruptedAfterEpoch2(store, dir);
      const ckptDir = join(dir, 'checkpoints', 'synthetic');
      const current = JSON.parse(readFileSync(join(ckptDir, 'CURRENT'), 'utf8')) as { dir: string };
      const weights = join(ckptDir, current.dir, 'weights.bin');
      writeFileSync(weights, readFileSync(weights).subarray(0, 100));
      await assert.rejects(
        train(store, small(dir, { outputDir: null, resume: true }), { logger: silentLogger }),
        {
          code: 'BYNER_STATE',
          message: /weights\.bin does not match the manifest \(truncated or corrupted\)/,
          hint: `delete ${ckptDir} to start afresh (then run \`byner train\` without --resume)`,
        },
      );
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
      const [entry] = await store.listModels();
      assert.deepEqual(entry.metrics.serving_decision, { ...r.serving_decision });
      assert.equal(r.serving_decision.reason, 'worse-than-baseline');
      await assert.rejects(loadForecaster(store), { code: 'BYNER_MODEL', message: /no model serves/ });
      await assert.rejects(loadForecaster(store, { version: 'latest' }), { code: 'BYNER_MODEL' });
      assert.equal((await loadForecaster(store, { version: r.model_version })).version, r.model_version);
    } finally {
      await store.close();
    }
  });
});

/** A float series not made by the synthetic source (a CO2-like curve), seq 0.. of `stream`. */
const floatTicks = (stream: string, count: number) =>
  ticksFromPrices(
    Array.from({ length: count }, (_, i) => 400 + i * 0.01 + 3.25 * Math.sin(i / 5) + ((i * 7919) % 11) / 10),
    { start: 0, stream, origin: new Date(Date.UTC(2026, 0, 1)) },
  );

describe('byner train --stream (any stored stream)', () => {
  it('trains on a stored float series without seeding it, registers the model for that stream only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-train-co2-'));
    const store = await openStore({ dataDir: dir });
    try {
      await store.writeTicks('historical_data', floatTicks('co2', 700));
      await store.saveModel({
        version: 'synthetic-model',
        created_at: new Date(),
        config: {},
        scaler: {},
        metrics: {},
        data_range: { stream: 'synthetic', from_seq: 0, to_seq: 9 },
        serving: true,
        artifact: { 'model.json': new Uint8Array([123, 125]) },
      });
      const r = await train(store, small(dir, { stream: 'co2', outputDir: null }), { logger: silentLogger });
      assert.equal(await store.countTicks('historical_data', 'co2'), 700, 'nothing seeded');
      assert.equal(await store.countTicks('historical_data', 'synthetic'), 0);
      assert.deepEqual(r.data_range, { stream: 'co2', from_seq: 0, to_seq: 699 });
      const entry = await store.getModel(r.model_version);
      assert.deepEqual([entry?.streams, entry?.serving_streams], [['co2'], ['co2']]);
      assert.equal(entry?.config.source, null, 'the config names no synthetic source for stored data');
      assert.equal(
        (await store.servingModel('synthetic'))?.version,
        'synthetic-model',
        'synthetic keeps its model',
      );
      assert.ok(r.test.mse.every((m) => Number.isFinite(m)));
    } finally {
      await store.close();
    }
  });

  it('refuses to seed synthetic ticks under a name that holds other data; seeds a name whose ticks are synthetic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-train-refuse-'));
    const store = await openStore({ dataDir: dir });
    try {
      await store.writeTicks('inf_historical_db', floatTicks('ext', 200));
      await assert.rejects(
        train(store, small(dir, { stream: 'ext', outputDir: null }), { logger: silentLogger }),
        (e: unknown) =>
          isBynerError(e, 'BYNER_INPUT') &&
          /stream "ext" has no ticks to train on/.test(e.message) &&
          /200 ticks of other data received live/.test(e.message) &&
          /hint: train on the store the stream is served from/.test(e.message),
      );
      assert.equal(await store.countTicks('historical_data', 'ext'), 0, 'nothing seeded');
      // The default job: ticks received from a synthetic server do not stop seeding.
      await store.writeTicks(
        'inf_historical_db',
        syntheticTicks(DEFAULT_SOURCE, { start: 0, count: 100, origin: new Date(0) }),
      );
      const fit = { ...DEFAULT_FIT, epochs: 1, workers: 1 };
      await train(store, small(dir, { outputDir: null, fit }), { logger: silentLogger });
      assert.equal(await store.countTicks('historical_data', 'synthetic'), 700);
    } finally {
      await store.close();
    }
  });

  it('too few ticks: the error says how many the window, horizon, warm-up and split need; that many train', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-train-few-'));
    const store = await openStore({ dataDir: dir });
    try {
      // window 20 + horizon 5: 24 warm-up ticks, 25 for the first window and its targets, 9 more so that
      // 0.7/0.1/0.2 has a window in each part (10 windows): 58 ticks.
      const fit = { ...DEFAULT_FIT, epochs: 1, workers: 1 };
      const opts = small(dir, { stream: 'short', outputDir: null, fit });
      await store.writeTicks('historical_data', floatTicks('short', 57));
      await assert.rejects(train(store, opts, { logger: silentLogger }), (e: unknown) => {
        assert.ok(isBynerError(e, 'BYNER_INPUT'), String(e));
        assert.match(e.message, /too few ticks to train on stream "short": 57/);
        assert.match(
          e.message,
          /expected: at least 58 ticks: 24 before all six indicators are defined, then 25 for the first window of 20 and its 5 targets, and 9 more so that the split 0.7\/0.1\/0.2 has a window in each part \(10 windows\)/,
        );
        assert.match(e.message, /received: 57 ticks \(9 windows\)/);
        return true;
      });
      await store.writeTicks('historical_data', floatTicks('short', 58));
      const r = await train(store, opts, { logger: silentLogger });
      assert.deepEqual(r.windows, { train: 7, validation: 1, test: 2 });
    } finally {
      await store.close();
    }
  });
});

/**
 * Starts `byner train` as a child and SIGKILLs it `delayMs` after its stderr first matches `after`; resolves with
 * whether it was killed (false: it finished first) and its output.
 */
function trainKilled(
  args: string[],
  dataDir: string,
  after: RegExp,
  delayMs: number,
): Promise<{ killed: boolean; code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
    cwd: ROOT,
    env: childEnv({ BYNER_DATA_DIR: dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
    if (timer === undefined && after.test(stderr)) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  });
  const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(deadline);
      if (signal === 'SIGKILL' && timer === undefined) reject(new Error(`byner train hung:\n${stderr}`));
      else resolve({ killed: signal === 'SIGKILL', code, stdout, stderr });
    });
  });
}

describe('byner train killed with SIGKILL', () => {
  it('--resume after kill -9 at random moments ends with exactly the uninterrupted run', async () => {
    const args = [
      'train',
      ...['--ticks', '3000', '--window', '30', '--units', '16', '--epochs', '60', '--patience', '100'],
      ...['--workers', '1', '--output-dir', 'none', '--force', '--json'],
    ];
    const registered = async (dataDir: string) => {
      const r = await byner(['models', '--json'], { env: { BYNER_DATA_DIR: dataDir } });
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { metrics: { test: unknown; history: unknown } }[]).map((m) => [
        m.metrics.test,
        m.metrics.history,
      ]);
    };
    const refDir = mkdtempSync(join(tmpdir(), 'byner-kill-ref-'));
    const ref = await byner(args, { env: { BYNER_DATA_DIR: refDir } });
    assert.equal(ref.code, 0, ref.stderr);

    const dir = mkdtempSync(join(tmpdir(), 'byner-kill-'));
    // Kills land at random moments of training (the first one after the first checkpoint, so that the seeded
    // ticks are complete); the delays are in the failure message to replay a run.
    const delays = [0, 1, 2, 3].map(() => Math.floor(Math.random() * 700));
    const log: string[] = [];
    let last = await trainKilled(args, dir, /epoch 1\/60/, delays[0]);
    log.push(`fresh run, killed ${delays[0]} ms after epoch 1: ${last.killed}`);
    for (const delay of delays.slice(1)) {
      if (!last.killed) break;
      last = await trainKilled([...args, '--resume'], dir, /resuming/, delay);
      const resumedAt = /after epoch (\d+)/.exec(last.stderr)?.[1];
      log.push(`resumed after epoch ${resumedAt}, killed ${delay} ms later: ${last.killed}`);
    }
    if (last.killed) {
      last = await byner([...args, '--resume'], { env: { BYNER_DATA_DIR: dir } }).then((r) => ({
        ...r,
        killed: false,
      }));
      log.push('resumed to the end');
    }
    const context = `${log.join('; ')}\n${last.stderr}`;
    // A kill after the finished run deleted its checkpoint (a moment before exiting) leaves nothing to resume:
    // then the registry alone must hold the finished run.
    const finishedBeforeKill = last.code === 1 && /no checkpoint to resume/.test(last.stderr);
    if (!finishedBeforeKill) {
      assert.equal(last.code, 0, context);
      const [a, b] = [JSON.parse(ref.stdout), JSON.parse(last.stdout)];
      assert.deepEqual([b.epochs, b.test, b.stopped_reason], [a.epochs, a.test, a.stopped_reason], context);
    }
    assert.deepEqual(await registered(dir), await registered(refDir), context);
  });
});

describe('byner train (command line)', () => {
  it('prints a JSON summary, and `byner models` lists the registered model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-train-cli-'));
    const common = ['--data-dir', dir];
    const args = ['train', ...common, '--ticks', '600', '--window', '20', '--units', '8', '--epochs', '2'];
    const r = await byner([...args, '--output-dir', 'none', '--force', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(summary).slice(0, 4), ['model_version', 'epochs', 'seconds', 'test']);
    assert.deepEqual(Object.keys(summary.test), ['mse', 'mae', 'accuracy']);
    assert.deepEqual(Object.keys(summary.baselines), ['naive', 'seasonal_naive']);
    assert.equal(summary.test_rounded.mse.length, 5);
    const models = await byner(['models', ...common]);
    assert.equal(models.code, 0, models.stderr);
    assert.equal(summary.serving, true, '--force');
    assert.match(summary.serving_reason, /^(forced|beats-baseline)$/);
    // The list shows each model's kind and why it serves or not.
    assert.match(
      models.stdout,
      new RegExp(`${summary.model_version} +lstm +\\* +${summary.serving_reason} `),
    );
    // A second run without --force: its table says why it does or does not serve; a replaced model says so.
    const second = await byner([...args, '--output-dir', 'none', '--epochs', '1']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stdout,
      /this model does NOT serve: THE LSTM IS WORSE THAN THE SEASONAL-NAIVE BASELINE/,
    );
    const after = await byner(['models', ...common]);
    assert.match(after.stdout, / +worse-than-baseline /);
    assert.match(after.stdout, new RegExp(`${summary.model_version} +lstm +\\* +${summary.serving_reason} `));
    await byner([...args, '--output-dir', 'none', '--force', '--json']);
    const third = await byner(['models', ...common, '--json']);
    const [first, , latest] = JSON.parse(third.stdout) as { version: string; serving: boolean }[];
    assert.equal(latest.serving, true);
    assert.match(
      (await byner(['models', ...common])).stdout,
      new RegExp(`${first.version} +lstm +replaced by ${latest.version}`),
    );
    // Per stream: the models registered for it; none for another stream.
    const mine = await byner(['models', ...common, '--stream', 'synthetic', '--json']);
    const listed = JSON.parse(mine.stdout) as { streams: string[]; serving_streams: string[] }[];
    assert.deepEqual(
      listed.map((m) => [m.streams, m.serving_streams]),
      [
        [['synthetic'], []],
        [['synthetic'], []],
        [['synthetic'], ['synthetic']],
      ],
    );
    assert.match(
      (await byner(['models', ...common, '--stream', 'co2'])).stdout,
      /no models registered for stream co2: run `byner train --stream co2`/,
    );
    assert.match((await byner(['models', ...common])).stdout, /streams \(\* serving\)[\s\S]*synthetic\*/);
    const bad = await byner(['train', ...common, '--units', '10,x', '--split', '0.5,0.5', '--epochs', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--units: expected comma-separated integers/);
    assert.match(bad.stderr, /--split: expected three comma-separated fractions/);
    assert.match(bad.stderr, /--epochs: expected an integer between 1 and 10,000/);
  });
});
