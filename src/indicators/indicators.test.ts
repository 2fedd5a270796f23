// Indicators against TA-Lib (the real C library) on four kinds of series (synthetic ticks, float random walks, flat
// stretches, series shorter than a warm-up), and streaming == batch (with save/restore at random points) as a
// property test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { talibIndicators } from '../../test/helpers/talib.js';
import { mulberry32 } from '../engine/init.js';
import { DEFAULT_SOURCE, generatePrices } from '../ticks/generator.js';
import { INDICATOR_NAMES } from '../ticks/types.js';
import { computeIndicators } from './batch.js';
import { firstIndex, warmup } from './params.js';
import { IndicatorStream } from './streaming.js';

const TOL = 1e-9;
const close = (a: number, b: number) => Math.abs(a - b) <= TOL * Math.max(1, Math.abs(b));

/** Deterministic PRNG for the test series, so every series is regenerated from its seed. */
const rng = mulberry32;

/** Compares our six columns with TA-Lib's; returns the largest relative difference per indicator. */
function compareWithTalib(prices: ArrayLike<number>) {
  const ours = computeIndicators(prices);
  const ta = talibIndicators(prices);
  const first = firstIndex();
  const worst: Record<string, number> = {};
  for (const name of INDICATOR_NAMES) {
    const o = ours[name];
    const t = ta[name];
    let maxDiff = 0;
    for (let i = 0; i < prices.length; i++) {
      if (i < first[name]) {
        assert.ok(
          Number.isNaN(o[i]),
          `${name}[${i}] should be undefined before index ${first[name]}, got ${o[i]}`,
        );
        continue;
      }
      assert.ok(
        Number.isFinite(o[i]),
        `${name}[${i}] should be defined from index ${first[name]}, got ${o[i]}`,
      );
      // TA-Lib's MACD output starts at its signal's first index (24); ours is defined from 16.
      if (Number.isNaN(t[i])) {
        assert.ok(name === 'macd' && i < first.signal, `TA-Lib has no ${name}[${i}] but we do (${o[i]})`);
        continue;
      }
      const d = Math.abs(o[i] - t[i]) / Math.max(1, Math.abs(t[i]));
      maxDiff = Math.max(maxDiff, d);
      assert.ok(close(o[i], t[i]), `${name}[${i}]: ours ${o[i]} vs TA-Lib ${t[i]} (n=${prices.length})`);
    }
    // TA-Lib's first output index must be ours (MACD: TA-Lib starts where the signal does).
    const taFirst = t.findIndex((x) => !Number.isNaN(x));
    const expectFirst = name === 'macd' ? first.signal : first[name];
    if (prices.length > expectFirst) assert.equal(taFirst, expectFirst, `TA-Lib's first ${name} index`);
    else assert.equal(taFirst, -1, `TA-Lib should have no ${name} for n=${prices.length}`);
    worst[name] = maxDiff;
  }
  // The middle band is the moving average.
  for (let i = first.ma; i < prices.length; i++) assert.ok(close(ours.ma[i], ta.middle_bb[i]));
  return worst;
}

function randomWalk(seed: number, n: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  let p = 100;
  for (let i = 0; i < n; i++) {
    p += (r() - 0.5) * 2;
    out[i] = p;
  }
  return out;
}

/** Integer series with flat runs (RSI's g + l = 0 case): flat start, short runs, and a 400-tick plateau. */
function flatStretches(seed: number): number[] {
  const r = rng(seed);
  const out: number[] = Array(40).fill(5);
  while (out.length < 1500) {
    const runLen = r() < 0.3 ? 15 + Math.floor(r() * 30) : 1 + Math.floor(r() * 3);
    const v = Math.round((r() - 0.5) * 20);
    for (let k = 0; k < runLen; k++) out.push(v);
    if (out.length > 700 && out.length < 760) for (let k = 0; k < 400; k++) out.push(v);
  }
  return out;
}

describe('indicators match TA-Lib to 1e-9', () => {
  it('(a) on 10,000 synthetic ticks', () => {
    const worst = compareWithTalib(generatePrices({ ...DEFAULT_SOURCE, seed: 1 }, 0, 10_000));
    console.log('  largest relative difference per indicator:', JSON.stringify(worst));
  });

  it('(b) on random walks with float prices around 100', () => {
    for (const seed of [1, 2, 3, 4, 5]) compareWithTalib(randomWalk(seed, 3000));
  });

  it('(c) on series with flat stretches, where RSI is 0 by TA-Lib convention', () => {
    for (const seed of [7, 8, 9]) {
      const prices = flatStretches(seed);
      compareWithTalib(prices);
      const rsi = computeIndicators(prices).rsi;
      assert.equal(rsi[14], 0, 'a flat start gives g + l = 0, so RSI 0');
    }
  });

  it('(d) on series shorter than each warm-up', () => {
    for (let n = 0; n <= warmup() + 2; n++) compareWithTalib(randomWalk(100 + n, n));
  });
});

describe('streaming equals batch', () => {
  const series = fc.oneof(
    fc.array(fc.integer({ min: -10, max: 10 }), { maxLength: 200 }),
    fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true }), { maxLength: 200 }),
  );

  it('for random series, with save/restore through JSON at random points', () => {
    fc.assert(
      fc.property(series, fc.array(fc.nat(), { maxLength: 4 }), (prices, cuts) => {
        const batch = computeIndicators(prices);
        const cutAt = new Set(cuts.map((c) => (prices.length === 0 ? 0 : c % prices.length)));
        let s = new IndicatorStream();
        prices.forEach((p, i) => {
          if (cutAt.has(i)) s = IndicatorStream.fromState(JSON.parse(JSON.stringify(s.getState())));
          const got = s.push(p);
          for (const name of INDICATOR_NAMES) {
            const b = batch[name][i];
            const v = got[name];
            if (Number.isNaN(b)) assert.equal(v, null, `${name}[${i}] should be null`);
            else assert.ok(v !== null && close(v, b), `${name}[${i}]: stream ${v} vs batch ${b}`);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('over 10,000 synthetic ticks, bit for bit', () => {
    const prices = generatePrices(DEFAULT_SOURCE, 0, 10_000);
    const batch = computeIndicators(prices);
    const s = new IndicatorStream();
    for (let i = 0; i < prices.length; i++) {
      const got = s.push(prices[i]);
      for (const name of INDICATOR_NAMES) assert.equal(got[name] ?? Number.NaN, batch[name][i]);
    }
  });

  it('rejects a non-finite price and a corrupted state with typed errors', () => {
    const s = new IndicatorStream();
    assert.throws(() => s.push(Number.NaN), { code: 'BYNER_NOT_FINITE' });
    assert.throws(() => computeIndicators([1, 2, Number.POSITIVE_INFINITY]), { code: 'BYNER_NOT_FINITE' });
    for (let i = 0; i < 20; i++) s.push(i);
    const state = s.getState();
    assert.throws(() => IndicatorStream.fromState({ ...state, recent: state.recent.slice(1) }), {
      code: 'BYNER_STATE',
    });
    assert.throws(() => IndicatorStream.fromState({ ...state, macd: null }), { code: 'BYNER_STATE' });
  });
});
