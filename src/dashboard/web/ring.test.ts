// The dashboard's bounded buffers and number formats (pure code of the page, tested in Node).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatError, formatPercent, formatPrice, meanOf, NO_VALUE } from './format.js';
import { ForecastTable, NumberRing, RateMeter } from './ring.js';

describe('NumberRing', () => {
  it('keeps the last `capacity` values, oldest first, however many are pushed', () => {
    const r = new NumberRing(3);
    assert.equal(r.last(), undefined);
    for (let i = 0; i < 10; i++) r.push(i);
    assert.equal(r.length, 3);
    assert.deepEqual([r.at(0), r.at(1), r.at(2)], [7, 8, 9]);
    assert.equal(r.last(), 9);
    assert.throws(() => r.at(3), RangeError);
    r.clear();
    assert.equal(r.length, 0);
    assert.throws(() => new NumberRing(0), RangeError);
  });
});

describe('ForecastTable', () => {
  it('answers for the seq in a slot only, and a newer seq evicts the one `capacity` older', () => {
    const t = new ForecastTable(4, 2);
    t.set(1, [10, 11]);
    assert.equal(t.get(1, 1), 10);
    assert.equal(t.get(1, 2), 11);
    assert.equal(t.get(1, 3), null);
    assert.equal(t.get(5, 1), null);
    t.set(5, [50, 51]);
    assert.equal(t.get(1, 1), null);
    assert.equal(t.get(5, 2), 51);
    assert.throws(() => t.set(6, [1, 2, 3]), RangeError);
  });
});

describe('RateMeter', () => {
  const cases: { name: string; times: number[]; now: number; capacity: number; expected: number }[] = [
    { name: 'nothing yet', times: [], now: 1000, capacity: 8, expected: 0 },
    {
      name: 'counts the last second only',
      times: [0, 100, 1500, 1600, 1700],
      now: 2000,
      capacity: 8,
      expected: 3,
    },
    {
      name: 'a ring filled within the second: over its span',
      times: [1500, 1600, 1700, 1800],
      now: 2000,
      capacity: 4,
      expected: 8,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = new RateMeter(c.capacity);
      for (const t of c.times) m.mark(t);
      assert.equal(m.rate(c.now), c.expected);
    });
  }
});

describe('formats', () => {
  const cases: [string, string, string][] = [
    [formatPrice(1234.5), '1,234.50', 'price'],
    [formatPrice(-3), '-3.00', 'negative price'],
    [formatPrice(null), NO_VALUE, 'missing price'],
    [formatError(4.40512), '4.405', 'small error'],
    [formatError(1234.4), '1,234', 'large error'],
    [formatError(Number.NaN), NO_VALUE, 'NaN error'],
    [formatPercent(0.1834), '18.3 %', 'accuracy'],
    [String(meanOf([1, null, 3])), '2', 'mean skips nulls'],
    [String(meanOf([])), 'null', 'mean of nothing'],
  ];
  for (const [got, expected, name] of cases) it(name, () => assert.equal(got, expected));
});
