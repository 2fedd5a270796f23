// `byner backtest` end to end, as a user runs it on small stored streams: the ladder with a tiny LSTM, --json, the
// tables, --refit once fitting each model once, the PNGs, the tr_metrics document read back from both stores
// (MongoDB through FerretDB, skipped with its reason when absent), float prices, bad inputs, and Ctrl-C.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { mean } from '../src/features/metrics.js';
import { syntheticTicks, ticksFromPrices } from '../src/indicators/ticks.js';
import { openStore, type StoreOptions } from '../src/store/index.js';
import type { MetricsDoc, Store } from '../src/store/types.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import type { Tick } from '../src/ticks/types.js';
import { byner, childEnv, ROOT } from './helpers/cli.js';
import { mongoUriForTests } from './helpers/ferretdb.js';

const TICKS = 700;
const origin = new Date('2026-01-01T00:00:00Z');
/** The default synthetic source: integer prices. */
const SYNTHETIC = syntheticTicks(DEFAULT_SOURCE, { start: 0, count: TICKS, origin, stream: 'synthetic' });
/** Prices that are not integers (a sine with a slower cosine on top), as an imported series would be. */
const FLOATS = ticksFromPrices(
  Array.from({ length: TICKS }, (_, t) => 8 * Math.sin(0.2 * Math.PI * t) + 0.37 * Math.cos(t / 7)),
  { start: 0, origin, stream: 'floats' },
);
/** Small and quick: windows of 20 ticks, 3 folds. */
const SMALL = ['--window', '20', '--folds', '3'];
const TINY_LSTM = ['--units', '4', '--epochs', '2', '--batch-size', '64', '--workers', '1'];

async function storeWith(options: StoreOptions, streams: Tick[][]): Promise<void> {
  const store = await openStore(options);
  try {
    for (const ticks of streams) await (await store.writeTicks('historical_data', ticks)).stored();
  } finally {
    await store.close();
  }
}

async function withStore<T>(options: StoreOptions, use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(options);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

interface Scores {
  count: number;
  mse: number[];
  mae: number[];
  mase: (number | null)[];
  accuracy: number[] | null;
}
interface BacktestJson {
  stream: string;
  data_range: { from_seq: number; to_seq: number; ticks: number };
  fold_options: { folds: number; testShare: number; validationShare: number };
  window: number;
  horizon: number;
  refit: string;
  folds: { fold: number; test: { windows: [number, number]; seqs: [number, number] } }[];
  models: {
    name: string;
    kind: string;
    overall: Scores;
    folds: Scores[];
    fits: ({ details: Record<string, unknown> } | null)[];
    fit_count: number;
  }[];
  best: string;
  plots: string[];
  stored: { collection: string; backtest_id: string; timestamp: string; model_version: string };
}

async function backtestJson(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ json: BacktestJson; stderr: string }> {
  const r = await byner(['backtest', ...args, '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  return { json: JSON.parse(r.stdout) as BacktestJson, stderr: r.stderr };
}

/** The run's document, read back from the store: what --json said was stored, with every model and fold. */
async function checkStored(store: Store, j: BacktestJson): Promise<MetricsDoc> {
  const docs = await store.recentMetrics('tr_metrics', 50, j.stored.model_version);
  const doc = docs.find((d) => d.backtest_id === j.stored.backtest_id);
  assert.ok(doc, `no document ${j.stored.backtest_id} among ${docs.length}`);
  const best = j.models.find((m) => m.name === j.best)!;
  assert.equal(j.stored.model_version, `backtest:${j.best}`);
  assert.deepEqual(
    [doc.kind, doc.stream, doc.forecast_horizon, doc.best, doc.refit, doc.timestamp.toISOString()],
    ['backtest', j.stream, j.horizon, j.best, j.refit, j.stored.timestamp],
  );
  assert.deepEqual(doc.metrics, {
    mse: best.overall.mse,
    mae: best.overall.mae,
    accuracy: best.overall.accuracy ?? [null, null, null, null, null],
    mase: best.overall.mase,
  });
  assert.deepEqual(doc.folds, j.folds);
  assert.deepEqual(doc.data_range, { stream: j.stream, ...j.data_range });
  const models = doc.models as unknown as {
    name: string;
    fit_count: number;
    overall: Scores;
    folds: Scores[];
  }[];
  assert.deepEqual(
    models.map((m) => [m.name, m.fit_count, m.overall, m.folds]),
    j.models.map((m) => [m.name, m.fit_count, m.overall, m.folds]),
  );
  return doc;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function checkPng(file: string): void {
  const png = readFileSync(file);
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, `${file}: PNG signature`);
  assert.equal(png.toString('latin1', 12, 16), 'IHDR', `${file}: first chunk`);
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  assert.ok(width > 300 && width <= 1000, `${file}: width ${width} px`);
  assert.ok(height > 300 && height <= 1400, `${file}: height ${height} px`);
  assert.ok(png.length > 10_000, `${file}: ${png.length} bytes (a blank PNG is far smaller)`);
}

/** The cells of the overall table's MSE row of `model` (name, 'MSE', h1..h5, mean, fits, fit s, forecast s). */
function mseRow(table: string, model: string): string[] {
  const line = table.split('\n').find((l) => new RegExp(`^\\s*${model}( \\*)?\\s+MSE\\s`).test(l));
  assert.ok(line, `no MSE row of ${model} in\n${table}`);
  return line.trim().replace(' *', '').split(/\s+/);
}

describe('byner backtest on the embedded store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'byner-backtest-'));
  const env = { BYNER_DATA_DIR: dir };
  before(() => storeWith({ dataDir: dir }, [SYNTHETIC, FLOATS]));

  it('backtests the ladder with a tiny LSTM: --json, progress, the plots and the stored document', async () => {
    const out = join(dir, 'out');
    const models = ['naive', 'seasonal_naive', 'linear', 'lstm'];
    const { json: j, stderr } = await backtestJson(
      [...SMALL, ...TINY_LSTM, '--models', models.join(','), '--output-dir', out],
      env,
    );
    assert.deepEqual(
      [j.stream, j.window, j.horizon, j.refit, j.data_range],
      ['synthetic', 20, 5, 'every', { from_seq: 0, to_seq: TICKS - 1, ticks: TICKS }],
    );
    assert.deepEqual(j.fold_options, { folds: 3, testShare: 0.2, validationShare: 0.125 });
    assert.equal(j.folds.length, 3);
    const forecast = j.folds.reduce((n, f) => n + f.test.windows[1] - f.test.windows[0], 0);
    assert.deepEqual(
      j.models.map((m) => m.name),
      models,
    );
    for (const m of j.models) {
      assert.equal(m.overall.count, forecast, m.name);
      assert.equal(m.folds.length, 3, m.name);
      for (const s of [m.overall, ...m.folds]) {
        assert.equal(s.mse.length, 5);
        assert.ok(
          [...s.mse, ...s.mae].every((v) => Number.isFinite(v) && v >= 0),
          m.name,
        );
        assert.ok(
          s.accuracy?.every((v) => v >= 0 && v <= 1),
          `${m.name}: integer prices have accuracy`,
        );
      }
      assert.equal(m.fit_count, 3, `${m.name}: one fit per fold`);
      assert.equal(m.fits.filter((f) => f !== null).length, 3, m.name);
    }
    assert.ok(j.models[3].fits.every((f) => (f?.details.epochs as number) <= 2));
    const means = j.models.map((m) => mean(m.overall.mse));
    assert.equal(j.best, models[means.indexOf(Math.min(...means))]);
    assert.deepEqual(j.plots, [join(out, 'backtest_folds.png'), join(out, 'backtest_last_fold.png')]);
    for (const png of j.plots) checkPng(png);
    assert.match(stderr, /using all 700 ticks of stream "synthetic" \(seq 0\.\.699\)/);
    assert.match(stderr, /fold 3\/3 lstm: fit [\d.]+ s, forecast [\d.]+ s \[12\/12\]/);
    assert.match(stderr, /fold 2\/3 lstm: epoch 2\/2: loss/);
    await withStore({ dataDir: dir }, (store) => checkStored(store, j));
  });

  it('--refit once fits each model once (the table’s fits column and the stored document say so)', async () => {
    const r = await byner(
      ['backtest', ...SMALL, '--models', 'naive,linear', '--refit', 'once', '--output-dir', 'none'],
      {
        env,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    for (const model of ['naive', 'linear']) {
      const row = mseRow(r.stdout, model);
      assert.equal(row[8], '1', `fits of ${model}: ${row.join(' ')}`);
    }
    assert.match(r.stdout, /^\s*linear \*\s+MSE/m, 'the best model is marked');
    assert.match(r.stdout, /per fold \(mean MSE over the horizons\)/);
    assert.match(r.stdout, /^\s+accuracy\s+[\d.]+%/m);
    const id = /backtest_id ([0-9a-f-]{36})/.exec(r.stdout)?.[1];
    await withStore({ dataDir: dir }, async (store) => {
      const [doc] = (await store.recentMetrics('tr_metrics', 50)).filter((d) => d.backtest_id === id);
      assert.equal(doc.refit, 'once');
      assert.deepEqual(
        (doc.models as { fit_count: number; fits: unknown[] }[]).map((m) => [m.fit_count, m.fits.length]),
        [
          [1, 3],
          [1, 3],
        ],
      );
    });
  });

  it('backtests the last --ticks of a series of float prices: no accuracy anywhere', async () => {
    const { json: j, stderr } = await backtestJson(
      [...SMALL, '--stream', 'floats', '--ticks', '500', '--models', 'naive,linear', '--output-dir', 'none'],
      env,
    );
    assert.match(stderr, /using the last 500 of 700 ticks of stream "floats" \(seq 200\.\.699\)/);
    assert.deepEqual(j.data_range, { from_seq: 200, to_seq: 699, ticks: 500 });
    assert.deepEqual(j.plots, []);
    for (const m of j.models) {
      assert.equal(m.overall.accuracy, null);
      assert.ok(m.folds.every((f) => f.accuracy === null));
    }
    await withStore({ dataDir: dir }, (store) => checkStored(store, j));
    const table = await byner(
      ['backtest', ...SMALL, '--stream', 'floats', '--models', 'naive', '--output-dir', 'none'],
      { env },
    );
    assert.equal(table.code, 0, table.stderr);
    assert.doesNotMatch(table.stdout, /^\s+accuracy/m);
    assert.match(table.stdout, /no accuracy: the prices are not all integers/);
  });

  it('--streams: per-stream and global models side by side in each stream, one document per stream', async () => {
    const args = [...SMALL, '--streams', 'synthetic,floats', '--models', 'naive,linear,global:linear'];
    const r = await byner(['backtest', ...args, '--output-dir', join(dir, 'two'), '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const { streams } = JSON.parse(r.stdout) as { streams: (BacktestJson & { streams: string[] })[] };
    assert.deepEqual(
      streams.map((j) => [j.stream, j.streams, j.models.map((m) => m.name)]),
      [
        ['synthetic', ['synthetic', 'floats'], ['naive', 'linear', 'global:linear']],
        ['floats', ['synthetic', 'floats'], ['naive', 'linear', 'global:linear']],
      ],
    );
    for (const j of streams) {
      const global = j.models[2];
      assert.equal(global.fit_count, 3, 'one global fit per fold');
      assert.equal(
        global.overall.count,
        j.models[0].overall.count,
        'the global model forecasts every window',
      );
      assert.equal(j.models[0].overall.accuracy === null, j.stream === 'floats');
      assert.deepEqual(j.plots, [
        join(dir, 'two', `backtest_folds_${j.stream}.png`),
        join(dir, 'two', `backtest_last_fold_${j.stream}.png`),
      ]);
      await withStore({ dataDir: dir }, (store) => checkStored(store, j));
    }
    assert.match(
      r.stderr,
      /backtest: naive, linear, global:linear on synthetic, floats over 3 fold\(s\), refit every: 15 fits, 18 fold forecasts/,
    );
    assert.match(r.stderr, /fold 3\/3 global:linear on floats: no refit, forecast [\d.]+ s \[18\/18\]/);
    const table = await byner(['backtest', ...args, '--output-dir', 'none'], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /backtest of stream "synthetic"[\s\S]*backtest of stream "floats"/);
    assert.match(table.stdout, /^\s*global:linear( \*)?\s+MSE/m);
    assert.match(
      table.stdout,
      /streams side by side[\s\S]*stream\s+naive MSE\s+linear MSE\s+global:linear MSE\s+naive MASE/,
    );
    assert.match(table.stdout, /^\s*floats\s+[\d.]+\s+[\d.]+\s+[\d.]+/m);
  });

  const BAD: [string, string[], RegExp][] = [
    [
      'an unknown model',
      ['--models', 'naive,prophet'],
      /--models: expected comma-separated model names, each once, from: naive, seasonal_naive, linear, lstm, global:linear, global:lstm, received "naive,prophet"/,
    ],
    [
      'a global baseline',
      ['--models', 'naive,global:naive', '--streams', 'synthetic,other'],
      /--models: expected comma-separated model names, .*received "naive,global:naive"/,
    ],
    [
      'a global model without --streams',
      ['--models', 'linear,global:linear'],
      /global:linear: a global model is fitted on several streams\n\s+expected: --streams A,B,… with global models, or per-stream kinds only/,
    ],
    [
      '--stream with --streams',
      ['--stream', 'synthetic', '--streams', 'synthetic,other'],
      /--stream and --streams: one or the other/,
    ],
    [
      'one stream in --streams',
      ['--streams', 'synthetic'],
      /--streams: expected two or more stream names .*, received "synthetic"/,
    ],
    [
      'a model twice',
      ['--models', 'naive,linear,naive'],
      /--models: expected .*, received "naive,linear,naive"/,
    ],
    ['--refit sometimes', ['--refit', 'sometimes'], /--refit: expected every or once, received "sometimes"/],
    ['--folds 0', ['--folds', '0'], /--folds: expected an integer between 1 and 1,000, received "0"/],
    [
      '--test-share 1',
      ['--test-share', '1'],
      /--test-share: expected a number between 0 and 1, both excluded, received "1"/,
    ],
    [
      'more folds than the ticks hold',
      ['--folds', '400'],
      /too few ticks in stream "synthetic" for 400 fold\(s\)\n\s+expected: at least \d+ ticks: \d+ before all six indicators are defined \+ window 20 \+ horizon 5 − 1 \+ \d+ windows .*\n\s+received: 700 ticks \(seq 0\.\.699\) → \d+ windows/,
    ],
    [
      'a stream without ticks',
      ['--stream', 'nothing'],
      /stream "nothing" has no ticks in historical_data\n\s+expected: a stored stream\n\s+received: 0 ticks/,
    ],
    [
      'a season longer than the window',
      ['--season', '30', '--models', 'seasonal_naive'],
      /expected: a season <= window \(20\)\n\s+received: 30/,
    ],
    [
      'LSTM and seasonal-naive flags without those models',
      ['--epochs', '3', '--season', '5'],
      /--season, --epochs: no model in --models reads them\n\s+expected: --models with seasonal_naive or lstm, or none of --season, --epochs\n\s+received: --models naive/,
    ],
    [
      'no validation windows for the linear model’s λ',
      ['--validation-share', '0', '--models', 'linear'],
      /linear: choosing λ needs validation windows\n\s+expected: validation windows.*\n\s+received: no validation windows/,
    ],
  ];
  for (const [name, args, message] of BAD) {
    it(`refuses ${name}: exit 2, saying what was expected and received`, async () => {
      const r = await byner(['backtest', ...SMALL, '--models', 'naive', '--output-dir', 'none', ...args], {
        env,
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    });
  }

  it('stops cleanly on Ctrl-C during an LSTM fit, storing nothing', async () => {
    const count = () => withStore({ dataDir: dir }, async (s) => (await s.stats()).tr_metrics);
    const before = await count();
    const child = spawn(
      process.execPath,
      [
        ...['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'backtest', ...SMALL],
        ...[
          '--models',
          'naive,lstm',
          '--units',
          '8',
          '--epochs',
          '500',
          '--patience',
          '500',
          '--workers',
          '1',
        ],
        '--output-dir',
        'none',
      ],
      { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stderr.setEncoding('utf8').on('data', (d) => {
      const first = !/epoch 1\/500/.test(stderr);
      stderr += d;
      if (first && /epoch 1\/500/.test(stderr)) child.kill('SIGINT');
    });
    const deadline = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const code = await exited;
    clearTimeout(deadline);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /interrupted: stopping after the current step/);
    assert.match(stderr, /backtest interrupted \(Ctrl-C\): nothing stored/);
    assert.doesNotMatch(stderr, /fold 2\/3/, 'no step after the interrupted one');
    assert.equal(await count(), before);
  });
});

const server = await mongoUriForTests();
describe('byner backtest on MongoDB', { skip: 'skip' in server ? server.skip : false }, () => {
  if ('skip' in server) return;
  const dbName = `byner_backtest_${process.pid}`;
  const env = { BYNER_DATA_DIR: mkdtempSync(join(tmpdir(), 'byner-backtest-mongo-')) };
  const options = { mongoUri: server.uri, dbName };
  before(() => storeWith(options, [SYNTHETIC, FLOATS]));
  after(async () => {
    const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
    try {
      await client.db(dbName).dropDatabase();
    } finally {
      await client.close();
      await server.stop();
    }
  });

  for (const stream of ['synthetic', 'floats']) {
    it(`stores the document of a backtest of "${stream}" as it reads back (${server.source})`, async () => {
      const { json: j } = await backtestJson(
        [
          ...SMALL,
          ...['--stream', stream, '--models', 'naive,seasonal_naive,linear', '--output-dir', 'none'],
          ...['--mongo-uri', server.uri, '--db-name', dbName],
        ],
        env,
      );
      const doc = await withStore(options, (store) => checkStored(store, j));
      assert.equal(
        doc.metrics.accuracy.every((a) => a === null),
        stream === 'floats',
      );
    });
  }
});
