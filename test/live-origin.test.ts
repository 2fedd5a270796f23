// DNS rebinding and cross-site requests against a live server on 127.0.0.1: which Host headers it answers, which
// origins may read /api/* and /realtime_data (CORS), and that a refused page cannot make the server produce ticks.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { type RunningServer, startServer } from '../src/stream/server.js';
import { byner } from './helpers/cli.js';
import { freePort } from './helpers/ferretdb.js';
import { ask, sleep, spawnServe, tempDir } from './live-helpers.js';

type Case = [label: string, path: string, headers: (port: number) => Record<string, string>, status: number];

const local = (port: number) => `127.0.0.1:${port}`;

const DEFAULT_CASES: Case[] = [
  ['curl: Host 127.0.0.1:port', '/healthz', (p) => ({ host: local(p) }), 200],
  ['Host localhost:port', '/api/models', (p) => ({ host: `localhost:${p}` }), 200],
  ['Host [::1]:port', '/healthz', (p) => ({ host: `[::1]:${p}` }), 200],
  ['Host without a port, upper case', '/healthz', () => ({ host: 'LOCALHOST' }), 200],
  ['a rebound name', '/healthz', (p) => ({ host: `evil.example:${p}` }), 421],
  ['a rebound name, the page', '/', (p) => ({ host: `evil.example:${p}` }), 421],
  ['a name that starts like ours', '/api/models', () => ({ host: '127.0.0.1.evil.example' }), 421],
  ['a bad port suffix', '/healthz', () => ({ host: '127.0.0.1:x' }), 421],
  [
    'the dashboard page (same origin)',
    '/api/models',
    (p) => ({ host: local(p), origin: `http://${local(p)}`, 'sec-fetch-site': 'same-origin' }),
    200,
  ],
  ['a typed-in URL', '/api/models', (p) => ({ host: local(p), 'sec-fetch-site': 'none' }), 200],
  [
    'cross-site fetch',
    '/api/models',
    (p) => ({ host: local(p), origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }),
    403,
  ],
  [
    'cross-site <img>, no Origin',
    '/api/ticks',
    (p) => ({ host: local(p), 'sec-fetch-site': 'cross-site' }),
    403,
  ],
  ['same-site, no Origin', '/api/ticks', (p) => ({ host: local(p), 'sec-fetch-site': 'same-site' }), 403],
  [
    'another origin, no Sec-Fetch-Site',
    '/api/models',
    (p) => ({ host: local(p), origin: 'http://localhost:3000' }),
    403,
  ],
  ['a sandboxed page', '/api/models', (p) => ({ host: local(p), origin: 'null' }), 403],
  ['a cross-site link to the page', '/', (p) => ({ host: local(p), 'sec-fetch-site': 'cross-site' }), 200],
  [
    'preflight from an origin not allowed',
    '/api/ticks',
    (p) => ({ host: local(p), origin: 'http://evil.example', 'access-control-request-method': 'GET' }),
    403,
  ],
];

describe('Host and cross-site rules', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  before(async () => {
    dir = tempDir('byner-origin-');
    store = await openStore({ dataDir: dir.path });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  describe('default: only 127.0.0.1, localhost and [::1], same origin', () => {
    let server: RunningServer;
    before(async () => {
      server = await startServer({
        port: 0,
        store,
        stream: 'origin',
        intervalMs: 0,
        routes: [(app) => void app.get('/', async () => 'page')],
      });
    });
    after(() => server.close());

    for (const [label, path, headers, status] of DEFAULT_CASES) {
      it(`${label}: ${status}`, async () => {
        const method = label.startsWith('preflight') ? 'OPTIONS' : 'GET';
        const r = await ask(server.port, path, headers(server.port), method);
        assert.equal(r.status, status, r.body);
        if (status >= 400) {
          const body = JSON.parse(r.body);
          assert.ok(body.error && body.expected && body.hint, r.body);
          assert.equal(r.headers['access-control-allow-origin'], undefined);
        }
      });
    }

    it('a refused cross-site request for the stream makes no ticks; a same-origin one does', async () => {
      const head = server.headSeq();
      const refused: Record<string, string>[] = [
        { host: local(server.port), 'sec-fetch-site': 'cross-site' },
        { host: local(server.port), origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
        { host: `evil.example:${server.port}` },
      ];
      for (const [path, headers] of [
        ...refused.map((h) => ['/realtime_data', h] as const),
        ['/realtime%5Fdata', refused[0]] as const,
      ]) {
        const r = await ask(server.port, path, { ...headers, accept: 'text/event-stream' });
        assert.ok(r.status === 403 || r.status === 421, `${r.status} ${r.body}`);
      }
      await sleep(300);
      assert.equal(server.headSeq(), head, 'no tick was made');
      assert.equal(server.stats().connected, 0);
      const ok = await ask(server.port, '/realtime_data', {
        host: local(server.port),
        accept: 'text/event-stream',
      });
      assert.equal(ok.status, 200);
      const end = Date.now() + 10_000;
      while (server.headSeq() === head && Date.now() < end) await sleep(10);
      assert.ok(server.headSeq() > head, 'the same-origin stream made ticks');
    });
  });

  describe('--allowed-host and --cors-origin', () => {
    let server: RunningServer;
    const app = 'http://app.example:8080';
    before(async () => {
      server = await startServer({
        port: 0,
        store,
        stream: 'cors',
        intervalMs: 60_000,
        allowedHosts: ['dash.example'],
        corsOrigins: [app],
      });
    });
    after(() => server.close());

    it('answers the allowed names (any case, any port) and still refuses others', async () => {
      for (const host of [`dash.example:${server.port}`, 'DASH.example', local(server.port)]) {
        assert.equal((await ask(server.port, '/healthz', { host })).status, 200, host);
      }
      assert.equal((await ask(server.port, '/healthz', { host: 'other.example' })).status, 421);
    });

    it('lets an allowed origin read the API and the stream, with CORS headers', async () => {
      const host = `dash.example:${server.port}`;
      const r = await ask(server.port, '/api/models', { host, origin: app, 'sec-fetch-site': 'cross-site' });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['access-control-allow-origin'], app);
      assert.match(String(r.headers.vary), /origin/i);
      const s = await ask(server.port, '/realtime_data', {
        host,
        origin: app,
        'sec-fetch-site': 'cross-site',
        accept: 'text/event-stream',
      });
      assert.equal(s.status, 200);
      assert.equal(s.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(s.headers['access-control-allow-origin'], app);
      const other = await ask(server.port, '/api/models', { host, origin: 'http://app.example' });
      assert.equal(other.status, 403, 'the same name on another port is another origin');
    });

    it('answers a CORS preflight for an allowed origin, and refuses one for another', async () => {
      const headers = {
        host: local(server.port),
        origin: app,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'last-event-id',
      };
      const r = await ask(server.port, '/realtime_data', headers, 'OPTIONS');
      assert.equal(r.status, 204, r.body);
      assert.equal(r.headers['access-control-allow-origin'], app);
      assert.match(String(r.headers['access-control-allow-methods']), /GET/);
      assert.match(String(r.headers['access-control-allow-headers']), /last-event-id/i);
      assert.ok(Number(r.headers['access-control-max-age']) > 0);
      const no = await ask(
        server.port,
        '/api/ticks',
        { ...headers, origin: 'http://evil.example' },
        'OPTIONS',
      );
      assert.equal(no.status, 403);
      assert.equal(no.headers['access-control-allow-origin'], undefined);
    });
  });

  describe('byner serve flags', () => {
    it('--allowed-host (repeated and comma list, or BYNER_ALLOWED_HOSTS) and --cors-origin reach the server', async () => {
      const port = await freePort();
      const serve = await spawnServe(
        [
          '--port',
          String(port),
          '--allowed-host',
          'a.example',
          '--allowed-host',
          'b.example,[fd00::1]',
          '--cors-origin',
          'http://app.example:8080',
        ],
        { BYNER_DATA_DIR: join(dir.path, 'cli') },
      );
      try {
        for (const host of ['a.example', `b.example:${port}`, '[fd00::1]', local(port)]) {
          assert.equal((await ask(port, '/healthz', { host })).status, 200, host);
        }
        assert.equal((await ask(port, '/healthz', { host: 'c.example' })).status, 421);
        const cors = await ask(port, '/api/models', { host: local(port), origin: 'http://app.example:8080' });
        assert.equal(cors.headers['access-control-allow-origin'], 'http://app.example:8080');
      } finally {
        serve.child.kill('SIGTERM');
        assert.equal(await serve.exited, 0, serve.stderr());
      }
    });

    it('bad names and origins exit 2 saying what was expected', async () => {
      const r = await byner([
        'serve',
        '--port',
        '0',
        '--allowed-host',
        'a.example,bad name',
        '--cors-origin',
        '*',
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /--allowed-host: expected host names or IP addresses without a port.*received "a\.example,bad name"/,
      );
      assert.match(
        r.stderr,
        /--cors-origin: expected origins such as http:\/\/localhost:3000.*received "\*"/,
      );
      const env = await byner(['serve', '--port', '0'], {
        env: { BYNER_CORS_ORIGINS: 'http://app.example/path' },
      });
      assert.equal(env.code, 2, env.stderr);
      assert.match(env.stderr, /BYNER_CORS_ORIGINS \(environment\): expected origins/);
    });
  });
});
