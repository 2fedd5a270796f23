// The ONE contract suite every price-source kind must pass (node:test), and through the stream producer: prices
// in order from any position, timestamps never going back, prompt stops, and every tick stored before it is
// published with its seq and indicators. Each kind's factory (sources.test.ts) makes the inputs it needs.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ticksFromPrices } from '../indicators/ticks.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { StreamProducer } from '../stream/producer.js';
import { tickToJson } from '../ticks/json.js';
import type { Tick } from '../ticks/types.js';
import { isOnDemandKind, KIND_NAMES, type SourceKind } from './registry.js';
import type { PricePoint, PriceSource, StreamPosition } from './types.js';

export interface SourceUnderTest {
  source: PriceSource;
  /** The prices the source must yield first from the position it was made for, in order. */
  expected: number[];
}

export interface SourceFactory {
  kind: SourceKind;
  /**
   * A fresh source of this kind for a stream positioned at `from`, with the store it may read (replay) and the
   * stream's name. Its first `expected.length` points are known; it may go on or end after them.
   */
  make(from: StreamPosition, context: { store: Store; stream: string }): Promise<SourceUnderTest>;
  /** Makes what the kind reads in the store (a replay's source stream); called once per fresh store. */
  prepare?(store: Store): Promise<void>;
  /** Stops servers and the like. */
  dispose?(): Promise<void>;
}

/** Takes `n` points, failing after `ms` (a source that stops yielding must not hang the suite). */
async function take(iterator: AsyncIterator<PricePoint>, n: number, ms = 20_000): Promise<PricePoint[]> {
  const out: PricePoint[] = [];
  const end = Date.now() + ms;
  while (out.length < n) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(1, end - Date.now()));
    });
    const r = await Promise.race([iterator.next(), timeout]);
    clearTimeout(timer);
    if (r === 'timeout') assert.fail(`only ${out.length} of ${n} points within ${ms} ms`);
    if (r.done === true) break;
    out.push(r.value);
  }
  return out;
}

const T0 = Date.UTC(2026, 0, 1);

export function runSourceContract(name: string, factory: SourceFactory): void {
  describe(`${name} source contract`, () => {
    const stores: { store: Store; dir: string }[] = [];
    const fresh = async () => {
      const { mkdtempSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const dir = mkdtempSync(join(tmpdir(), `byner-source-${name}-`));
      const store = await openStore({ dataDir: dir });
      stores.push({ store, dir });
      await factory.prepare?.(store);
      return store;
    };
    after(async () => {
      const { rmSync } = await import('node:fs');
      for (const { store, dir } of stores) {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
      await factory.dispose?.();
    });

    it('is the registry kind it says, on demand as the registry says', async () => {
      const store = await fresh();
      const { source } = await factory.make({ seq: 0, lastTime: null }, { store, stream: 'contract' });
      assert.ok(KIND_NAMES.includes(source.kind as SourceKind), source.kind);
      assert.equal(source.kind, factory.kind);
      assert.equal(source.onDemand, isOnDemandKind(factory.kind));
      assert.deepEqual(source.stats, { points: 0, malformed: 0, reconnects: 0 });
    });

    for (const from of [
      { seq: 0, lastTime: null },
      { seq: 17, lastTime: T0 },
    ]) {
      it(`yields its prices in order from seq ${from.seq}, timestamps never before the stream's last one`, async () => {
        const store = await fresh();
        const { source, expected } = await factory.make(from, { store, stream: 'contract' });
        const stop = new AbortController();
        const iterator = source.points(from, stop.signal)[Symbol.asyncIterator]();
        const points = await take(iterator, expected.length);
        stop.abort();
        assert.deepEqual(
          points.map((p) => p.price),
          expected,
        );
        let last = from.lastTime ?? Number.NEGATIVE_INFINITY;
        for (const p of points) {
          assert.ok(Number.isFinite(p.price));
          if (p.timestamp === undefined) continue;
          assert.ok(p.timestamp.getTime() >= last, `timestamp ${p.timestamp.toISOString()} went back`);
          last = p.timestamp.getTime();
        }
        assert.equal(source.stats.points, expected.length);
      });
    }

    it('stops at once when its signal aborts, also while waiting for the next point', async () => {
      const store = await fresh();
      const from = { seq: 0, lastTime: null };
      const { source, expected } = await factory.make(from, { store, stream: 'contract' });
      const stop = new AbortController();
      const iterator = source.points(from, stop.signal)[Symbol.asyncIterator]();
      await take(iterator, Math.min(3, expected.length));
      // The next point may be far off (a paced source, a feed with nothing more): aborting ends the wait.
      const pending = iterator.next();
      const aborted = new Promise<void>((resolve) =>
        setTimeout(() => {
          stop.abort();
          resolve();
        }, 20),
      );
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        pending.then((x) => (x.done === true ? 'done' : 'point')),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve('still waiting'), 5000);
        }),
      ]);
      clearTimeout(timer);
      assert.notEqual(r, 'still waiting');
      await aborted;
      const afterwards = await iterator.next();
      assert.equal(afterwards.done, true, 'nothing after the abort');
    });

    it('through the producer: every tick stored before it is published, seqs consecutive, indicators continued', async () => {
      const store = await fresh();
      const stream = 'contract-live';
      // Stored history first: the producer continues its seqs and indicators.
      const history = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7];
      await store.writeTicks(
        'historical_data',
        ticksFromPrices(history, { start: 0, stream, origin: new Date(T0) }),
      );
      const from = { seq: history.length, lastTime: T0 + (history.length - 1) * 1000 };
      const { source, expected } = await factory.make(from, { store, stream });
      const producer = await StreamProducer.open({
        store,
        stream,
        source,
        ringCapacity: 1000,
        alwaysOn: true,
      });
      const storedAtPublish: boolean[] = [];
      producer.onPublish(() => {
        void store
          .lastSeq('historical_data', stream)
          .then((seq) => storedAtPublish.push(seq !== null && seq >= producer.headSeq));
      });
      producer.setActive(true);
      const want = history.length + expected.length - 1;
      const end = Date.now() + 20_000;
      try {
        while (producer.headSeq < want) {
          assert.ok(Date.now() < end, `head ${producer.headSeq}, want ${want}`);
          producer.demand(); // what a client that has read everything does
          await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        await producer.stop();
      }
      const stored = await store.ticksAfter('historical_data', stream, -1, 100_000);
      assert.deepEqual(
        stored.map((t) => t.seq),
        stored.map((_, i) => i),
      );
      const prices = stored.map((t) => t.price);
      assert.deepEqual(prices.slice(history.length, history.length + expected.length), expected);
      // Indicators as the batch computation over every stored price (DESIGN §3: within 1e-9).
      const batch = ticksFromPrices(prices, { start: 0, stream, origin: new Date(T0) });
      stored.forEach((t, i) => {
        for (const [k, v] of Object.entries(t.indicators)) {
          const want = batch[i].indicators[k as keyof Tick['indicators']];
          if (v === null || want === null) assert.equal(v, want, `${k} at ${i}`);
          else
            assert.ok(
              Math.abs(v - want) <= 1e-9 * Math.max(1, Math.abs(want)),
              `${k} at ${i}: ${v} vs ${want}`,
            );
        }
      });
      for (let i = 1; i < stored.length; i++)
        assert.ok(stored[i].timestamp >= stored[i - 1].timestamp, `timestamp went back at seq ${i}`);
      assert.ok(
        storedAtPublish.length > 0 && storedAtPublish.every(Boolean),
        'a tick was published before stored',
      );
      for (let seq = producer.ring.firstSeq; seq <= producer.headSeq; seq++) {
        const frame = producer.ring.get(seq)?.frame.toString('utf8') ?? '';
        assert.equal(frame, `id: ${seq}\ndata: ${JSON.stringify(tickToJson(stored[seq]))}\n\n`);
      }
    });
  });
}
