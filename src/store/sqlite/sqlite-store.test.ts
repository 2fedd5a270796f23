// Runs the shared Store contract against the embedded SQLite store, one temp directory per store, plus the
// SQLite-only checks (WAL mode, unwritable directory). The contract itself lives in store/contract.ts.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isBynerError } from '../../errors.js';
import { makeTick, runStoreContract } from '../contract.js';
import { openSqliteStore } from './sqlite-store.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'byner-sqlite-'));

runStoreContract('sqlite', async () => {
  const dataDir = tempDir();
  const opened = [openSqliteStore({ dataDir })];
  // A rule of this database (as a MongoDB validator would be): metrics documents marked `refuse` are refused.
  const admin = new Database(join(dataDir, 'byner.db'));
  admin.exec(`CREATE TRIGGER refuse_marked BEFORE INSERT ON inf_metrics
    WHEN json_extract(NEW.doc, '$.refuse') IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'refused by a rule of this database'); END`);
  admin.close();
  return {
    store: opened[0],
    refusing: (doc) => ({ ...doc, refuse: true }),
    async reopen() {
      const s = openSqliteStore({ dataDir });
      opened.push(s);
      return s;
    },
    async dispose() {
      for (const s of opened) await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

describe('sqlite store specifics', () => {
  it('uses WAL mode in <dataDir>/byner.db and says so in its description', async () => {
    const dataDir = tempDir();
    const store = openSqliteStore({ dataDir: join(dataDir, 'nested') });
    assert.equal(store.description, `embedded SQLite at ${join(dataDir, 'nested', 'byner.db')}`);
    await store.close();
    const db = new Database(join(dataDir, 'nested', 'byner.db'), { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('page_size', { simple: true }), 8192);
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('syncs every transaction to disk with durable (synchronous=FULL); NORMAL by default', async () => {
    const dataDir = tempDir();
    const cases: [boolean | undefined, string][] = [
      [undefined, 'NORMAL'],
      [false, 'NORMAL'],
      [true, 'FULL'],
    ];
    for (const [durable, expected] of cases) {
      const infos: string[] = [];
      const logger = { info: (_o: object, m?: string) => infos.push(m ?? ''), warn() {}, error() {} };
      const store = openSqliteStore({ dataDir, durable, logger });
      assert.equal(store.synchronous, expected, `durable: ${durable}`);
      assert.match(infos.join('\n'), new RegExp(`synchronous=${expected}`), 'the start-up line says so');
      await store.writeTicks('historical_data', [makeTick(0)]);
      await store.close();
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails with BYNER_STORE_UNREACHABLE naming the path when the data dir cannot be used', () => {
    const dataDir = tempDir();
    const blocker = join(dataDir, 'file');
    writeFileSync(blocker, 'not a directory');
    chmodSync(blocker, 0o400);
    assert.throws(
      () => openSqliteStore({ dataDir: blocker }),
      (e: unknown) => isBynerError(e, 'BYNER_STORE_UNREACHABLE') && /file[/\\]byner\.db/.test(e.message),
    );
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores input_sequence as float64 (exact, compact) and still reads rows written as JSON text', async () => {
    const dataDir = tempDir();
    const store = openSqliteStore({ dataDir });
    const window = Array.from({ length: 60 }, (_, i) => [
      100 + i,
      0.1 + i / 3,
      Math.PI * i,
      -1e-300,
      Number.MAX_VALUE,
      1 / 3,
      2 ** -1074,
    ]);
    const doc = { timestamp: new Date(1e12), forecast: [1, 2, 3, 4, 5], model_version: 'v', stream: 's' };
    await store.writeForecasts([{ ...doc, seq: 100, input_sequence: window }]);
    await store.close();
    const db = new Database(join(dataDir, 'byner.db'));
    const bytes = db.prepare('SELECT length(input_sequence) FROM inf_predictions').pluck().get();
    assert.equal(bytes, 60 * 7 * 8);
    db.prepare('INSERT INTO inf_predictions VALUES (?, ?, ?, ?, ?, ?)').run(
      's',
      99,
      'v',
      1e12,
      JSON.stringify(window.map((r) => r.map((_v, j) => (j === 5 ? 0 : 1)))),
      '[5,4,3,2,1]',
    );
    db.close();
    const again = openSqliteStore({ dataDir });
    const [old, now] = await again.recentForecasts('s', 10);
    assert.equal(old.seq, 99);
    assert.deepEqual(old.input_sequence[7], [1, 1, 1, 1, 1, 0, 1]);
    assert.deepEqual(now.input_sequence, window);
    await again.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('upgrades a schema-1 file in place and refuses a newer schema with a clear error', async () => {
    const dataDir = tempDir();
    (await openSqliteStore({ dataDir })).close();
    const set = (v: string) => {
      const db = new Database(join(dataDir, 'byner.db'));
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(v);
      db.close();
    };
    const version = () => {
      const db = new Database(join(dataDir, 'byner.db'), { readonly: true });
      const v = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
      db.close();
      return v;
    };
    set('1');
    await openSqliteStore({ dataDir }).close();
    assert.equal(version(), '3');
    set('4');
    assert.throws(
      () => openSqliteStore({ dataDir }),
      (e: unknown) => isBynerError(e, 'BYNER_STORE') && /schema version 4/.test(e.message),
    );
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('upgrades a schema-2 registry in place: each flagged model becomes the serving model of its stream', async () => {
    const dataDir = tempDir();
    // The registry tables as schema 2 wrote them: one `serving` flag for the whole registry.
    const db = new Database(join(dataDir, 'byner.db'));
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema_version', '2');
      CREATE TABLE models (
        version TEXT PRIMARY KEY, created_at INTEGER NOT NULL, serving INTEGER NOT NULL DEFAULT 0,
        config TEXT NOT NULL, scaler TEXT NOT NULL, metrics TEXT NOT NULL, data_range TEXT NOT NULL
      );
      CREATE TABLE model_files (
        version TEXT NOT NULL REFERENCES models (version), name TEXT NOT NULL, bytes BLOB NOT NULL,
        PRIMARY KEY (version, name)
      );`);
    const insert = db.prepare("INSERT INTO models VALUES (?, ?, ?, '{}', '{}', '{\"mse\":[1]}', ?)");
    const range = (stream: string) => JSON.stringify({ stream, from_seq: 0, to_seq: 9 });
    insert.run('old', 1000, 0, range('synthetic'));
    insert.run('served', 2000, 1, range('synthetic'));
    insert.run('co2-model', 3000, 0, range('co2'));
    db.prepare("INSERT INTO model_files VALUES ('served', 'model.json', ?)").run(Buffer.from('{}'));
    db.close();

    const store = openSqliteStore({ dataDir });
    assert.deepEqual(
      (await store.servingPointers()).map((p) => [p.stream, p.version, p.since.getTime()]),
      [['synthetic', 'served', 2000]],
    );
    const served = await store.servingModel('synthetic');
    assert.deepEqual(
      [served?.version, served?.streams, served?.serving_streams, served?.metrics, served?.artifact],
      [
        'served',
        ['synthetic'],
        ['synthetic'],
        { mse: [1] },
        { 'model.json': new Uint8Array(Buffer.from('{}')) },
      ],
    );
    assert.deepEqual(
      (await store.listModels()).map((m) => [m.version, m.streams, m.serving]),
      [
        ['old', ['synthetic'], false],
        ['served', ['synthetic'], true],
        ['co2-model', ['co2'], false],
      ],
    );
    await store.setServing('co2-model');
    await store.close();
    const raw = new Database(join(dataDir, 'byner.db'), { readonly: true });
    const columns = (raw.prepare('PRAGMA table_info(models)').all() as { name: string }[]).map((c) => c.name);
    const schema = raw.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
    raw.close();
    assert.equal(schema, '3');
    assert.ok(!columns.includes('serving'), `the old flag is gone: ${columns}`);
    const again = openSqliteStore({ dataDir });
    assert.deepEqual(
      (await again.servingPointers()).map((p) => [p.stream, p.version]),
      [
        ['co2', 'co2-model'],
        ['synthetic', 'served'],
      ],
    );
    await again.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});
