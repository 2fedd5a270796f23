// The model ladder in `byner train`: `--model all` end to end on a random walk (naive wins validation and serves),
// a seasonal series (seasonal naive beats naive; `--model linear` alone serves when it beats seasonal naive), an
// interrupted ladder run and its resume, a global model of three streams at very different levels (registered for
// each, one scaler per stream, served per stream by the rule, followed live per stream), and the flag
// combinations that are refused.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { mean } from '../src/features/metrics.js';
import { buildWindows, rawWindow } from '../src/features/windows.js';
import { ForecasterSet } from '../src/infer/forecasters.js';
import { silentLogger } from '../src/log/logger.js';
import { isPerStream } from '../src/models/scalers.js';
import { openStore, type Store } from '../src/store/index.js';
import type { Tick } from '../src/ticks/types.js';
import { type LadderOptions, type LadderSummary, trainLadder } from '../src/train/ladder.js';
import { loadRegistered } from '../src/train/load.js';
import { DEFAULT_FIT } from '../src/train/train.js';
import { byner } from './helpers/cli.js';
import { ladderOptions } from './helpers/ladder.js';
import { noisySine, randomWalk } from './helpers/series.js';

/** A small, quick run: windows of 20, a tiny LSTM of a few epochs on one thread. */
const small = (dir: string, over: Partial<LadderOptions> = {}): LadderOptions =>
  ladderOptions(dir, {
    ticks: 2000,
    model: { window: 20, horizon: 5, layers: [{ units: 8 }], dropout: 0, seed: 3 },
    fit: { ...DEFAULT_FIT, epochs: 3, workers: 1 },
    ...over,
  });

async function withStore<T>(ticks: Tick[][], use: (store: Store, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'byner-ladder-'));
  const store = await openStore({ dataDir: dir });
  try {
    for (const t of ticks) await (await store.writeTicks('historical_data', t)).stored();
    return await use(store, dir);
  } finally {
    await store.close();
  }
}

const model = (r: LadderSummary, kind: string) => r.models.find((m) => m.kind === kind)!;
const validation = (r: LadderSummary, kind: string, stream: string) =>
  mean(model(r, kind).streams[stream].validation_mse);

describe('byner train --model all', () => {
  it('on a random walk: naive wins validation and serves; every kind is registered with why (command line)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-walk-'));
    const store = await openStore({ dataDir: dir });
    await (await store.writeTicks('historical_data', randomWalk('walk', 3000, { level: 100 }))).stored();
    await store.close();
    const env = { BYNER_DATA_DIR: dir };
    const args = [
      'train',
      '--stream',
      'walk',
      '--model',
      'all',
      '--window',
      '20',
      '--units',
      '8',
      '--epochs',
      '3',
    ];
    const r = await byner([...args, '--workers', '1', '--output-dir', 'none', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as LadderSummary;
    const naive = model(summary, 'naive');
    const versions = summary.models.map((m) => m.version);
    assert.deepEqual(
      summary.models.map((m) => m.kind),
      ['naive', 'seasonal_naive', 'linear', 'lstm'],
    );
    assert.ok(
      versions.every((v) => v !== null),
      'every kind is registered',
    );
    assert.equal(summary.serving.walk, naive.version, 'naive serves the random walk');
    const lowest = Math.min(...summary.models.map((m) => validation(summary, m.kind, 'walk')));
    assert.ok(validation(summary, 'naive', 'walk') <= lowest * 1.01, 'naive is within 1% of the lowest');
    assert.match(naive.streams.walk.serving_decision!.reason, /^(best-on-validation|simpler-within-1%)$/);
    for (const m of summary.models.slice(1)) {
      assert.equal(m.streams.walk.serving, false, m.kind);
      assert.equal(m.streams.walk.serving_decision?.reason, 'another-serves', m.kind);
      assert.equal(m.streams.walk.test.accuracy, null, 'float prices: no exact-match accuracy');
      assert.equal(m.streams.walk.test.mase.length, 5);
    }
    // The registry says what each model is and why it serves or not; the default LSTM job's entries read alike.
    const listed = await byner(['models', '--stream', 'walk'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(`${naive.version} +naive +\\* +(best-on-validation|simpler-within-1%) `),
    );
    assert.match(listed.stdout, new RegExp(`${model(summary, 'lstm').version} +lstm +another-serves `));
    const json = JSON.parse((await byner(['models', '--json'], { env })).stdout) as {
      version: string;
      config: { kind: string };
      metrics: { serving_decision: { rule: string; detail: string } };
    }[];
    for (const e of json) {
      assert.equal(e.config.kind, e.version.split('-')[0]);
      assert.match(
        e.metrics.serving_decision.rule,
        /the simplest \(naive < seasonal_naive < linear < lstm\)/,
      );
    }
    const table = await byner([...args, '--workers', '1', '--output-dir', 'none'], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^\s+naive \*\s+MSE(\s+[\d.]+){6}\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
    assert.match(table.stdout, /^\s+MASE\s/m);
    assert.doesNotMatch(table.stdout, /^\s+accuracy/m);
    assert.match(table.stdout, /serving rule: of the run's models, the simplest/);
  });

  it('on a seasonal series: seasonal naive beats naive; --model linear alone serves when it beats seasonal naive', async () => {
    await withStore(
      [noisySine('season', 2000, { level: 50, amplitude: 10, noise: 0.5 })],
      async (store, dir) => {
        const all = await trainLadder(store, small(dir, { streams: ['season'] }), { logger: silentLogger });
        assert.ok(validation(all, 'seasonal_naive', 'season') < validation(all, 'naive', 'season') / 10);
        assert.ok(
          mean(model(all, 'seasonal_naive').streams.season.test.mse) <
            mean(model(all, 'naive').streams.season.test.mse),
        );
        const linear = await trainLadder(store, small(dir, { streams: ['season'], choice: 'linear' }), {
          logger: silentLogger,
        });
        assert.deepEqual(
          linear.models.map((m) => [m.kind, m.version === null]),
          [
            ['naive', true],
            ['seasonal_naive', true],
            ['linear', false],
          ],
          'the baselines are shown beside it, not registered',
        );
        const own = model(linear, 'linear');
        assert.equal(own.streams.season.serving_decision?.reason, 'beats-baseline');
        assert.equal((await store.servingModel('season'))?.version, own.version);
        const entry = await store.getModel(own.version!);
        assert.equal(entry?.config.kind, 'linear');
        assert.equal(entry?.metrics.validation && typeof entry.metrics.validation, 'object');
        assert.equal(
          (await store.listModels({ stream: 'season' })).length,
          5,
          'four of the ladder, one linear',
        );
      },
    );
  });

  it('interrupted during the LSTM: registers its best epoch alone; --resume finishes and registers the ladder', async () => {
    await withStore([], async (store, dir) => {
      const abort = new AbortController();
      const partial = await trainLadder(store, small(dir, { signal: abort.signal }), {
        logger: silentLogger,
        onEpoch: (e) => {
          if (e.epoch === 0) abort.abort();
        },
      });
      assert.equal(partial.interrupted, true);
      assert.deepEqual(
        partial.models.map((m) => [
          m.kind,
          m.version === null ? null : m.version.replace(/\d{8}T[\d.]+Z/, 'T'),
        ]),
        [
          ['naive', null],
          ['seasonal_naive', null],
          ['linear', null],
          ['lstm', 'lstm-T-partial-e1'],
        ],
      );
      assert.equal(model(partial, 'lstm').streams.synthetic.serving_decision?.reason, 'partial-run');
      assert.ok(existsSync(join(dir, 'checkpoints', 'synthetic', 'CURRENT')));
      const resumed = await trainLadder(store, small(dir, { resume: true }), { logger: silentLogger });
      assert.equal(resumed.interrupted, false);
      const stamp = model(partial, 'lstm')
        .version!.replace(/^lstm-/, '')
        .replace(/-partial-e1$/, '');
      assert.deepEqual(
        resumed.models.map((m) => m.version),
        ['naive', 'seasonal_naive', 'linear', 'lstm'].map((k) => `${k}-${stamp}`),
        'the run keeps its time stamp',
      );
      assert.equal(model(resumed, 'lstm').details.epochs, 3);
      const serving = resumed.models.filter((m) => m.streams.synthetic.serving);
      assert.equal(serving.length, 1);
      assert.equal((await store.servingModel('synthetic'))?.version, serving[0].version);
      assert.equal((await store.listModels()).length, 5);
      assert.ok(!existsSync(join(dir, 'checkpoints', 'synthetic')), 'the finished run leaves no checkpoint');
    });
  });
});

/** Three stored streams far apart: near 0, near 5,000 (wider), and an exact period-10 cycle near −20,000. */
const THREE = [
  noisySine('low', 1500, { level: 0, amplitude: 8, noise: 1, seed: 1 }),
  noisySine('high', 1700, { level: 5000, amplitude: 300, noise: 30, seed: 2 }),
  noisySine('cycle', 1600, { level: -20_000, amplitude: 2, noise: 0, seed: 3 }),
];
const rangeOf = (ticks: Tick[]) => {
  const prices = ticks.map((t) => t.price);
  const [lo, hi] = [Math.min(...prices), Math.max(...prices)];
  return { lo: lo - 0.25 * (hi - lo), hi: hi + 0.25 * (hi - lo) };
};

describe('a global model: byner train --streams', () => {
  it('fits one linear model on three streams: registered for each, one scaler per stream, served per stream by the rule, followed live per stream', async () => {
    await withStore(THREE, async (store, dir) => {
      const streams = ['low', 'high', 'cycle'];
      const r = await trainLadder(store, small(dir, { streams, choice: 'linear' }), { logger: silentLogger });
      const global = model(r, 'linear');
      assert.equal(global.global, true);
      assert.match(global.version!, /^linear-global-\d{8}T/);
      const entry = (await store.getModel(global.version!))!;
      assert.deepEqual(entry.streams, streams);
      assert.equal(entry.config.global, true);
      assert.ok(isPerStream(entry.scaler));
      const mins = streams.map((s) => (entry.scaler.streams as Record<string, { min: number[] }>)[s].min[0]);
      assert.ok(mins[0] < 0 && mins[1] > 4000 && mins[2] < -19_000, `price minima per stream: ${mins}`);
      // Served where it beats that stream's seasonal naive: not on the exact cycle, which seasonal naive forecasts
      // without error.
      assert.deepEqual(
        streams.map((s) => global.streams[s].serving_decision?.reason),
        ['beats-baseline', 'beats-baseline', 'worse-than-baseline'],
      );
      assert.deepEqual(entry.serving_streams, ['high', 'low']);
      assert.equal(await store.servingModel('cycle'), null);
      assert.deepEqual(
        Object.keys(entry.metrics.per_stream as object),
        streams,
        'its figures per stream beside the pooled ones',
      );
      // Each stream's forecasts lie in its own range: its own scaler in and out.
      for (const [k, s] of streams.entries()) {
        const loaded = await loadRegistered(store, global.version!, s);
        assert.equal(loaded.stream, s, 'a global model is loaded per stream');
        const set = buildWindows(THREE[k], 20, 5);
        const { lo, hi } = rangeOf(THREE[k]);
        const f = loaded.forecaster.forecast([rawWindow(set, set.count - 1), rawWindow(set, set.count - 7)]);
        assert.ok(
          f.flat().every((v) => v > lo && v < hi),
          `${s}: ${f.flat()} outside ${lo}..${hi}`,
        );
        await loaded.close();
      }
      await assert.rejects(loadRegistered(store, global.version!), {
        code: 'BYNER_MODEL',
        message: /is a global model: its forecasts need the stream/,
      });
      // Live inference follows each stream's serving model: one instance per stream of the global model.
      const fallback = new SeasonalNaiveForecaster(5, 10);
      const set = ForecasterSet.following(
        { pointers: () => store.servingPointers(), load: (v, s) => loadRegistered(store, v, s), fallback },
        silentLogger,
      );
      try {
        await set.add(streams);
        assert.deepEqual(
          streams.map((s) => set.get(s).version),
          [global.version, global.version, 'seasonal_naive'],
        );
        assert.notEqual(set.get('low'), set.get('high'), 'each stream its own scaling');
        for (const [k, s] of streams.slice(0, 2).entries()) {
          const w = buildWindows(THREE[k], 20, 5);
          const { lo, hi } = rangeOf(THREE[k]);
          assert.ok(
            set
              .get(s)
              .forecast([rawWindow(w, w.count - 1)])[0]
              .every((v) => v > lo && v < hi),
            s,
          );
        }
      } finally {
        await set.close();
      }
    });
  });

  it('fits one LSTM on two streams with checkpoints, registered for both, each forecast in its own range', async () => {
    await withStore(THREE.slice(0, 2), async (store, dir) => {
      const r = await trainLadder(
        store,
        small(dir, { streams: ['low', 'high'], choice: 'lstm', force: true }),
        {
          logger: silentLogger,
        },
      );
      const lstm = model(r, 'lstm');
      assert.match(lstm.version!, /^lstm-global-/);
      assert.equal(lstm.details.epochs, 3);
      const entry = (await store.getModel(lstm.version!))!;
      assert.deepEqual(
        [entry.streams, entry.config.kind, entry.config.global],
        [['low', 'high'], 'lstm', true],
      );
      assert.ok(!existsSync(join(dir, 'checkpoints', 'low+high')), 'the finished run leaves no checkpoint');
      for (const [k, s] of ['low', 'high'].entries()) {
        const loaded = await loadRegistered(store, lstm.version!, s);
        const set = buildWindows(THREE[k], 20, 5);
        const { lo, hi } = rangeOf(THREE[k]);
        const f = loaded.forecaster.forecast([rawWindow(set, set.count - 1)])[0];
        assert.ok(
          f.every((v) => v > lo && v < hi),
          `${s}: ${f} outside ${lo}..${hi}`,
        );
        await loaded.close();
      }
    });
  });

  it('refuses an empty stream instead of seeding it', async () => {
    await withStore(THREE.slice(0, 1), async (store, dir) => {
      await assert.rejects(
        trainLadder(store, small(dir, { streams: ['low', 'none'], choice: 'linear' }), {
          logger: silentLogger,
        }),
        {
          code: 'BYNER_INPUT',
          message: /stream "none" has no ticks in historical_data[\s\S]*hint: store its ticks first/,
        },
      );
      assert.equal(await store.countTicks('historical_data', 'none'), 0);
    });
  });
});

describe('byner train: flag combinations that are refused (exit 2)', () => {
  const CASES: [string, string[], RegExp][] = [
    [
      '--model all with --streams',
      ['--model', 'all', '--streams', 'a,b'],
      /--model all fits the ladder on one stream/,
    ],
    ['--model all with --force', ['--model', 'all', '--force'], /--force does not apply to --model all/],
    [
      '--model linear with --resume',
      ['--model', 'linear', '--resume'],
      /--resume continues an interrupted LSTM run/,
    ],
    [
      "--model linear with the LSTM's flags",
      ['--model', 'linear', '--units', '8', '--epochs', '2'],
      /--units, --epochs: the LSTM's settings, and --model linear fits no LSTM/,
    ],
    [
      '--stream with --streams',
      ['--stream', 'a', '--streams', 'a,b'],
      /--stream and --streams: one or the other/,
    ],
    ['one stream in --streams', ['--streams', 'a'], /--streams: expected two or more stream names/],
    [
      'several streams in --stream without --queue',
      ['--stream', 'a,b'],
      /--stream: several streams only with --queue \(one job per stream\)[\s\S]*--streams A,B,… for one global model/,
    ],
    ['a stream twice in --stream', ['--stream', 'a,a'], /--stream: expected a stream name .*each once/],
    [
      'an unknown model',
      ['--model', 'arima'],
      /--model: expected one of linear, lstm, all, received "arima"/,
    ],
  ];
  for (const [name, args, message] of CASES) {
    it(name, async () => {
      const r = await byner(['train', ...args, '--output-dir', 'none']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /expected/);
    });
  }
});
