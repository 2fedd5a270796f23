// The synthetic source of DESIGN §2: reproducible per seed, phase-continuous from any start, the right noise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SOURCE, generatePrices, roundHalfEven, SinePriceSource } from './generator.js';
import { seedKey, standardNormal } from './noise.js';

describe('synthetic ticks', () => {
  it('are reproducible bit for bit for the same seed, and differ for another seed', () => {
    const a = generatePrices({ ...DEFAULT_SOURCE, seed: 7 }, 0, 5000);
    const b = generatePrices({ ...DEFAULT_SOURCE, seed: 7 }, 0, 5000);
    const c = generatePrices({ ...DEFAULT_SOURCE, seed: 8 }, 0, 5000);
    assert.deepEqual(Buffer.from(a.buffer), Buffer.from(b.buffer));
    assert.ok(a.some((x, i) => x !== c[i]));
  });

  it('continue from any start index with the same phase and noise (no jump)', () => {
    const whole = generatePrices(DEFAULT_SOURCE, 0, 3000);
    for (const start of [1, 17, 999, 2500]) {
      assert.deepEqual(generatePrices(DEFAULT_SOURCE, start, 3000 - start), whole.subarray(start));
    }
    const live = new SinePriceSource(DEFAULT_SOURCE);
    for (let t = 0; t < 3000; t += 37) assert.equal(live.at(t), whole[t]);
    // Indices beyond 2^32 work and stay deterministic.
    const far = 2 ** 40 + 3;
    assert.equal(live.at(far), generatePrices(DEFAULT_SOURCE, far, 1)[0]);
  });

  it('are integers clipped to [-B, B] following the sine', () => {
    const p = generatePrices(DEFAULT_SOURCE, 0, 20_000);
    assert.ok(p.every((x) => Number.isInteger(x) && x >= -10 && x <= 10 && !Object.is(x, -0)));
    // Averaged over many periods, tick t mod 10 has mean close to round(8·sin(2π·0.1·t)).
    for (let phase = 0; phase < 10; phase++) {
      let sum = 0;
      let n = 0;
      for (let t = phase; t < p.length; t += 10, n++) sum += p[t];
      assert.ok(
        Math.abs(sum / n - 8 * Math.sin(2 * Math.PI * 0.1 * phase)) < 0.15,
        `phase ${phase}: ${sum / n}`,
      );
    }
    const tight = generatePrices({ ...DEFAULT_SOURCE, amplitude: 30, bound: 3 }, 0, 1000);
    assert.ok(tight.every((x) => x >= -3 && x <= 3) && tight.includes(3) && tight.includes(-3));
    assert.ok(
      generatePrices({ ...DEFAULT_SOURCE, noise: 0 }, 0, 10).every(
        (x, t) => x === roundHalfEven(8 * Math.sin(0.2 * Math.PI * t)) + 0,
      ),
    );
  });

  it('draw standard normal noise (mean 0, sd 1, tails, no correlation between ticks)', () => {
    const key = seedKey(123);
    const n = 200_000;
    let s1 = 0;
    let s2 = 0;
    let lag = 0;
    let tail = 0;
    let prev = standardNormal(key, 0);
    for (let t = 0; t < n; t++) {
      const z = standardNormal(key, t);
      s1 += z;
      s2 += z * z;
      if (t > 0) lag += z * prev;
      if (Math.abs(z) > 1.96) tail++;
      prev = z;
    }
    assert.ok(Math.abs(s1 / n) < 0.01, `mean ${s1 / n}`);
    assert.ok(Math.abs(s2 / n - 1) < 0.015, `variance ${s2 / n}`);
    assert.ok(Math.abs(lag / n) < 0.01, `lag-1 correlation ${lag / n}`);
    assert.ok(Math.abs(tail / n - 0.05) < 0.003, `P(|z| > 1.96) = ${tail / n}`);
  });

  it('rounds half to even and rejects bad parameters with a typed error', () => {
    assert.deepEqual(
      [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven).map((x) => x + 0),
      [0, 2, 2, 0, -2, -2, 2, -3],
    );
    assert.throws(() => generatePrices({ ...DEFAULT_SOURCE, noise: Number.NaN }, 0, 1), {
      code: 'BYNER_CONFIG',
    });
    assert.throws(() => generatePrices({ ...DEFAULT_SOURCE, seed: 1.5 }, 0, 1), { code: 'BYNER_CONFIG' });
    assert.throws(() => generatePrices(DEFAULT_SOURCE, -1, 1), { code: 'BYNER_INPUT' });
  });
});
