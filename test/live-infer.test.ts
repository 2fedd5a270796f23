// `byner infer` against real sockets on 127.0.0.1: malformed and hostile events, gaps, reconnect with
// Last-Event-ID, the idle watchdog, what is stored and scored, and store outages (failing writes, FerretDB crash).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createModel } from '../src/engine/index.js';
import { BynerError } from '../src/errors.js';
import { NaiveForecaster, SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { MinMaxScaler } from '../src/features/scaler.js';
import { buildWindows } from '../src/features/windows.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { runInference } from '../src/infer/runner.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { startServer } from '../src/stream/server.js';
import { sseFrame } from '../src/stream/sse.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { tickToJson } from '../src/ticks/json.js';
import { LstmForecaster } from '../src/train/load.js';
import { findFerretDB, startFerretDB } from './helpers/ferretdb.js';
import { sleep, tempDir } from './live-helpers.js';

const TICKS = syntheticTicks(DEFAULT_SOURCE, {
  start: 0,
  count: 400,
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
