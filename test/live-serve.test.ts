// `byner serve` over real sockets on 127.0.0.1: the exact SSE bytes, Last-Event-ID replay (ring and store),
// continuity across restarts, hostile inputs, REST reads, slow clients and a clean shutdown.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import { ticksFromPrices } from '../src/indicators/ticks.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { startServer } from '../src/stream/server.js';
import { DEFAULT_SOURCE, generatePrices } from '../src/ticks/generator.js';
import { tickToJson } from '../src/ticks/json.js';
import { INDICATOR_NAMES } from '../src/ticks/types.js';
import { type HeldStream, openStream, readSse, sleep, tempDir, waitFor } from './live-helpers.js';

const T0 = Date.UTC(2026, 0, 1);
const now = () => T0;

/** What the wire must carry for ticks 0..n−1 at time T0: independent batch indicators, the wire JSON. */
function expectedFrames(from: number, to: number): string {
  const prices = generatePrices(DEFAULT_SOURCE, 0, to + 1);
  const ticks = ticksFromPrices(prices, { start: 0, origin: new Date(T0) });
  let out = '';
  for (const t of ticks.slice(from)) {
    out += `id: ${t.seq}\ndata: ${JSON.stringify(tickToJson({ ...t, timestamp: new Date(T0) }))}\n\n`;
  }
  return out;
}

describe('live server', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  before(async () => {
    dir = tempDir('byner-serve-');
    store = await openStore({ dataDir: dir.path });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('sends the exact SSE bytes: retry hint, then id + data per tick, indicators equal to the batch ones', async () => {
    const server = await startServer({ port: 0, store, intervalMs: 0, now, stream: 'bytes' });
    try {
      const r = await readSse(`${server.url}/realtime_data`, { until: (e) => e.length >= 40 });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(r.headers['cache-control'], 'no-cache, no-transform');
      // Streaming indicators vs batch ones agree to 1e-9 (DESIGN §3); on these prices, bit for bit.
      const expected = `retry: 1000\n\n${expectedFrames(0, 39).replaceAll('"stream":"synthetic"', '"stream":"bytes"')}`;
      assert.equal(r.raw.slice(0, expected.length), expected);
    } finally {
      await server.close();
    }
  });

  it('sends comment heartbeats every 15 s by default (mocked interval timers)', async () => {
    mock.timers.enable({ apis: ['setInterval'] });
    const server = await startServer({ port: 0, store, intervalMs: 3_600_000, stream: 'hb' });
    let stream: HeldStream | undefined;
    try {
      assert.equal(server.limits.heartbeatMs, 15_000);
      stream = await openStream(`${server.url}/realtime_data`);
      const held = stream;
      await waitFor('the retry hint', () => held.body() === 'retry: 1000\n\n');
      mock.timers.tick(14_999);
      assert.equal(server.stats().heartbeatsSent, 0, 'none before 15 s');
      mock.timers.tick(1);
      assert.equal(server.stats().heartbeatsSent, 1, 'one at 15 s');
      mock.timers.tick(15_000);
      assert.equal(server.stats().heartbeatsSent, 2, 'another 15 s later');
      await waitFor('two heartbeats on the wire', () => held.body().length >= 39);
      assert.equal(held.body(), 'retry: 1000\n\n: heartbeat\n\n: heartbeat\n\n');
    } finally {
      stream?.close();
      await server.close();
      mock.timers.reset();
    }
  });

  it('repeats heartbeats at the --heartbeat period', async () => {
    const server = await startServer({
      port: 0,
      store,
      intervalMs: 3_600_000,
      heartbeatMs: 50,
      stream: 'hb',
    });
    try {
      const r = await readSse(`${server.url}/realtime_data`, {
        until: (_, raw) => raw.split(': heartbeat\n\n').length > 4,
      });
      assert.match(r.raw, /^retry: 1000\n\n(: heartbeat\n\n){4,}$/);
    } finally {
      await server.close();
    }
  });

  it('replays missed ticks after Last-Event-ID (ring and store), identical, then continues; survives a restart', async () => {
    const opts = { port: 0, store, intervalMs: 0, now, stream: 'resume', ringCapacity: 16 } as const;
    let server = await startServer(opts);
    const first = await readSse(`${server.url}/realtime_data`, { until: (e) => e.length >= 300 });
    await sleep(20);
    const stats = server.stats();
    // Resume after tick 9: ticks 10.. come back from the store (the ring holds 16), byte-identical.
    const again = await readSse(`${server.url}/realtime_data`, {
      lastEventId: '9',
      until: (e) => e.length >= 400,
    });
    assert.deepEqual(
      again.events.map((e) => Number(e.id)),
      Array.from({ length: again.events.length }, (_, i) => 10 + i),
    );
    assert.deepEqual(again.events.slice(0, 290), first.events.slice(10, 300));
    assert.ok(server.stats().replayedFromStore - stats.replayedFromStore >= 200);
    const head = server.headSeq();
    await server.close();

    // Restart on the same store: the seq, the sine phase and the indicators continue (batch over the whole range).
    server = await startServer(opts);
    try {
      assert.equal(server.headSeq(), head);
      const r = await readSse(`${server.url}/realtime_data`, {
        lastEventId: String(head - 5),
        until: (e) => e.length >= 100,
      });
      const seqs = r.events.map((e) => Number(e.id));
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => head - 4 + i),
      );
      const last = seqs[seqs.length - 1];
      const prices = generatePrices(DEFAULT_SOURCE, 0, last + 1);
      const batch = ticksFromPrices(prices, { start: 0, origin: new Date(T0) });
      for (const e of r.events) {
        const t = JSON.parse(e.data);
        const b = batch[t.seq];
        assert.equal(t.price, b.price);
        for (const n of INDICATOR_NAMES)
          assert.ok(Math.abs(t.indicators[n] - (b.indicators[n] as number)) < 1e-9);
      }
    } finally {
      await server.close();
    }
  });

  it('answers a hostile Last-Event-ID with 400 and a message, and keeps serving', async () => {
    const server = await startServer({ port: 0, store, intervalMs: 0, now, stream: 'hostile' });
    try {
      await readSse(`${server.url}/realtime_data`, { until: (e) => e.length >= 5 });
      // Until the server has seen that reader go, it may make another batch for it: wait, then the head is fixed.
      await waitFor('the reader to be gone', () => server.stats().clients === 0);
      const head = server.headSeq();
      for (const id of ['-1', 'abc', '1e5', '99999999999999999999999', String(head + 1), '0x1', '1 OR 1=1']) {
        const r = await readSse(`${server.url}/realtime_data`, { lastEventId: id });
        assert.equal(r.status, 400, id);
        const body = JSON.parse(r.raw);
        assert.match(body.error, /Last-Event-ID/);
        assert.ok(body.expected.includes(String(head)), body.expected);
      }
      const ok = await readSse(`${server.url}/realtime_data`, {
        lastEventId: '0',
        until: (e) => e.length >= 3,
      });
      assert.deepEqual(
        ok.events.map((e) => e.id),
        ['1', '2', '3'],
      );
    } finally {
      await server.close();
    }
  });

  it('serves REST reads with validated parameters', async () => {
    const server = await startServer({ port: 0, store, intervalMs: 0, now, stream: 'rest' });
    try {
      await readSse(`${server.url}/realtime_data`, { until: (e) => e.length >= 20 });
      const get = async (path: string) => {
        const res = await fetch(server.url + path);
        return { status: res.status, body: await res.json() };
      };
      const ticks = await get('/api/ticks?after=5&limit=3&stream=rest');
      assert.equal(ticks.status, 200);
      assert.deepEqual(
        ticks.body.ticks.map((t: { seq: number }) => t.seq),
        [6, 7, 8],
      );
      assert.equal((await get('/api/ticks?limit=2')).body.ticks.length, 2);
      const bad = [
        '/api/ticks?after=abc',
        '/api/ticks?after[$gt]=1',
        '/api/ticks?stream[$ne]=x',
        '/api/ticks?limit=0',
        '/api/ticks?limit=1001',
        '/api/ticks?limit=1&limit=2',
        '/api/ticks?collection=users',
        '/api/ticks?sort=-1',
        '/api/forecasts/latest?model_version=$where',
        '/api/metrics/latest?limit=-1',
        '/api/models?x=1',
      ];
      for (const path of bad) {
        const r = await get(path);
        assert.equal(r.status, 400, path);
        assert.ok(typeof r.body.error === 'string' && typeof r.body.expected === 'string', path);
      }
      await store.writeForecasts([
        {
          timestamp: new Date(T0),
          input_sequence: [[1, 2, 3, 4, 5, 6, 7]],
          forecast: [1, 2, 3, 4, 5],
          model_version: 'm',
          seq: 7,
          stream: 'rest',
        },
      ]);
      const metrics = (accuracy: number, stream: string) => ({
        timestamp: new Date(T0),
        metrics: { mse: [1], mae: [1], accuracy: [accuracy] },
        forecast_horizon: 1,
        model_version: 'm',
        stream,
      });
      await store.writeMetrics('inf_metrics', [metrics(0.5, 'rest'), metrics(0.25, 'other')]);
      const f = await get('/api/forecasts/latest?stream=rest');
      assert.deepEqual(f.body.forecasts[0].forecast, [1, 2, 3, 4, 5]);
      assert.equal(f.body.forecasts[0].input_sequence, undefined);
      assert.equal(
        (await get('/api/forecasts/latest?stream=rest&include_input=1')).body.forecasts[0].input_sequence
          .length,
        1,
      );
      // Live metrics of the default stream unless another is asked for.
      assert.deepEqual((await get('/api/metrics/latest')).body.metrics[0].metrics.accuracy, [0.5]);
      assert.deepEqual(
        (await get('/api/metrics/latest?stream=other')).body.metrics[0].metrics.accuracy,
        [0.25],
      );
      assert.deepEqual((await get('/api/models')).body, { models: [] });
      const health = await get('/healthz');
      assert.equal(health.body.status, 'ok');
      assert.equal(health.body.head_seq, server.headSeq());
      assert.equal((await get('/nope')).status, 404);
    } finally {
      await server.close();
    }
  });

  it('disconnects a client that stops reading, without stalling the others', async () => {
    const server = await startServer({ port: 0, store, intervalMs: 0, stream: 'slow', ringCapacity: 500 });
    try {
      // A client that sends its request and never reads its socket.
      const slow = connect({ host: '127.0.0.1', port: server.port });
      slow.write(
        `GET /realtime_data HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAccept: text/event-stream\r\n\r\n`,
      );
      slow.once('data', () => slow.pause());
      const slowClosed = new Promise<void>((resolve) => slow.once('close', () => resolve()));
      slow.on('error', () => {});
      await sleep(100);
      const fast = await readSse(`${server.url}/realtime_data`, {
        until: (e) => e.length >= 40_000,
        timeoutMs: 60_000,
      });
      const ids = fast.events.map((e) => Number(e.id));
      assert.equal(ids.length, 40_000);
      assert.ok(
        ids.every((id, i) => i === 0 || id === ids[i - 1] + 1),
        'the fast client got every tick in order',
      );
      await Promise.race([slowClosed, sleep(5000)]);
      assert.equal(server.stats().disconnectedSlow, 1);
      slow.destroy();
    } finally {
      await server.close();
    }
  });

  it('ends every stream cleanly on close and stores every tick it sent', async () => {
    const server = await startServer({ port: 0, store, intervalMs: 5, stream: 'term' });
    const reading = readSse(`${server.url}/realtime_data`, { timeoutMs: 10_000 });
    await sleep(300);
    await server.close();
    const r = await reading;
    assert.equal(r.ended, true, 'the body ended (not aborted)');
    assert.ok(r.raw.endsWith('\n\n'), 'the last frame is complete');
    const last = Number(r.events[r.events.length - 1].id);
    assert.equal(await store.lastSeq('historical_data', 'term'), last);
    await assert.rejects(fetch(`${server.url}/healthz`));
  });
});
