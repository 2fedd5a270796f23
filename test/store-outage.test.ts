// Outage tests against a real server: kills FerretDB (SIGKILL) for ten seconds in the middle of a stream of writes
// and checks every acknowledged document is stored exactly once, with both write backlogs bounded in bytes; and
// checks REST reads stuck behind a stalled backlog answer 503 at their deadline and leave no waiter behind.
// Each test needs its own server to stop, so MONGODB_URI cannot stand in; skips loudly without a ferretdb binary.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { registerDashboard } from '../src/dashboard/routes.js';
import { InferenceWriter } from '../src/infer/writer.js';
import { makeTick } from '../src/store/contract.js';
import { type MongoStore, openMongoStore } from '../src/store/mongo/mongo-store.js';
import { allStored } from '../src/store/receipt.js';
import { forecastBytes, TICK_BYTES } from '../src/store/size.js';
import type { Forecast, MetricsDoc, StoreLogger, WriteReceipt } from '../src/store/types.js';
import { type RunningServer, startServer } from '../src/stream/server.js';
import { type FerretDB, findFerretDB, startFerretDB } from './helpers/ferretdb.js';

const found = findFerretDB();
const skip =
  'path' in found
    ? false
    : `outage tests SKIPPED: they must stop and restart their own server, so MONGODB_URI cannot stand in: ${found.reason}`;

const TICKS = 3000;
const BATCH = 10;
const OUTAGE_MS = 10_000;
/** The store's backlog, and the inference writer's pending documents. */
const STORE_BACKLOG_BYTES = 1 * 2 ** 20;
const WRITER_BACKLOG_BYTES = 2 ** 19;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const forecast = (seq: number, stream = 'synthetic'): Forecast => ({
  timestamp: new Date(Date.UTC(2024, 0, 1) + seq * 1000),
  input_sequence: Array.from({ length: 60 }, (_, r) => [r, 1, 2, 3, 4, 5, seq]),
  forecast: [1, 2, 3, 4, seq],
  model_version: 'v1',
  seq,
  stream,
});

const metrics = (seq: number): MetricsDoc => ({
  timestamp: new Date(Date.UTC(2024, 0, 1) + seq * 1000),
  metrics: { mse: [1, 1, 1, 1, 1], mae: [1, 1, 1, 1, 1], accuracy: [0, 0, 0, 0, seq / TICKS] },
  forecast_horizon: 5,
  model_version: 'v1',
  seq,
});

describe('mongodb store outage', { skip }, () => {
  let server: FerretDB | undefined;
  let store: MongoStore | undefined;
  let http: RunningServer | undefined;
  after(async () => {
    await server?.restart().catch(() => {});
    await http?.close().catch(() => {});
    await store?.close({ timeoutMs: 10_000 }).catch(() => {});
    await server?.stop();
  });

  it('keeps every acknowledged write through a 10 s server outage, each stored once, both backlogs bounded in bytes', async (t) => {
    server = await startFerretDB();
    const warnings: string[] = [];
    const logger: StoreLogger = { info() {}, warn: (_o, m) => warnings.push(m ?? ''), error() {} };
    store = await openMongoStore({
      uri: server.uri,
      dbName: 'byner_outage',
      logger,
      serverSelectionTimeoutMS: 1000,
      maxBacklogBytes: STORE_BACKLOG_BYTES,
      batchSize: 100,
      backoff: { initialMs: 50, maxMs: 400 },
    });
    const s = store;
    // Writer 1 writes directly and keeps its receipts; writer 2 is the live inference writer, on its own stream.
    const receipts: WriteReceipt[] = [];
    const live = new InferenceWriter({
      store: s,
      metrics: () => [],
      flushDelayMs: 5,
      maxPendingBytes: WRITER_BACKLOG_BYTES,
    });
    let acknowledged = 0;
    let liveAdded = 0;
    const peak = { store: 0, writer: 0 };
    const sample = () => {
      peak.store = Math.max(peak.store, s.writeStats().pendingBytes);
      peak.writer = Math.max(peak.writer, live.stats.pendingBytes);
    };
    const sampler = setInterval(sample, 5);

    const direct = (async () => {
      for (let seq = 0; seq < TICKS; seq += BATCH) {
        const ticks = Array.from({ length: BATCH }, (_, i) => makeTick(seq + i));
        receipts.push(await s.writeTicks('inf_historical_db', ticks));
        // A re-sent batch (as after a client reconnect) must not be stored twice either.
        if (seq % 100 === 0) receipts.push(await s.writeTicks('inf_historical_db', ticks));
        receipts.push(await s.writeForecasts([forecast(seq)]));
        receipts.push(await s.writeMetrics('inf_metrics', [metrics(seq)]));
        acknowledged = seq + BATCH;
        sample();
        await sleep(2);
      }
    })();
    const inference = (async () => {
      for (let seq = 0; seq < TICKS / BATCH; seq++) {
        await live.add(makeTick(seq, 'live'), forecast(seq, 'live'), false);
        liveAdded = seq + 1;
        sample();
        await sleep(2);
      }
      await live.drain();
    })();

    while (acknowledged < TICKS / 3) await sleep(10);
    await server.crash();
    const crashedAt = { acknowledged, liveAdded };
    await sleep(OUTAGE_MS / 2);
    const midway = { acknowledged, liveAdded };
    await sleep(OUTAGE_MS / 2);
    const stalledAt = { acknowledged, liveAdded };
    const retriesDuringOutage = s.writeStats().retries;
    await server.restart();
    await Promise.all([direct, inference]);
    const outcome = await allStored(receipts);
    clearInterval(sampler);

    t.diagnostic(
      `crashed after ${crashedAt.acknowledged} ticks acknowledged; ` +
        `${stalledAt.acknowledged - crashedAt.acknowledged} more acknowledged while down, ` +
        `live writer ${stalledAt.liveAdded - crashedAt.liveAdded} more; backlog peaks ${peak.store} bytes ` +
        `(limit ${STORE_BACKLOG_BYTES}), live writer ${peak.writer} (limit ${WRITER_BACKLOG_BYTES}); ` +
        `${retriesDuringOutage} retries while down`,
    );
    assert.ok(retriesDuringOutage > 0, 'the outage was noticed');
    assert.ok(
      warnings.some((w) => /unreachable/.test(w)),
      'the outage was logged',
    );
    assert.ok(peak.store <= STORE_BACKLOG_BYTES, `store backlog bounded in bytes (${peak.store})`);
    const oneLive = TICK_BYTES + forecastBytes(forecast(0));
    assert.ok(
      peak.writer <= WRITER_BACKLOG_BYTES + oneLive,
      `inference writer backlog bounded in bytes (${peak.writer})`,
    );
    assert.deepEqual(stalledAt, midway, 'both writers waited through the second half of the outage');
    const perBatch = BATCH * TICK_BYTES + forecastBytes(forecast(0));
    assert.ok(
      (stalledAt.acknowledged - crashedAt.acknowledged) / BATCH <= STORE_BACKLOG_BYTES / perBatch + 1,
      'no more was acknowledged while down than the backlog holds',
    );

    const ticks = await s.ticksRange('inf_historical_db', 'synthetic', 0, TICKS);
    assert.deepEqual(
      ticks.map((x) => x.seq),
      Array.from({ length: TICKS }, (_, i) => i),
    );
    assert.deepEqual(ticks[TICKS - 1], makeTick(TICKS - 1));
    const stats = await s.stats();
    assert.equal(stats.inf_historical_db, TICKS + TICKS / BATCH, 'each tick once (both streams)');
    assert.equal(stats.inf_predictions, (2 * TICKS) / BATCH, 'each forecast once');
    assert.equal(stats.inf_metrics, TICKS / BATCH, 'each metrics document once (client-side _id)');
    // (a batch the server stored just before it died comes back as duplicates when retried)
    assert.equal(
      outcome.stored + outcome.duplicates,
      TICKS + TICKS / BATCH + (2 * TICKS) / BATCH,
      "the direct writer's receipts: every document stored",
    );
    assert.deepEqual(
      [live.stats.ticks, live.stats.forecasts, live.stats.rejected],
      [TICKS / BATCH, TICKS / BATCH, 0],
    );
    assert.equal(s.writeStats().rejected, 0);
    await store.close();
    store = undefined;
    await server.stop();
    server = undefined;
  });

  it('answers REST reads stuck behind a stalled backlog with 503 at their deadline, and keeps none of them', async () => {
    server = await startFerretDB();
    store = await openMongoStore({
      uri: server.uri,
      dbName: 'byner_read_deadline',
      serverSelectionTimeoutMS: 500,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    const s = store;
    await s.writeTicks('historical_data', [makeTick(0)]);
    const READ_MS = 500;
    const running = await startServer({
      port: 0,
      store: s,
      readTimeoutMs: READ_MS,
      routes: [registerDashboard],
    });
    http = running;
    await server.crash();
    await s.writeTicks('historical_data', [makeTick(1)]); // acknowledged, cannot be stored: reads must wait
    const paths = [
      '/api/ticks',
      '/api/forecasts/latest',
      '/api/metrics/latest',
      '/api/models',
      '/api/dashboard/model',
    ];
    for (const path of paths) {
      const started = performance.now();
      const r = await fetch(`${running.url}${path}`, { signal: AbortSignal.timeout(15_000) });
      const ms = performance.now() - started;
      const body = (await r.json()) as { error: string; hint?: string };
      assert.equal(r.status, 503, `${path}: ${JSON.stringify(body)}`);
      assert.match(body.error, new RegExp(`took longer than ${READ_MS} ms`), path);
      assert.ok(body.hint, `${path} says what to do`);
      assert.ok(ms >= READ_MS - 5 && ms < READ_MS + 5000, `${path} answered after ${ms.toFixed(0)} ms`);
    }
    assert.equal(s.writeStats().waitingReads, 0, 'the abandoned reads left no waiter');
    assert.equal(s.writeStats().pending, 1, 'the write still waits for the server');
    await server.restart();
    await s.flush(); // the backlog drains once the driver sees the server again (the REST deadline is shorter)
    const r = await fetch(`${running.url}/api/ticks`, { signal: AbortSignal.timeout(15_000) });
    assert.equal(r.status, 200);
    assert.deepEqual(
      ((await r.json()) as { ticks: { seq: number }[] }).ticks.map((x) => x.seq),
      [0, 1],
      'the read sees the acknowledged write',
    );
  });
});
