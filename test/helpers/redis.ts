// Test helper: a real redis-server for the bus suites — BYNER_TEST_REDIS_URL when set (.ci/run starts one), else a
// redis-server from PATH (or /usr/bin) on a free 127.0.0.1 port without persistence. Suites that crash Redis start
// their own. Deciding to skip, and saying why, is the suite's job.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freePort } from './ferretdb.js';
import { runServer, type ServerProcess } from './server-process.js';

/** A redis-server of a test; without persistence, a crash loses its data. */
export interface RedisServer extends ServerProcess {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
}

/** The redis-server binary on PATH or in /usr/bin, if it runs (`--version`); else why not. */
export function findRedisServer(): { path: string } | { reason: string } {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  const path = dirs.map((d) => join(d, 'redis-server')).find((p) => p !== 'redis-server' && existsSync(p));
  if (path === undefined) {
    return {
      reason: 'no redis-server on PATH or in /usr/bin (.ci/run installs it: apt-get install redis-server)',
    };
  }
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0)
    return { reason: `${path} --version failed: ${(r.stderr || String(r.error)).split('\n')[0]}` };
  return { path };
}

/** Starts redis-server (no persistence) on a free port and waits until it accepts connections. */
export async function startRedis(options: { binary?: string; port?: number } = {}): Promise<RedisServer> {
  const found = options.binary === undefined ? findRedisServer() : { path: options.binary };
  if (!('path' in found)) throw new Error(found.reason);
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const server = await runServer('redis-server', found.path, [...args, '--loglevel', 'warning'], port);
  return { url: `redis://127.0.0.1:${port}`, port, ...server };
}

/**
 * A Redis URL for tests that do not stop Redis: BYNER_TEST_REDIS_URL when set (its database number dropped: suites
 * add `/N` to keep apart), else a redis-server started here (stop it with `stop()`), else `{ skip }` naming why no
 * server is available.
 */
export async function redisUrlForTests(): Promise<
  { url: string; source: string; stop: () => Promise<void> } | { skip: string }
> {
  const fromEnv = process.env.BYNER_TEST_REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    return { url: fromEnv.replace(/\/\d*$/, ''), source: 'BYNER_TEST_REDIS_URL', stop: async () => {} };
  }
  const found = findRedisServer();
  if (!('path' in found)) return { skip: `BYNER_TEST_REDIS_URL is not set and ${found.reason}` };
  const server = await startRedis({ binary: found.path });
  return { url: server.url, source: `redis-server ${found.path} on port ${server.port}`, stop: server.stop };
}

/** A redis-server of the test's own (it will be crashed), or `{ skip }` naming why none can be started. */
export async function ownRedisForTests(): Promise<RedisServer | { skip: string }> {
  const found = findRedisServer();
  if (!('path' in found)) return { skip: found.reason };
  return startRedis({ binary: found.path });
}
