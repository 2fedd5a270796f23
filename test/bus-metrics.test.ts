// /metrics and /healthz of `serve --bus`, in-process against a redis-server of the test's own (it is crashed) and
// the embedded store: the counters equal what the test made happen (ticks appended to the tick log, leases taken,
// given back and lost, a Last-Event-ID replay read part from the store and part from Redis, a Redis outage with its
// failed appends and its gap in live delivery). Every scrape is read with the strict text parser (helpers/prom-text).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connectBus } from '../src/bus/redis.js';
import { tickKey } from '../src/bus/ticks.js';
import { metricsText } from '../src/metrics/prometheus.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { produceLeaseKey } from '../src/stream/bus-streams.js';
import { startServer } from '../src/stream/server.js';
import { type Family, histogram, parsePrometheusText, sampleValue } from './helpers/prom-text.js';
import { findRedisServer, type RedisServer, startRedis } from './helpers/redis.js';
import { GatedSource, readSse, sleep, tempDir, waitFor } from './live-helpers.js';

const found = findRedisServer();
const skip =
  'reason' in found
    ? `the bus metrics test needs redis-server (its own, it kills it): ${found.reason}`
    : false;
if (skip) console.error(`bus metrics: skipped (${skip})`);

const scrape = async () => parsePrometheusText(await metricsText());
const value = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  sampleValue(f, name, labels) ?? 0;
/** How much a sample grew between two scrapes. */
const delta = (
  a: Map<string, Family>,
  b: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
) => value(b, name, labels) - value(a, name, labels);

interface Health {
  status: string;
  produces: string[];
  checks: Record<string, { ok: boolean; error?: string }>;
  bus?: { state: string; producing: string[]; outages: number; outage_s: number };
}
const health = async (base: string) => (await (await fetch(`${base}/healthz`)).json()) as Health;

describe('metrics and health of serve --bus', { skip }, () => {
  let redis: RedisServer;
  let peek: Redis;
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  before(async () => {
    if (skip) return;
    redis = await startRedis({ binary: (found as { path: string }).path });
    peek = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    peek.on('error', () => {});
    await peek.connect();
    dir = tempDir('byner-bus-metrics-');
    store = await openStore({ dataDir: join(dir.path, 'store') });
  });
  after(async () => {
    if (skip) return;
    peek.disconnect();
    await store.close();
    await redis.stop();
    dir.remove();
  });

  it('counts appends, leases taken, given back and lost, replays from Redis and the store, and an outage', async () => {
    const stream = 'busm';
    const N = 300; // ticks of the first producer
    const M = 120; // ticks of the second, made while Redis is down
    const LEASE_MS = 1800; // lease keys of 600 ms
    const s = { stream };
    const produce = { role: 'produce', stream };
    /** A serve process on the bus with one gated source, once it holds the stream's producer lease. */
    const serveOnBus = async (source: GatedSource) => {
      const bus = await connectBus(redis.url, { maxReconnectDelayMs: 100 });
      const server = await startServer({
        port: 0,
        store,
        streams: [{ name: stream, source }],
        bus: { bus, leaseMs: LEASE_MS },
      });
      await waitFor('the producer lease', () => server.bus()?.producing.includes(stream) === true);
      return { server, close: () => server.close().finally(() => bus.close()) };
    };

    // 1. A first serve process takes the stream's lease and produces N ticks: each stored, then appended.
    const m0 = await scrape();
    const first = new GatedSource(N);
    const { server: s1, close: close1 } = await serveOnBus(first);
    try {
      first.release();
      await waitFor('N ticks read back from the tick log', () => s1.headSeq(stream) === N - 1);
      const m1 = await scrape();
      assert.equal(delta(m0, m1, 'byner_ticks_produced_total', s), N);
      assert.equal(await peek.xlen(tickKey(stream)), N, 'every tick appended once');
      const writes = histogram(m1, 'byner_bus_write_seconds')!;
      const writes0 = histogram(m0, 'byner_bus_write_seconds');
      assert.ok(writes.count - (writes0?.count ?? 0) >= 1, 'appends timed');
      assert.ok(writes.sum > (writes0?.sum ?? 0));
      assert.equal(delta(m0, m1, 'byner_lease_events_total', { role: 'produce', kind: 'acquired' }), 1);
      assert.equal(value(m1, 'byner_lease_owned', produce), 1);
      for (const kind of ['write', 'read', 'lease', 'connect'])
        assert.equal(delta(m0, m1, 'byner_bus_errors_total', { kind }), 0, kind);
      const h = await health(s1.url);
      assert.equal(h.status, 'ok');
      assert.deepEqual(h.produces, [stream]);
      assert.equal(h.checks.bus?.ok, true);
      assert.equal(h.checks.store?.ok, true);
    } finally {
      await close1();
    }
    const m2 = await scrape();
    assert.equal(delta(m0, m2, 'byner_lease_events_total', { role: 'produce', kind: 'released' }), 1);
    assert.equal(value(m2, 'byner_lease_owned', produce), 0);

    // 2. The tick log loses its first 100 entries (its cap, say): ticks 50..99 of a resume are read from the
    // store, 100..N-1 from Redis.
    await peek.xtrim(tickKey(stream), 'MINID', '100');
    assert.equal(await peek.xlen(tickKey(stream)), N - 100);
    const second = new GatedSource(M);
    const { server: s2, close: close2 } = await serveOnBus(second);
    try {
      const m3 = await scrape();
      const received: number[] = [];
      const reading = readSse(`${s2.url}/realtime_data?stream=${stream}`, {
        lastEventId: '49',
        timeoutMs: 60_000,
        until: (events) => {
          received.length = 0;
          received.push(...events.map((e) => Number(e.id)));
          return events.length >= N + M - 50;
        },
      });
      await waitFor('the replay up to N-1', () => received.length >= N - 50);
      const m4 = await scrape();
      assert.equal(delta(m3, m4, 'byner_replay_reads_total', { source: 'store' }), 50);
      assert.equal(delta(m3, m4, 'byner_replay_reads_total', { source: 'redis' }), N - 100);
      assert.equal(delta(m3, m4, 'byner_replay_reads_total', { source: 'ring' }), 0);

      // 3. Redis dies; the producer goes on storing M ticks (appends fail and are held); Redis comes back empty:
      // the held ticks are appended, live delivery resumes, the gap is counted.
      await redis.crash();
      const downAt = Date.now();
      second.release();
      await waitFor(
        'failed appends',
        async () => delta(m4, await scrape(), 'byner_bus_errors_total', { kind: 'write' }) > 0,
      );
      const down = await health(s2.url);
      assert.equal(down.status, 'degraded');
      assert.equal(down.checks.bus?.ok, false, JSON.stringify(down.checks));
      assert.equal(down.checks.store?.ok, true);
      await sleep(Math.max(0, 2000 - (Date.now() - downAt)));
      await redis.restart();
      const upAt = Date.now();
      const { events } = await reading;
      const seqs = events.map((e) => Number(e.id));
      assert.deepEqual(
        seqs,
        Array.from({ length: N + M - 50 }, (_, i) => 50 + i),
        'the resume and the live ticks, in order, none missing or twice',
      );
      await waitFor(
        'the outage counted',
        async () => value(await scrape(), 'byner_bus_outages_total') > value(m4, 'byner_bus_outages_total'),
      );
      const m5 = await scrape();
      assert.equal(delta(m4, m5, 'byner_bus_outages_total'), 1);
      const gap = delta(m4, m5, 'byner_bus_outage_seconds_total');
      const downS = (upAt - downAt) / 1000;
      assert.ok(gap >= downS - 0.5 && gap <= downS + 10, `gap ${gap} s for ${downS} s down`);
      assert.ok(delta(m4, m5, 'byner_bus_errors_total', { kind: 'connect' }) >= 1);
      assert.ok(delta(m4, m5, 'byner_bus_errors_total', { kind: 'read' }) >= 1);
      assert.equal(
        delta(m0, m5, 'byner_lease_events_total', { role: 'produce', kind: 'lost' }),
        0,
        'not stopped',
      );
      assert.equal(value(m5, 'byner_lease_owned', produce), 1);
      const up = await health(s2.url);
      assert.equal(up.checks.bus?.ok, true);
      assert.ok(up.bus !== undefined && up.bus.outages === 1 && Math.abs(up.bus.outage_s - gap) < 0.2);

      // 4. Another process takes the lease (as one whose clock ran ahead would): this one loses it and stops.
      await waitFor('the test’s own connection back', () => peek.status === 'ready');
      await peek.set(produceLeaseKey(stream), 'intruder');
      await waitFor('the lease lost', async () => value(await scrape(), 'byner_lease_owned', produce) === 0);
      const m6 = await scrape();
      assert.equal(delta(m5, m6, 'byner_lease_events_total', { role: 'produce', kind: 'lost' }), 1);
      assert.deepEqual((await health(s2.url)).produces, []);
    } finally {
      await close2();
    }
  });
});
