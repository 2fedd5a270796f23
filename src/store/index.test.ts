// Tests of the store entry points: choosing and describing the store, hiding passwords, the unreachable-store
// error, and seeding. Store behaviour itself is the contract suite's (store/contract.ts).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isBynerError } from '../errors.js';
import { makeTicks } from './contract.js';
import { describeStore, openStore, redactUri, seedTicks } from './index.js';

/** A port nothing listens on: bind one, note it, let it go. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

describe('store entry points', () => {
  const uris: [string, string][] = [
    ['mongodb://127.0.0.1:27017/', 'mongodb://127.0.0.1:27017/'],
    ['mongodb://user:s3cr:et@host:1/db?authSource=admin', 'mongodb://user:***@host:1/db?authSource=admin'],
    ['mongodb+srv://u:p%40ss@cluster.example.net/x', 'mongodb+srv://u:***@cluster.example.net/x'],
    ['mongodb://host/?password=hunter2&w=1', 'mongodb://host/?password=***&w=1'],
  ];
  for (const [uri, shown] of uris) {
    it(`hides the password of ${shown}`, () => assert.equal(redactUri(uri), shown));
  }

  it('describes the store in use', () => {
    assert.equal(describeStore({}), 'embedded SQLite at data/byner.db');
    assert.equal(describeStore({ dataDir: '/tmp/x' }), 'embedded SQLite at /tmp/x/byner.db');
    assert.equal(
      describeStore({ mongoUri: 'mongodb://a:b@h/', dbName: 'd' }),
      'MongoDB at mongodb://a:***@h/ (database d)',
    );
  });

  it('fails fast on an unreachable MongoDB, naming the URI without its password and what to try', async () => {
    const port = await closedPort();
    const started = Date.now();
    await assert.rejects(
      openStore({
        mongoUri: `mongodb://byner:topsecret@localhost:${port}/`,
        mongo: { serverSelectionTimeoutMS: 300 },
      }),
      (e: unknown) => {
        assert.ok(isBynerError(e, 'BYNER_STORE_UNREACHABLE'), String(e));
        assert.match(e.message, new RegExp(`mongodb://byner:\\*\\*\\*@localhost:${port}/`));
        assert.doesNotMatch(e.message, /topsecret/);
        assert.match(e.hint ?? '', /127\.0\.0\.1 instead of localhost/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('seeds an empty stream with progress, leaves a non-empty one alone unless appending', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'byner-seed-'));
    const store = await openStore({ dataDir });
    try {
      const progress: number[] = [];
      const options = {
        stream: 'synthetic',
        count: 2500,
        makeTicks: (start: number, count: number) => makeTicks(start, count),
        onProgress: (done: number, total: number) => progress.push(done / total),
      };
      assert.deepEqual(await seedTicks(store, options), { seeded: true, written: 2500, startSeq: 0 });
      assert.deepEqual(progress, [0.4, 0.8, 1]);
      const again = await seedTicks(store, options);
      assert.equal(again.seeded, false);
      assert.match(again.seeded ? '' : again.reason, /already holds 2500 tick\(s\).*--append/);
      assert.deepEqual(await seedTicks(store, { ...options, count: 10, append: true }), {
        seeded: true,
        written: 10,
        startSeq: 2500,
      });
      assert.equal((await store.stats()).historical_data, 2510);
      assert.equal(await store.lastSeq('historical_data', 'synthetic'), 2509);
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
