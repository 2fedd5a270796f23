// Unit tests of the write-behind backlog with a fake sink: order, coalescing, backoff, backpressure in bytes,
// receipts (each write's outcome reported to it alone), refusals, give-up at close, abandoned reads.
// The real-server outage test is test/store-outage.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBynerError } from '../../errors.js';
import { sampleValue } from '../../metrics/prometheus.js';
import { RefusedDocumentsError } from '../receipt.js';
import type { StoreLogger } from '../types.js';
import { type SinkResult, WriteQueue, type WriteQueueOptions } from './write-queue.js';

class Transient extends Error {}

/** A sink that stores numbers: -1 cannot be stored in any batch (the whole call throws), -2 is refused alone. */
function fakeSink(transientAttempts: number[] = []) {
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
    sink: async (collection: string, docs: number[]): Promise<SinkResult> => {
      await gate;
      attempt += 1;
      if (transientAttempts.includes(attempt)) throw new Transient(`attempt ${attempt}`);
      if (docs.includes(-1)) throw new Error('Document is larger than the maximum size');
      calls.push({ collection, docs });
      const refused = docs.flatMap((d, index) => (d === -2 ? [{ index, reason: 'schema says no' }] : []));
      const duplicates = docs.flatMap((d, index) => (d >= 1000 ? [index] : []));
      return { refused, duplicates };
    },
  };
}

function recordingLogger() {
  const errors: { obj: Record<string, unknown>; msg?: string }[] = [];
  const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
  const logger: StoreLogger = {
    info() {},
    warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, msg }),
    error: (obj, msg) => errors.push({ obj: obj as Record<string, unknown>, msg }),
  };
  return { logger, errors, warnings };
}

const queue = (sink: ReturnType<typeof fakeSink>, extra: Partial<WriteQueueOptions<number>> = {}) =>
  new WriteQueue<number>({
    sink: sink.sink,
    isTransient: (e: unknown) => e instanceof Transient,
    keyOf: (d) => ({ seq: d }),
    backoff: { initialMs: 1, maxMs: 4 },
    target: 'test store',
    ...extra,
  });

/** Each document weighs 100 bytes. */
const enqueue = (q: WriteQueue<number>, collection: string, docs: number[]) =>
  q.enqueue(
    collection,
    docs,
    docs.map(() => 100),
  );

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('write queue', () => {
  it('shows its backlog in byner_store_backlog_bytes and times each batch in byner_store_write_seconds', async () => {
    const sink = fakeSink();
    const q = queue(sink, { batchSize: 4 });
    const backlog = () => sampleValue('byner_store_backlog_bytes');
    const batches = () => sampleValue('byner_store_write_seconds_count', { collection: 'timed' });
    const [bytesBefore, batchesBefore] = [await backlog(), await batches()];
    sink.hold();
    for (let i = 0; i < 6; i++) await enqueue(q, 'timed', [i]);
    assert.equal((await backlog()) - bytesBefore, 600, '6 documents of 100 bytes wait');
    sink.release();
    await q.drained();
    assert.equal(await backlog(), bytesBefore, 'the stored documents leave the backlog');
    assert.equal((await batches()) - batchesBefore, 3, 'one observation per sink call: [0], [1..4], [5]');
  });

  it('stores in order, coalescing small writes of a collection up to batchSize', async () => {
    const sink = fakeSink();
    const q = queue(sink, { batchSize: 4 });
    sink.hold();
    for (let i = 0; i < 6; i++) await enqueue(q, 'a', [i]);
    await enqueue(q, 'b', [100]);
    sink.release();
    await q.drained();
    assert.deepEqual(sink.calls, [
      { collection: 'a', docs: [0] },
      { collection: 'a', docs: [1, 2, 3, 4] },
      { collection: 'a', docs: [5] },
      { collection: 'b', docs: [100] },
    ]);
    assert.deepEqual(q.stats(), {
      stored: 7,
      duplicates: 0,
      rejected: 0,
      retries: 0,
      pending: 0,
      pendingBytes: 0,
      waitingReads: 0,
    });
  });

  it('retries transient errors with delays that double from initialMs and stop growing at maxMs', async (t) => {
    const retriesBefore = await sampleValue('byner_store_write_errors_total', {
      collection: 'a',
      kind: 'retry',
    });
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sink = fakeSink([1, 2, 3, 4, 5, 6]);
    const { logger, warnings } = recordingLogger();
    let now = 0;
    const callTimes: number[] = [];
    const q = queue(
      {
        ...sink,
        sink: (c, d) => {
          callTimes.push(now);
          return sink.sink(c, d);
        },
      },
      { backoff: { initialMs: 10, maxMs: 40 }, logger },
    );
    const receipt = await enqueue(q, 'a', [1, 2]);
    await turn();
    while (callTimes.length < 7 && now < 1000) {
      t.mock.timers.tick(1);
      now += 1;
      await turn();
    }
    assert.deepEqual(await receipt.stored(), { stored: 2, duplicates: 0 });
    const delays = callTimes.slice(1).map((time, i) => time - callTimes[i]);
    assert.deepEqual(delays, [10, 20, 40, 40, 40, 40], 'doubling, then capped');
    assert.equal(q.stats().retries, 6);
    assert.equal(
      (await sampleValue('byner_store_write_errors_total', { collection: 'a', kind: 'retry' })) -
        retriesBefore,
      6,
      'each failed attempt is counted in byner_store_write_errors_total{kind="retry"}',
    );
    assert.deepEqual(
      warnings.map((w) => w.obj.retryInMs),
      [10],
      'the first failure is logged (then every 10th)',
    );
    assert.deepEqual(sink.calls, [{ collection: 'a', docs: [1, 2] }]);
  });

  it('makes writers wait while the backlog is over its bytes, and lets them go as it drains', async () => {
    const sink = fakeSink();
    const q = queue(sink, { maxBacklogBytes: 500, batchSize: 5 });
    sink.hold();
    await enqueue(q, 'a', [1, 2, 3, 4]);
    let accepted = 0;
    const waiting = (async () => {
      for (const d of [5, 6, 7]) {
        await enqueue(q, 'a', [d]);
        accepted += 1;
      }
    })();
    await turn();
    assert.equal(accepted, 1, 'the fifth 100-byte document fits in 500 bytes, the sixth waits');
    assert.equal(q.stats().pendingBytes, 500);
    sink.release();
    await waiting;
    await q.drained();
    assert.equal(sink.calls.flatMap((c) => c.docs).length, 7);
    assert.equal(q.stats().pendingBytes, 0);
  });

  it('drained() waits only for writes enqueued before it', async () => {
    const sink = fakeSink();
    const q = queue(sink);
    sink.hold();
    await enqueue(q, 'a', [1]);
    const drained = q.drained();
    await enqueue(q, 'a', [2]);
    sink.release();
    await drained;
    assert.deepEqual(sink.calls[0], { collection: 'a', docs: [1] });
  });

  it("counts a write as stored once the sink has stored it, and its receipt says so (with the write's own counts)", async () => {
    const sink = fakeSink();
    const q = queue(sink);
    sink.hold();
    const first = await enqueue(q, 'a', [1, 2, 1000]);
    const second = await enqueue(q, 'a', [3]);
    let settled = false;
    const outcome = first.stored().then((o) => {
      settled = true;
      return o;
    });
    await turn();
    assert.equal(settled, false, 'not stored yet');
    assert.equal(q.stats().stored, 0, 'accepted is not stored');
    assert.equal(q.stats().pending, 4);
    sink.release();
    assert.deepEqual(await outcome, { stored: 2, duplicates: 1 });
    assert.deepEqual(await second.stored(), { stored: 1, duplicates: 0 });
    assert.equal(q.stats().stored, 3);
    assert.equal(q.stats().duplicates, 1);
  });

  it('reports a refused document to the write that made it, every time it asks, and never to other writes', async () => {
    const sink = fakeSink();
    const { logger, errors } = recordingLogger();
    const q = queue(sink, { logger });
    sink.hold();
    const before = await enqueue(q, 'a', [1]); // another writer, same batch
    const mine = await enqueue(q, 'a', [2, -1, 3, 4, -2, 5]);
    const after = await enqueue(q, 'a', [6]);
    sink.release();
    await q.drained(); // a barrier: it reports no write's failure
    assert.deepEqual(await before.stored(), { stored: 1, duplicates: 0 });
    assert.deepEqual(await after.stored(), { stored: 1, duplicates: 0 });
    for (let ask = 0; ask < 2; ask++) {
      await assert.rejects(mine.stored(), (e: unknown) => {
        assert.ok(e instanceof RefusedDocumentsError);
        assert.ok(isBynerError(e, 'BYNER_STORE_REJECTED'));
        assert.deepEqual(
          e.refused.map((r) => r.key),
          [{ seq: -1 }, { seq: -2 }],
        );
        assert.deepEqual(e.outcome, { stored: 4, duplicates: 0 });
        assert.match(e.message, /2 document\(s\) of a refused for good: \(seq -1\); \(seq -2\)/);
        return true;
      });
    }
    await q.drained();
    assert.deepEqual(
      sink.calls
        .flatMap((c) => c.docs)
        .filter((d) => d !== -2)
        .sort((x, y) => x - y),
      [1, 2, 3, 4, 5, 6],
      'every other document of the batch is stored',
    );
    const s = q.stats();
    assert.equal(s.stored, 6);
    assert.equal(s.rejected, 2);
    assert.equal(s.retries, 0, 'a refusal is not retried');
    assert.equal(errors.length, 1, 'logged once for the batch (the three writes were stored together)');
    assert.deepEqual(
      errors.flatMap((e) => e.obj.keys),
      [{ seq: -1 }, { seq: -2 }],
    );
    assert.ok(errors.every((e) => e.obj.collection === 'a'));
  });

  it('narrows a failing batch down by halves: the document that fails alone is refused, in few sink calls', async () => {
    const sink = fakeSink();
    let attempts = 0;
    const counted = (c: string, d: number[]) => {
      attempts += 1;
      return sink.sink(c, d);
    };
    const q = queue({ ...sink, sink: counted }, { batchSize: 64 });
    const docs = Array.from({ length: 64 }, (_, i) => (i === 37 ? -1 : i));
    const receipt = await enqueue(q, 'a', docs);
    await assert.rejects(receipt.stored(), RefusedDocumentsError);
    assert.equal(q.stats().stored, 63);
    assert.ok(attempts <= 1 + 2 * 6, `${attempts} sink calls for 64 documents`);
  });

  it('gives up at abandon(): the receipts of writes not stored say so (BYNER_STORE), and new writes are refused', async () => {
    const sink = fakeSink(Array.from({ length: 1000 }, (_, i) => i + 1));
    const q = queue(sink);
    const receipt = await enqueue(q, 'a', [1, 2]);
    await new Promise((r) => setTimeout(r, 10));
    q.abandon();
    await assert.rejects(
      receipt.stored(),
      (e: unknown) => isBynerError(e, 'BYNER_STORE') && /2 document\(s\) of a not stored/.test(e.message),
    );
    await q.drained();
    await assert.rejects(enqueue(q, 'a', [3]), (e: unknown) => isBynerError(e, 'BYNER_STORE'));
  });

  it('a read waiting for the backlog gives up when its signal aborts, and its waiter is released', async () => {
    const sink = fakeSink();
    const q = queue(sink);
    sink.hold(); // a sink that does not answer
    await enqueue(q, 'a', [1]);
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const reads = controllers.map((c) => q.drained(c.signal));
    assert.equal(q.stats().waitingReads, 3);
    controllers.forEach((c, i) => {
      c.abort(new Error(`deadline ${i}`));
    });
    for (let i = 0; i < reads.length; i++) await assert.rejects(reads[i], new RegExp(`deadline ${i}`));
    assert.equal(q.stats().waitingReads, 0, 'no waiter kept');
    await assert.rejects(q.drained(AbortSignal.abort(new Error('already'))), /already/);
    assert.equal(q.stats().waitingReads, 0);
    sink.release();
    await q.drained();
  });
});
