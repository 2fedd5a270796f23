// The pipeline wired from its parts, on an embedded store: ticks of several streams that arrive together go through
// one call per forecaster; everything is kept per stream (forecasts, metrics documents, lines); the stored-tick input
// replays a stream to its end and a second run resumes after it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type FeatureWindow, type Forecaster, SeasonalNaiveForecaster } from '../features/forecaster.js';
import { syntheticTicks } from '../indicators/ticks.js';
import { openStore, type Store } from '../store/index.js';
import { DEFAULT_SOURCE } from '../ticks/generator.js';
import type { Tick } from '../ticks/types.js';
import { ForecasterSet, type LoadedForecaster } from './forecasters.js';
import type { OpenStream, TickInput } from './input.js';
import { runPipeline } from './pipeline.js';
import { StoreInput } from './store-input.js';

const ticksOf = (stream: string, count: number, seed = 42): Tick[] =>
  syntheticTicks(
    { ...DEFAULT_SOURCE, seed },
    { start: 0, count, stream, origin: new Date(Date.UTC(2026, 0, 1)) },
  );

/** seasonal_naive that records which streams' windows each call held (a window's first price tells the stream). */
class Recording implements Forecaster {
  readonly window = 10;
  readonly horizon = 5;
  readonly calls: number[] = [];
  private readonly base = new SeasonalNaiveForecaster(5, 10);
  constructor(readonly version: string) {}
  forecast(windows: readonly FeatureWindow[]): number[][] {
    this.calls.push(windows.length);
    return this.base.forecast(windows);
  }
}

/** An input the test drives: `deliver` hands each stream's ticks to the pipeline in the same turn. */
class ScriptedInput implements TickInput {
  readonly targets = new Map<string, OpenStream>();
  private readonly ends = new Map<string, () => void>();
  open(stream: string, target: OpenStream): Promise<void> {
    this.targets.set(stream, target);
    return new Promise((resolve) => this.ends.set(stream, resolve));
  }
  close(stream: string): void {
    this.ends.get(stream)?.();
  }
  stop(): void {
    for (const end of this.ends.values()) end();
  }
  deliver(byStream: Record<string, readonly Tick[]>): Promise<unknown> {
    return Promise.all(
      Object.entries(byStream).map(([stream, ticks]) =>
        this.targets.get(stream)?.sink(ticks.map((tick) => ({ stream, tick }))),
      ),
    );
  }
}

/** A ScriptedInput that also holds ticks the way the bus's tick log does (`recent`), for some streams. */
class HoldingInput extends ScriptedInput {
  readonly asked: string[] = [];
  constructor(private readonly held: Map<string, Tick[]>) {
    super();
  }
  async recent(stream: string, fromSeq: number, toSeq: number): Promise<Tick[]> {
    this.asked.push(stream);
    return (this.held.get(stream) ?? []).filter((t) => t.seq >= fromSeq && t.seq <= toSeq);
  }
}

/** The store, with calls of `method` recorded (their first argument after the collection) and optionally held. */
function watched(store: Store, method: keyof Store, gate?: (stream: string) => Promise<void>) {
  const calls: string[] = [];
  /** For range reads (stream, from, to): the stream and the number of seqs asked. */
  const spans: [string, number][] = [];
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (key !== method || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
      return async (...args: unknown[]) => {
        const stream = String(typeof args[0] === 'string' && args[0].includes('_') ? args[1] : args[0]);
        calls.push(stream);
        if (typeof args[2] === 'number' && typeof args[3] === 'number')
          spans.push([stream, args[3] - args[2] + 1]);
        await gate?.(stream);
        return v.apply(target, args);
      };
    },
  });
  return { store: proxy as Store, calls, spans };
}

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('inference pipeline', () => {
  const dirs: string[] = [];
  const fresh = async (): Promise<Store> => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-pipeline-'));
    dirs.push(dir);
    return openStore({ dataDir: dir });
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('forecasts ticks of several streams arriving together in one call per forecaster; all else per stream', async () => {
    const store = await fresh();
    const global = new Recording('global');
    const own = new Recording('own');
    const models = new Map<string, LoadedForecaster>([
      ['global', { forecaster: global, close: async () => {} }],
      ['own', { forecaster: own, close: async () => {} }],
    ]);
    const pointers = [
      { stream: 'a', version: 'global', since: new Date() },
      { stream: 'b', version: 'global', since: new Date() },
      { stream: 'c', version: 'own', since: new Date() },
    ];
    const forecasters = ForecasterSet.following(
      {
        pointers: async () => pointers,
        load: async (v) => models.get(v) as LoadedForecaster,
        fallback: new SeasonalNaiveForecaster(5, 10),
      },
      { info() {}, warn() {}, error() {} },
    );
    const input = new ScriptedInput();
    const lines: string[] = [];
    const run = runPipeline({
      store,
      input,
      forecasters,
      streams: ['a', 'b', 'c'],
      out: { write: (t: string) => lines.push(...t.trimEnd().split('\n')) },
      labelLines: true,
    });
    await until(() => input.targets.size === 3);
    const streams = { a: ticksOf('a', 100), b: ticksOf('b', 100, 7), c: ticksOf('c', 100, 9) };
    // The warm-up and the first full windows (seq 0..89), then ten live turns of one tick per stream.
    await input.deliver({ a: streams.a.slice(0, 90), b: streams.b.slice(0, 90), c: streams.c.slice(0, 90) });
    const before = global.calls.length;
    for (let seq = 90; seq < 100; seq++) {
      await input.deliver({ a: [streams.a[seq]], b: [streams.b[seq]], c: [streams.c[seq]] });
    }
    const stats = await run.stop();
    assert.deepEqual(global.calls.slice(before), Array(10).fill(2), 'one call for streams a and b each turn');
    assert.deepEqual(own.calls.slice(-10), Array(10).fill(1));
    // Windows are full from seq 83 (all six indicators from seq 24, 60 rows): 17 forecasts per stream.
    for (const [stream, version] of [
      ['a', 'global'],
      ['b', 'global'],
      ['c', 'own'],
    ]) {
      assert.equal(stats.streams.get(stream)?.forecasts, 17, stream);
      const stored = await store.recentForecasts(stream, 100);
      assert.deepEqual(
        stored.map((f) => [f.seq, f.model_version, f.stream]),
        Array.from({ length: 17 }, (_, i) => [83 + i, version, stream]),
      );
      assert.ok(
        lines.some((l) => l.startsWith(`[${stream}] seq 99 `)),
        `a line of ${stream}`,
      );
    }
    const docs = await store.recentMetrics('inf_metrics', 1000);
    assert.deepEqual([...new Set(docs.map((d) => `${d.stream} ${d.model_version}`))].sort(), [
      'a global',
      'b global',
      'c own',
    ]);
    const lastA = docs.filter((d) => d.stream === 'a').pop();
    assert.deepEqual(lastA?.metrics, run.scores('a')?.metrics);
    await store.close();
  });

  it("refills a resumed stream's window from the ticks its input holds, else from the store: same forecasts", async () => {
    const store = await fresh();
    const reference = await fresh();
    const streams = { a: ticksOf('a', 205), b: ticksOf('b', 205, 7) };
    const run = (s: Store, input: ScriptedInput) =>
      runPipeline({
        store: s,
        input,
        forecasters: ForecasterSet.fixed(new SeasonalNaiveForecaster(5, 10)),
        streams: ['a', 'b'],
      });
    const first = new ScriptedInput();
    const stopFirst = run(store, first);
    const whole = new ScriptedInput();
    const stopWhole = run(reference, whole);
    await until(() => first.targets.size === 2 && whole.targets.size === 2);
    await first.deliver({ a: streams.a.slice(0, 200), b: streams.b.slice(0, 200) });
    await whole.deliver({ a: streams.a, b: streams.b });
    await stopFirst.stop();
    await stopWhole.stop();
    // Stream a's ticks are held by the input, b's are not (the tick log was trimmed): b's come from the store.
    const input = new HoldingInput(new Map([['a', streams.a.slice(0, 200)]]));
    const ranges = watched(store, 'ticksRange');
    const second = run(ranges.store, input);
    await until(() => input.targets.size === 2);
    await input.deliver({ a: streams.a.slice(200), b: streams.b.slice(200) });
    const stats = await second.stop();
    assert.deepEqual(input.asked.sort(), ['a', 'b']);
    // a: one stored tick checked (the first of the window); b: the whole window read from the store.
    assert.deepEqual(ranges.calls.sort(), ['a', 'b']);
    assert.deepEqual(
      ranges.spans.sort((x, y) => x[0].localeCompare(y[0])),
      [
        ['a', 1],
        ['b', 60],
      ],
    );
    for (const stream of ['a', 'b'] as const) {
      assert.equal(stats.streams.get(stream)?.resumedAfter, 199);
      const got = (await store.recentForecasts(stream, 5)).map((f) => [f.seq, f.forecast]);
      const want = (await reference.recentForecasts(stream, 5)).map((f) => [f.seq, f.forecast]);
      assert.deepEqual(got, want, stream);
    }
    await store.close();
    await reference.close();
  });

  it("starts streams side by side: one stream's slow store read does not hold the others back", async () => {
    const store = await fresh();
    await store.writeTicks('inf_historical_db', [
      ...ticksOf('slow', 50),
      ...ticksOf('x', 50, 3),
      ...ticksOf('y', 50, 4),
    ]);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reads = watched(store, 'lastSeq', (stream) => (stream === 'slow' ? held : Promise.resolve()));
    const input = new ScriptedInput();
    const run = runPipeline({
      store: reads.store,
      input,
      forecasters: ForecasterSet.fixed(new SeasonalNaiveForecaster(5, 10)),
      streams: ['slow', 'x', 'y'],
    });
    await until(() => input.targets.has('x') && input.targets.has('y'));
    assert.equal(input.targets.has('slow'), false, 'slow is still reading the store');
    release();
    await until(() => input.targets.has('slow'));
    const stats = await run.stop();
    for (const stream of ['slow', 'x', 'y'])
      assert.equal(stats.streams.get(stream)?.resumedAfter, 49, stream);
    await store.close();
  });

  it("a stream's start asks the store its last tick, its model's forecasts and its last forecast side by side", async () => {
    const store = await fresh();
    await store.writeTicks('inf_historical_db', ticksOf('a', 30));
    const asked = new Set(['lastSeq', 'recentForecasts', 'lastForecastSeq']);
    let inFlight = 0;
    let most = 0;
    let all: () => void = () => {};
    const three = new Promise<void>((resolve) => {
      all = resolve;
    });
    const proxy = new Proxy(store, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver);
        if (typeof v !== 'function') return v;
        if (!asked.has(String(key))) return v.bind(target);
        return async (...args: unknown[]) => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          if (inFlight === 3) all();
          // Each waits for the other two (or 1 s, when they are asked one after another).
          await Promise.race([three, new Promise((r) => setTimeout(r, 1000))]);
          inFlight -= 1;
          return v.apply(target, args);
        };
      },
    });
    const input = new ScriptedInput();
    const run = runPipeline({
      store: proxy as Store,
      input,
      forecasters: ForecasterSet.fixed(new SeasonalNaiveForecaster(5, 10)),
      streams: ['a'],
    });
    await until(() => input.targets.has('a'));
    const stats = await run.stop();
    assert.equal(stats.streams.get('a')?.resumedAfter, 29);
    assert.equal(most, 3, `${most} of the three reads at once`);
    await store.close();
  });

  it('a stream handed over while the store is slow leaves the writer writing the other streams', async () => {
    const store = await fresh();
    let slow = true;
    const writes = watched(store, 'writeTicks', () =>
      slow ? new Promise<void>((r) => setTimeout(r, 300)) : Promise.resolve(),
    );
    const input = new ScriptedInput();
    const run = runPipeline({
      store: writes.store,
      input,
      forecasters: ForecasterSet.fixed(new SeasonalNaiveForecaster(5, 10)),
      streams: ['a', 'b'],
      writer: { stopTimeoutMs: 50 },
    });
    await until(() => input.targets.size === 2);
    const b = ticksOf('b', 40, 7);
    await input.deliver({ a: ticksOf('a', 20), b: b.slice(0, 20) });
    // Handed over: waits up to 100 ms for the writes held (the store takes 300 ms), past the writer's stop deadline.
    await run.remove('a', { drainMs: 100 });
    await new Promise((r) => setTimeout(r, 200));
    slow = false;
    await input.deliver({ b: b.slice(20) });
    const end = Date.now() + 5000;
    while ((await store.lastSeq('inf_historical_db', 'b')) !== 39) {
      assert.ok(
        Date.now() < end,
        `b stored up to seq ${await store.lastSeq('inf_historical_db', 'b')} of 39`,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    await run.stop();
    assert.equal(await store.lastSeq('inf_historical_db', 'a'), 19, "a's ticks stored too");
    await store.close();
  });

  it('replays stored ticks to their end (no server), and a second run resumes after the last one', async () => {
    const store = await fresh();
    await store.writeTicks('historical_data', ticksOf('co2', 400));
    const replay = () =>
      runPipeline({
        store,
        input: new StoreInput({ store, pageSize: 64 }),
        forecasters: ForecasterSet.fixed(new SeasonalNaiveForecaster(5, 10)),
        streams: ['co2'],
      }).done;
    const first = await replay();
    assert.deepEqual([first.streams.get('co2')?.accepted, first.streams.get('co2')?.events], [400, 400]);
    await store.writeTicks('historical_data', ticksOf('co2', 450).slice(400));
    const second = await replay();
    assert.deepEqual(
      [second.streams.get('co2')?.resumedAfter, second.streams.get('co2')?.accepted],
      [399, 50],
    );
    const stored = await store.ticksAfter('inf_historical_db', 'co2', -1, 10_000);
    assert.equal(stored.length, 450);
    const forecasts = await store.recentForecasts('co2', 10_000);
    assert.deepEqual(
      forecasts.map((f) => f.seq),
      Array.from({ length: 450 - 83 }, (_, i) => 83 + i),
    );
    await store.close();
  });
});
