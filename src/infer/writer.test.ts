// Unit tests of the inference writer against a write-behind store (a WriteQueue with a sink that can hold or
// refuse): documents counted once stored, refusals counted, the pending backlog bounded in bytes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTick } from '../store/contract.js';
import { WriteQueue } from '../store/mongo/write-queue.js';
import { documentKey } from '../store/receipt.js';
import { forecastBytes, TICK_BYTES } from '../store/size.js';
import type { Forecast, MetricsDoc, Store } from '../store/types.js';
import { InferenceWriter } from './writer.js';

const forecast = (seq: number, model = 'v1'): Forecast => ({
  timestamp: new Date(seq * 1000),
  input_sequence: Array.from({ length: 60 }, (_, r) => [r, 1, 2, 3, 4, 5, seq]),
  forecast: [1, 2, 3, 4, 5],
  model_version: model,
  seq,
  stream: 'synthetic',
});

/** A store whose writes go through a WriteQueue: the sink can be held, and refuses forecasts of model 'bad'. */
function backlogStore() {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const stored: Record<string, number> = {};
  const queue = new WriteQueue<unknown>({
    sink: async (collection, docs) => {
      await gate;
      const refused = docs.flatMap((d, index) =>
        (d as Forecast).model_version === 'bad' ? [{ index, reason: 'refused' }] : [],
      );
      stored[collection] = (stored[collection] ?? 0) + docs.length - refused.length;
      return { refused };
    },
    isTransient: () => false,
    keyOf: documentKey,
    target: 'test store',
  });
  const sized = <D>(collection: string, docs: readonly D[]) =>
    queue.enqueue(
      collection,
      docs,
      docs.map(() => 100),
    );
  const store = {
    writeTicks: (collection: string, ticks: readonly unknown[]) => sized(collection, ticks),
    writeForecasts: (docs: readonly Forecast[]) => sized('inf_predictions', docs),
    writeMetrics: (collection: string, docs: readonly MetricsDoc[]) => sized(collection, docs),
    flush: () => queue.drained(),
  } as unknown as Store;
  return {
    store,
    stored,
    queue,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release: () => open(),
  };
}

const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

describe('inference writer', () => {
  it('counts ticks and forecasts once the store has stored them, not when it has queued them', async () => {
    const s = backlogStore();
    s.hold();
    const writer = new InferenceWriter({ store: s.store, metrics: () => [], flushDelayMs: 1 });
    for (let seq = 0; seq < 5; seq++) await writer.add(makeTick(seq), forecast(seq), false);
    await writer.writeSoon();
    await turn();
    assert.equal(s.queue.stats().pending, 10, 'the store has acknowledged (queued) them');
    assert.equal(writer.stats.ticks, 0, 'none is stored yet');
    assert.equal(writer.stats.forecasts, 0);
    s.release();
    await writer.drain();
    assert.equal(writer.stats.ticks, 5);
    assert.equal(writer.stats.forecasts, 5);
    assert.deepEqual(s.stored, { inf_historical_db: 5, inf_predictions: 5 });
  });

  it('counts documents refused for good as rejected, the others as stored, and drains', async () => {
    const s = backlogStore();
    const writer = new InferenceWriter({ store: s.store, metrics: () => [], flushDelayMs: 1 });
    await writer.add(makeTick(0), forecast(0), false);
    await writer.add(makeTick(1), forecast(1, 'bad'), false);
    await writer.add(makeTick(2), forecast(2), false);
    await writer.drain();
    assert.equal(writer.stats.ticks, 3);
    assert.equal(writer.stats.forecasts, 2);
    assert.equal(writer.stats.rejected, 1);
    await writer.drain(); // nothing left, nothing lost
  });

  it('holds at most maxPendingBytes (plus one tick and its forecast) while the store does not acknowledge', async () => {
    let acknowledge = () => {};
    const acknowledged = new Promise<void>((r) => (acknowledge = r));
    const s = backlogStore();
    const slow = Object.create(s.store, {
      writeTicks: {
        value: async (c: string, t: unknown[]) => {
          await acknowledged;
          return s.store.writeTicks(c as never, t as never);
        },
      },
    }) as Store;
    const one = TICK_BYTES + forecastBytes(forecast(0));
    const writer = new InferenceWriter({
      store: slow,
      metrics: () => [],
      flushDelayMs: 1,
      maxPendingBytes: 10 * one,
    });
    let added = 0;
    let peak = 0;
    const reader = (async () => {
      for (let seq = 0; seq < 40; seq++) {
        await writer.add(makeTick(seq), forecast(seq), false);
        added += 1;
        peak = Math.max(peak, writer.stats.pendingBytes);
      }
    })();
    await turn();
    await turn();
    assert.ok(added <= 11, `the reader waits once 10 ticks with forecasts are held (added ${added})`);
    assert.ok(writer.stats.pendingBytes <= 11 * one, `${writer.stats.pendingBytes} bytes held`);
    acknowledge();
    await reader;
    await writer.drain();
    assert.ok(peak <= 11 * one, `peak ${peak} bytes`);
    assert.equal(writer.stats.pendingBytes, 0);
    assert.equal(writer.stats.ticks, 40);
  });

  it('gives up drain() at its stop deadline while the store holds the writes, naming what is not stored', async () => {
    const s = backlogStore();
    s.hold();
    const writer = new InferenceWriter({
      store: s.store,
      metrics: () => [],
      flushDelayMs: 1,
      stopTimeoutMs: 50,
    });
    for (let seq = 0; seq < 3; seq++) await writer.add(makeTick(seq), forecast(seq), false);
    await assert.rejects(writer.drain(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'BYNER_STORE');
      assert.match(
        e.message,
        /^3 tick\(s\), 3 forecast\(s\) and 0 metrics document\(s\) not confirmed stored 50 ms/,
      );
      return true;
    });
    assert.equal(writer.stats.ticks, 0);
    s.release(); // the held writes are stored late; the writer, which gave up, adds no attempt
    await s.queue.drained();
  });

  it('leaves no listener behind per drain(): twelve drains, side by side and one after another, warn nothing', async () => {
    const { store } = backlogStore();
    const writer = new InferenceWriter({ store, metrics: () => [], flushDelayMs: 1 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 12; i++) {
        await writer.add(makeTick(i), forecast(i), false);
        await writer.drain();
      }
      await Promise.all(Array.from({ length: 12 }, () => writer.drain()));
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next turn
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
    assert.equal(writer.stats.ticks, 12);
  });
});
