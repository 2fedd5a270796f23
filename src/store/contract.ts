// The ONE contract suite every Store implementation must pass (node:test). Each implementation's test file
// calls runStoreContract with a factory of fresh, isolated stores; starting servers is that file's job.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isBynerError } from '../errors.js';
import { IndicatorStream } from '../indicators/streaming.js';
import { sampleValue } from '../metrics/prometheus.js';
import { INDICATOR_NAMES, type Indicators, type Tick } from '../ticks/types.js';
import type { Forecast, MetricsDoc, ModelEntry, Store, StreamState, TrainingPrediction } from './types.js';

export interface StoreUnderTest {
  store: Store;
  /**
   * A variant of a metrics document that this store's backend refuses for good (e.g. larger than MongoDB's
   * 16 MiB document limit, or refused by an SQLite trigger the factory installed) although it passes validation.
   */
  refusing(doc: MetricsDoc): MetricsDoc;
  /** Opens a second Store over the same data (same directory / database). */
  reopen(): Promise<Store>;
  /** Closes what is still open and deletes the data. */
  dispose(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreUnderTest>;

const T0 = Date.UTC(2024, 0, 1);

/** A deterministic tick: integral prices, indicators null before their warm-up index, then fractional. */
export function makeTick(seq: number, stream = 'synthetic', priceShift = 0): Tick {
  const indicators = {} as Indicators;
  INDICATOR_NAMES.forEach((name, i) => {
    indicators[name] = seq < 9 + 3 * i ? null : Math.sin(seq + i) * 10 + 0.125 * i;
  });
  if (seq >= 30) indicators.ma = 2; // a whole-number indicator must come back as the same number
  return {
    seq,
    stream,
    timestamp: new Date(T0 + seq * 1000),
    price: Math.round(8 * Math.sin(0.2 * Math.PI * seq)) + priceShift,
    indicators,
  };
}

export const makeTicks = (from: number, count: number, stream = 'synthetic') =>
  Array.from({ length: count }, (_, i) => makeTick(from + i, stream));

const window = (seq: number) =>
  Array.from({ length: 60 }, (_, r) => [r % 21, 1.5, r / 7, 3, -r, 0.25, seq].map((x) => x + 0));

const makeForecast = (seq: number, model = 'v1', stream = 'synthetic'): Forecast => ({
  timestamp: new Date(T0 + seq * 1000),
  input_sequence: window(seq),
  forecast: [1.5, 2, -3.25, 4, seq],
  model_version: model,
  seq,
  stream,
});

const makePrediction = (i: number, model = 'v1'): TrainingPrediction => ({
  timestamp: new Date(T0 + i * 1000),
  input_sequence: window(i),
  true_next_sequence: [1, 2, 3, 4, i],
  predicted_next_sequence: [1.25, 2.5, 2.75, 4.125, i + 0.5],
  model_version: model,
});

const makeMetrics = (i: number, model = 'v1'): MetricsDoc => ({
  timestamp: new Date(T0 + i * 1000),
  metrics: { mse: [1.5, 2, 2.25, 2.5, i], mae: [1, 1.125, 1.25, 1.5, 2], accuracy: [0.25, 0.5, null, 0, 1] },
  forecast_horizon: 5,
  model_version: model,
  scored: i * 10,
  baselines: { naive: { mse: [3, 3, 3, 3, 3] } },
});

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  out[0] = 0;
  out[n - 1] = 255;
  return out;
}

const makeModel = (version: string, minute: number, extra: Partial<ModelEntry> = {}): ModelEntry => ({
  version,
  created_at: new Date(T0 + minute * 60_000),
  config: { window: 60, horizon: 5, units: [100, 50], dropout: 0.2, note: 'contract' },
  scaler: { min: [-10, 0, -12, -14, -3, -3, -2], max: [10, 100, 12, 14, 3, 3, 2] },
  metrics: { mse: [2.3, 2.4, 2.4, 2.5, 2.5], epochs: 12 },
  data_range: { stream: 'synthetic', from_seq: 0, to_seq: 9999 },
  // weights.bin crosses GridFS's 255 KiB chunk size; the empty file checks the zero-length edge.
  artifact: {
    'model.json': new TextEncoder().encode('{"format":"layers-model"}'),
    'weights.bin': bytes(300_000, minute),
  },
  ...extra,
});

async function rejectsWith(code: string, fn: () => Promise<unknown>, match?: RegExp) {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(isBynerError(e), `expected a BynerError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    if (match) assert.match(e.message, match);
    return true;
  });
}

/** Invalid batches: each must be rejected whole (the valid documents around the bad one are not stored). */
const INVALID_TICKS: [string, (t: Tick) => unknown, RegExp][] = [
  ['NaN price', (t) => ({ ...t, price: Number.NaN }), /field price/],
  ['Infinity price', (t) => ({ ...t, price: Number.POSITIVE_INFINITY }), /field price/],
  ['string price', (t) => ({ ...t, price: '3' }), /field price/],
  ['missing timestamp', ({ timestamp, ...t }) => t, /field timestamp/],
  ['invalid Date', (t) => ({ ...t, timestamp: new Date(Number.NaN) }), /field timestamp/],
  ['negative seq', (t) => ({ ...t, seq: -1 }), /field seq/],
  ['fractional seq', (t) => ({ ...t, seq: 1.5 }), /field seq/],
  ['empty stream', (t) => ({ ...t, stream: '' }), /field stream/],
  [
    'missing indicator',
    (t) => ({ ...t, indicators: { ...t.indicators, rsi: undefined } }),
    /indicators\.rsi/,
  ],
  ['NaN indicator (use null)', (t) => ({ ...t, indicators: { ...t.indicators, macd: Number.NaN } }), /macd/],
  ['unknown indicator', (t) => ({ ...t, indicators: { ...t.indicators, ema: 1 } }), /indicators\.ema/],
  ['not an object', () => 42, /\(document\)/],
];

/** The state of `stream` after `seq + 1` prices of a wave with fractional values, stamped like makeTick. */
export function makeStreamState(stream: string, seq: number): StreamState {
  const indicators = new IndicatorStream();
  for (let i = 0; i <= seq; i++) indicators.push(100 + 7 * Math.sin(0.3 * i) + i / 64);
  return { stream, seq, time: T0 + seq * 1000, gaps: seq % 3, indicators: indicators.getState() };
}

const INVALID_STATES: [string, (s: StreamState) => unknown, RegExp][] = [
  ['empty stream name', (s) => ({ ...s, stream: '' }), /field stream/],
  ['negative seq', (s) => ({ ...s, seq: -1 }), /field seq/],
  ['time not a number', (s) => ({ ...s, time: new Date(s.time) }), /field time/],
  ['fractional gaps', (s) => ({ ...s, gaps: 0.5 }), /field gaps/],
  ['no indicators', ({ indicators, ...rest }) => rest, /field indicators/],
  [
    'NaN in the indicator state',
    (s) => ({ ...s, indicators: { ...s.indicators, rsi: { gain: Number.NaN, loss: 0 } } }),
    /field indicators/,
  ],
];

/** Runs the contract, or (given `{ skip: reason }`) reports the whole suite skipped once, with the reason. */
export function runStoreContract(name: string, factory: StoreFactory | { skip: string }): void {
  if ('skip' in factory) {
    describe(`${name} store contract`, { skip: factory.skip });
    return;
  }

  describe(`${name} store contract`, () => {
    const open: StoreUnderTest[] = [];
    const freshUnderTest = async () => {
      const s = await factory();
      open.push(s);
      return s;
    };
    const fresh = async () => (await freshUnderTest()).store;
    after(async () => {
      const results = await Promise.allSettled(open.map((s) => s.dispose()));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    });

    it('round-trips ticks exactly: nulls before warm-up, integral and fractional values, dates', async () => {
      const store = await fresh();
      const ticks = makeTicks(0, 40);
      ticks[35] = { ...ticks[35], price: 2.5 };
      await store.writeTicks('historical_data', ticks);
      assert.deepEqual(await store.lastTicks('historical_data', 'synthetic', 40), ticks);
      assert.deepEqual(await store.lastTicks('historical_data', 'synthetic', 3), ticks.slice(37));
      assert.deepEqual(await store.lastTicks('historical_data', 'synthetic', 0), []);
    });

    it('stores a re-sent tick once, first write wins (across and within batches)', async () => {
      const store = await fresh();
      await store.writeTicks('historical_data', makeTicks(0, 50));
      await store.writeTicks('historical_data', makeTicks(0, 50));
      const resent = makeTicks(40, 20).map((t) => ({ ...t, price: t.price + 100 }));
      await store.writeTicks('historical_data', [...resent, ...resent]);
      await store.flush();
      assert.equal(await store.countTicks('historical_data'), 60);
      const got = await store.ticksRange('historical_data', 'synthetic', 0, 100);
      assert.deepEqual(
        got.map((t) => t.seq),
        Array.from({ length: 60 }, (_, i) => i),
      );
      assert.deepEqual(got.slice(0, 50), makeTicks(0, 50), 'the first write wins');
      assert.equal(got[55].price, makeTick(55).price + 100);
      const w = store.writeStats();
      assert.equal(w.stored, 60);
      assert.equal(w.duplicates, 50 + 10 + 20);
      assert.equal(w.rejected, 0);
      assert.equal(w.pending, 0);
      assert.equal(w.pendingBytes, 0);
    });

    it("gives each write a receipt that resolves once its documents are stored, with that write's counts", async () => {
      const store = await fresh();
      const first = await store.writeTicks('historical_data', makeTicks(0, 10));
      const second = await store.writeTicks('historical_data', makeTicks(5, 10));
      const forecasts = await store.writeForecasts([makeForecast(1), makeForecast(2)]);
      const metrics = await store.writeMetrics('inf_metrics', [makeMetrics(0)]);
      const predictions = await store.writeTrainingPredictions([makePrediction(0)]);
      assert.equal(first.documents, 10);
      assert.deepEqual(await second.stored(), { stored: 5, duplicates: 5 });
      assert.deepEqual(await first.stored(), { stored: 10, duplicates: 0 });
      assert.deepEqual(await first.stored(), { stored: 10, duplicates: 0 }, 'the same answer each time');
      assert.deepEqual(await forecasts.stored(), { stored: 2, duplicates: 0 });
      assert.deepEqual(await metrics.stored(), { stored: 1, duplicates: 0 });
      assert.deepEqual(await predictions.stored(), { stored: 1, duplicates: 0 });
      const w = store.writeStats();
      assert.equal(w.stored, 15 + 2 + 1 + 1, 'what the receipts call stored is counted as stored');
      assert.equal(w.duplicates, 5);
    });

    it('reports a document refused for good to the write that made it (every time it asks) and to no other', async () => {
      const s = await freshUnderTest();
      const { store } = s;
      const refusedBefore = await sampleValue('byner_store_write_errors_total', {
        collection: 'inf_metrics',
        kind: 'refused',
      });
      const writesBefore = await sampleValue('byner_store_write_seconds_count', {
        collection: 'inf_metrics',
      });
      const good = [makeMetrics(1), makeMetrics(2)];
      const mine = await store.writeMetrics('inf_metrics', [
        good[0],
        s.refusing(makeMetrics(3, 'v-refused')),
        good[1],
      ]);
      const other = await store.writeTicks('inf_historical_db', makeTicks(0, 5));
      await store.flush(); // a barrier for every writer: it reports no write's failure
      assert.deepEqual(await other.stored(), { stored: 5, duplicates: 0 });
      for (let ask = 0; ask < 2; ask++) {
        await rejectsWith('BYNER_STORE_REJECTED', () => mine.stored(), /model_version v-refused/);
      }
      const stored = await store.recentMetrics('inf_metrics', 10);
      assert.deepEqual(stored, good, "the write's other documents are stored");
      const w = store.writeStats();
      assert.equal(w.rejected, 1, 'counted, once: a refusal is not retried');
      assert.equal(w.stored, 2 + 5);
      assert.equal(w.pending, 0);
      assert.equal(
        (await sampleValue('byner_store_write_errors_total', {
          collection: 'inf_metrics',
          kind: 'refused',
        })) - refusedBefore,
        1,
        'byner_store_write_errors_total{kind="refused"} counts the refused document',
      );
      assert.ok(
        (await sampleValue('byner_store_write_seconds_count', { collection: 'inf_metrics' })) > writesBefore,
        'byner_store_write_seconds observes the write',
      );
    });

    it("gives up a read whose signal has aborted, with the signal's reason, keeping nothing", async () => {
      const store = await fresh();
      await store.writeTicks('historical_data', makeTicks(0, 5));
      const reason = new Error('the caller gave up');
      const signal = AbortSignal.abort(reason);
      const reads: [string, () => Promise<unknown>][] = [
        ['lastTicks', () => store.lastTicks('historical_data', 'synthetic', 5, { signal })],
        ['ticksAfter', () => store.ticksAfter('historical_data', 'synthetic', 0, 5, { signal })],
        ['recentForecasts', () => store.recentForecasts('synthetic', 5, undefined, { signal })],
        ['recentMetrics', () => store.recentMetrics('inf_metrics', 5, undefined, { signal })],
        ['listModels', () => store.listModels({}, { signal })],
        ['countTicks', () => store.countTicks('historical_data', undefined, { signal })],
      ];
      for (const [what, read] of reads) {
        await assert.rejects(read, (e: unknown) => e === reason, what);
      }
      assert.equal(store.writeStats().waitingReads, 0);
      assert.equal((await store.lastTicks('historical_data', 'synthetic', 5)).length, 5);
    });

    it('keeps the first of duplicates inside one large batch (hundreds of ticks in one write)', async () => {
      const store = await fresh();
      await store.writeTicks('historical_data', makeTicks(0, 10));
      const first = makeTicks(5, 150);
      // each tick followed by a changed copy of itself; seqs 5..9 are stored already
      const pairs = first.flatMap((t) => [t, { ...t, price: t.price + 0.5 }]);
      await store.writeTicks('historical_data', pairs);
      await store.flush();
      assert.deepEqual(await store.ticksRange('historical_data', 'synthetic', 0, 1000), makeTicks(0, 155));
      const w = store.writeStats();
      assert.equal(w.stored, 155);
      assert.equal(w.duplicates, 150 + 5);
    });

    it('reads in seq order whatever the write order; ranges are inclusive', async () => {
      const store = await fresh();
      const ticks = makeTicks(0, 200);
      const shuffled = [...ticks].sort((a, b) => ((a.seq * 7919) % 200) - ((b.seq * 7919) % 200));
      for (let i = 0; i < shuffled.length; i += 37)
        await store.writeTicks('historical_data', shuffled.slice(i, i + 37));
      assert.deepEqual(await store.ticksRange('historical_data', 'synthetic', 10, 19), ticks.slice(10, 20));
      assert.deepEqual(await store.lastTicks('historical_data', 'synthetic', 60), ticks.slice(140));
      assert.deepEqual(await store.ticksRange('historical_data', 'synthetic', 500, 600), []);
    });

    it('resumes after a seq: ticksAfter with limits, -1 for the start, streams and collections apart', async () => {
      const store = await fresh();
      await store.writeTicks('historical_data', [...makeTicks(0, 30), ...makeTicks(0, 5, 'other')]);
      await store.writeTicks('inf_historical_db', makeTicks(100, 3));
      const ticks = makeTicks(0, 30);
      assert.deepEqual(await store.ticksAfter('historical_data', 'synthetic', 9, 5), ticks.slice(10, 15));
      assert.deepEqual(await store.ticksAfter('historical_data', 'synthetic', -1, 2), ticks.slice(0, 2));
      assert.deepEqual(await store.ticksAfter('historical_data', 'synthetic', 25, 100), ticks.slice(26));
      assert.deepEqual(await store.ticksAfter('historical_data', 'synthetic', 29, 100), []);
      assert.deepEqual(await store.ticksAfter('historical_data', 'other', 2, 100), makeTicks(3, 2, 'other'));
      assert.equal(await store.lastSeq('historical_data', 'synthetic'), 29);
      assert.equal(await store.lastSeq('historical_data', 'other'), 4);
      assert.equal(await store.lastSeq('historical_data', 'none'), null);
      assert.equal(await store.lastSeq('inf_historical_db', 'synthetic'), 102);
      assert.equal(await store.countTicks('historical_data'), 35);
      assert.equal(await store.countTicks('historical_data', 'other'), 5);
      assert.equal(await store.countTicks('inf_historical_db'), 3);
    });

    it('lists the streams of a collection: name order, count and last seq; empty collections list none', async () => {
      const store = await fresh();
      assert.deepEqual(await store.listStreams('historical_data'), []);
      // A gap in `b` (seqs 0..4 and 10..11): count and last seq differ.
      await store.writeTicks('historical_data', [...makeTicks(0, 5, 'b'), ...makeTicks(10, 2, 'b')]);
      await store.writeTicks('historical_data', [...makeTicks(0, 30), ...makeTicks(0, 3, 'a.1')]);
      await store.writeTicks('inf_historical_db', makeTicks(100, 3, 'c'));
      assert.deepEqual(await store.listStreams('historical_data'), [
        { stream: 'a.1', count: 3, last_seq: 2 },
        { stream: 'b', count: 7, last_seq: 11 },
        { stream: 'synthetic', count: 30, last_seq: 29 },
      ]);
      assert.deepEqual(await store.listStreams('inf_historical_db'), [
        { stream: 'c', count: 3, last_seq: 102 },
      ]);
    });

    it('reads across gaps in the stored seqs: after, last, range, last seq', async () => {
      const store = await fresh();
      // seqs 0..4, 10..11, 20..22 in `g`; 0..2 in `h`
      const g = [...makeTicks(0, 5, 'g'), ...makeTicks(10, 2, 'g'), ...makeTicks(20, 3, 'g')];
      await store.writeTicks('inf_historical_db', [...g, ...makeTicks(0, 3, 'h')]);
      const seqs = (ticks: Tick[]) => ticks.map((t) => t.seq);
      assert.deepEqual(seqs(await store.ticksAfter('inf_historical_db', 'g', 3, 4)), [4, 10, 11, 20]);
      assert.deepEqual(seqs(await store.ticksAfter('inf_historical_db', 'g', 11, 10)), [20, 21, 22]);
      assert.deepEqual(seqs(await store.ticksAfter('inf_historical_db', 'g', 5, 1)), [10]);
      assert.deepEqual(seqs(await store.lastTicks('inf_historical_db', 'g', 4)), [11, 20, 21, 22]);
      assert.deepEqual(seqs(await store.ticksRange('inf_historical_db', 'g', 3, 10)), [3, 4, 10]);
      assert.deepEqual(seqs(await store.ticksRange('inf_historical_db', 'g', 5, 9)), []);
      assert.deepEqual(seqs(await store.lastTicks('inf_historical_db', 'h', 10)), [0, 1, 2]);
      assert.equal(await store.lastSeq('inf_historical_db', 'g'), 22);
      assert.deepEqual(await store.ticksAfter('inf_historical_db', 'g', 1, 2), g.slice(2, 4));
    });

    it('keeps one stream state per stream that never moves back, round-tripping the indicator state exactly', async () => {
      const s = await freshUnderTest();
      const store = s.store;
      assert.equal(await store.streamState('a'), null);
      const early = makeStreamState('a', 10); // MACD not seeded yet: its state holds a null
      assert.equal(early.indicators.macd, null);
      const late = makeStreamState('a', 300);
      await store.writeStreamState(early);
      await store.writeStreamState(makeStreamState('b', 5));
      assert.deepEqual(await store.streamState('a'), early);
      await store.writeStreamState(makeStreamState('a', 7));
      await store.writeStreamState({ ...makeStreamState('a', 10), time: 1 }); // as new: the stored one stays
      assert.deepEqual(await store.streamState('a'), early);
      // Writes racing in any order leave the newest.
      await Promise.all(
        [250, late.seq, 40, 299].map((seq) => store.writeStreamState(makeStreamState('a', seq))),
      );
      assert.deepEqual(await store.streamState('a'), late);
      assert.deepEqual(await store.streamState('b'), makeStreamState('b', 5));
      // The state read back continues exactly where the one written was.
      const resumed = IndicatorStream.fromState((await store.streamState('a'))!.indicators);
      const original = IndicatorStream.fromState(late.indicators);
      for (const p of [101.25, 99.5, 100]) assert.deepEqual(resumed.push(p), original.push(p));
      await store.close();
      const again = await s.reopen();
      assert.deepEqual(await again.streamState('a'), late);
      await again.close();
    });

    for (const [label, edit, field] of INVALID_STATES) {
      it(`rejects an invalid stream state (${label}) and stores nothing`, async () => {
        const store = await fresh();
        await assert.rejects(
          store.writeStreamState(edit(makeStreamState('c', 50)) as StreamState),
          (e: unknown) => isBynerError(e, 'BYNER_INVALID_DOCUMENT') && field.test(e.message),
        );
        assert.equal(await store.streamState('c'), null);
      });
    }

    it('reads see every acknowledged write without an explicit flush', async () => {
      const store = await fresh();
      for (let i = 0; i < 20; i++) await store.writeTicks('inf_historical_db', [makeTick(i)]);
      assert.equal((await store.ticksAfter('inf_historical_db', 'synthetic', 14, 10)).length, 5);
    });

    for (const [label, corrupt, field] of INVALID_TICKS) {
      it(`rejects a batch with an invalid tick (${label}) and stores none of it`, async () => {
        const store = await fresh();
        const batch: unknown[] = makeTicks(0, 5);
        batch[3] = corrupt(batch[3] as Tick);
        await rejectsWith(
          'BYNER_INVALID_DOCUMENT',
          () => store.writeTicks('historical_data', batch as Tick[]),
          field,
        );
        await rejectsWith(
          'BYNER_INVALID_DOCUMENT',
          () => store.writeTicks('historical_data', batch as Tick[]),
          /index 3/,
        );
        await store.flush();
        assert.equal(await store.countTicks('historical_data'), 0);
      });
    }

    it('rejects invalid forecasts, predictions, metrics and models with the field named', async () => {
      const store = await fresh();
      const f = makeForecast(1);
      const cases: [() => Promise<unknown>, RegExp][] = [
        [
          () => store.writeForecasts([f, { ...f, forecast: [1, Number.NaN, 3, 4, 5] }]),
          /index 1, field forecast\[1\]/,
        ],
        [() => store.writeForecasts([{ ...f, input_sequence: [[1, 2, 3]] }]), /input_sequence\[0\]/],
        [() => store.writeForecasts([{ ...f, model_version: '' }]), /model_version/],
        [
          () => store.writeTrainingPredictions([{ ...makePrediction(0), predicted_next_sequence: [1, 2] }]),
          /predicted_next_sequence/,
        ],
        [
          () =>
            store.writeMetrics('inf_metrics', [
              { ...makeMetrics(0), metrics: { mse: [1], mae: [1], accuracy: [1] } },
            ]),
          /metrics\.mse/,
        ],
        [() => store.writeMetrics('tr_metrics', [{ ...makeMetrics(0), extra: Number.NaN }]), /field extra/],
        [
          () => store.saveModel({ ...makeModel('v1', 0), artifact: { '../x': new Uint8Array(1) } }),
          /artifact/,
        ],
        [() => store.saveModel({ ...makeModel('v1', 0), artifact: {} }), /artifact/],
        [() => store.saveModel({ ...makeModel('a/b', 0) }), /version/],
      ];
      for (const [fn, match] of cases) await rejectsWith('BYNER_INVALID_DOCUMENT', fn, match);
      await rejectsWith('BYNER_INPUT', () => store.lastTicks('historical_data', 'synthetic', -1));
      await store.flush();
      const stats = await store.stats();
      assert.ok(
        Object.values(stats).every((n) => n === 0),
        JSON.stringify(stats),
      );
    });

    it('stores a re-sent forecast once per (stream, seq, model_version); lists the latest in seq order', async () => {
      const store = await fresh();
      const forecasts = Array.from({ length: 30 }, (_, i) => makeForecast(100 + i));
      await store.writeForecasts(forecasts);
      await store.writeForecasts(forecasts.slice(10, 20));
      await store.writeForecasts([makeForecast(105, 'v2'), makeForecast(3, 'v1', 'other')]);
      await store.flush();
      assert.equal((await store.stats()).inf_predictions, 32);
      assert.deepEqual(await store.recentForecasts('synthetic', 3, 'v1'), forecasts.slice(27));
      assert.deepEqual(await store.recentForecasts('synthetic', 1, 'v2'), [makeForecast(105, 'v2')]);
      assert.equal((await store.recentForecasts('synthetic', 100)).length, 31);
      assert.deepEqual(await store.recentForecasts('other', 5), [makeForecast(3, 'v1', 'other')]);
      assert.equal(await store.lastForecastSeq('synthetic'), 129);
      assert.equal(await store.lastForecastSeq('other'), 3);
      assert.equal(await store.lastForecastSeq('none'), null);
    });

    it("reads one model's latest forecasts when another model forecast later seqs or left gaps", async () => {
      const store = await fresh();
      const v1 = [0, 1, 2, 4, 5].map((seq) => makeForecast(seq, 'v1'));
      await store.writeForecasts([...v1, makeForecast(6, 'v2'), makeForecast(7, 'v2')]);
      assert.deepEqual(await store.recentForecasts('synthetic', 3, 'v1'), v1.slice(2));
      assert.deepEqual(await store.recentForecasts('synthetic', 2, 'v2'), [
        makeForecast(6, 'v2'),
        makeForecast(7, 'v2'),
      ]);
      assert.deepEqual(await store.recentForecasts('synthetic', 5, 'v2'), [
        makeForecast(6, 'v2'),
        makeForecast(7, 'v2'),
      ]);
      assert.equal(await store.lastForecastSeq('synthetic'), 7);
    });

    it('round-trips training predictions (60×7 windows) in write order', async () => {
      const store = await fresh();
      const preds = Array.from({ length: 25 }, (_, i) => makePrediction(i));
      await store.writeTrainingPredictions(preds.slice(0, 10));
      await store.writeTrainingPredictions([makePrediction(0, 'v2')]);
      await store.writeTrainingPredictions(preds.slice(10));
      assert.deepEqual(await store.trainingPredictions('v1'), preds);
      assert.deepEqual(await store.trainingPredictions('v1', 2), preds.slice(0, 2));
      assert.equal((await store.trainingPredictions('v2')).length, 1);
    });

    it('round-trips metrics with nulls and extra fields; recent ones oldest first', async () => {
      const store = await fresh();
      const docs = Array.from({ length: 6 }, (_, i) => makeMetrics(i));
      await store.writeMetrics('inf_metrics', docs);
      await store.writeMetrics('inf_metrics', [makeMetrics(2, 'v2')]);
      await store.writeMetrics('tr_metrics', [makeMetrics(0)]);
      assert.deepEqual(await store.recentMetrics('inf_metrics', 2, 'v1'), docs.slice(4));
      assert.deepEqual(await store.recentMetrics('inf_metrics', 1, 'v2'), [makeMetrics(2, 'v2')]);
      assert.equal((await store.recentMetrics('inf_metrics', 100)).length, 7);
      assert.deepEqual(await store.recentMetrics('tr_metrics', 5), [makeMetrics(0)]);
      assert.deepEqual(await store.recentMetrics('inf_metrics', 2, { modelVersion: 'v1' }), docs.slice(4));
    });

    it('filters recent metrics by stream, alone or with a model version', async () => {
      const store = await fresh();
      const of = (i: number, stream: string, model = 'v1') => ({ ...makeMetrics(i, model), stream });
      const docs = [of(0, 'a'), of(1, 'b'), of(2, 'a', 'v2'), of(3, 'b'), of(4, 'a'), makeMetrics(5)];
      await store.writeMetrics('inf_metrics', docs);
      assert.deepEqual(await store.recentMetrics('inf_metrics', 10, { stream: 'a' }), [
        docs[0],
        docs[2],
        docs[4],
      ]);
      assert.deepEqual(await store.recentMetrics('inf_metrics', 1, { stream: 'b' }), [docs[3]]);
      assert.deepEqual(await store.recentMetrics('inf_metrics', 10, { stream: 'a', modelVersion: 'v1' }), [
        docs[0],
        docs[4],
      ]);
      assert.deepEqual(await store.recentMetrics('inf_metrics', 10, { stream: 'none' }), []);
      assert.equal((await store.recentMetrics('inf_metrics', 10, {})).length, 6);
    });

    it('keeps a model registry: artifact bytes round trip, streams, the serving flag of each stream', async () => {
      const store = await fresh();
      assert.equal(await store.getModel('v1'), null);
      assert.equal(await store.servingModel('synthetic'), null);
      const v1 = makeModel('v1', 1);
      const v2 = makeModel('v2', 2, {
        artifact: { 'model.json': new Uint8Array([123, 125]), 'empty.bin': new Uint8Array(0) },
      });
      await store.saveModel(v1);
      await store.saveModel(v2);
      const stored = (m: ModelEntry, serving: string[]) => ({
        ...m,
        streams: ['synthetic'],
        serving_streams: serving,
        serving: serving.length > 0,
      });
      assert.deepEqual(await store.getModel('v1'), stored(v1, []), 'registered for its data stream');
      assert.equal(await store.servingModel('synthetic'), null, 'none serves until one is set');
      await store.setServing('v1');
      assert.deepEqual(await store.servingModel('synthetic'), stored(v1, ['synthetic']));
      await store.saveModel(makeModel('v3', 3, { serving: true }));
      assert.equal((await store.servingModel('synthetic'))?.version, 'v3');
      const list = await store.listModels();
      assert.deepEqual(
        list.map((m) => [m.version, m.serving, m.serving_streams, m.files]),
        [
          [
            'v1',
            false,
            [],
            [
              { name: 'model.json', bytes: 25 },
              { name: 'weights.bin', bytes: 300_000 },
            ],
          ],
          [
            'v2',
            false,
            [],
            [
              { name: 'model.json', bytes: 2 },
              { name: 'empty.bin', bytes: 0 },
            ],
          ],
          [
            'v3',
            true,
            ['synthetic'],
            [
              { name: 'model.json', bytes: 25 },
              { name: 'weights.bin', bytes: 300_000 },
            ],
          ],
        ],
      );
      assert.deepEqual(list[0].config, v1.config);
      assert.deepEqual(list[0].data_range, v1.data_range);
      assert.deepEqual(list[0].streams, ['synthetic']);
      await rejectsWith('BYNER_STORE', () => store.saveModel(makeModel('v1', 9)), /already exists/);
      await rejectsWith('BYNER_STORE', () => store.setServing('nope'), /no model version nope/);
      assert.equal((await store.getModel('v1'))?.artifact['weights.bin'].length, 300_000);
      assert.equal((await store.stats()).models, 3);
    });

    it('serves per stream: one model per stream, global models, pointers that survive a reopen', async () => {
      const s = await factory();
      open.push(s);
      const { store } = s;
      const range = (stream: string) => ({ stream, from_seq: 0, to_seq: 99 });
      await store.saveModel(makeModel('a1', 1, { data_range: range('a'), serving: true }));
      await store.saveModel(makeModel('b1', 2, { data_range: range('b'), serving: true }));
      await store.saveModel(makeModel('g1', 3, { data_range: range('a'), streams: ['a', 'b', 'c'] }));
      const pointers = async () =>
        (await store.servingPointers()).map((p) => {
          assert.ok(p.since instanceof Date && !Number.isNaN(p.since.getTime()), 'since is a date');
          return [p.stream, p.version];
        });
      assert.deepEqual(await pointers(), [
        ['a', 'a1'],
        ['b', 'b1'],
      ]);
      // A global model takes over one stream; the others keep theirs.
      await store.setServing('g1', 'b');
      assert.deepEqual(await pointers(), [
        ['a', 'a1'],
        ['b', 'g1'],
      ]);
      assert.equal((await store.servingModel('a'))?.version, 'a1');
      assert.equal((await store.servingModel('b'))?.version, 'g1');
      assert.equal(await store.servingModel('c'), null);
      // Without a stream: every stream it is registered for.
      await store.setServing('g1');
      assert.deepEqual(await pointers(), [
        ['a', 'g1'],
        ['b', 'g1'],
        ['c', 'g1'],
      ]);
      await store.setServing('a1', 'a');
      const g1 = await store.getModel('g1');
      assert.deepEqual([g1?.streams, g1?.serving_streams, g1?.serving], [['a', 'b', 'c'], ['b', 'c'], true]);
      assert.deepEqual(
        (await store.listModels({ stream: 'b' })).map((m) => [m.version, m.serving_streams]),
        [
          ['b1', []],
          ['g1', ['b', 'c']],
        ],
      );
      assert.deepEqual(
        (await store.listModels({ stream: 'zz' })).map((m) => m.version),
        [],
      );
      await rejectsWith('BYNER_STORE', () => store.setServing('a1', 'b'), /not registered for stream b/);
      await rejectsWith('BYNER_INVALID_DOCUMENT', () =>
        store.saveModel(makeModel('bad', 4, { streams: ['a', 'a'] })),
      );
      await rejectsWith('BYNER_INVALID_DOCUMENT', () =>
        store.saveModel(makeModel('bad', 4, { streams: [] })),
      );
      await store.close();
      const again = await s.reopen();
      assert.deepEqual(
        (await again.servingPointers()).map((p) => [p.stream, p.version]),
        [
          ['a', 'a1'],
          ['b', 'g1'],
          ['c', 'g1'],
        ],
      );
      assert.deepEqual((await again.getModel('g1'))?.streams, ['a', 'b', 'c']);
      await again.close();
    });

    it('counts documents per collection and keeps them after close and reopen', async () => {
      const s = await factory();
      open.push(s);
      await s.store.writeTicks('historical_data', makeTicks(0, 12));
      await s.store.writeTicks('inf_historical_db', makeTicks(0, 3));
      await s.store.writeTrainingPredictions([makePrediction(0)]);
      await s.store.writeForecasts([makeForecast(1), makeForecast(2)]);
      await s.store.writeMetrics('tr_metrics', [makeMetrics(0)]);
      await s.store.writeMetrics('inf_metrics', [makeMetrics(0), makeMetrics(1)]);
      await s.store.saveModel(makeModel('v1', 0));
      await s.store.close();
      const again = await s.reopen();
      assert.deepEqual(await again.stats(), {
        historical_data: 12,
        inf_historical_db: 3,
        tr_predictions: 1,
        tr_metrics: 1,
        inf_predictions: 2,
        inf_metrics: 2,
        models: 1,
      });
      await again.close();
    });

    it('stores 10,000 ticks in batches of 1,000 (throughput reported)', async (t) => {
      const store = await fresh();
      const ticks = makeTicks(0, 10_000);
      const started = performance.now();
      for (let i = 0; i < ticks.length; i += 1000)
        await store.writeTicks('historical_data', ticks.slice(i, i + 1000));
      await store.flush();
      const ms = performance.now() - started;
      t.diagnostic(
        `${name}: 10,000 ticks stored in ${ms.toFixed(0)} ms (${Math.round(10_000 / (ms / 1000))} ticks/s)`,
      );
      assert.equal(await store.countTicks('historical_data'), 10_000);
      const readStart = performance.now();
      assert.equal((await store.ticksRange('historical_data', 'synthetic', 0, 9999)).length, 10_000);
      t.diagnostic(`${name}: 10,000 ticks read back in ${(performance.now() - readStart).toFixed(0)} ms`);
    });
  });
}
