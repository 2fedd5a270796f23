// kill -9 of `byner serve` mid-stream, then a restart on the same data dir and port: the inference client
// reconnects and the ticks it stored are exactly consecutive (no gap, no duplicate) and equal to the server's.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NaiveForecaster } from '../src/features/forecaster.js';
import { runInference } from '../src/infer/runner.js';
import { openStore } from '../src/store/index.js';
import { childEnv, ROOT } from './helpers/cli.js';
import { freePort } from './helpers/ferretdb.js';
import { sleep, tempDir } from './live-helpers.js';

/** Starts `byner serve` as a child process; resolves once it listens. */
function serve(port: number, dataDir: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src', 'cli', 'main.ts'),
      'serve',
      '--port',
      String(port),
      '--interval',
      '20',
    ],
    {
      cwd: ROOT,
      env: childEnv({ BYNER_DATA_DIR: dataDir }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      if (String(d).includes('streaming on')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`byner serve exited with ${code}: ${err}`)));
  });
}

const exited = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

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

  it('leaves the client with exactly consecutive ticks, equal to what the server stored', async () => {
    const port = await freePort();
    const serverDir = join(dir.path, 'server');
    const store = await openStore({ dataDir: join(dir.path, 'client') });
    let child = await serve(port, serverDir);
    const run = runInference({
      url: `http://127.0.0.1:${port}/realtime_data`,
      store,
      forecaster: new NaiveForecaster(5),
      backoff: { initialMs: 50, maxMs: 200 },
      out: null,
    });
    try {
      for (const round of [1, 2]) {
        const at = run.stats.accepted;
        await until(() => run.stats.accepted >= at + 60);
        child.kill('SIGKILL');
        await exited(child);
        await sleep(200 * round);
        child = await serve(port, serverDir);
      }
      const at = run.stats.accepted;
      await until(() => run.stats.accepted >= at + 60);
    } finally {
      await run.stop();
      child.kill('SIGTERM');
      await exited(child);
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
    const server = await openStore({ dataDir: serverDir });
    const sent = await server.ticksRange('historical_data', 'synthetic', 0, got.length - 1);
    assert.deepEqual(
      got.map((t) => [t.seq, t.timestamp.getTime(), t.price, t.indicators]),
      sent.map((t) => [t.seq, t.timestamp.getTime(), t.price, t.indicators]),
    );
    await server.close();
    await store.close();
  });
});
