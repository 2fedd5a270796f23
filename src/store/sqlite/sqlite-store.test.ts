// Runs the shared Store contract against the embedded SQLite store, one temp directory per store, plus the
// SQLite-only checks (WAL mode, unwritable directory). The contract itself lives in store/contract.ts.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isBynerError } from '../../errors.js';
import { runStoreContract } from '../contract.js';
import { openSqliteStore } from './sqlite-store.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'byner-sqlite-'));

runStoreContract('sqlite', async () => {
  const dataDir = tempDir();
  const opened = [openSqliteStore({ dataDir })];
  return {
    store: opened[0],
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
    db.close();
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
});
