// Test helper: a real MongoDB-wire server for suites that need one — MONGODB_URI when set, else a FerretDB
// (SQLite handler) on a free 127.0.0.1 port in a temp dir. Deciding to skip, and saying why, is the suite's job.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { runServer } from './server-process.js';

export interface FerretDB {
  /** `mongodb://127.0.0.1:<port>/` */
  uri: string;
  port: number;
  dataDir: string;
  /** Kills the server (SIGKILL: an abrupt outage), keeping its data; `restart()` brings it back. */
  crash(): Promise<void>;
  /** Starts it again on the same port and data dir (crashing it first if it runs). */
  restart(): Promise<void>;
  /** Stops it for good and removes its data dir. */
  stop(): Promise<void>;
  /** The running server's process id, or undefined when it is not running. */
  pid(): number | undefined;
}

/** The ferretdb binary on PATH or in ~/go/bin, if one exists and runs (`--version`); else why not. */
export function findFerretDB(): { path: string } | { reason: string } {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), join(homedir(), 'go', 'bin')];
  const path = dirs.map((d) => join(d, 'ferretdb')).find((p) => p !== '' && existsSync(p));
  if (path === undefined) {
    return { reason: 'no ferretdb binary on PATH or in ~/go/bin (.ci/run installs it; or set MONGODB_URI)' };
  }
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || String(r.error ?? r.signal)).split('\n')[0];
    return { reason: `${path} does not run (${why}); rebuild it with .ci/run` };
  }
  return { path };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Starts FerretDB (SQLite handler, telemetry off) and waits until it accepts connections. */
export async function startFerretDB(options: { binary?: string } = {}): Promise<FerretDB> {
  const found = options.binary === undefined ? findFerretDB() : { path: options.binary };
  if (!('path' in found)) throw new Error(found.reason);
  const dataDir = mkdtempSync(join(tmpdir(), 'byner-ferretdb-'));
  const port = await freePort();
  const server = await runServer(
    'ferretdb',
    found.path,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/`,
      `--listen-addr=127.0.0.1:${port}`,
      '--telemetry=disable',
      '--debug-addr=-',
      `--state-dir=${dataDir}`,
      '--log-level=warn',
    ],
    port,
  );
  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    port,
    dataDir,
    crash: server.crash,
    restart: server.restart,
    pid: server.pid,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A MongoDB URI for tests: MONGODB_URI when set, else a FerretDB started here (stop it with `stop()`),
 * else `{ skip }` naming why no server is available.
 */
export async function mongoUriForTests(): Promise<
  { uri: string; source: string; stop: () => Promise<void> } | { skip: string }
> {
  const fromEnv = process.env.MONGODB_URI;
  if (fromEnv !== undefined && fromEnv !== '')
    return { uri: fromEnv, source: 'MONGODB_URI', stop: async () => {} };
  const found = findFerretDB();
  if (!('path' in found)) return { skip: `MONGODB_URI is not set and ${found.reason}` };
  const server = await startFerretDB({ binary: found.path });
  return { uri: server.uri, source: `FerretDB ${found.path} on port ${server.port}`, stop: server.stop };
}
