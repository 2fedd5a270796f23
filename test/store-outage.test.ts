// Outage test: kills FerretDB (SIGKILL) in the middle of a stream of writes, restarts it on the same port and
// data dir, and checks every acknowledged document is stored exactly once. Needs its own server, so it never
// uses MONGODB_URI; skips loudly when no ferretdb binary runs.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeTick } from '../src/store/contract.js';
import { type MongoStore, openMongoStore } from '../src/store/mongo/mongo-store.js';
import type { Forecast, MetricsDoc, StoreLogger } from '../src/store/types.js';
import { type FerretDB, findFerretDB, startFerretDB } from './helpers/ferretdb.js';

const found = findFerretDB();
const skip =
  'path' in found
    ? false
    : `outage test SKIPPED: it must stop and restart its own server, so MONGODB_URI cannot stand in: ${found.reason}`;
if (skip) console.warn(`\n*** ${skip} ***\n`);

const TICKS = 3000;
const BATCH = 10;
const MAX_BACKLOG = 600;

const forecast = (seq: number): Forecast => ({
  timestamp: new Date(Date.UTC(2024, 0, 1) + seq * 1000),
  input_sequence: Array.from({ length: 60 }, (_, r) => [r, 1, 2, 3, 4, 5, seq]),
  forecast: [1, 2, 3, 4, seq],
  model_version: 'v1',
  seq,
  stream: 'synthetic',
});

const metrics = (seq: number): MetricsDoc => ({
  timestamp: new Date(Date.UTC(2024, 0, 1) + seq * 1000),
  metrics: { mse: [1, 1, 1, 1, 1], mae: [1, 1, 1, 1, 1], accuracy: [0, 0, 0, 0, seq / TICKS] },
  forecast_horizon: 5,
  model_version: 'v1',
  seq,
});

describe('mongodb store outage', () => {
  let server: FerretDB | undefined;
  let store: MongoStore | undefined;
  after(async () => {
    await store?.close({ timeoutMs: 10_000 }).catch(() => {});
    await server?.stop();
  });

  it('keeps every acknowledged write through a server crash and restart, each stored once', {
    skip,
  }, async (t) => {
    server = await startFerretDB();
    const warnings: string[] = [];
    const logger: StoreLogger = { info() {}, warn: (_o, m) => warnings.push(m ?? ''), error() {} };
    store = await openMongoStore({
      uri: server.uri,
      dbName: 'byner_outage',
      logger,
      serverSelectionTimeoutMS: 1000,
      maxBacklog: MAX_BACKLOG,
      batchSize: 100,
      backoff: { initialMs: 50, maxMs: 400 },
    });
    const s = store;
    let acknowledged = 0;
    let maxPending = 0;
    let ackedDuringOutage = 0;
    let down = false;

    const writer = (async () => {
      for (let seq = 0; seq < TICKS; seq += BATCH) {
        const ticks = Array.from({ length: BATCH }, (_, i) => makeTick(seq + i));
        await s.writeTicks('inf_historical_db', ticks);
        // A re-sent batch (as after a client reconnect) must not be stored twice either.
        if (seq % 100 === 0) await s.writeTicks('inf_historical_db', ticks);
        await s.writeForecasts([forecast(seq)]);
        await s.writeMetrics('inf_metrics', [metrics(seq)]);
        acknowledged = seq + BATCH;
        if (down) ackedDuringOutage += BATCH;
        maxPending = Math.max(maxPending, s.writeStats().pending);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();

    while (acknowledged < TICKS / 3) await new Promise((r) => setTimeout(r, 10));
    await server.crash();
    down = true;
    const crashedAt = acknowledged;
    await new Promise((r) => setTimeout(r, 2500));
    const stalledAt = acknowledged;
    await server.restart();
    down = false;
    await writer;
    await s.flush();

    t.diagnostic(
      `crashed after ${crashedAt} ticks acknowledged; ${ackedDuringOutage} more acknowledged while down ` +
        `(backlog peak ${maxPending}, limit ${MAX_BACKLOG}); writers blocked at ${stalledAt}; ` +
        `${s.writeStats().retries} retries`,
    );
    assert.ok(s.writeStats().retries > 0, 'the outage was noticed');
    assert.ok(
      warnings.some((w) => /unreachable/.test(w)),
      'the outage was logged',
    );
    assert.ok(maxPending <= MAX_BACKLOG, `backlog stayed bounded (${maxPending})`);
    assert.ok(stalledAt - crashedAt < MAX_BACKLOG, 'writers waited once the backlog was full');

    const ticks = await s.ticksRange('inf_historical_db', 'synthetic', 0, TICKS);
    assert.equal(ticks.length, TICKS);
    assert.deepEqual(
      ticks.map((x) => x.seq),
      Array.from({ length: TICKS }, (_, i) => i),
    );
    assert.deepEqual(ticks[TICKS - 1], makeTick(TICKS - 1));
    const stats = await s.stats();
    assert.equal(stats.inf_historical_db, TICKS, 'each tick once');
    assert.equal(stats.inf_predictions, TICKS / BATCH, 'each forecast once');
    assert.equal(stats.inf_metrics, TICKS / BATCH, 'each metrics document once (client-side _id)');
  });
});
