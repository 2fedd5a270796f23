// Unit tests of the write-behind backlog with a fake sink: order, coalescing, retries, backpressure, failures.
// The real-server outage test is test/store-outage.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBynerError } from '../../errors.js';
import { WriteQueue } from './write-queue.js';

class Transient extends Error {}

function fakeSink(failures: number[] = []) {
  const calls: { collection: string; docs: number[] }[] = [];
  let attempt = 0;
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  return {
    calls,
    /** Holds every sink call until release(). */
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release: () => open(),
    sink: async (collection: string, docs: number[]) => {
      await gate;
      attempt += 1;
      if (failures.includes(attempt)) throw new Transient(`attempt ${attempt}`);
      if (docs.includes(-1)) throw new Error('rejected by server');
      calls.push({ collection, docs });
      return { stored: docs.length, duplicates: 0 };
    },
  };
}

const options = (sink: ReturnType<typeof fakeSink>, extra = {}) => ({
  sink: sink.sink,
  isTransient: (e: unknown) => e instanceof Transient,
  backoff: { initialMs: 1, maxMs: 4 },
  target: 'test store',
  ...extra,
});

describe('write queue', () => {
  it('stores in order, coalescing small writes of a collection up to batchSize', async () => {
    const sink = fakeSink();
    const q = new WriteQueue<number>(options(sink, { batchSize: 4 }));
    sink.hold();
    for (let i = 0; i < 6; i++) await q.enqueue('a', [i]);
    await q.enqueue('b', [100]);
    sink.release();
    await q.flush();
    assert.deepEqual(sink.calls, [
      { collection: 'a', docs: [0] },
      { collection: 'a', docs: [1, 2, 3, 4] },
      { collection: 'a', docs: [5] },
      { collection: 'b', docs: [100] },
    ]);
    assert.deepEqual(q.stats(), { stored: 7, duplicates: 0, retries: 0, pending: 0 });
  });

  it('retries transient errors with backoff until stored', async () => {
    const sink = fakeSink([1, 2, 3]);
    const q = new WriteQueue<number>(options(sink));
    await q.enqueue('a', [1, 2]);
    await q.flush();
    assert.deepEqual(sink.calls, [{ collection: 'a', docs: [1, 2] }]);
    assert.equal(q.stats().retries, 3);
  });

  it('makes writers wait when the backlog is full, and lets them go as it drains', async () => {
    const sink = fakeSink();
    const q = new WriteQueue<number>(options(sink, { maxBacklog: 5, batchSize: 5 }));
    sink.hold();
    await q.enqueue('a', [1, 2, 3, 4, 5]);
    let accepted = false;
    const waiting = q.enqueue('a', [6]).then(() => (accepted = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(accepted, false, 'blocked while full');
    assert.equal(q.stats().pending, 5);
    sink.release();
    await waiting;
    await q.flush();
    assert.equal(sink.calls.flatMap((c) => c.docs).length, 6);
  });

  it('drained() waits only for writes enqueued before it', async () => {
    const sink = fakeSink();
    const q = new WriteQueue<number>(options(sink));
    sink.hold();
    await q.enqueue('a', [1]);
    const drained = q.drained();
    sink.release();
    await drained;
    assert.deepEqual(sink.calls, [{ collection: 'a', docs: [1] }]);
  });

  it('reports a non-transient failure once, through flush()', async () => {
    const sink = fakeSink();
    const q = new WriteQueue<number>(options(sink));
    await q.enqueue('a', [-1]);
    await q.enqueue('a', [2]);
    await assert.rejects(
      q.flush(),
      (e: unknown) => isBynerError(e, 'BYNER_STORE') && /rejected by server/.test(e.message),
    );
    await q.flush();
    assert.deepEqual(sink.calls, [{ collection: 'a', docs: [2] }]);
  });
});
