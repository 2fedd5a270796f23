// The inference window: full only after `size` consecutive ticks with every indicator; gaps and warm-up restart it;
// per stream, the order of the ticks and a window sized for the stream's forecaster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tick } from '../ticks/types.js';
import { StreamWindows } from './stream-windows.js';
import { TickWindow } from './window.js';

const tick = (seq: number, signal: number | null = 0.5, stream = 'synthetic'): Tick => ({
  seq,
  stream,
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

describe('StreamWindows', () => {
  const silent = { info() {}, warn() {}, error() {} };
  const counts = () => ({ accepted: 0, duplicates: 0, outOfOrder: 0, gaps: [] });

  it('keeps each stream apart: its order, its gaps, its window', () => {
    const w = new StreamWindows(2, silent);
    const a = counts();
    const b = counts();
    w.add('a', a);
    w.add('b', b);
    assert.deepEqual(
      [0, 1, 1, 0, 4].map(
        (s) => w.accept('a', tick(s, 0.5, 'a'), { window: 1 })?.window?.map((r) => r[0]) ?? null,
      ),
      [null, [0, 1], null, null, null],
    );
    assert.deepEqual(w.accept('b', tick(7, 0.5, 'b'), { window: 1 })?.recent, [7]);
    assert.deepEqual(a, { accepted: 3, duplicates: 1, outOfOrder: 1, gaps: [{ from: 2, to: 3 }] });
    assert.deepEqual([b.accepted, w.lastSeq('a'), w.lastSeq('b'), w.lastSeq('c')], [1, 4, 7, null]);
  });

  it("sizes the window for the stream's forecaster: a larger one fills up, a smaller one is full at once", () => {
    const w = new StreamWindows(2, silent);
    w.add('a', counts());
    for (const s of [0, 1, 2]) w.accept('a', tick(s), { window: 1 });
    const grown = w.accept('a', tick(3), { window: 4 });
    assert.deepEqual([grown?.window, grown?.have, grown?.need], [null, 3, 4]);
    assert.deepEqual(
      w.accept('a', tick(4), { window: 4 })?.window?.map((r) => r[0]),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      w.accept('a', tick(5), { window: 2 })?.window?.map((r) => r[0]),
      [4, 5],
    );
  });
});
