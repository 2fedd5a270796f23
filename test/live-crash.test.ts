// kill -9 of `byner serve` mid-stream, then a restart on the same data dir and port: the inference client
// reconnects and the ticks it stored are exactly consecutive (no gap, no duplicate) and equal to the server's.
// Then SIGTERM: exit code 0, every open stream ends with a complete frame, and the last tick sent is stored.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NaiveForecaster } from '../src/features/forecaster.js';
import { runInference } from '../src/infer/runner.js';
import { openStore } from '../src/store/index.js';
import { freePort } from './helpers/ferretdb.js';
import { readSse, type ServeChild, sleep, spawnServe, tempDir } from './live-helpers.js';

const serve = (port: number, dataDir: string) =>
  spawnServe(['--port', String(port), '--interval', '20'], { BYNER_DATA_DIR: dataDir });

const until = async (cond: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
};

describe('kill -9 of the server mid-stream', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('byner-crash-');
  });
  after(() => dir.remove());

  it('leaves the client with exactly consecutive ticks, equal to what the server stored; SIGTERM then stops cleanly', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/realtime_data`;
    const serverDir = join(dir.path, 'server');
    const store = await openStore({ dataDir: join(dir.path, 'client') });
    let child: ServeChild = await serve(port, serverDir);
    try {
      const run = runInference({
        url,
        store,
        forecaster: new NaiveForecaster(5),
        backoff: { initialMs: 50, maxMs: 200 },
        out: null,
      });
      try {
        for (const round of [1, 2]) {
          const at = run.stats.accepted;
          await until(() => run.stats.accepted >= at + 60);
          child.child.kill('SIGKILL');
          await child.exited;
          await sleep(200 * round);
          child = await serve(port, serverDir);
        }
        const at = run.stats.accepted;
        await until(() => run.stats.accepted >= at + 60);
      } finally {
        await run.stop();
      }
      const stats = run.stats;
      assert.ok(stats.stream.reconnects >= 2, `reconnects ${stats.stream.reconnects}`);
      assert.equal(stats.duplicates + stats.outOfOrder + stats.invalid, 0);
      assert.deepEqual(stats.gaps, []);
      const got = await store.ticksAfter('inf_historical_db', 'synthetic', -1, 1_000_000);
      assert.deepEqual(
        got.map((t) => t.seq),
        Array.from({ length: stats.accepted }, (_, i) => i),
      );

      // SIGTERM with two streams open, one live and one replaying from the start: exit 0, both end cleanly.
      const seen = { live: 0, replay: 0 };
      const count = (name: keyof typeof seen) => (events: unknown[]) => {
        seen[name] = events.length;
        return false; // read until the server ends the stream
      };
      const live = readSse(url, { until: count('live'), timeoutMs: 60_000 });
      const replay = readSse(url, { lastEventId: '0', until: count('replay'), timeoutMs: 60_000 });
      await until(() => seen.live >= 20 && seen.replay >= got.length);
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 0, child.stderr());
      const streams = { live: await live, replay: await replay };
      let last = -1;
      for (const [name, s] of Object.entries(streams)) {
        assert.equal(s.ended, true, `${name}: the server ended the body (not aborted)`);
        assert.ok(
          s.raw.endsWith('\n\n'),
          `${name}: the last frame is complete: ${JSON.stringify(s.raw.slice(-80))}`,
        );
        const ids = s.events.map((e) => Number(e.id));
        const first = name === 'replay' ? 1 : ids[0];
        assert.ok(
          ids.every((id, i) => id === first + i),
          `${name}: consecutive ids`,
        );
        last = Math.max(last, ids[ids.length - 1]);
      }
      const server = await openStore({ dataDir: serverDir });
      try {
        assert.equal(
          await server.lastSeq('historical_data', 'synthetic'),
          last,
          'the last tick sent is stored, and no later one',
        );
        assert.equal(await server.countTicks('historical_data', 'synthetic'), last + 1);
        const sent = await server.ticksRange('historical_data', 'synthetic', 0, got.length - 1);
        assert.deepEqual(
          got.map((t) => [t.seq, t.timestamp.getTime(), t.price, t.indicators]),
          sent.map((t) => [t.seq, t.timestamp.getTime(), t.price, t.indicators]),
        );
      } finally {
        await server.close();
      }
    } finally {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      await store.close();
    }
  });
});
