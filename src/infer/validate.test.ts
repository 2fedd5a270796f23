// Event validation and seq ordering of the inference client: every malformed input is named and skipped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTickEvent, SeqTracker } from './validate.js';

const good = {
  timestamp: '2026-01-01T00:00:00.000Z',
  price: 3,
  indicators: { ma: 1, rsi: 50, upper_bb: 5, lower_bb: -3, macd: 0.1, signal: null },
  seq: 42,
  stream: 'synthetic',
};
const json = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });

describe('parseTickEvent', () => {
  it('accepts a well-formed tick (null indicators allowed) with a matching id', () => {
    const r = parseTickEvent(JSON.stringify(good), '42');
    assert.ok(r.ok);
    assert.equal(r.tick.seq, 42);
    assert.equal(r.tick.indicators.signal, null);
    assert.equal(r.tick.timestamp.toISOString(), good.timestamp);
    assert.ok(parseTickEvent(JSON.stringify(good), undefined).ok);
  });
  const bad: [string, string, string | undefined, RegExp][] = [
    ['bad JSON', '{"price": 3', '42', /bad JSON/],
    ['not an object', '[1,2]', undefined, /object/],
    ['missing price', json({ price: undefined }), '42', /price/],
    ['price as a string', json({ price: '3' }), '42', /price/],
    ['Infinity price (1e999)', JSON.stringify(good).replace('"price":3', '"price":1e999'), '42', /price/],
    ['NaN price as a string', json({ price: 'NaN' }), '42', /price/],
    ['negative seq', json({ seq: -1 }), undefined, /seq/],
    ['fractional seq', json({ seq: 1.5 }), undefined, /seq/],
    ['missing seq', json({ seq: undefined }), undefined, /seq/],
    ['bad timestamp', json({ timestamp: 'yesterday' }), '42', /timestamp/],
    ['empty stream', json({ stream: '' }), '42', /stream/],
    ['missing indicators', json({ indicators: undefined }), '42', /indicators/],
    ['missing one indicator', json({ indicators: { ...good.indicators, rsi: undefined } }), '42', /rsi/],
    ['infinite indicator', JSON.stringify(good).replace('"macd":0.1', '"macd":-1e999'), '42', /macd/],
    ['id different from seq', JSON.stringify(good), '43', /does not match/],
  ];
  for (const [name, data, id, reason] of bad) {
    it(`skips ${name}`, () => {
      const r = parseTickEvent(data, id);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, reason);
    });
  }
});

describe('SeqTracker', () => {
  it('accepts the next seq, skips duplicates and out-of-order ones, records gaps', () => {
    const t = new SeqTracker();
    const verdicts = [5, 6, 6, 4, 7, 10, 11, 9].map((s) => t.check(s));
    assert.deepEqual(verdicts, [
      'first',
      'next',
      'duplicate',
      'out_of_order',
      'next',
      'gap',
      'next',
      'out_of_order',
    ]);
    assert.deepEqual(t.gaps, [{ from: 8, to: 9 }]);
    assert.equal(t.last, 11);
  });
});
