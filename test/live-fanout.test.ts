// 1,000 SSE clients connect to a live server and drop: every client, socket and timer is released and the heap
// returns to its baseline (two rounds, so that a leak per client would show as growth).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { startServer } from '../src/stream/server.js';
import { sleep, tempDir } from './live-helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
};

/** Open TCP sockets (both ends of every connection) and timers that keep this process alive, by type. */
function handles(): { sockets: number; timers: number } {
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((t) => t === 'TCPSocketWrap').length,
    timers: info.filter((t) => t === 'Timeout').length,
  };
}

/** Opens `n` event streams, waits until each got one tick event, then destroys them all. */
async function connectAndDrop(url: string, n: number): Promise<void> {
  const requests: ReturnType<typeof request>[] = [];
  const gotTick = Array.from({ length: n }, (_, i) => {
    return new Promise<void>((resolve, reject) => {
      const req = request(`${url}/realtime_data`, { agent: false }, (res) => {
        res.on('data', (chunk: Buffer) => {
          if (chunk.includes('id: ')) resolve();
        });
        res.on('error', () => {});
      });
      req.on('error', (e) => reject(new Error(`client ${i}: ${e.message}`)));
      req.end();
      requests.push(req);
    });
  });
  await Promise.all(gotTick);
  for (const req of requests) req.destroy();
}

describe('1,000 clients connect and drop', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  before(async () => {
    dir = tempDir('byner-fanout-');
    store = await openStore({ dataDir: dir.path });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('returns clients, sockets, timers and heap to baseline', async () => {
    const server = await startServer({ port: 0, store, intervalMs: 50 });
    try {
      await connectAndDrop(server.url, 20); // warm-up: JIT, buffers, the ring
      const settle = async () => {
        const end = Date.now() + 10_000;
        while (server.stats().clients > 0 || (await server.connections()) > 0) {
          if (Date.now() > end) assert.fail(`still ${server.stats().clients} clients`);
          await sleep(20);
        }
      };
      await settle();
      const baseline = await heapAfterGc();
      const baseHandles = handles();
      const heaps: number[] = [];
      for (let round = 0; round < 2; round++) {
        await connectAndDrop(server.url, 1000);
        await settle();
        heaps.push(await heapAfterGc());
      }
      const stats = server.stats();
      assert.equal(stats.clients, 0);
      assert.equal(await server.connections(), 0);
      assert.equal(stats.connected, 20 + 2000);
      // Every socket (client and server side) closed, and no timer left behind per client (the tick timer and
      // the store's come and go: a leak per client would add 1,000).
      const now = handles();
      assert.equal(now.sockets, baseHandles.sockets, 'open TCP sockets');
      assert.ok(now.timers <= baseHandles.timers + 10, `timers ${baseHandles.timers} → ${now.timers}`);
      const mb = (x: number) => (x / 1024 / 1024).toFixed(2);
      // Per-client state would be ~1,000 × (socket + buffers + closures) ≈ MBs; allow 4 MB of noise.
      assert.ok(heaps[0] - baseline < 4 * 1024 * 1024, `heap ${mb(baseline)} → ${mb(heaps[0])} MB`);
      assert.ok(heaps[1] - heaps[0] < 2 * 1024 * 1024, `heap grew ${mb(heaps[0])} → ${mb(heaps[1])} MB`);
    } finally {
      await server.close();
    }
  });
});
