// The server's resource limits over real sockets on 127.0.0.1: the bytes held for one client (replays included),
// the client that stops reading, the cap on event streams, and connections that never finish their headers.
import assert from 'node:assert/strict';
import { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SETTINGS } from '../src/config/settings.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { SERVER_DEFAULTS, startServer } from '../src/stream/server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { byner } from './helpers/cli.js';
import { openStream, readSse, sleep, tempDir, waitFor } from './live-helpers.js';

/**
 * Records the largest number of bytes any HTTP response of this process held queued in user space (written by the
 * server, not yet taken by the kernel), measured after every write: the server's own accounting is not trusted.
 */
function watchQueuedBytes(): { peak: () => number; restore: () => void } {
  const write = ServerResponse.prototype.write;
  let peak = 0;
  ServerResponse.prototype.write = function (this: ServerResponse, ...args: unknown[]) {
    const ok = (write as (...a: unknown[]) => boolean).apply(this, args);
    peak = Math.max(peak, this.writableLength);
    return ok;
  } as typeof write;
  return { peak: () => peak, restore: () => (ServerResponse.prototype.write = write) };
}

/** A raw TCP client that sends `request` and never reads its socket. */
function stuckClient(port: number, request: string): { socket: Socket; closed: Promise<void> } {
  const socket = connect({ host: '127.0.0.1', port });
  socket.pause();
  socket.on('error', () => {});
  socket.write(request);
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

const consecutive = (ids: number[], first: number) => ids.every((id, i) => id === first + i);

describe('server limits', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  before(async () => {
    dir = tempDir('byner-limits-');
    store = await openStore({ dataDir: dir.path });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('holds at most --client-buffer bytes for a client that replays from far back and stops reading, then drops it; the others go on', async () => {
    const stream = 'deep';
    const stored = 40_000; // ≈ 10 MB of frames: more than the kernel's socket buffers take
    await store.writeTicks(
      'historical_data',
      syntheticTicks(DEFAULT_SOURCE, { start: 0, count: stored, stream, origin: new Date(0) }),
    );
    await store.flush();
    const bound = 64 * 1024;
    const queued = watchQueuedBytes();
    const server = await startServer({
      port: 0,
      store,
      stream,
      intervalMs: 0,
      ringCapacity: 1000,
      // Long enough that a reading client in this busy process is never taken for a stalled one.
      heartbeatMs: 500,
      connectionTimeoutMs: 3000,
      maxClientBytes: bound,
    });
    try {
      const stuck = stuckClient(
        server.port,
        `GET /realtime_data HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nLast-Event-ID: 0\r\n\r\n`,
      );
      // A client that replays the same history and reads it, and one that reads live ticks, meanwhile.
      const replaying = readSse(`${server.url}/realtime_data`, {
        lastEventId: '0',
        until: (e) => e.length >= stored + 500,
        timeoutMs: 120_000,
      });
      const live = readSse(`${server.url}/realtime_data`, {
        until: (e) => e.length >= 3000,
        timeoutMs: 120_000,
      });
      await waitFor('the stuck client to be dropped', () => server.stats().disconnectedSlow >= 1, 30_000);
      // The server closed its side: once the client reads what the kernel holds, its socket ends.
      stuck.socket.resume();
      await Promise.race([
        stuck.closed,
        sleep(20_000).then(() => assert.fail('the stuck client was not disconnected')),
      ]);
      const [r, l] = await Promise.all([replaying, live]);
      assert.equal(r.events.length, stored + 500);
      assert.ok(
        consecutive(
          r.events.map((e) => Number(e.id)),
          1,
        ),
        'the reading replay got every tick in order',
      );
      assert.equal(l.events.length, 3000);
      const ids = l.events.map((e) => Number(e.id));
      assert.ok(consecutive(ids, ids[0]), 'the live reader got every tick in order');
      assert.equal(server.stats().disconnectedSlow, 1, 'only the stuck client was dropped');
      assert.ok(queued.peak() <= bound, `a response queued ${queued.peak()} bytes (bound ${bound})`);
      assert.ok(
        server.stats().peakClientBytes <= bound,
        `the server held ${server.stats().peakClientBytes} bytes for one client (bound ${bound})`,
      );
    } finally {
      queued.restore();
      await server.close();
    }
  });

  it('refuses event streams beyond --max-clients with 503 and Retry-After; a freed slot is reused', async () => {
    const server = await startServer({ port: 0, store, stream: 'cap', intervalMs: 50, maxClients: 2 });
    const held = [];
    try {
      held.push(await openStream(`${server.url}/realtime_data`));
      held.push(await openStream(`${server.url}/realtime_data`));
      assert.deepEqual(
        held.map((s) => s.status),
        [200, 200],
      );
      const refused = await readSse(`${server.url}/realtime_data`);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '5');
      const body = JSON.parse(refused.raw);
      assert.match(body.error, /too many event streams/);
      assert.match(body.expected, /at most 2/);
      assert.equal(server.stats().clients, 2);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'REST reads are not capped');
      held[0].close();
      await waitFor('the slot to be freed', () => server.stats().clients === 1);
      const again = await readSse(`${server.url}/realtime_data`, { until: (e) => e.length >= 1 });
      assert.equal(again.status, 200);
      assert.equal(again.events.length, 1);
    } finally {
      for (const s of held) s.close();
      await server.close();
    }
  });

  it('closes connections that send no request, or their headers too slowly, after the header timeout', async () => {
    const server = await startServer({
      port: 0,
      store,
      stream: 'headers',
      intervalMs: 20,
      headersTimeoutMs: 1000,
    });
    try {
      const silent = connect({ host: '127.0.0.1', port: server.port });
      const trickling = connect({ host: '127.0.0.1', port: server.port });
      trickling.write(`GET /realtime_data HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);
      const drip = setInterval(() => trickling.writable && trickling.write('X-Slow: 1\r\n'), 50);
      const answers = [silent, trickling].map(
        (socket) =>
          new Promise<string>((resolve) => {
            let got = '';
            socket.on('data', (d) => (got += d));
            socket.on('error', () => {});
            socket.once('close', () => resolve(got));
          }),
      );
      // A stream that got its headers in time lives on past the header timeout.
      const stream = readSse(`${server.url}/realtime_data`, { timeoutMs: 2500 });
      try {
        const got = await Promise.race([
          Promise.all(answers),
          sleep(10_000).then(() => assert.fail('the connections were not closed within 10 s')),
        ]);
        for (const g of got) assert.match(g, /^HTTP\/1\.1 408 /);
      } finally {
        clearInterval(drip);
        silent.destroy();
        trickling.destroy();
      }
      const r = await stream;
      assert.equal(r.status, 200);
      assert.equal(r.ended, false, 'the event stream was not closed');
      assert.ok(r.events.length >= 10, `${r.events.length} events in 2.5 s`);
    } finally {
      await server.close();
    }
  });

  it('keeps an idle event stream open with heartbeats inside the connection timeout', async () => {
    const server = await startServer({
      port: 0,
      store,
      stream: 'idle',
      intervalMs: 3_600_000,
      heartbeatMs: 100,
      connectionTimeoutMs: 2000,
    });
    try {
      const r = await readSse(`${server.url}/realtime_data`, { timeoutMs: 4000 });
      assert.equal(r.ended, false, 'the stream was not closed as idle');
      assert.ok(r.raw.split(': heartbeat\n\n').length > 5, JSON.stringify(r.raw));
    } finally {
      await server.close();
    }
  });

  it('refuses a heartbeat period that is not shorter than the connection timeout', async () => {
    await assert.rejects(
      startServer({ port: 0, store, stream: 'cfg', heartbeatMs: 5000, connectionTimeoutMs: 5000 }),
      (e: Error & { code?: string }) =>
        e.code === 'BYNER_CONFIG' && /--heartbeat/.test(e.message) && /--connection-timeout/.test(e.message),
    );
  });

  it('the CLI defaults are the server defaults', () => {
    const pairs = [
      ['heartbeat', 'heartbeatMs'],
      ['maxClients', 'maxClients'],
      ['clientBuffer', 'maxClientBytes'],
      ['connectionTimeout', 'connectionTimeoutMs'],
      ['headerTimeout', 'headersTimeoutMs'],
    ] as const;
    for (const [setting, option] of pairs)
      assert.equal(Number(SETTINGS[setting].default), SERVER_DEFAULTS[option], setting);
  });

  it('byner serve: bad limits exit 2 naming what was expected and received', async () => {
    const bad = await byner(['serve', '--port', '0', '--max-clients', '0', '--client-buffer', '1000']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--max-clients: expected an integer between 1 and 100,000, received "0"/);
    assert.match(bad.stderr, /--client-buffer: expected an integer between 65,536 and .*, received "1000"/);
    const clash = await byner(['serve', '--port', '0', '--heartbeat', '60000']);
    assert.equal(clash.code, 2, clash.stderr);
    assert.match(clash.stderr, /heartbeat period must be shorter than the connection timeout/);
    assert.match(clash.stderr, /--connection-timeout \(60000 ms\)/);
  });
});
