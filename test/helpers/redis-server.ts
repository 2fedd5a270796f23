// Test helper: a Redis for suites that need one — BYNER_TEST_REDIS_URL when set, else a redis-server from PATH (or
// /usr/bin) on a free 127.0.0.1 port without persistence, stopped by `stop()`. Deciding to skip, and saying why, is
// the suite's job.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, join } from 'node:path';
import { freePort } from './ferretdb.js';

export interface TestRedis {
  /** redis://127.0.0.1:<port> (no database number: add `/N` to keep suites apart). */
  url: string;
  source: string;
  stop(): Promise<void>;
}

/** The redis-server binary on PATH or in /usr/bin, if one runs (`--version`); else why not. */
function findRedisServer(): { path: string } | { reason: string } {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin'];
  const path = dirs.map((d) => join(d, 'redis-server')).find((p) => p !== '/redis-server' && existsSync(p));
  if (path === undefined) {
    return {
      reason:
        'no redis-server on PATH or in /usr/bin (apt-get install redis-server; .ci/run does) and BYNER_TEST_REDIS_URL is not set',
    };
  }
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? { path } : { reason: `${path} --version failed: ${r.stderr || r.error}` };
}

/** Sends PING on a raw connection; true when +PONG comes back within 1 s. */
const answersPing = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });

/** A Redis for tests, or `{ skip }` naming why none is available. */
export async function redisForTests(): Promise<TestRedis | { skip: string }> {
  const fromEnv = process.env.BYNER_TEST_REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    return { url: fromEnv.replace(/\/\d*$/, ''), source: 'BYNER_TEST_REDIS_URL', stop: async () => {} };
  }
  const found = findRedisServer();
  if (!('path' in found)) return { skip: found.reason };
  const port = await freePort();
  const child: ChildProcess = spawn(
    found.path,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (b) => (log = (log + b).slice(-4000)));
  child.stderr?.on('data', (b) => (log = (log + b).slice(-4000)));
  const deadline = Date.now() + 20_000;
  while (!(await answersPing(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on 127.0.0.1:${port} in 20 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    source: `${found.path} on port ${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
