// The group-commit protocol alone (one commit per turn, results per call, a failed commit fails its calls), then
// the embedded store's writes through it: many writers in one turn share one transaction and keep their receipts.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { metrics } from '../../metrics/prometheus.js';
import { makeTick } from '../contract.js';
import { RefusedDocumentsError } from '../receipt.js';
import type { MetricsDoc } from '../types.js';
import { GroupCommit } from './group-commit.js';
import { openSqliteStore } from './sqlite-store.js';

describe('GroupCommit', () => {
  it('commits the calls of one turn once, in call order, and gives each call its own result', async () => {
    const commits: number[][] = [];
    const group = new GroupCommit<number, number>((jobs) => {
      commits.push([...jobs]);
      return jobs.map((j) => j * 10);
    });
    const first = [1, 2, 3].map((j) => group.add(j));
    assert.equal(group.queued.length, 3);
    assert.deepEqual(await Promise.all(first), [10, 20, 30]);
    assert.deepEqual(await Promise.all([group.add(4), group.add(5)]), [40, 50]);
    assert.deepEqual(commits, [
      [1, 2, 3],
      [4, 5],
    ]);
    assert.equal(group.queued.length, 0);
  });

  it('fails every call of a commit that throws, and commits later calls again', async () => {
    let fail = true;
    const group = new GroupCommit<string, string>((jobs) => {
      if (fail) throw new Error('disk I/O error');
      return [...jobs];
    });
    const results = await Promise.allSettled([group.add('a'), group.add('b')]);
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value)),
      ['disk I/O error', 'disk I/O error'],
    );
    fail = false;
    assert.equal(await group.add('c'), 'c');
  });

  it('commitNow commits at once (before a read or a close) and is a no-op when nothing is queued', async () => {
    let commits = 0;
    const group = new GroupCommit<number, number>((jobs) => {
      commits += 1;
      return [...jobs];
    });
    group.commitNow();
    assert.equal(commits, 0);
    const pending = group.add(7);
    group.commitNow();
    assert.equal(commits, 1);
    assert.equal(await pending, 7);
    await new Promise((resolve) => setImmediate(resolve)); // the cancelled end-of-turn commit does not run
    assert.equal(commits, 1);
  });
});

/** Transactions that stored `collection` so far: byner_store_write_seconds counts one per commit of it. */
async function commitsOf(collection: string): Promise<number> {
  const { values } = await metrics.storeWriteSeconds.get();
  const count = values.find((v) => v.metricName?.endsWith('_count') && v.labels.collection === collection);
  return count?.value ?? 0;
}

function withStore(
  run: (store: ReturnType<typeof openSqliteStore>, dataDir: string) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'byner-group-'));
    const store = openSqliteStore({ dataDir });
    try {
      await run(store, dataDir);
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
}

const metricsDoc = (stream: string, extra: object = {}): MetricsDoc => ({
  timestamp: new Date(Date.UTC(2026, 0, 1)),
  metrics: { mse: [1], mae: [1], accuracy: [null] },
  forecast_horizon: 1,
  model_version: 'm1',
  stream,
  ...extra,
});

describe('sqlite store: group commit', () => {
  it(
    'stores the writes of many streams made in one turn in one transaction, each receipt with its own counts',
    withStore(async (store) => {
      await (await store.writeTicks('historical_data', [makeTick(1, 's0')])).stored();
      const before = await commitsOf('historical_data');
      // 50 streams write at once; stream s0 re-sends its stored tick 1 with a new one.
      const calls = Array.from({ length: 50 }, (_, i) =>
        store.writeTicks(
          'historical_data',
          i === 0 ? [makeTick(1, 's0'), makeTick(2, 's0')] : [makeTick(1, `s${i}`)],
        ),
      );
      assert.equal(store.writeStats().pending, 51);
      const outcomes = await Promise.all((await Promise.all(calls)).map((r) => r.stored()));
      assert.equal((await commitsOf('historical_data')) - before, 1);
      assert.deepEqual(outcomes[0], { stored: 1, duplicates: 1 });
      for (const o of outcomes.slice(1)) assert.deepEqual(o, { stored: 1, duplicates: 0 });
      assert.equal(await store.countTicks('historical_data'), 51);
      assert.equal(store.writeStats().pending, 0);
    }),
  );

  it(
    'refuses only the refused document of a shared transaction, reported to its own write alone',
    withStore(async (store, dataDir) => {
      const admin = new Database(join(dataDir, 'byner.db'));
      admin.exec(`CREATE TRIGGER refuse_marked BEFORE INSERT ON inf_metrics
        WHEN json_extract(NEW.doc, '$.refuse') IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'refused by a rule of this database'); END`);
      admin.close();
      const calls = [
        store.writeTicks('inf_historical_db', [makeTick(1, 'a')]),
        store.writeMetrics('inf_metrics', [metricsDoc('a'), metricsDoc('b', { refuse: true })]),
        store.writeMetrics('inf_metrics', [metricsDoc('c')]),
      ];
      const results = await Promise.allSettled((await Promise.all(calls)).map((r) => r.stored()));
      assert.deepEqual(results[0], { status: 'fulfilled', value: { stored: 1, duplicates: 0 } });
      assert.equal(results[1].status, 'rejected');
      const refusal = (results[1] as PromiseRejectedResult).reason;
      assert.ok(refusal instanceof RefusedDocumentsError);
      assert.deepEqual(
        refusal.refused.map((r) => r.key),
        [{ stream: 'b', model_version: 'm1', timestamp: '2026-01-01T00:00:00.000Z' }],
      );
      assert.deepEqual(refusal.outcome, { stored: 1, duplicates: 0 });
      assert.deepEqual(results[2], { status: 'fulfilled', value: { stored: 1, duplicates: 0 } });
      const stored = await store.recentMetrics('inf_metrics', 10);
      assert.deepEqual(
        stored.map((d) => d.stream),
        ['a', 'c'],
      );
      assert.equal(store.writeStats().rejected, 1);
    }),
  );

  it(
    'a read sees the writes queued before it, and close stores them',
    withStore(async (store, dataDir) => {
      const write = store.writeTicks('historical_data', [makeTick(1, 'r')]);
      assert.equal(await store.lastSeq('historical_data', 'r'), 1);
      assert.deepEqual(await (await write).stored(), { stored: 1, duplicates: 0 });
      const last = store.writeTicks('historical_data', [makeTick(2, 'r')]);
      await store.close();
      assert.deepEqual(await (await last).stored(), { stored: 1, duplicates: 0 });
      const db = new Database(join(dataDir, 'byner.db'), { readonly: true });
      assert.equal(db.prepare("SELECT MAX(seq) FROM historical_data WHERE stream = 'r'").pluck().get(), 2);
      db.close();
    }),
  );
});
