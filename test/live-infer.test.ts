// `byner infer` against real sockets on 127.0.0.1: malformed and hostile events, gaps, reconnect with
// Last-Event-ID, the idle watchdog, what is stored and scored, and store outages (failing writes, FerretDB crash).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createModel } from '../src/engine/index.js';
import { BynerError } from '../src/errors.js';
import {
  type FeatureWindow,
  type Forecaster,
  NaiveForecaster,
  SeasonalNaiveForecaster,
} from '../src/features/forecaster.js';
import { MinMaxScaler } from '../src/features/scaler.js';
import { buildWindows } from '../src/features/windows.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { type InferenceOptions, runInference } from '../src/infer/runner.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { startServer } from '../src/stream/server.js';
import { sseFrame } from '../src/stream/sse.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { tickToJson } from '../src/ticks/json.js';
import { INDICATOR_NAMES } from '../src/ticks/types.js';
import { LstmForecaster } from '../src/train/load.js';
import { findFerretDB, startFerretDB } from './helpers/ferretdb.js';
import { sleep, tempDir } from './live-helpers.js';

const TICKS = syntheticTicks(DEFAULT_SOURCE, {
  start: 0,
  count: 450,
  origin: new Date(Date.UTC(2026, 0, 1)),
});
const frame = (seq: number, patch: Record<string, unknown> = {}) =>
  sseFrame({ id: seq, data: JSON.stringify({ ...tickToJson(TICKS[seq]), ...patch }) });
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

/** A scripted SSE server: `script(n, req, res)` answers connection n (0-based). */
async function fakeServer(script: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  let n = 0;
  const lastEventIds: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    lastEventIds.push(req.headers['last-event-id'] as string | undefined);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    script(n++, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/realtime_data`;
  return {
    url,
    lastEventIds,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
};

async function storedSeqs(store: Store, stream = 'synthetic'): Promise<number[]> {
  return (await store.ticksAfter('inf_historical_db', stream, -1, 1_000_000)).map((t) => t.seq);
}

describe('live inference client', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('byner-infer-');
  });
  after(() => dir.remove());

  it('skips malformed, duplicate and out-of-order events, records gaps, resumes with Last-Event-ID', async () => {
    const fake = await fakeServer((n, _req, res) => {
      if (n === 0) {
        let body = sseFrame({ retry: 20 });
        for (const s of range(0, 70)) body += frame(s);
        body += sseFrame({ id: 70, data: '{"price": 3,' }); // bad JSON
        body += frame(70, { price: undefined }); // missing field
        body += sseFrame({
          id: 70,
          data: JSON.stringify(tickToJson(TICKS[70])).replace(/"price":-?\d+/, '"price":1e999'),
        });
        body += frame(70, { seq: 71 }); // id ≠ seq
        body += sseFrame({ event: 'other', data: 'not a tick' });
        body += frame(70) + frame(70); // duplicate
        body += frame(71) + frame(69); // out of order
        for (const s of range(72, 100)) body += frame(s);
        res.end(body); // the server goes away: the client reconnects after seq 99
      } else if (n === 1) {
        let body = '';
        for (const s of range(105, 150)) body += frame(s); // 100..104 never arrive: a gap
        res.write(body);
      }
    });
    const store = await openStore({ dataDir: `${dir.path}/a` });
    const run = runInference({
      url: fake.url,
      store,
      forecaster: new SeasonalNaiveForecaster(5, 10),
      backoff: { initialMs: 10, maxMs: 50 },
      out: null,
    });
    await until(() => run.stats.accepted >= 145);
    const stats = await run.stop();
    await fake.close();
    assert.deepEqual(fake.lastEventIds, [undefined, '99']);
    assert.equal(stats.invalid, 4);
    assert.equal(stats.duplicates, 1);
    assert.equal(stats.outOfOrder, 1);
    assert.deepEqual(stats.gaps, [{ from: 100, to: 104 }]);
    assert.deepEqual(await storedSeqs(store), [...range(0, 100), ...range(105, 150)]);
    // The window (60 ticks with all indicators, from seq 24) is full at seq 83; the gap restarts it (full at 164).
    const forecasts = await store.recentForecasts('synthetic', 1000);
    assert.deepEqual(
      forecasts.map((f) => f.seq),
      range(83, 100),
    );
    assert.equal(stats.forecasts, 17);
    await store.close();
  });

  it('after a restart, scores the forecasts made just before the stop as their targets arrive', async () => {
    const serverDir = `${dir.path}/srv-restart`;
    const server = await startServer({ port: 0, intervalMs: 0, storeOptions: { dataDir: serverDir } });
    const store = await openStore({ dataDir: `${dir.path}/restart` });
    const options = {
      url: `${server.url}/realtime_data`,
      store,
      forecaster: new NaiveForecaster(5),
      out: null,
    };
    const first = runInference(options);
    await until(() => first.stats.forecasts >= 20);
    await first.stop();
    // The first tick after the restart completes horizon h of the forecast made h ticks earlier: 5 scores.
    let scoredAtFirstTick = -1;
    const second = runInference({
      ...options,
      onTick: () => {
        if (scoredAtFirstTick < 0) scoredAtFirstTick = second.stats.scored;
      },
    });
    await until(() => second.stats.accepted >= 10);
    await second.stop();
    await server.close();
    assert.equal(scoredAtFirstTick, 5);
    await store.close();
  });

  it('stores every tick, forecast and score against the real server; metrics match the scorer', async () => {
    const serverDir = `${dir.path}/srv`;
    const server = await startServer({ port: 0, intervalMs: 0, storeOptions: { dataDir: serverDir } });
    const store = await openStore({ dataDir: `${dir.path}/b` });
    const run = runInference({
      url: `${server.url}/realtime_data`,
      store,
      forecaster: new NaiveForecaster(5),
      out: null,
    });
    await until(() => run.stats.accepted >= 1000);
    const stats = await run.stop();
    await server.close();
    const seqs = await storedSeqs(store);
    assert.deepEqual(seqs, range(0, stats.accepted));
    // All six indicators exist from seq 24; the window of 60 is full at seq 83.
    assert.equal((await store.recentForecasts('synthetic', 100_000)).length, stats.accepted - 83);
    assert.equal(stats.forecasts, stats.accepted - 83);
    const [latest] = await store.recentMetrics('inf_metrics', 1);
    assert.deepEqual(latest.metrics, run.scores().metrics);
    assert.equal(latest.model_version, 'naive');
    assert.equal(latest.last_seq, stats.accepted - 1);
    // Naive on this source: MSE well above the Bayes limit 2.25 (it ignores the sine).
    assert.ok((latest.metrics.mse[0] as number) > 5);
    await store.close();
  });

  it("the LSTM on its forecast thread: a replayed burst is stored in order, each forecast its window's, the last batch without waiting for another event", async () => {
    const set = buildWindows(TICKS, 60, 5);
    const model = createModel({ seed: 3 });
    await model.startForecastThread();
    const forecaster = new LstmForecaster('lstm-test', model, MinMaxScaler.fit(set.rows, 7));
    const server = await fakeServer((_n, _req, res) => {
      // one burst, then silence with the connection open (a live stream between ticks)
      res.write(
        range(0, 400)
          .map((seq) => frame(seq))
          .join(''),
      );
    });
    const store = await openStore({ dataDir: `${dir.path}/lstm` });
    const run = runInference({ url: server.url, store, forecaster, out: null, idleTimeoutMs: 60_000 });
    try {
      // everything is stored while the stream stays open: no batch waits for a next event
      await until(() => run.stats.writes.forecasts === 400 - 83, 20_000);
      assert.equal(run.stats.forecasts, 400 - 83);
      assert.deepEqual(await storedSeqs(store), range(0, 400));
      const docs = await store.recentForecasts('synthetic', 1000);
      assert.deepEqual(
        docs.map((d) => d.seq),
        range(83, 400),
      );
      const again = forecaster.forecast(docs.map((d) => d.input_sequence));
      assert.deepEqual(
        docs.map((d) => d.forecast),
        again,
      );
      assert.ok(model.forecastThreadStats!.batch > 0, 'the forecast thread took part');
    } finally {
      await run.stop();
      await server.close();
      await store.close();
      await model.closeForecastThread();
    }
  });

  it('reconnects when heartbeats stop (idle watchdog), resuming after the last tick', async () => {
    const fake = await fakeServer((n, _req, res) => {
      if (n === 0)
        res.write(
          range(0, 10)
            .map((s) => frame(s))
            .join(''),
        ); // then silence, connection open
      else
        res.write(
          range(10, 20)
            .map((s) => frame(s))
            .join('') + sseFrame({ comment: 'heartbeat' }),
        );
    });
    const store = await openStore({ dataDir: `${dir.path}/c` });
    const run = runInference({
      url: fake.url,
      store,
      forecaster: new NaiveForecaster(5),
      idleTimeoutMs: 300,
      backoff: { initialMs: 10, maxMs: 50 },
      out: null,
    });
    await until(() => run.stats.accepted >= 20);
    const stats = await run.stop();
    await fake.close();
    assert.equal(stats.stream.idleTimeouts, 1);
    assert.deepEqual(fake.lastEventIds, [undefined, '9']);
    assert.deepEqual(await storedSeqs(store), range(0, 20));
    await store.close();
  });

  it('loses nothing when the store fails for a while (writes held and retried)', async () => {
    const server = await startServer({
      port: 0,
      intervalMs: 0,
      storeOptions: { dataDir: `${dir.path}/srv2` },
    });
    const real = await openStore({ dataDir: `${dir.path}/d` });
    let down = false;
    // The real store, except that writes throw while `down` (an outage the writer must ride out).
    const guard =
      <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
      async (...args: A) => {
        if (down) throw new BynerError('BYNER_STORE_UNREACHABLE', 'test outage');
        return write(...args);
      };
    const flaky: Store = Object.create(real, {
      writeTicks: { value: guard(real.writeTicks.bind(real)) },
      writeForecasts: { value: guard(real.writeForecasts.bind(real)) },
      writeMetrics: { value: guard(real.writeMetrics.bind(real)) },
    });
    const run = runInference({
      url: `${server.url}/realtime_data`,
      store: flaky,
      forecaster: new NaiveForecaster(5),
      out: null,
      writer: { maxPendingBytes: 16 * 2 ** 20 }, // ≈ 2,000 ticks with their forecasts
    });
    await until(() => run.stats.accepted >= 500);
    down = true;
    await sleep(700);
    const during = run.stats.accepted;
    down = false;
    await until(() => run.stats.accepted >= during + 500);
    const stats = await run.stop();
    await server.close();
    assert.ok(stats.writes.retries > 0, 'writes failed and were retried');
    assert.deepEqual(await storedSeqs(real), range(0, stats.accepted));
    assert.equal((await real.recentForecasts('synthetic', 1_000_000)).length, stats.forecasts);
    await real.close();
  });

  const ferret = findFerretDB();
  it('loses nothing when FerretDB crashes and comes back during inference', {
    skip: 'path' in ferret ? false : ferret.reason,
  }, async () => {
    const db = await startFerretDB();
    const server = await startServer({
      port: 0,
      intervalMs: 2,
      storeOptions: { dataDir: `${dir.path}/srv3` },
    });
    const store = await openStore({
      mongoUri: db.uri,
      dbName: 'byner_live_test',
      mongo: { serverSelectionTimeoutMS: 1000, backoff: { initialMs: 50, maxMs: 200 } },
    });
    try {
      const run = runInference({
        url: `${server.url}/realtime_data`,
        store,
        forecaster: new NaiveForecaster(5),
        out: null,
      });
      await until(() => run.stats.accepted >= 150, 20_000);
      await db.crash();
      await sleep(500);
      await db.restart();
      const at = run.stats.accepted;
      await until(() => run.stats.accepted >= at + 150, 20_000);
      const stats = await run.stop();
      assert.deepEqual(await storedSeqs(store), range(0, stats.accepted));
      assert.equal((await store.recentForecasts('synthetic', 1_000_000)).length, stats.forecasts);
    } finally {
      await server.close();
      await store.close({ timeoutMs: 5000 }).catch(() => {});
      await db.stop();
    }
  });
});

/** A logger that keeps every line (what the run reported, and how often). */
function recordingLogger() {
  const lines: { level: 'info' | 'warn' | 'error'; obj: Record<string, unknown>; msg: string }[] = [];
  const at =
    (level: 'info' | 'warn' | 'error') =>
    (obj: object, msg = '') =>
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Inference on `url` that logs into `lines`, prints nothing and never reconnects for idleness. */
function recordedRun(
  url: string,
  store: Store,
  forecaster: Forecaster,
  extra: Partial<InferenceOptions> = {},
) {
  const { lines, logger } = recordingLogger();
  const run = runInference({ url, store, forecaster, logger, out: null, idleTimeoutMs: 60_000, ...extra });
  return { lines, run };
}

/** The window of raw features ending at tick `seq` of TICKS (what the runner forecasts from). */
const windowAt = (seq: number, size = 60) =>
  TICKS.slice(seq - size + 1, seq + 1).map((t) => [
    t.price,
    ...INDICATOR_NAMES.map((n) => t.indicators[n] as number),
  ]);

/**
 * seasonal_naive, except that a window whose last price is 3 gets NaN at horizon 2 and one ending at −3 gets
 * Infinity at horizon 5 (a model gone numerically wrong on some inputs). Records the windows per call.
 */
class PoisonedForecaster implements Forecaster {
  readonly version = 'poisoned-v1';
  readonly window = 10;
  readonly horizon = 5;
  readonly calls: number[] = [];
  private readonly base = new SeasonalNaiveForecaster(5, 10);
  constructor(private readonly refuseBatches = false) {}
  static poisoned(seq: number): boolean {
    return Math.abs(TICKS[seq].price) === 3;
  }
  forecast(windows: readonly FeatureWindow[]): number[][] {
    this.calls.push(windows.length);
    if (this.refuseBatches && windows.length > 1) throw new Error('batches refused');
    return this.base.forecast(windows).map((f, i) => {
      const last = windows[i][windows[i].length - 1][0];
      if (last === 3) f[1] = Number.NaN;
      if (last === -3) f[4] = Number.POSITIVE_INFINITY;
      return f;
    });
  }
}

describe('live inference: model and crash faults', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('byner-infer-faults-');
  });
  after(() => dir.remove());

  const NON_FINITE_CASES = [
    { name: 'a replayed burst (batched forecast calls)', oneByOne: false, refuseBatches: false },
    { name: 'live ticks one at a time', oneByOne: true, refuseBatches: false },
    { name: 'a burst whose batches fail (retried window by window)', oneByOne: false, refuseBatches: true },
  ];
  for (const c of NON_FINITE_CASES) {
    it(`skips non-finite forecasts (${c.name}): counted, logged once, never stored, shown by the API`, async () => {
      const forecaster = new PoisonedForecaster(c.refuseBatches);
      let stream: ServerResponse | null = null;
      const fake = await fakeServer((_n, _req, res) => {
        stream = res;
        res.write(
          c.oneByOne
            ? frame(0)
            : range(0, 400)
                .map((s) => frame(s))
                .join(''),
        );
      });
      const store = await openStore({ dataDir: `${dir.path}/nf-${NON_FINITE_CASES.indexOf(c)}` });
      const { lines, run } = recordedRun(fake.url, store, forecaster, {
        // one by one: the next tick is sent once this one is handled, so each arrives alone
        onTick: (tick) => {
          if (c.oneByOne && tick.seq < 399) stream?.write(frame(tick.seq + 1));
        },
      });
      let failed: unknown = null;
      run.done.catch((e) => {
        failed = e;
      });
      try {
        await until(() => failed !== null || run.stats.writes.ticks === 400, 20_000);
        assert.equal(failed, null, `inference ended: ${failed}`);
        await until(() => run.stats.writes.metrics > 0 && run.stats.writes.pending === 0);
        const full = range(83, 400);
        const bad = full.filter((s) => PoisonedForecaster.poisoned(s));
        assert.ok(bad.length >= 10, `${bad.length} poisoned windows`);
        assert.equal(run.stats.accepted, 400);
        assert.equal(run.stats.nonFinite, bad.length);
        assert.equal(run.stats.forecasts, full.length - bad.length);
        if (c.oneByOne)
          assert.ok(
            forecaster.calls.every((n) => n === 1),
            'one window per call',
          );
        else assert.ok(Math.max(...forecaster.calls) > 1, 'batched calls');
        // never stored: the stored forecasts are exactly the finite ones
        const stored = await store.recentForecasts('synthetic', 1000);
        assert.deepEqual(
          stored.map((f) => f.seq),
          full.filter((s) => !PoisonedForecaster.poisoned(s)),
        );
        assert.ok(stored.every((f) => f.forecast.every(Number.isFinite)));
        // logged once, with the model version
        const warned = lines.filter((l) => /non-finite/.test(l.msg));
        assert.equal(warned.length, 1, JSON.stringify(warned));
        assert.equal(warned[0].obj.model_version, 'poisoned-v1');
        assert.match(warned[0].msg, /poisoned-v1/);
        // the count travels with the metrics: the REST read the dashboard polls
        const api = await startServer({ port: 0, store, intervalMs: 60_000 });
        try {
          await run.stop();
          const res = await fetch(`${api.url}/api/metrics/latest?model_version=poisoned-v1`);
          const { metrics } = (await res.json()) as { metrics: { non_finite_forecasts?: number }[] };
          assert.equal(metrics[0].non_finite_forecasts, bad.length);
        } finally {
          await api.close();
        }
      } finally {
        await run.stop().catch(() => {});
        await fake.close();
        await store.close();
      }
    });
  }

  // The stored state a crash between writing ticks and writing their forecasts leaves behind: ticks 0..399, and
  // forecasts (of `earlier`, when given, else of the model that resumes) for ticks 83..`forecastsUpTo` only.
  const RECOVERY_CASES: {
    name: string;
    forecastsUpTo: number;
    recovered: number[];
    limit?: number;
    earlier?: Forecaster;
  }[] = [
    { name: 'forecasts stored up to seq 200', forecastsUpTo: 200, recovered: range(201, 400) },
    { name: 'no forecast stored yet', forecastsUpTo: -1, recovered: range(83, 400) },
    {
      name: 'more than the limit without forecasts: the last 50 only',
      forecastsUpTo: 200,
      limit: 50,
      recovered: range(350, 400),
    },
    {
      name: 'another model forecast them: nothing to redo',
      forecastsUpTo: 399,
      earlier: new NaiveForecaster(5),
      recovered: [],
    },
  ];
  for (const c of RECOVERY_CASES) {
    it(`on restart, forecasts the stored ticks that have none yet (${c.name}), once each, and scores them`, async () => {
      const forecaster = new SeasonalNaiveForecaster(5, 10);
      const store = await openStore({ dataDir: `${dir.path}/rec-${RECOVERY_CASES.indexOf(c)}` });
      await store.writeTicks('inf_historical_db', TICKS.slice(0, 400));
      const earlier = c.earlier ?? forecaster;
      const kept = c.forecastsUpTo < 83 ? [] : range(83, c.forecastsUpTo + 1);
      await store.writeForecasts(
        kept.map((seq) => ({
          timestamp: new Date(),
          input_sequence: windowAt(seq),
          forecast: earlier.forecast([windowAt(seq)])[0],
          model_version: earlier.version,
          seq,
          stream: 'synthetic',
        })),
      );
      // The server goes on after the client's Last-Event-ID, up to seq 449.
      const fake = await fakeServer((_n, req, res) => {
        const after = Number(req.headers['last-event-id'] ?? -1);
        res.write(
          range(after + 1, 450)
            .map((s) => frame(s))
            .join(''),
        );
      });
      const { lines, run } = recordedRun(fake.url, store, forecaster, { recoverLimit: c.limit });
      try {
        await until(() => run.stats.accepted === 50);
        const stats = await run.stop();
        assert.deepEqual(fake.lastEventIds, ['399']);
        // Exactly one forecast per tick whose window is full, except what the limit left out.
        const mine = await store.recentForecasts('synthetic', 10_000, forecaster.version);
        const expected = c.earlier
          ? range(400, 450)
          : [...kept, ...c.recovered, ...range(400, 450)].filter((s) => s >= 83);
        assert.deepEqual(
          mine.map((f) => f.seq),
          expected,
        );
        assert.equal(stats.recovered, c.recovered.length);
        // Each recovered forecast is the model's forecast of its window, rebuilt from the stored ticks.
        for (const f of mine.filter((x) => c.recovered.includes(x.seq))) {
          assert.deepEqual(f.input_sequence, windowAt(f.seq), `window of ${f.seq}`);
          assert.deepEqual(f.forecast, forecaster.forecast([windowAt(f.seq)])[0], `forecast of ${f.seq}`);
        }
        // Scored as usual: horizon 1 of every forecast in the scorer whose next tick is among 201..449.
        const scoredFrom = c.earlier ? 400 : (c.recovered[0] ?? 400) - 1;
        const h1 = mine.filter((f) => f.seq >= Math.max(83, scoredFrom) && f.seq < 449).length;
        assert.equal(run.scores().scored[0], h1);
        const [latest] = await store.recentMetrics('inf_metrics', 1, forecaster.version);
        assert.deepEqual(latest.scored, run.scores().scored);
        if (c.limit !== undefined) {
          const left = lines.find((l) => l.level === 'warn' && /without a forecast/.test(l.msg));
          assert.ok(left, 'the ticks left without forecasts are reported');
          assert.deepEqual([left.obj.from, left.obj.to], [201, 349]);
        }
      } finally {
        await run.stop().catch(() => {});
        await fake.close();
        await store.close();
      }
    });
  }
});
