// The producer's start from a saved stream state: it continues exactly as a full replay of the stored history
// would, reads only the ticks after the state (and the ring's), and saves states only after its ticks are stored.
// Sources, hubs and the server are tested elsewhere; the store contract is store/contract.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IndicatorParams } from '../indicators/params.js';
import { ticksFromPrices } from '../indicators/ticks.js';
import type { PricePoint, PriceSource, StreamPosition } from '../sources/types.js';
import { openStore } from '../store/index.js';
import type { Store, StoreLogger, StreamState } from '../store/types.js';
import type { Tick } from '../ticks/types.js';
import { replayStoredStream, StreamProducer } from './producer.js';

const T0 = Date.UTC(2026, 0, 1);
const STREAM = 'resume';
const RING = 100;

/** Deterministic prices with fractional values (a slow wave plus a small saw). */
const pricesAt = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => {
    const k = from + i;
    return 100 + 10 * Math.sin(0.013 * k) + ((k * 7919) % 13) / 8;
  });

/** A feed of the given prices, stamped 1 s apart by seq; `delayMs` between points (0: all ready at once). */
class ListSource implements PriceSource {
  readonly kind = 'list';
  readonly onDemand = false;
  readonly stats = { points: 0, malformed: 0, reconnects: 0 };
  constructor(
    private readonly prices: readonly number[],
    private readonly delayMs = 0,
  ) {}
  async *points(from: StreamPosition, signal: AbortSignal): AsyncIterable<PricePoint> {
    for (let i = 0; i < this.prices.length && !signal.aborted; i++) {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      this.stats.points += 1;
      yield { price: this.prices[i], timestamp: new Date(T0 + (from.seq + i) * 1000) };
    }
  }
}

const dirs: string[] = [];
const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function freshStore(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'byner-producer-'));
  dirs.push(dir);
  const store = await openStore({ dataDir: dir });
  stores.push(store);
  return store;
}

interface RunOptions {
  indicatorParams?: IndicatorParams;
  logger?: StoreLogger;
  delayMs?: number;
}

/** Opens a producer over `prices`, lets it store them all, stops it. */
async function runToEnd(store: Store, prices: readonly number[], opts: RunOptions = {}) {
  const producer = await StreamProducer.open({
    store,
    stream: STREAM,
    source: new ListSource(prices, opts.delayMs),
    ringCapacity: RING,
    indicatorParams: opts.indicatorParams,
    logger: opts.logger,
  });
  const deadline = Date.now() + 60_000;
  while (producer.state.state === 'running') {
    assert.ok(Date.now() < deadline, `still running at head ${producer.headSeq}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  await producer.stop();
  assert.equal(producer.state.state, 'ended');
  return producer;
}

/** The store as it is, counting the ticks its reads return. */
function counting(store: Store): { store: Store; ticksRead: () => number } {
  let read = 0;
  const wrapped = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key !== 'ticksAfter' && key !== 'ticksRange' && key !== 'lastTicks') return value;
      return async (...args: unknown[]) => {
        const ticks = await (value as (...a: unknown[]) => Promise<unknown[]>).apply(target, args);
        read += ticks.length;
        return ticks;
      };
    },
  });
  return { store: wrapped, ticksRead: () => read };
}

/** The store without stream states: none is read, none is written (as data written before states existed). */
function withoutStates(store: Store): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'streamState') return async () => null;
      if (key === 'writeStreamState') return async () => {};
      return Reflect.get(target, key, receiver);
    },
  });
}

/** A logger that keeps the `gaps` of the warnings it gets. */
function gapsLogger(): { logger: StoreLogger; gaps: number[] } {
  const gaps: number[] = [];
  const logger: StoreLogger = {
    info() {},
    warn(obj: object) {
      if ('gaps' in obj) gaps.push(obj.gaps as number);
    },
    error() {},
  };
  return { logger, gaps };
}

describe('StreamProducer.open from a stream state', () => {
  it('reads only the ticks after the state (and the ring), not the whole history', async () => {
    const store = await freshStore();
    await runToEnd(store, pricesAt(0, 30_000));
    const { store: watched, ticksRead } = counting(store);
    const producer = await StreamProducer.open({
      store: watched,
      stream: STREAM,
      source: new ListSource([]),
      ringCapacity: RING,
    });
    await producer.stop();
    assert.equal(producer.headSeq, 29_999);
    assert.ok(ticksRead() <= RING + 1, `open read ${ticksRead()} ticks of 30,000 (want ≤ ${RING + 1})`);
    const state = await store.streamState(STREAM);
    assert.equal(state?.seq, 29_999, 'the stop saved the state of the last stored tick');
  });

  const custom: IndicatorParams = {
    maPeriod: 10,
    bbDeviations: 2,
    rsiPeriod: 7,
    macdFast: 5,
    macdSlow: 13,
    macdSignal: 4,
  };
  /** Each case fills a store with a history; the producer must continue it as a full replay does. */
  const cases: {
    name: string;
    /** The seq of the state the producer resumes from; null: it replays every stored tick. */
    fromState: number | null;
    fill: (store: Store, logger: StoreLogger) => Promise<void>;
  }[] = [
    {
      name: 'a state at the last stored tick',
      fromState: 24_999,
      fill: async (s, logger) => void (await runToEnd(s, pricesAt(0, 25_000), { logger })),
    },
    {
      name: 'a state older than the last stored ticks',
      fromState: 20_999,
      fill: async (s, logger) => {
        await runToEnd(s, pricesAt(0, 21_000), { logger });
        await runToEnd(withoutStates(s), pricesAt(21_000, 3_000), { logger });
      },
    },
    {
      name: 'no state (ticks stored by generate or import)',
      fromState: null,
      fill: async (s) => {
        const ticks = ticksFromPrices(pricesAt(0, 5_000), { start: 0, stream: STREAM, origin: new Date(T0) });
        await (await s.writeTicks('historical_data', ticks)).stored();
      },
    },
    {
      name: 'a state of other indicator periods',
      fromState: null,
      fill: async (s, logger) =>
        void (await runToEnd(s, pricesAt(0, 5_000), { logger, indicatorParams: custom })),
    },
    {
      name: 'a state whose tick is not stored (ticks lost since)',
      fromState: null,
      fill: async (s, logger) => {
        await runToEnd(s, pricesAt(0, 3_000), { logger });
        const state = (await s.streamState(STREAM)) as StreamState;
        await s.writeStreamState({ ...state, seq: 4_000 });
      },
    },
    {
      name: 'gaps in the stored seqs before the state',
      fromState: 5_049,
      fill: async (s, logger) => {
        const ticks = ticksFromPrices(pricesAt(0, 3_000), { start: 0, stream: STREAM, origin: new Date(T0) });
        const gapped = ticks.map((t) => ({ ...t, seq: t.seq < 1_000 ? t.seq : t.seq + 50 }));
        await (await s.writeTicks('historical_data', gapped)).stored();
        await runToEnd(s, pricesAt(3_000, 2_000), { logger });
      },
    },
  ];
  for (const { name, fromState, fill } of cases) {
    it(`continues exactly as a full replay: ${name}`, async () => {
      const [a, b] = [await freshStore(), await freshStore()];
      const quiet = gapsLogger().logger;
      await fill(a, quiet);
      await fill(b, quiet);
      // The replay itself: indicators, last seq and time, gaps, the ring's tail.
      const viaState = await replayStoredStream(a, STREAM, { keepLast: RING });
      const full = await replayStoredStream(withoutStates(b), STREAM, { keepLast: RING });
      assert.equal(viaState.fromState, fromState);
      assert.equal(full.fromState, null);
      assert.deepEqual(
        { ...viaState, fromState: null, indicators: viaState.indicators.getState() },
        { ...full, indicators: full.indicators.getState() },
      );
      // The producers: same ring, same gap warning, then the same next ticks.
      const next = pricesAt(40_000, 700);
      const logA = gapsLogger();
      const logB = gapsLogger();
      const pa = await runToEnd(a, next, { logger: logA.logger });
      const pb = await runToEnd(withoutStates(b), next, { logger: logB.logger });
      assert.deepEqual(logA.gaps, logB.gaps);
      assert.equal(pa.headSeq, pb.headSeq);
      for (let seq = pa.ring.firstSeq; seq < pa.ring.nextSeq; seq++)
        assert.deepEqual(pa.ring.get(seq)?.frame, pb.ring.get(seq)?.frame, `ring at seq ${seq}`);
      const from = full.lastSeq - RING;
      const [ticksA, ticksB] = [
        await a.ticksAfter('historical_data', STREAM, from, 100_000),
        await b.ticksAfter('historical_data', STREAM, from, 100_000),
      ];
      assert.equal(ticksA.length, RING + next.length);
      assert.deepEqual(ticksA, ticksB);
    });
  }

  describe('with the ticks after the state held elsewhere (the bus tick log)', () => {
    /** A store whose state is 4,000 ticks behind its last tick (24,999), and the same without states. */
    const filled = async () => {
      const [a, b] = [await freshStore(), await freshStore()];
      for (const s of [a, b]) {
        await runToEnd(s, pricesAt(0, 21_000));
        await runToEnd(withoutStates(s), pricesAt(21_000, 4_000));
      }
      return { a, b };
    };
    /** The stored ticks after a seq up to `upTo` (a log that lacks the last ones), optionally altered. */
    const heldFrom =
      (store: Store, upTo: number, alter: (t: Tick) => Tick = (t) => t) =>
      async (afterSeq: number) =>
        (await store.ticksAfter('historical_data', STREAM, afterSeq, 100_000))
          .filter((t) => t.seq <= upTo)
          .map(alter);
    const same = (x: Awaited<ReturnType<typeof replayStoredStream>>, y: typeof x) =>
      assert.deepEqual(
        { ...x, fromState: null, indicators: x.indicators.getState() },
        { ...y, fromState: null, indicators: y.indicators.getState() },
      );

    it('reads the store only past the held ticks, with the result of a full replay', async () => {
      const { a, b } = await filled();
      const { store: watched, ticksRead } = counting(a);
      const viaHeld = await replayStoredStream(watched, STREAM, { held: heldFrom(a, 24_990) });
      assert.equal(viaHeld.fromState, 20_999);
      assert.equal(viaHeld.lastSeq, 24_999);
      // The last held tick (to check it) and the 9 stored after it.
      assert.equal(ticksRead(), 10, `read ${ticksRead()} ticks from the store`);
      same(viaHeld, await replayStoredStream(withoutStates(b), STREAM));
    });

    it('does not wait for its own write backlog when it has not written the stream (a stream taken over)', async () => {
      const { a } = await filled();
      // As a MongoDB store whose backlog holds other streams' ticks for good: reads that wait for it never answer.
      const stuck = new Proxy(a, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (typeof value !== 'function' || !/^(ticks|lastTicks|lastSeq|streamState)/.test(String(key)))
            return value;
          return (...args: unknown[]) => {
            const options = args.find((x) => typeof x === 'object' && x !== null && 'afterWrites' in x);
            if ((options as { afterWrites?: boolean } | undefined)?.afterWrites !== false)
              return new Promise(() => {});
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const open = (ownWrites: boolean) =>
        StreamProducer.open({
          store: stuck,
          stream: STREAM,
          source: new ListSource([]),
          ringCapacity: RING,
          fillRing: false,
          held: heldFrom(a, 24_990),
          ownWrites,
        });
      const producer = await open(false);
      assert.equal(producer.headSeq, 24_999);
      await producer.stop();
      // The check of the check: a stream this process wrote waits for its backlog.
      const waited = await Promise.race([open(true).then(() => 'opened'), sleep(300).then(() => 'waiting')]);
      assert.equal(waited, 'waiting');
    });

    const unusable: [string, (a: Store) => (afterSeq: number) => Promise<Tick[]>][] = [
      ['none held (Redis restarted empty)', () => async () => []],
      [
        'held from after the state only (the log was trimmed)',
        (a) => async (after) => heldFrom(a, 24_990)(after + 10),
      ],
      [
        'the held ticks after the state are not the stored ones (another history)',
        (a) => heldFrom(a, 24_990, (t) => (t.seq > 20_999 ? { ...t, price: t.price + 1 } : t)),
      ],
      [
        'the state’s tick differs from the held one',
        (a) => heldFrom(a, 24_990, (t) => (t.seq === 20_999 ? { ...t, price: t.price + 1 } : t)),
      ],
    ];
    for (const [name, held] of unusable) {
      it(`reads the store instead when ${name}`, async () => {
        const { a, b } = await filled();
        const viaHeld = await replayStoredStream(a, STREAM, { held: held(a) });
        assert.equal(viaHeld.fromState, 20_999);
        same(viaHeld, await replayStoredStream(withoutStates(b), STREAM));
      });
    }
  });

  const failing: [string, () => Promise<void>][] = [
    ['hangs', () => new Promise<void>(() => {})],
    ['fails', async () => Promise.reject(new Error('store down'))],
  ];
  for (const [how, write] of failing) {
    it(`keeps producing and stops in time when saving the state ${how}`, async () => {
      const store = await freshStore();
      const warnings: string[] = [];
      const logger: StoreLogger = { info() {}, warn: (_o, msg) => warnings.push(msg ?? ''), error() {} };
      const broken = new Proxy(store, {
        get: (target, key, receiver) =>
          key === 'writeStreamState' ? write : Reflect.get(target, key, receiver),
      });
      const producer = await StreamProducer.open({
        store: broken,
        stream: STREAM,
        source: new ListSource(pricesAt(0, 500), 2),
        ringCapacity: RING,
        logger,
      });
      while (producer.state.state === 'running') await new Promise((r) => setTimeout(r, 5));
      const stopping = performance.now();
      await producer.stop({ timeoutMs: 300 });
      const stopMs = performance.now() - stopping;
      assert.ok(stopMs < 5_000, `stop took ${stopMs} ms with a state save that ${how}`);
      assert.equal(await store.lastSeq('historical_data', STREAM), 499);
      assert.equal(await store.streamState(STREAM), null);
      const saveWarnings = warnings.filter((w) => w.includes('could not save its state'));
      if (how === 'fails') assert.equal(saveWarnings.length, 1, 'one warning until a save succeeds');
    });
  }

  it('saves no more states once a batch met ticks stored by someone else', async () => {
    const store = await freshStore();
    await runToEnd(store, pricesAt(0, 1_000));
    let raced = false;
    const contested = new Proxy(store, {
      get(target, key, receiver) {
        if (key !== 'writeTicks') return Reflect.get(target, key, receiver);
        return async (collection: 'historical_data', ticks: Tick[]) => {
          if (!raced && ticks[0].seq >= 1_200) {
            // Another producer stores this seq first, with its own price.
            raced = true;
            await (await target.writeTicks(collection, [{ ...ticks[0], price: 1 }])).stored();
          }
          return target.writeTicks(collection, ticks);
        };
      },
    });
    await runToEnd(contested, pricesAt(1_000, 500), { delayMs: 1 });
    assert.ok(raced);
    const state = (await store.streamState(STREAM)) as StreamState;
    assert.ok(state.seq < 1_200, `a state at seq ${state.seq}, after the contested tick`);
    const full = await replayStoredStream(withoutStates(store), STREAM);
    const viaState = await replayStoredStream(store, STREAM);
    assert.deepEqual(viaState.indicators.getState(), full.indicators.getState());
  });

  it('saves a state only for stored ticks, at most every 5 s, and at stop', async () => {
    const store = await freshStore();
    const saved: StreamState[] = [];
    const problems: string[] = [];
    const checked = new Proxy(store, {
      get(target, key, receiver) {
        if (key !== 'writeStreamState') return Reflect.get(target, key, receiver);
        return async (state: StreamState) => {
          const [stored] = await target.ticksRange('historical_data', STREAM, state.seq, state.seq);
          if (stored === undefined) problems.push(`state at seq ${state.seq} before its tick was stored`);
          else if (
            stored.price !== state.indicators.recent.at(-1) ||
            stored.timestamp.getTime() !== state.time
          )
            problems.push(`state at seq ${state.seq} does not describe its tick`);
          saved.push(state);
          return target.writeStreamState(state);
        };
      },
    });
    const started = performance.now();
    const producer = await runToEnd(checked, pricesAt(0, 300), { delayMs: 8 });
    const seconds = (performance.now() - started) / 1000;
    assert.deepEqual(problems, []);
    assert.ok(
      saved.length >= 1 && saved.length <= Math.ceil(seconds / 5) + 2,
      `${saved.length} saves in ${seconds} s`,
    );
    assert.equal(saved.at(-1)?.seq, producer.headSeq);
    const stored = await store.streamState(STREAM);
    assert.equal(stored?.seq, 299);
    assert.deepEqual(stored, saved.at(-1));
  });
});
