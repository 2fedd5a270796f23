// The inference window: full only after `size` consecutive ticks with every indicator; gaps and warm-up restart it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tick } from '../ticks/types.js';
import { TickWindow } from './window.js';

const tick = (seq: number, signal: number | null = 0.5): Tick => ({
  seq,
  stream: 'synthetic',
  timestamp: new Date(0),
  price: seq,
  indicators: { ma: 1, rsi: 50, upper_bb: 5, lower_bb: -3, macd: 0.1, signal },
});

describe('TickWindow', () => {
  it('is full after `size` consecutive ticks, then slides; a full window is a copy', () => {
    const w = new TickWindow(3);
    w.push(tick(0));
    w.push(tick(1));
    assert.equal(w.full(), null);
    assert.equal(w.length, 2);
    w.push(tick(2));
    const first = w.full();
    assert.deepEqual(
      first?.map((r) => r[0]),
      [0, 1, 2],
    );
    assert.deepEqual(first?.[0], [0, 1, 50, 5, -3, 0.1, 0.5]);
    w.push(tick(3));
    assert.deepEqual(
      w.full()?.map((r) => r[0]),
      [1, 2, 3],
    );
    assert.deepEqual(
      first?.map((r) => r[0]),
      [0, 1, 2],
      'an earlier window stays as it was',
    );
  });

  // [what breaks the run, the ticks after it, the window that is full at last]
  const RESTARTS: [string, Tick, number[], number[]][] = [
    ['a gap in the seqs', tick(5), [6, 7], [5, 6, 7]],
    ['a tick without every indicator', tick(3, null), [4, 5, 6], [4, 5, 6]],
  ];
  for (const [what, breaking, after, expected] of RESTARTS) {
    it(`starts afresh after ${what}`, () => {
      const w = new TickWindow(3);
      for (const s of [0, 1, 2]) w.push(tick(s));
      w.push(breaking);
      for (const s of after) {
        assert.equal(w.full(), null, `not full before seq ${s}`);
        w.push(tick(s));
      }
      assert.deepEqual(
        w.full()?.map((r) => r[0]),
        expected,
      );
    });
  }
});
