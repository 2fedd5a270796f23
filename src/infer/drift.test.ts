// The drift watch: paired windows against a hand-computed example (gaps included), the hysteresis from a table of
// window outcomes, and the watch on a series whose regime changes halfway (warning once, not before the change;
// the better baseline forecasting with fallback, and the model again once it is better).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changeAtWindow, regimePrices, windowEnd } from '../../test/helpers/regimes.js';
import { SeasonalNaiveForecaster } from '../features/forecaster.js';
import { DriftDetector, type DriftOptions, DriftWatch, PairedWindows } from './drift.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

describe('PairedWindows', () => {
  it('pools the squared errors of all horizons of `size` completed forecasts (hand-computed)', () => {
    // Horizon 2, windows of 2 forecasts. After tick 10: model [1, 2], naive [0, 0], seasonal [1, 1].
    // After tick 11: model [3, 3], naive [1, 1], seasonal [3, 0]. Prices: tick 11 = 1, 12 = 3, 13 = 3.
    // Pairs: (10, h1: 1) (10, h2: 3) (11, h1: 3) (11, h2: 3).
    // model:    0 + 1 + 0 + 0 = 1       → 1/4
    // naive:    1 + 9 + 4 + 4 = 18      → 18/4
    // seasonal: 0 + 4 + 0 + 9 = 13      → 13/4
    const p = new PairedWindows(2, 2);
    p.add(10, [1, 2], [0, 0], [1, 1]);
    assert.deepEqual(p.observe(11, 1), []);
    p.add(11, [3, 3], [1, 1], [3, 0]);
    assert.deepEqual(p.observe(12, 3), [], 'forecast 10 is complete, the window holds 1 of 2');
    const [w] = p.observe(13, 3);
    assert.deepEqual([w.endSeq, w.forecasts, w.pairs], [13, 2, 4]);
    close(w.model, 1 / 4);
    close(w.naive, 18 / 4);
    close(w.seasonal_naive, 13 / 4);
  });

  it('after a gap: scores the pairs that arrived, leaves out forecasts none of whose targets did', () => {
    // Horizon 2, windows of 2. Forecasts after 10, 11, 12; ticks 12..14 never arrive, then 15.
    const p = new PairedWindows(2, 2);
    p.add(10, [1, 1], [0, 0], [0, 0]);
    assert.deepEqual(p.observe(11, 0), []); // forecast 10, h1: model error 1
    p.add(11, [5, 5], [5, 5], [5, 5]);
    // Tick 15: forecast 10 (its h2 target 12 never came) and 11 (no target came) complete.
    assert.deepEqual(p.observe(15, 0), [], 'forecast 11 had no scored pair: left out, window holds 1');
    p.add(15, [2, 2], [1, 1], [0, 0]);
    p.observe(16, 0);
    const [w] = p.observe(17, 0);
    // Pairs: (10, h1) model 1 naive 0 seasonal 0; (15, h1), (15, h2): model 4 + 4, naive 1 + 1, seasonal 0.
    assert.deepEqual([w.forecasts, w.pairs], [2, 3]);
    close(w.model, 9 / 3);
    close(w.naive, 2 / 3);
    close(w.seasonal_naive, 0);
  });
});

describe('DriftDetector: drift after N consecutive worse windows, over at the first window that is not', () => {
  // W: the model's window MSE above the seasonal-naive's; b: at most it (a tie is not worse).
  const cases: { needed: number; windows: string; changes: string }[] = [
    { needed: 3, windows: 'WW', changes: '..' },
    { needed: 3, windows: 'WWW', changes: '..S' },
    { needed: 3, windows: 'WWbWWW', changes: '.....S' },
    { needed: 3, windows: 'WWWWWb', changes: '..S..E' },
    { needed: 3, windows: 'WWWbWWWbW', changes: '..SE..SE.' },
    { needed: 1, windows: 'bWbWW', changes: '.SES.' },
    { needed: 2, windows: 'WWtWW', changes: '.SE.S' },
  ];
  for (const c of cases) {
    it(`needs ${c.needed}: ${c.windows} → ${c.changes}`, () => {
      const d = new DriftDetector(c.needed);
      const seen = [...c.windows]
        .map((k, i) => {
          const model = k === 'W' ? 2 : k === 't' ? 1 : 0.5;
          const change = d.update({ endSeq: i, forecasts: 1, pairs: 1, model, naive: 9, seasonal_naive: 1 });
          return change === 'started' ? 'S' : change === 'ended' ? 'E' : '.';
        })
        .join('');
      assert.equal(seen, c.changes);
      assert.equal(d.episodes, [...c.changes].filter((x) => x === 'S').length);
    });
  }
});

/** A row of the 7 features: only the price matters to the baselines and to the season-7 model below. */
const row = (price: number) => [price, 0, 0, 0, 0, 0, 0];

interface Logged {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

/**
 * Feeds `prices` through a watch: the model (a seasonal naive of season 7 named `weekly`, exact in regime A) forecasts
 * after every tick from the window of the last 20; returns what was served per seq and what was logged.
 */
function watchSeries(prices: readonly number[], options: Partial<DriftOptions> = {}) {
  const logged: Logged[] = [];
  const log = (level: Logged['level']) => (obj: object, msg?: string) =>
    logged.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  const watch = new DriftWatch(
    's',
    { windows: 3, season: 10, fallback: false, ...options },
    { info: log('info'), warn: log('warn'), error: log('error') },
  );
  const model = new SeasonalNaiveForecaster(5, 7, 'weekly');
  const served: { seq: number; version: string; forecast: number[] | null }[] = [];
  const rows: number[][] = [];
  prices.forEach((price, seq) => {
    rows.push(row(price));
    if (rows.length > 20) rows.shift();
    const window = rows.length === 20 ? rows.slice() : null;
    const forecast = window === null ? null : model.forecast([window])[0];
    served.push({ seq, ...watch.step(seq, price, model, window, forecast) });
  });
  return { watch, served, logged, model };
}

describe('DriftWatch on a series whose regime changes halfway', () => {
  // Forecasts from tick 19 on (windows of 20 rows), drift windows of 100 forecasts. Regime A (the model exact)
  // until the change that makes window 6 the first with targets in regime B (the seasonal-naive baseline exact),
  // A again from the change that makes window 12 the first back in A.
  const FIRST = 19;
  const firstB = 6;
  const firstA = 12;
  const prices = regimePrices(1500, [
    changeAtWindow(firstB, FIRST, 100, 5),
    changeAtWindow(firstA, FIRST, 100, 5),
  ]);

  it('warns once, `windows` windows after the change and not before; the drift is over once the model is better', () => {
    const { watch, logged } = watchSeries(prices);
    const warnings = logged.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    const [w] = warnings;
    // Every window before the change: the model exact (MSE 0), the baseline not. In the first window with targets
    // in regime B, the model errs on about 490 of its 500 pairs, the baseline on about 60 (those whose season
    // reaches back into A): worse from there on, and the third such window starts the drift.
    assert.equal(w.obj.seq, windowEnd(firstB + 2, FIRST, 100, 5));
    assert.equal(w.obj.stream, 's');
    assert.equal(w.obj.model_version, 'weekly');
    assert.ok((w.obj.model_mse as number) > 0, `model MSE ${w.obj.model_mse}`);
    assert.equal(w.obj.baseline_mse, 0, 'the seasonal-naive baseline is exact in regime B');
    assert.match(
      w.msg,
      /s: DRIFT: model weekly forecast worse than the seasonal-naive baseline in 3 consecutive windows of 100 forecasts/,
    );
    assert.match(w.msg, /--fallback would switch/);
    // Regime A again: in the first window back in A the model errs on about 55 pairs (its season reaching back
    // into B), the baseline on nearly all 500: the drift is over.
    const over = logged.filter((l) => l.level === 'info');
    assert.equal(over.length, 1);
    assert.equal(over[0].obj.seq, windowEnd(firstA, FIRST, 100, 5));
    assert.match(over[0].msg, /model weekly is no worse than the seasonal-naive baseline again .*drift over/);
    const state = watch.state();
    assert.ok(state !== null, 'a watched model');
    assert.deepEqual(
      [state.active, state.since_seq, state.episodes, state.fallback, state.model_mse, state.worse_windows],
      [false, null, 1, null, 0, 0],
    );
    assert.equal(state.windows_closed, Math.floor((1500 - 5 - FIRST) / 100));
  });

  it('with fallback: the better baseline forecasts during the episode, the model before and after', () => {
    const { served, model } = watchSeries(prices, { fallback: true });
    const start = windowEnd(firstB + 2, FIRST, 100, 5);
    const end = windowEnd(firstA, FIRST, 100, 5);
    const versionAt = (seq: number) => served[seq].version;
    for (let seq = 0; seq < prices.length; seq++) {
      assert.equal(versionAt(seq), seq >= start && seq < end ? 'seasonal_naive' : 'weekly', `seq ${seq}`);
    }
    // The fallback's forecasts are the seasonal-naive baseline's of the same window; the model's are its own.
    const window = prices.slice(start - 19, start + 1).map(row);
    assert.deepEqual(served[start].forecast, new SeasonalNaiveForecaster(5, 10).forecast([window])[0]);
    const after = prices.slice(end - 19, end + 1).map(row);
    assert.deepEqual(served[end].forecast, model.forecast([after])[0]);
  });
});

describe('DriftWatch: what is watched', () => {
  const opts = { windows: 1, season: 10, fallback: true, size: 2 };
  const quiet = { info() {}, warn() {}, error() {} };
  const window = Array.from({ length: 10 }, (_, i) => row(i));

  it('a built-in baseline is not watched: no state, its own forecasts', () => {
    const watch = new DriftWatch('s', opts, quiet);
    for (const version of ['naive', 'seasonal_naive']) {
      const served = watch.step(9, 9, { version, horizon: 5 }, window, [1, 2, 3, 4, 5]);
      assert.deepEqual(served, { version, forecast: [1, 2, 3, 4, 5] });
      assert.equal(watch.state(), null);
    }
  });

  it('a new serving model starts afresh: its episode ends, no fallback, new windows', () => {
    const watch = new DriftWatch('s', opts, quiet);
    const bad = { version: 'm1', horizon: 1 };
    // Windows of 2 forecasts of horizon 1; the model forecasts 100 on a ramp: worse at once.
    let seq = 0;
    const rows: number[][] = [];
    const step = (m: { version: string; horizon: number }) => {
      rows.push(row(seq));
      if (rows.length > 10) rows.shift();
      const w = rows.length === 10 ? rows.slice() : null;
      const s = watch.step(seq, seq, m, w, w === null ? null : [100]);
      seq += 1;
      return s;
    };
    while (watch.state()?.active !== true) step(bad);
    assert.equal(step(bad).version, 'naive', 'the ramp: naive errs by 1, the seasonal naive by 10');
    const fresh = step({ version: 'm2', horizon: 1 });
    assert.deepEqual([fresh.version, fresh.forecast], ['m2', [100]]);
    assert.deepEqual(
      [watch.state()?.model_version, watch.state()?.active, watch.state()?.windows_closed, watch.episodes],
      ['m2', false, 0, 1],
    );
  });

  it('a season longer than the window: no watch, logged once', () => {
    const warned: string[] = [];
    const watch = new DriftWatch(
      's',
      { ...opts, season: 20 },
      { ...quiet, warn: (_o, m) => warned.push(m ?? '') },
    );
    for (let i = 0; i < 3; i++) {
      const served = watch.step(9 + i, 9, { version: 'm', horizon: 1 }, window, [1]);
      assert.deepEqual(served, { version: 'm', forecast: [1] });
    }
    assert.deepEqual(warned, ['s: no drift watch: the season (20) is longer than the window (10 rows)']);
  });
});
