// Inference of many streams over real sockets on 127.0.0.1, against a small many-streams SSE server
// (test/helpers/streams-server.ts): one connection and one Last-Event-ID resume per stream, a float series beside a
// synthetic one, --all-streams picking up a new stream, the CLI's options, and hot swaps of the serving model while
// a stream is forecast (no tick lost; picked up within a tick at 1 tick/s).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createModel } from '../src/engine/index.js';
import { isBynerError } from '../src/errors.js';
import { SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { MinMaxScaler } from '../src/features/scaler.js';
import { buildWindows } from '../src/features/windows.js';
import { syntheticTicks, ticksFromPrices } from '../src/indicators/ticks.js';
import { ForecasterSet, type Swap } from '../src/infer/forecasters.js';
import { type PipelineOptions, runPipeline } from '../src/infer/pipeline.js';
import { SseInput, streamUrl } from '../src/infer/sse-input.js';
import { serverStreams } from '../src/infer/stream-list.js';
import { openStore, type Store } from '../src/store/index.js';
import type { JsonObject, ModelEntry } from '../src/store/types.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import type { Tick } from '../src/ticks/types.js';
import { loadRegistered } from '../src/train/load.js';
import { byner } from './helpers/cli.js';
import { startStreamsServer } from './helpers/streams-server.js';
import { sleep, spawnInfer, tempDir, until } from './live-helpers.js';

const ORIGIN = new Date(Date.UTC(2026, 0, 1));
const sine = (stream: string, count: number, seed = 42): Tick[] =>
  syntheticTicks({ ...DEFAULT_SOURCE, seed }, { start: 0, count, stream, origin: ORIGIN });
/** A float series not made by the synthetic source (a CO2-like curve with a trend and a season). */
const floats = (stream: string, count: number): Tick[] =>
  ticksFromPrices(
    Array.from(
      { length: count },
      (_, i) => 400 + i * 0.013 + 2.75 * Math.sin(i / 7) + ((i * 7919) % 13) / 10,
    ),
    { start: 0, stream, origin: ORIGIN },
  );
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const quiet = { info() {}, warn() {}, error() {} };

/** Inference of `streams` on the server at `url`, one connection each (?stream=NAME). */
function infer(url: string, store: Store, streams: string[], extra: Partial<PipelineOptions> = {}) {
  return runPipeline({
    store,
    input: new SseInput({ urlFor: (s) => streamUrl(url, s), backoff: { initialMs: 10, maxMs: 50 } }),
    forecasters: ForecasterSet.fixed(new SeasonalNaiveForecaster(5, 10)),
    streams,
    logger: quiet,
    ...extra,
  });
}

/** A small LSTM (60×7 → LSTM 8 → Dense 5) as a registry entry for `stream`, with a scaler fitted on `ticks`. */
async function lstmEntry(
  version: string,
  stream: string,
  ticks: readonly Tick[],
  seed: number,
): Promise<ModelEntry> {
  const model = createModel({ window: 60, horizon: 5, layers: [{ units: 8 }], seed });
  const saved = await mkdtemp(join(tmpdir(), 'byner-entry-'));
  await model.save(saved);
  const files = {
    'model.json': new Uint8Array(await readFile(join(saved, 'model.json'))),
    'weights.bin': new Uint8Array(await readFile(join(saved, 'weights.bin'))),
  };
  await rm(saved, { recursive: true, force: true });
  const scaler = MinMaxScaler.fit(buildWindows(ticks, 60, 5).rows, 7);
  return {
    version,
    created_at: new Date(),
    config: {},
    scaler: scaler.toJSON() as unknown as JsonObject,
    metrics: {},
    data_range: { stream, from_seq: 0, to_seq: ticks.length - 1 },
    artifact: files,
  };
}

describe('live inference of many streams', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('byner-multi-');
  });
  after(() => dir.remove());

  it('one connection per stream: everything stored and scored per stream, each resumed after its own last tick', async () => {
    const ticks = { sine: sine('sine', 400), co2: floats('co2', 400) };
    const serve = (count: number) =>
      startStreamsServer([
        { name: 'sine', ticks: ticks.sine.slice(0, count), intervalMs: 0 },
        { name: 'co2', ticks: ticks.co2.slice(0, count), intervalMs: 0 },
      ]);
    const store = await openStore({ dataDir: `${dir.path}/a` });
    let server = await serve(300);
    const lines: string[] = [];
    const first = infer(server.url, store, ['sine', 'co2'], {
      out: { write: (t: string) => lines.push(...t.trimEnd().split('\n')) },
      labelLines: true,
    });
    await until(
      () => [...first.stats.streams.values()].every((s) => s.accepted === 300),
      20_000,
      '300 ticks each',
    );
    await first.stop();
    await server.close();
    // The server comes back with more ticks: each stream resumes after its own last stored tick.
    server = await serve(400);
    const second = infer(server.url, store, ['sine', 'co2']);
    await until(
      () => [...second.stats.streams.values()].every((s) => s.accepted === 100),
      20_000,
      'the rest',
    );
    const stats = await second.stop();
    await server.close();
    assert.deepEqual(server.lastEventIds.get('sine'), ['299']);
    assert.deepEqual(server.lastEventIds.get('co2'), ['299']);
    for (const stream of ['sine', 'co2']) {
      const stored = await store.ticksAfter('inf_historical_db', stream, -1, 10_000);
      assert.deepEqual(
        stored.map((t) => t.seq),
        range(0, 400),
      );
      assert.deepEqual(
        stored.map((t) => t.price),
        ticks[stream as 'sine' | 'co2'].map((t) => t.price),
        `${stream}: the prices as served (floats kept)`,
      );
      const forecasts = await store.recentForecasts(stream, 10_000);
      assert.deepEqual(
        forecasts.map((f) => f.seq),
        range(83, 400),
        stream,
      );
      assert.equal(stats.streams.get(stream)?.resumedAfter, 299);
      const [doc] = (await store.recentMetrics('inf_metrics', 100))
        .filter((d) => d.stream === stream)
        .slice(-1);
      assert.equal(doc.last_seq, 399);
      assert.deepEqual(doc.metrics, second.scores(stream)?.metrics);
      assert.ok(lines.some((l) => l.startsWith(`[${stream}] seq 299 `)));
    }
    // The float series is scored on its own numbers (no rounding to the synthetic source's integers).
    const co2 = second.scores('co2')?.metrics.mae[0] as number;
    const sineMae = second.scores('sine')?.metrics.mae[0] as number;
    assert.ok(co2 > 0 && sineMae > 0 && co2 !== sineMae);
    await store.close();
  });

  const REFUSALS: [string, (url: string) => (s: string) => string, string[], RegExp][] = [
    [
      'a stream the server does not have (404 naming its streams)',
      (url) => (s) => streamUrl(url, s),
      ['co2', 'nope'],
      /refused the stream \(HTTP 404\)[\s\S]*one of: co2/,
    ],
    [
      "another stream's ticks on a connection (the server's default stream is not the one named)",
      (url) => () => url,
      ['synthetic'],
      /sends ticks of stream co2[\s\S]*hint: pass --stream co2/,
    ],
  ];
  for (const [what, urlFor, streams, message] of REFUSALS) {
    it(`stops with a message on ${what}`, async () => {
      const server = await startStreamsServer([{ name: 'co2', ticks: floats('co2', 100), intervalMs: 0 }]);
      const store = await openStore({
        dataDir: `${dir.path}/refused-${REFUSALS.findIndex((r) => r[0] === what)}`,
      });
      try {
        const run = infer(server.url, store, streams, {
          input: new SseInput({ urlFor: urlFor(server.url), backoff: { initialMs: 10, maxMs: 50 } }),
        });
        await assert.rejects(
          run.done,
          (e: unknown) => isBynerError(e, 'BYNER_STREAM') && message.test(e.message),
        );
      } finally {
        await server.close();
        await store.close();
      }
    });
  }

  it("--all-streams: the server's list, re-read while running: a new stream joins with its own connection", async () => {
    const server = await startStreamsServer([
      { name: 'a', ticks: sine('a', 2000), intervalMs: 20, initial: 100 },
      { name: 'b', ticks: floats('b', 2000), intervalMs: 20, initial: 100 },
    ]);
    const store = await openStore({ dataDir: `${dir.path}/all` });
    const list = serverStreams(server.url);
    const run = infer(server.url, store, await list.names(), { discover: { list, everyMs: 100 } });
    try {
      await until(() => (run.stats.streams.get('b')?.forecasts ?? 0) > 10, 20_000, 'forecasts of b');
      server.add({ name: 'late', ticks: sine('late', 2000, 5), intervalMs: 20, initial: 100 });
      await until(() => (run.stats.streams.get('late')?.forecasts ?? 0) > 5, 20_000, 'the new stream');
      assert.deepEqual([...run.stats.streams.keys()], ['a', 'b', 'late']);
      assert.deepEqual(server.lastEventIds.get('late'), [undefined]);
    } finally {
      await run.stop();
      await server.close();
      await store.close();
    }
  });

  it('the CLI: --streams forecasts each stream over its own connection; bad combinations exit 2', async () => {
    const server = await startStreamsServer([
      { name: 'x', ticks: sine('x', 3000), intervalMs: 5, initial: 200 },
      { name: 'y', ticks: floats('y', 3000), intervalMs: 5, initial: 200 },
    ]);
    const dataDir = `${dir.path}/cli`;
    const infer = spawnInfer(['--url', server.url, '--streams', 'x,y'], { BYNER_DATA_DIR: dataDir });
    const { child, stdout, stderr, exited } = infer;
    try {
      await infer.until(
        () => /\[x\] seq \d+ .*forecast \[/.test(stdout()) && /\[y\] seq \d+ .*forecast \[/.test(stdout()),
        60_000,
        'forecasts of x and y',
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr());
      assert.match(stdout(), /\nx: \d+ ticks, \d+ forecasts/);
      assert.match(stdout(), /\ny: \d+ ticks, \d+ forecasts/);
      assert.match(stderr(), /x: forecasting with seasonal_naive/, 'no model serves x: the baseline');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await server.close();
    }
    const store = await openStore({ dataDir });
    for (const stream of ['x', 'y']) assert.ok((await store.recentForecasts(stream, 1)).length === 1, stream);
    await store.close();
    const BAD: [string[], RegExp][] = [
      [['--streams', 'a,a'], /--streams: expected stream names .* each once/],
      [['--streams', 'a', '--all-streams'], /--all-streams with --streams/],
      [['--stream', 'a', '--streams', 'b,c'], /--stream with --streams/],
      [['--streams', 'a b'], /--streams: expected/],
    ];
    for (const [args, message] of BAD) {
      const r = await byner(['infer', '--url', 'http://127.0.0.1:9/realtime_data', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

describe('hot swap of the serving model during inference', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('byner-swap-');
  });
  after(() => dir.remove());

  /** Inference of `stream` following the registry of `store`, with the real loader; records swaps with times. */
  function following(url: string, store: Store, stream: string) {
    const swaps: (Swap & { at: number })[] = [];
    const forecasters = ForecasterSet.following(
      {
        pointers: () => store.servingPointers(),
        load: (v) => loadRegistered(store, v),
        fallback: new SeasonalNaiveForecaster(5, 10),
      },
      quiet,
      (s) => swaps.push({ ...s, at: Date.now() }),
    );
    const arrived = new Map<number, number>();
    const run = infer(url, store, [stream], {
      forecasters,
      onTick: (t) => arrived.set(t.seq, Date.now()),
    });
    return { run, swaps, arrived };
  }

  /** Every stored tick from the first full window has exactly one forecast; returns the versions in seq order. */
  async function oneForecastEach(store: Store, stream: string, lastSeq: number): Promise<string[]> {
    const forecasts = await store.recentForecasts(stream, 100_000);
    assert.deepEqual(
      forecasts.map((f) => f.seq),
      range(83, lastSeq + 1),
      'one forecast for each tick, none lost, none twice',
    );
    return forecasts.map((f) => f.model_version);
  }

  it('loses no tick on a fast stream: every tick one forecast, the old version before the swap, the new after', async () => {
    const ticks = sine('fast', 20_000);
    const server = await startStreamsServer([{ name: 'fast', ticks, intervalMs: 2, initial: 100 }]);
    const store = await openStore({ dataDir: `${dir.path}/fast` });
    await store.saveModel({ ...(await lstmEntry('v1', 'fast', ticks.slice(0, 2000), 1)), serving: true });
    const { run, swaps } = following(server.url, store, 'fast');
    try {
      await until(() => (run.stats.streams.get('fast')?.forecasts ?? 0) >= 200, 30_000, 'v1 forecasts');
      assert.equal(run.forecaster('fast').version, 'v1');
      await store.saveModel({ ...(await lstmEntry('v2', 'fast', ticks.slice(0, 2000), 2)), serving: true });
      const registeredAt = run.stats.streams.get('fast')?.accepted ?? 0;
      await until(() => swaps.length === 1, 30_000, 'the swap');
      const swappedAt = run.stats.streams.get('fast')?.accepted ?? 0;
      await until(
        () => (run.stats.streams.get('fast')?.accepted ?? 0) >= swappedAt + 200,
        30_000,
        'v2 forecasts',
      );
      const stats = await run.stop();
      const last = (stats.streams.get('fast')?.accepted ?? 0) - 1;
      const versions = await oneForecastEach(store, 'fast', last);
      const firstNew = versions.indexOf('v2') + 83;
      assert.ok(firstNew > 83, 'v1 forecast first');
      assert.deepEqual(
        versions,
        [...Array(firstNew - 83).fill('v1'), ...Array(last + 1 - firstNew).fill('v2')],
        'v1 up to the swap, v2 from it on',
      );
      assert.ok(
        firstNew >= registeredAt - 1,
        `the swap (seq ${firstNew}) follows the registration (${registeredAt})`,
      );
      assert.deepEqual(
        swaps.map((s) => [s.stream, s.from, s.to]),
        [['fast', 'v1', 'v2']],
      );
      // Each forecast is its model's forecast of its window.
      const docs = await store.recentForecasts('fast', 100_000);
      for (const [version, seq] of [
        ['v1', firstNew - 1],
        ['v2', firstNew],
      ] as const) {
        const loaded = await loadRegistered(store, version);
        const doc = docs.find((d) => d.seq === seq);
        assert.deepEqual(
          loaded.forecaster.forecast([doc?.input_sequence ?? []])[0],
          doc?.forecast,
          `${version} ${seq}`,
        );
        await loaded.close();
      }
    } finally {
      await run.stop().catch(() => {});
      await server.close();
      await store.close();
    }
  });

  it('at 1 tick/s, a newly registered serving model forecasts within one tick of its registration', async (t) => {
    const ticks = sine('slow', 400);
    const server = await startStreamsServer([{ name: 'slow', ticks, intervalMs: 1000, initial: 120 }]);
    const store = await openStore({ dataDir: `${dir.path}/slow` });
    const { run, swaps, arrived } = following(server.url, store, 'slow');
    try {
      await until(() => (run.stats.streams.get('slow')?.accepted ?? 0) >= 121, 20_000, 'a live tick');
      assert.equal(run.forecaster('slow').version, 'seasonal_naive', 'no model serves yet: the baseline');
      // Register half-way between two ticks.
      const lastSeq = () => (run.stats.streams.get('slow')?.accepted ?? 0) - 1;
      const seen = lastSeq();
      await until(() => lastSeq() > seen, 5000, 'the next tick');
      await sleep(500);
      const registeredAt = Date.now();
      await store.saveModel({ ...(await lstmEntry('v1', 'slow', ticks.slice(0, 120), 1)), serving: true });
      await until(() => swaps.length === 1, 10_000, 'the swap');
      const latency = swaps[0].at - registeredAt;
      await until(
        async () => (await store.recentForecasts('slow', 1))[0]?.model_version === 'v1',
        10_000,
        'a forecast by v1',
      );
      const stats = await run.stop();
      const last = (stats.streams.get('slow')?.accepted ?? 0) - 1;
      const versions = await oneForecastEach(store, 'slow', last);
      const firstNew = versions.indexOf('v1') + 83;
      // Ticks that arrived after the registration and were still forecast by the baseline.
      const late = [...arrived].filter(([seq, at]) => at > registeredAt && seq < firstNew).length;
      t.diagnostic(
        `registration → swap ${latency} ms; ${late} tick(s) after the registration forecast by the old model`,
      );
      assert.ok(latency < 2000, `the swap took ${latency} ms (expected well under one tick, 1000 ms)`);
      assert.ok(late <= 1, `${late} ticks after the registration were forecast by the old model`);
    } finally {
      await run.stop().catch(() => {});
      await server.close();
      await store.close();
    }
  });
});
