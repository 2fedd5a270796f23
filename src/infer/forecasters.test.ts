// The forecaster set: each stream's serving model or the fallback, a new serving model loaded and swapped in while
// running (one instance shared by the streams it serves), and the failure paths: a model that does not load, a
// registry that fails or hangs, a load that ends after close, models closed only once no batch uses them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Forecaster, NaiveForecaster, SeasonalNaiveForecaster } from '../features/forecaster.js';
import type { ServingPointer } from '../store/types.js';
import { ForecasterSet, type LoadedForecaster, type Swap } from './forecasters.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
};

/** A fake registry: pointers set by the test, loads that can be slow, fail, or hang. */
function registry() {
  const pointers = new Map<string, string>();
  const closed: string[] = [];
  const loads: string[] = [];
  const reg = {
    pointers,
    closed,
    loads,
    failing: new Set<string>(),
    readFails: false,
    readHangs: false,
    loadMs: 0,
    read: async (): Promise<ServingPointer[]> => {
      if (reg.readHangs) await new Promise(() => {});
      if (reg.readFails) throw new Error('store unreachable');
      return [...pointers].map(([stream, version]) => ({ stream, version, since: new Date() }));
    },
    load: async (version: string): Promise<LoadedForecaster> => {
      loads.push(version);
      if (reg.loadMs > 0) await sleep(reg.loadMs);
      if (reg.failing.has(version)) throw new Error(`bad artifact of ${version}`);
      const forecaster: Forecaster = {
        ...new NaiveForecaster(5),
        version,
        forecast: (w) => w.map(() => [1, 2, 3, 4, 5]),
      };
      return { forecaster, close: async () => void closed.push(version) };
    },
  };
  return reg;
}

function logs() {
  const lines: { level: string; msg: string }[] = [];
  const at =
    (level: string) =>
    (_obj: object, msg = '') =>
      void lines.push({ level, msg });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

const fallback = new SeasonalNaiveForecaster(5, 10);

describe('ForecasterSet', () => {
  it('fixed: every stream gets the one forecaster; close() closes a loaded one', async () => {
    const reg = registry();
    const set = ForecasterSet.fixed(await reg.load('pinned'));
    await set.add(['a', 'b']);
    assert.equal(set.get('a').version, 'pinned');
    assert.equal(set.get('zz').version, 'pinned');
    await set.close();
    assert.deepEqual(reg.closed, ['pinned']);
  });

  it("following: each stream's serving model, shared by the streams it serves, the fallback elsewhere", async () => {
    const reg = registry();
    reg.pointers.set('a', 'g1').set('b', 'g1').set('c', 'c1');
    const set = ForecasterSet.following(
      { pointers: reg.read, load: reg.load, fallback, pollMs: 20 },
      logs().logger,
    );
    try {
      await set.add(['a', 'b', 'c', 'd']);
      assert.deepEqual(
        ['a', 'b', 'c', 'd'].map((s) => set.get(s).version),
        ['g1', 'g1', 'c1', 'seasonal_naive'],
      );
      assert.equal(set.get('a'), set.get('b'), 'one instance for the streams a global model serves');
      assert.deepEqual(reg.loads.sort(), ['c1', 'g1']);
      assert.throws(() => set.get('unknown'), /not added/);
    } finally {
      await set.close();
    }
    assert.deepEqual(reg.closed.sort(), ['c1', 'g1']);
  });

  it('swaps in a newly serving model after loading it in the background; the old one closes once no batch uses it', async () => {
    const reg = registry();
    reg.pointers.set('a', 'v1');
    reg.loadMs = 50;
    const swaps: Swap[] = [];
    const set = ForecasterSet.following(
      { pointers: reg.read, load: reg.load, fallback, pollMs: 10 },
      logs().logger,
      (s) => swaps.push(s),
    );
    try {
      await set.add(['a', 'b']);
      const v1 = set.get('a');
      reg.pointers.set('a', 'v2').set('b', 'v2');
      await sleep(30);
      assert.equal(set.get('a').version, 'v1', 'the old model forecasts while the new one loads');
      await until(() => set.get('b').version === 'v2');
      assert.deepEqual(
        swaps.map((s) => [s.stream, s.from, s.to]),
        [
          ['a', 'v1', 'v2'],
          ['b', 'seasonal_naive', 'v2'],
        ],
      );
      assert.deepEqual(reg.loads, ['v1', 'v2'], 'v2 loaded once for both streams');
      set.release(new Set([v1]));
      assert.deepEqual(reg.closed, [], 'still in a batch: not closed');
      set.release(new Set());
      await until(() => reg.closed.length === 1);
      assert.deepEqual(reg.closed, ['v1']);
    } finally {
      await set.close();
    }
  });

  it('a model that does not load: logged once, its streams keep their forecaster, not tried again', async () => {
    const reg = registry();
    reg.pointers.set('a', 'v1');
    const { lines, logger } = logs();
    const set = ForecasterSet.following({ pointers: reg.read, load: reg.load, fallback, pollMs: 5 }, logger);
    try {
      await set.add(['a']);
      reg.failing.add('broken');
      reg.pointers.set('a', 'broken');
      await sleep(100);
      assert.equal(set.get('a').version, 'v1');
      assert.deepEqual(reg.loads, ['v1', 'broken']);
      assert.equal(lines.filter((l) => /cannot load model broken/.test(l.msg)).length, 1);
      reg.pointers.set('a', 'v3');
      await until(() => set.get('a').version === 'v3');
    } finally {
      await set.close();
    }
  });

  for (const [what, breakIt] of [
    ['fails', (reg: ReturnType<typeof registry>) => (reg.readFails = true)],
    ['hangs (a read has a deadline)', (reg: ReturnType<typeof registry>) => (reg.readHangs = true)],
  ] as const) {
    it(`a registry that ${what}: forecasting goes on with the current models, logged, picked up again after`, async () => {
      const reg = registry();
      reg.pointers.set('a', 'v1');
      const { lines, logger } = logs();
      const set = ForecasterSet.following(
        { pointers: reg.read, load: reg.load, fallback, pollMs: 5, readTimeoutMs: 30 },
        logger,
      );
      try {
        await set.add(['a']);
        breakIt(reg);
        reg.pointers.set('a', 'v2');
        await until(() => lines.some((l) => /cannot read the serving models/.test(l.msg)));
        assert.equal(set.get('a').version, 'v1');
        reg.readFails = false;
        reg.readHangs = false;
        await until(() => set.get('a').version === 'v2');
        assert.ok(lines.some((l) => /reading the serving models again/.test(l.msg)));
      } finally {
        await set.close();
      }
    });
  }

  it('a load that ends after close() is closed, not swapped in', async () => {
    const reg = registry();
    reg.loadMs = 100;
    const set = ForecasterSet.following(
      { pointers: reg.read, load: reg.load, fallback, pollMs: 5 },
      logs().logger,
    );
    await set.add(['a']);
    reg.pointers.set('a', 'late');
    await until(() => reg.loads.includes('late'));
    await set.close();
    assert.deepEqual(reg.closed, ['late']);
    assert.equal(set.get('a').version, 'seasonal_naive');
  });
});
