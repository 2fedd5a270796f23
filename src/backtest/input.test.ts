// A stored stream as backtest input: the last n ticks or all, an empty stream refused, and the number of ticks
// said to be needed for K folds is exact (that many work, one fewer does not).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBynerError } from '../errors.js';
import { buildWindows } from '../features/windows.js';
import { syntheticTicks } from '../indicators/ticks.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { DEFAULT_SOURCE } from '../ticks/generator.js';
import { type FoldOptions, minimumWindows, planFolds } from './folds.js';
import { backtestWindows, readStreamTicks } from './input.js';

const ticks = syntheticTicks(DEFAULT_SOURCE, { start: 0, count: 400, origin: new Date(0) });

const plans = (n: number, options: FoldOptions, horizon: number) => {
  // n windows of 1 tick (horizon `horizon`) from ticks after the warm-up.
  const set = buildWindows(ticks.slice(100, 100 + n + horizon), 1, horizon);
  assert.equal(set.count, n);
  try {
    planFolds(set, options);
    return true;
  } catch (e) {
    if (isBynerError(e, 'BYNER_INPUT')) return false;
    throw e;
  }
};

describe('minimumWindows', () => {
  const CASES: [FoldOptions, number][] = [
    [{ folds: 1 }, 5],
    [{ folds: 5 }, 5],
    [{ folds: 3, testShare: 0.5, validationShare: 0 }, 1],
    [{ folds: 7, testShare: 0.3, validationShare: 0.25 }, 3],
    [{ folds: 2, testShare: 0.9 }, 2],
  ];
  for (const [options, horizon] of CASES) {
    it(`is the fewest windows planFolds accepts: ${JSON.stringify(options)}, horizon ${horizon}`, () => {
      const n = minimumWindows(options, horizon);
      assert.ok(plans(n, options, horizon), `${n} windows`);
      for (let m = 1; m < n; m++) assert.ok(!plans(m, options, horizon), `${m} < ${n} windows`);
      // From a count that fails, the next one that works.
      const next = minimumWindows(options, horizon, n + 1);
      assert.ok(next > n && plans(next, options, horizon));
    });
  }
  it('refuses invalid options like planFolds', () => {
    assert.throws(() => minimumWindows({ folds: 0 }, 5), { code: 'BYNER_CONFIG' });
    assert.throws(() => minimumWindows({ folds: 2, testShare: 0 }, 5), { code: 'BYNER_CONFIG' });
  });
});

describe('a stored stream as backtest input', () => {
  let store: Store;
  before(async () => {
    store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'byner-bt-input-')) });
    await (await store.writeTicks('historical_data', ticks)).stored();
  });
  after(async () => {
    await store.close();
  });

  it('reads the last n ticks, or all of them', async () => {
    const all = await readStreamTicks(store, 'synthetic');
    assert.equal(all.ticks.length, 400);
    assert.equal(all.stored, 400);
    const last = await readStreamTicks(store, 'synthetic', 150);
    assert.deepEqual(
      [last.ticks.length, last.ticks[0].seq, last.ticks[149].seq, last.stored],
      [150, 250, 399, 400],
    );
    assert.equal((await readStreamTicks(store, 'synthetic', 1000)).ticks.length, 400);
  });

  it('refuses a stream without ticks, naming it', async () => {
    await assert.rejects(readStreamTicks(store, 'nothing'), {
      code: 'BYNER_INPUT',
      message: /stream "nothing" has no ticks in historical_data[\s\S]*hint: store ticks first/,
    });
  });

  for (const [what, from] of [
    ['from the start of the stream (with the indicators’ warm-up)', 0],
    ['from its middle', 200],
  ] as const) {
    it(`says how many ticks K folds need, exactly: ${what}`, async () => {
      const shape = { window: 20, horizon: 5 };
      const options = { folds: 8, testShare: 0.2, validationShare: 0.125 };
      const input = { stream: 'synthetic', ticks: ticks.slice(from, from + 60), stored: 400 };
      let needed = 0;
      assert.throws(
        () => backtestWindows(input, shape, options),
        (e: Error) => {
          const m =
            /expected: at least (\d+) ticks: (.*)\n\s*received: 60 ticks \(seq (\d+)\.\.(\d+)\) → (\d+) windows; the stream holds 400/.exec(
              e.message,
            );
          assert.ok(m && isBynerError(e, 'BYNER_INPUT'), e.message);
          needed = Number(m[1]);
          assert.equal(/before all six indicators/.test(m[2]), from === 0, m[2]);
          return true;
        },
      );
      assert.ok(needed > 60);
      const enough = { ...input, ticks: ticks.slice(from, from + needed) };
      assert.equal(planFolds(backtestWindows(enough, shape, options), options).length, 8);
      const fewer = { ...input, ticks: ticks.slice(from, from + needed - 1) };
      assert.throws(() => backtestWindows(fewer, shape, options), { code: 'BYNER_INPUT' });
    });
  }
});
