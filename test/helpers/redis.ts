// Test helper: a real redis-server for the bus suites — BYNER_TEST_REDIS_URL when set (.ci/run starts one), else a
// redis-server from PATH (or /usr/bin) on a free 127.0.0.1 port without persistence. Suites that crash Redis start
// their own. Deciding to skip, and saying why, is the suite's job.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, join } from 'node:path';
import { freePort } from './ferretdb.js';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Kills the server (SIGKILL: an abrupt outage; without persistence its data is gone). */
  crash(): Promise<void>;
  /** Starts it again on the same port (crashing it first if it runs). */
  restart(): Promise<void>;
  /** Stops it for good. */
  stop(): Promise<void>;
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

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

/** Starts redis-server (no persistence) on a free port and waits until it accepts connections. */
export async function startRedis(options: { binary?: string; port?: number } = {}): Promise<RedisServer> {
  const found = options.binary === undefined ? findRedisServer() : { path: options.binary };
  if (!('path' in found)) throw new Error(found.reason);
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let log = '';
  const launch = async () => {
    log = '';
    child = spawn(
      found.path,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (b) => (log = (log + b).slice(-4000)));
    child.stderr?.on('data', (b) => (log = (log + b).slice(-4000)));
    const deadline = Date.now() + 20_000;
    while (!(await canConnect(port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log}`);
      if (Date.now() > deadline)
        throw new Error(`redis-server did not listen on 127.0.0.1:${port} in 20 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const crash = async () => {
    if (child === undefined) return;
    const c = child;
    child = undefined;
    c.kill('SIGKILL');
    await exited(c);
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    crash,
    async restart() {
      await crash();
      await launch();
    },
    async stop() {
      if (child === undefined) return;
      const c = child;
      child = undefined;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited(c);
      clearTimeout(timer);
    },
  };
}

/**
 * A Redis URL for tests that do not stop Redis: BYNER_TEST_REDIS_URL when set, else a redis-server started here
 * (stop it with `stop()`), else `{ skip }` naming why no server is available.
 */
export async function redisUrlForTests(): Promise<
  { url: string; source: string; stop: () => Promise<void> } | { skip: string }
> {
  const fromEnv = process.env.BYNER_TEST_REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    return { url: fromEnv, source: 'BYNER_TEST_REDIS_URL', stop: async () => {} };
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
