// /metrics and /healthz end to end: the server's counters equal what the test made its clients receive (N ticks to
// K clients, a Last-Event-ID replay from the ring and the store), inference's forecasts per stream and model equal
// the stored ones, Host and site rules and methods, /healthz with a store that answers and one that hangs, and
// `byner infer --metrics-port` as a process. Every scrape is read with the strict text parser (helpers/prom-text).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type FeatureWindow, type Forecaster, SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { ForecasterSet } from '../src/infer/forecasters.js';
import { runPipeline } from '../src/infer/pipeline.js';
import { StoreInput } from '../src/infer/store-input.js';
import { metricsText } from '../src/metrics/prometheus.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { startServer } from '../src/stream/server.js';
import { startStatusServer } from '../src/stream/status-server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { freePort } from './helpers/ferretdb.js';
import { type Family, histogram, parsePrometheusText, sampleValue } from './helpers/prom-text.js';
import { ask, GatedSource, readSse, spawnByner, spawnServe, tempDir, waitFor } from './live-helpers.js';

/** GET /metrics, checked (status, content type) and parsed strictly. */
async function scrape(base: string): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await res.text());
}

const value = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  sampleValue(f, name, labels) ?? 0;

/** seasonal_naive whose every 7th window gets a NaN forecast (skipped and counted by the pipeline). */
class Flaky implements Forecaster {
  readonly version = 'flaky-1';
  readonly window = 10;
  readonly horizon = 5;
  private calls = 0;
  private readonly base = new SeasonalNaiveForecaster(5, 10);
  forecast(windows: readonly FeatureWindow[]): number[][] {
    return this.base.forecast(windows).map((f) => (++this.calls % 7 === 0 ? f.map(() => Number.NaN) : f));
  }
}

describe('metrics and health', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  before(async () => {
    dir = tempDir('byner-metrics-');
    store = await openStore({ dataDir: join(dir.path, 'store') });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('counts N ticks produced and N×K sent to K clients, disconnects, and a replay from the ring and the store', async () => {
    const N = 40;
    const K = 3;
    const RING = 16;
    const stream = 'counted';
    const source = new GatedSource(N);
    const server = await startServer({
      port: 0,
      store,
      streams: [{ name: stream, source }],
      ringCapacity: RING,
    });
    try {
      const url = `${server.url}/realtime_data?stream=${stream}`;
      const s = { stream };
      const before = await scrape(server.url);
      const reads = Array.from({ length: K }, () => readSse(url, { until: (e) => e.length >= N }));
      await waitFor('K clients', () => server.stats().clients === K);
      assert.equal(
        value(await scrape(server.url), 'byner_sse_clients', s),
        value(before, 'byner_sse_clients', s) + K,
      );
      source.release();
      for (const r of await Promise.all(reads)) assert.equal(r.events.length, N);
      await waitFor('the clients to go', () => server.stats().clients === 0);
      const live = await scrape(server.url);
      const delta = (name: string, labels: Record<string, string>) =>
        value(live, name, labels) - value(before, name, labels);
      assert.equal(delta('byner_ticks_produced_total', s), N);
      assert.equal(delta('byner_ticks_sent_total', s), N * K, 'N ticks to K clients');
      assert.equal(delta('byner_sse_clients', s), 0);
      assert.equal(delta('byner_sse_disconnects_total', { stream, reason: 'client' }), K);
      const writes = histogram(live, 'byner_store_write_seconds', { collection: 'historical_data' });
      assert.ok((writes?.count ?? 0) > 0 && (writes?.sum ?? 0) > 0, 'store writes observed');

      // Resuming after seq 0: seqs 1..N-1, the last RING from memory, the older ones from the store.
      const replay = await readSse(url, { lastEventId: '0', until: (e) => e.length >= N - 1 });
      assert.deepEqual(
        replay.events.map((e) => Number(e.id)),
        Array.from({ length: N - 1 }, (_, i) => i + 1),
      );
      await waitFor('the replay client to go', () => server.stats().clients === 0);
      const after = await scrape(server.url);
      const since = (name: string, labels: Record<string, string>) =>
        value(after, name, labels) - value(live, name, labels);
      assert.equal(since('byner_replay_reads_total', { source: 'ring' }), RING);
      assert.equal(since('byner_replay_reads_total', { source: 'store' }), N - 1 - RING);
      assert.equal(since('byner_ticks_sent_total', s), N - 1);
    } finally {
      await server.close();
    }
  });

  it('counts forecasts per stream and model as stored, re-forecasts at start included; skips, scores, latency', async () => {
    const stream = 'inferred';
    const ticks = syntheticTicks(DEFAULT_SOURCE, {
      start: 0,
      count: 300,
      stream,
      origin: new Date(Date.now() - 300_000),
    });
    await (await store.writeTicks('historical_data', ticks)).stored();
    // A run that stopped after storing 150 ticks and no forecast: the next start re-forecasts them.
    await (await store.writeTicks('inf_historical_db', ticks.slice(0, 150))).stored();
    const sample = async (name: string, labels: Record<string, string> = {}) =>
      value(parsePrometheusText(await metricsText()), name, labels);
    const names = [
      ['byner_forecasts_total', { stream, model: 'flaky-1' }],
      ['byner_forecasts_skipped_total', { stream, reason: 'non_finite' }],
      ['byner_scored_total', { stream }],
      ['byner_infer_ticks_total', { stream }],
      ['byner_forecast_latency_seconds_count', {}],
    ] as const;
    const before = await Promise.all(names.map(([n, l]) => sample(n, l)));
    const stats = await runPipeline({
      store,
      input: new StoreInput({ store }),
      forecasters: ForecasterSet.fixed(new Flaky()),
      streams: [stream],
    }).done;
    const after = await Promise.all(names.map(([n, l]) => sample(n, l)));
    const [forecasts, skipped, scored, accepted, latencies] = after.map((v, i) => v - before[i]);
    const st = stats.streams.get(stream)!;
    const stored = await store.recentForecasts(stream, 10_000);
    assert.ok(st.recovered > 0 && st.nonFinite > 0, JSON.stringify(st));
    assert.equal(forecasts, stored.length, 'byner_forecasts_total = the forecasts in the store');
    assert.equal(forecasts, st.forecasts);
    assert.equal(skipped, st.nonFinite);
    assert.equal(scored, st.scored);
    assert.equal(accepted, st.accepted);
    assert.equal(latencies, st.forecasts - st.recovered, 'latency of the live input only');
  });

  it('answers /metrics under the Host and site rules: scrapers yes, rebound names and other sites no', async () => {
    const server = await startServer({ port: 0, store, stream: 'rules', allowedHosts: ['scraper.example'] });
    try {
      const local = `127.0.0.1:${server.port}`;
      const cases: [string, Record<string, string>, number, string?][] = [
        ['a scraper on this host', { host: local }, 200],
        ['a scraper using an allowed name', { host: `scraper.example:${server.port}` }, 200],
        ['a rebound name', { host: `evil.example:${server.port}` }, 421],
        ['a page of another site', { host: local, origin: 'http://evil.example' }, 403],
        ['another site without Origin', { host: local, 'sec-fetch-site': 'cross-site' }, 403],
        ['a POST', { host: local }, 404, 'POST'],
      ];
      for (const [label, headers, status, method] of cases) {
        const answer = await ask(server.port, '/metrics', headers, method);
        assert.equal(answer.status, status, label);
        if (status === 200) parsePrometheusText(answer.body);
      }
      assert.equal((await ask(server.port, '/metrics?x=1', { host: local })).status, 400);
    } finally {
      await server.close();
    }
  });

  it('says in /healthz what it produces and whether the store answers, degraded when it hangs', async () => {
    const hanging = new Proxy(store, {
      get: (target, key) => {
        if (key === 'servingPointers') return () => new Promise(() => {});
        const v = Reflect.get(target, key);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    for (const [label, s, status] of [
      ['answers', store, 'ok'],
      ['hangs', hanging, 'degraded'],
    ] as const) {
      const server = await startServer({ port: 0, store: s, stream: `health-${label}` });
      try {
        const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
        assert.equal(health.status, status, label);
        assert.equal(health.role, 'serve');
        assert.deepEqual(health.produces, [`health-${label}`]);
        assert.equal(typeof health.uptime_s, 'number');
        assert.equal(health.head_seq, -1, 'the fields it had stay');
        const check = (health.checks as Record<string, { ok: boolean; error?: string }>).store;
        assert.equal(check.ok, status === 'ok', label);
        if (status === 'degraded')
          assert.match(check.error ?? '', /the store check took longer than 1000 ms/);
      } finally {
        await server.close();
      }
    }
  });

  it('says which port is taken when --metrics-port is in use', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(startStatusServer({ port, health: async () => ({}) }), (e: Error) => {
        assert.match(e.message, new RegExp(`cannot listen on 127.0.0.1:${port} for /metrics`));
        assert.match((e as { hint?: string }).hint ?? '', /--metrics-port/);
        return true;
      });
    } finally {
      taken.close();
    }
  });

  it('byner infer --metrics-port serves /metrics and /healthz of its run (process)', async () => {
    const port = await freePort();
    const serve = await spawnServe([
      '--port',
      String(port),
      '--interval',
      '10',
      '--data-dir',
      join(dir.path, 'serve'),
    ]);
    const infer = spawnByner([
      'infer',
      '--url',
      `http://127.0.0.1:${port}/realtime_data`,
      '--model',
      'seasonal_naive',
      '--quiet',
      '--metrics-port',
      '0',
      '--data-dir',
      join(dir.path, 'infer'),
    ]);
    try {
      const err = infer.stderr;
      await waitFor(
        'the metrics URL in the log',
        () => /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(err()),
        60_000,
      );
      const base = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(err())![1];
      const labels = { stream: 'synthetic', model: 'seasonal_naive' };
      let scraped = 0;
      await waitFor(
        'forecasts counted on /metrics',
        async () => (scraped = value(await scrape(base), 'byner_forecasts_total', labels)) >= 5,
        60_000,
      );
      const health = (await (await fetch(`${base}/healthz`)).json()) as {
        status: string;
        role: string;
        forecasts: string[];
        forecasting: { stream: string; model: string; last_seq: number; forecasts: number }[];
        checks: { store: { ok: boolean } };
      };
      assert.equal(health.status, 'ok');
      assert.equal(health.role, 'infer');
      assert.deepEqual(health.forecasts, ['synthetic']);
      assert.equal(health.forecasting[0].model, 'seasonal_naive');
      assert.ok(health.forecasting[0].last_seq >= 60, JSON.stringify(health.forecasting));
      assert.equal(health.checks.store.ok, true);
      const basePort = Number(new URL(base).port);
      assert.equal((await ask(basePort, '/metrics', { host: `127.0.0.1:${basePort}` }, 'POST')).status, 405);
      assert.equal((await ask(basePort, '/metrics', { host: `evil.example:${basePort}` })).status, 421);
      assert.equal((await ask(basePort, '/nope', { host: `127.0.0.1:${basePort}` })).status, 404);
      const served = value(await scrape(`http://127.0.0.1:${port}`), 'byner_ticks_sent_total', {
        stream: 'synthetic',
      });
      assert.ok(served > 0, 'the server counts what it sent');

      infer.child.kill('SIGTERM');
      assert.equal(await infer.exited, 0, err());
      const inferStore = await openStore({ dataDir: join(dir.path, 'infer') });
      try {
        const stored = (await inferStore.recentForecasts('synthetic', 100_000)).length;
        assert.ok(stored >= scraped, `${stored} forecasts stored, ${scraped} counted before the stop`);
      } finally {
        await inferStore.close();
      }
    } finally {
      if (infer.child.exitCode === null) infer.child.kill('SIGKILL');
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });
});
