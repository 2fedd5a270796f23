// The live dashboard end to end: `byner serve` (in-process, with the dashboard plugin) and live inference
// with the seasonal-naive baseline on a temporary store at 100 ticks/s, the page in Debian's Chromium
// through playwright-core. Checks the shown numbers against the REST API, a clean console, bounded drawing,
// a narrow window, and a screenshot: into the test's temporary folder, or with BYNER_UPDATE_SCREENSHOT=1 into
// docs/dashboard.png (the README's). Skips loudly without Chromium.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { registerDashboard } from '../src/dashboard/routes.js';
import { formatCount, formatError, formatPrice } from '../src/dashboard/web/format.js';
import { type Forecaster, NaiveForecaster, SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { type InferenceRun, runInference } from '../src/infer/runner.js';
import { SyntheticSource } from '../src/sources/synthetic.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { type RunningServer, startServer } from '../src/stream/server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { ROOT } from './helpers/cli.js';
import { sleep, tempDir, until } from './live-helpers.js';

const CHROMIUM = process.env.BYNER_CHROMIUM ?? '/usr/bin/chromium';
/** docs/dashboard.png is written only when asked for, so that a test run leaves the work tree as it was. */
const UPDATE_SCREENSHOT = process.env.BYNER_UPDATE_SCREENSHOT === '1';
const DOCS_SHOT = join(ROOT, 'docs', 'dashboard.png');
const committedShot = existsSync(DOCS_SHOT) ? readFileSync(DOCS_SHOT) : null;
const skip = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does)`;
if (skip) console.error(`SKIPPING the dashboard browser test: ${skip}`);

interface Shown {
  price: { text: string; value: string; seq: string };
  forecastSeq: string;
  forecast: { text: string; value: string }[];
  state: string;
  rate: number;
  gaps: string;
  points: number;
  renders: number;
}

/** Reads what the page shows, in one synchronous pass (a string: tsx's helpers do not exist in the page). */
const READ_PAGE = `(() => {
  const q = (id) => document.querySelector('[data-testid="' + id + '"]');
  const cell = (id) => ({ text: q(id).textContent, value: q(id).dataset.value });
  return {
    price: { ...cell('last-price'), seq: q('last-price').dataset.seq },
    forecastSeq: q('forecast').dataset.seq,
    forecast: [1, 2, 3, 4, 5].map((k) => cell('forecast-' + k)),
    state: q('stream-state').dataset.state,
    rate: Number(q('tick-rate').textContent),
    gaps: q('gaps').textContent,
    points: Number(q('price-chart').dataset.points),
    renders: Number(q('price-chart').dataset.renders),
  };
})()`;

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url} answered ${res.status}`);
  return (await res.json()) as T;
}

describe('dashboard routes', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let server: RunningServer;
  before(async () => {
    dir = tempDir('byner-dash-routes-');
    store = await openStore({ dataDir: dir.path });
    server = await startServer({ port: 0, store, intervalMs: 60_000, routes: [registerDashboard] });
  });
  after(async () => {
    await server.close();
    await store.close();
    dir.remove();
  });

  it('serves the page and its hashed assets with content types, caching and a CSP', async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200, 'is the dashboard built? run npm run build');
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    const assets = [...html.matchAll(/\/assets\/(app-[A-Z0-9]{8}\.(?:js|css))/g)].map((m) => m[1]);
    assert.equal(assets.length, 2, html);
    for (const name of assets) {
      const res = await fetch(`${server.url}/assets/${name}`);
      assert.equal(res.status, 200);
      assert.match(
        res.headers.get('content-type') ?? '',
        name.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
      );
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.ok((await res.arrayBuffer()).byteLength > 1000);
    }
    assert.ok(assets.some((a) => a.endsWith('.css')));
  });

  it('answers 404 for unknown assets and 400 for bad parameters', async () => {
    for (const path of ['/assets/app.js', '/assets/..%2Fpackage.json', '/assets/app-AAAAAAAA.js']) {
      assert.equal((await fetch(`${server.url}${path}`)).status, 404, path);
    }
    assert.equal((await fetch(`${server.url}/?stream=other`)).status, 200, 'the page of one stream');
    for (const path of [
      '/?x=1',
      '/?stream=a%2Fb',
      '/?stream=a&x=1',
      '/api/dashboard/model?version=a%2Fb',
      '/api/dashboard/model?other=1',
      '/api/dashboard/model?stream=a%20b',
    ]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 400, path);
      assert.ok(((await res.json()) as { expected?: string }).expected, path);
    }
  });

  it('describes the model behind a version: baseline, unknown, none serving, or a registry entry', async () => {
    const base = await getJson<{ kind: string; model: unknown }>(
      `${server.url}/api/dashboard/model?version=seasonal_naive`,
    );
    assert.deepEqual(base, {
      stream: 'synthetic',
      version: 'seasonal_naive',
      kind: 'baseline',
      model: null,
      serving: null,
    });
    const unknown = await getJson<{ kind: string }>(`${server.url}/api/dashboard/model?version=v9`);
    assert.equal(unknown.kind, 'unknown');
    const none = await getJson<{ kind: string }>(`${server.url}/api/dashboard/model`);
    assert.equal(none.kind, 'none');
    const test = { mse: [1, 2, 3, 4, 5], mae: [1, 1, 1, 1, 1], accuracy: [0.5, 0.4, 0.3, 0.2, 0.1] };
    await store.saveModel({
      version: 'v-dash',
      created_at: new Date(),
      config: {},
      scaler: { secret: 'not for the page' },
      metrics: { test, baselines: { naive: test, seasonal_naive: test } },
      data_range: { stream: 'synthetic', from_seq: 0, to_seq: 999 },
      serving: true,
      artifact: { 'model.json': new Uint8Array([123, 125]) },
    });
    const trained = await getJson<Record<string, unknown>>(
      `${server.url}/api/dashboard/model?version=v-dash`,
    );
    assert.equal(trained.kind, 'registry');
    assert.deepEqual((trained.model as { metrics: unknown }).metrics, {
      test,
      baselines: { naive: test, seasonal_naive: test },
    });
    assert.equal(trained.serving, null, 'the serving model is the one asked for');
    assert.ok(!JSON.stringify(trained).includes('secret'), 'no scaler, config or files on the page');
    const beside = await getJson<{ serving: { version: string } }>(
      `${server.url}/api/dashboard/model?version=seasonal_naive`,
    );
    assert.equal(beside.serving.version, 'v-dash');
    // Per stream: another stream's serving model, and none where no model serves.
    await store.saveModel({
      version: 'v-co2',
      created_at: new Date(),
      config: {},
      scaler: {},
      metrics: { test },
      data_range: { stream: 'co2', from_seq: 0, to_seq: 99 },
      serving: true,
      artifact: { 'model.json': new Uint8Array([123, 125]) },
    });
    const co2 = await getJson<{ stream: string; kind: string; model: { version: string; serving: boolean } }>(
      `${server.url}/api/dashboard/model?stream=co2`,
    );
    assert.deepEqual(
      [co2.stream, co2.kind, co2.model.version, co2.model.serving],
      ['co2', 'registry', 'v-co2', true],
    );
    const other = await getJson<{ serving: { version: string; serving: boolean } }>(
      `${server.url}/api/dashboard/model?stream=co2&version=v-dash`,
    );
    assert.deepEqual([other.serving.version, other.serving.serving], ['v-co2', true]);
    assert.equal(
      (await getJson<{ kind: string }>(`${server.url}/api/dashboard/model?stream=none`)).kind,
      'none',
    );
    assert.equal(
      (await getJson<{ serving: { version: string } }>(`${server.url}/api/dashboard/model`)).serving,
      null,
      'synthetic: v-dash is asked for and serves',
    );
  });
});

describe('dashboard in Chromium', { skip }, () => {
  let dir: ReturnType<typeof tempDir>;
  let profile: ReturnType<typeof tempDir>;
  let store: Store;
  let server: RunningServer;
  let run: InferenceRun;
  /** Inference of the stream `drift` by a model worse than the seasonal-naive baseline, with fallback. */
  let drifting: InferenceRun;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  /** While set, the forecaster returns NaN after every window whose last price is 3 (a model gone wrong). */
  let poisoned = false;
  const baseline = new SeasonalNaiveForecaster(5, 10);
  const forecaster: Forecaster = {
    version: baseline.version,
    window: baseline.window,
    horizon: baseline.horizon,
    forecast: (windows) =>
      baseline
        .forecast(windows)
        .map((f, i) =>
          poisoned && windows[i][windows[i].length - 1][0] === 3 ? f.map(() => Number.NaN) : f,
        ),
  };

  before(async () => {
    dir = tempDir('byner-dash-');
    profile = tempDir('byner-chromium-');
    store = await openStore({ dataDir: dir.path });
    // 100 ticks/s: the fast end of the issue; the seasonal-naive baseline needs no training. A second stream
    // (another seed, no inference) for the stream selector, and a third forecast by a drifting model.
    server = await startServer({
      port: 0,
      store,
      streams: [
        { name: 'synthetic', source: new SyntheticSource({ ...DEFAULT_SOURCE, intervalMs: 10 }) },
        { name: 'other', source: new SyntheticSource({ ...DEFAULT_SOURCE, seed: 9, intervalMs: 20 }) },
        { name: 'drift', source: new SyntheticSource({ ...DEFAULT_SOURCE, seed: 3, intervalMs: 20 }) },
      ],
      routes: [registerDashboard],
    });
    run = runInference({
      url: `${server.url}/realtime_data`,
      store,
      forecaster,
      out: null,
      resume: false,
    });
    // The last value for every horizon, as a model: on the sine it is far worse than the seasonal-naive baseline,
    // so it drifts after 3 windows of 100 forecasts (about 8 s at 50 ticks/s) and the baseline forecasts instead.
    drifting = runInference({
      url: `${server.url}/realtime_data?stream=drift`,
      stream: 'drift',
      store,
      forecaster: new NaiveForecaster(5, 'last-value-model'),
      drift: { windows: 3, season: 10, fallback: true },
      out: null,
      resume: false,
    });
    context = await chromium.launchPersistentContext(profile.path, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning')
        errors.push(`console.${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    page.on('requestfailed', (r) => {
      // The page's own EventSource is cut when the test closes the browser or the page switches streams;
      // anything else is a failure.
      if (new URL(r.url()).pathname !== '/realtime_data')
        errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
  });

  after(async () => {
    await context?.close();
    await drifting?.stop();
    await run?.stop();
    await server?.close();
    await store?.close();
    dir?.remove();
    profile?.remove();
  });

  it('shows live ticks, the latest forecast and metrics equal to the API, with a clean console', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForFunction(
      () => {
        const seq = document.querySelector<HTMLElement>('[data-testid="forecast"]')?.dataset.seq;
        const mse = document.querySelector('[data-testid="metrics"] tbody tr td')?.textContent;
        const version = document.querySelector('[data-testid="model-version"]')?.textContent;
        return Boolean(seq) && mse !== undefined && mse !== '—' && version === 'seasonal_naive';
      },
      undefined,
      { timeout: 20_000 },
    );
    await sleep(1500); // let a second or two of 100 ticks/s go by: the page must keep up, drawing per frame

    // One synchronous read of the page: every value below belongs to the same moment. On a loaded machine the
    // page may momentarily trail by more than a second: read again (at most 5 times, 0.5 s apart) before judging.
    let shown = (await page.evaluate(READ_PAGE)) as Shown;
    let head = server.headSeq();
    const newestForecast = async () =>
      (
        await getJson<{ forecasts: { seq: number; forecast: number[] }[] }>(
          `${server.url}/api/forecasts/latest`,
        )
      ).forecasts[0];
    let lastForecast = await newestForecast();
    for (let attempt = 1; attempt < 5; attempt++) {
      if (head - Number(shown.price.seq) <= 100 && lastForecast.seq - Number(shown.forecastSeq) <= 100) break;
      await sleep(500);
      shown = (await page.evaluate(READ_PAGE)) as Shown;
      head = server.headSeq();
      lastForecast = await newestForecast();
    }
    assert.deepEqual(errors, []);

    // The last price: the tick of that seq, as the API has it; and the page is at most ~1 s behind the head.
    const seq = Number(shown.price.seq);
    const { ticks } = await getJson<{ ticks: { seq: number; price: number }[] }>(
      `${server.url}/api/ticks?after=${seq - 1}&limit=1`,
    );
    assert.equal(ticks[0].seq, seq);
    assert.equal(Number(shown.price.value), ticks[0].price);
    assert.equal(shown.price.text, formatPrice(ticks[0].price));
    assert.ok(head - seq <= 100, `page shows seq ${seq}, server head ${head}`);

    // The forecast: the stored one of that seq, value for value; at most ~1 s behind the newest stored one.
    const fSeq = Number(shown.forecastSeq);
    const { forecasts } = await getJson<{ forecasts: { seq: number; forecast: number[] }[] }>(
      `${server.url}/api/forecasts/latest?limit=1000`,
    );
    const stored = forecasts.find((f) => f.seq === fSeq);
    assert.ok(stored, `forecast after seq ${fSeq} is not among the stored ones`);
    assert.deepEqual(
      shown.forecast.map((f) => Number(f.value)),
      stored.forecast,
    );
    assert.deepEqual(
      shown.forecast.map((f) => f.text),
      stored.forecast.map((v) => formatPrice(v)),
    );
    assert.ok(
      lastForecast.seq - fSeq <= 100,
      `page shows forecast ${fSeq}, newest stored ${lastForecast.seq}`,
    );

    // Status and drawing: connected, no gaps, ticks/s measured, bounded points, fewer redraws than ticks.
    assert.equal(shown.state, 'connected');
    assert.equal(shown.gaps, '0');
    assert.ok(shown.rate >= 20, `ticks/s shown: ${shown.rate}`);
    assert.ok(shown.points > 0 && shown.points <= 125, `points on the price chart: ${shown.points}`);
    assert.ok(shown.renders < seq, `renders ${shown.renders} vs ${seq} ticks: redraws must be coalesced`);
    console.error(
      `dashboard: seq ${seq} (head ${head}), forecast ${fSeq} (newest ${lastForecast.seq}), ` +
        `${shown.rate} ticks/s shown, ${shown.renders} redraws, ${shown.points} points`,
    );

    const screenshot = UPDATE_SCREENSHOT ? DOCS_SHOT : join(dir.path, 'dashboard.png');
    await page.screenshot({ path: screenshot });
    if (UPDATE_SCREENSHOT) console.error(`dashboard: screenshot written to ${screenshot}`);
    else {
      const shotNow = existsSync(DOCS_SHOT) ? readFileSync(DOCS_SHOT) : null;
      assert.ok(
        committedShot === null ? shotNow === null : shotNow?.equals(committedShot) === true,
        'docs/dashboard.png was rewritten by a test run (BYNER_UPDATE_SCREENSHOT=1 is the way to update it)',
      );
    }
    assert.deepEqual(errors, []);
  });

  it('fits a narrow window: no horizontal scrolling, charts as wide as the window', async () => {
    await page.setViewportSize({ width: 480, height: 900 });
    await sleep(300);
    const m = (await page.evaluate(`({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
      charts: [...document.querySelectorAll('.uplot')].map((e) => e.getBoundingClientRect().right),
    })`)) as { scroll: number; client: number; charts: number[] };
    assert.ok(m.scroll <= m.client, `page is ${m.scroll} px wide in a ${m.client} px window`);
    for (const right of m.charts) assert.ok(right <= m.client, `a chart ends at ${right} px`);
    assert.deepEqual(errors, []);
  });

  it('shows how many forecasts were skipped as not finite: the count the API has, flagged', async () => {
    const shown = () =>
      page.evaluate(`(() => {
        const e = document.querySelector('[data-testid="non-finite"]');
        return { value: e.dataset.value, state: e.dataset.state, text: e.textContent };
      })()`) as Promise<{ value: string; state: string; text: string }>;
    assert.deepEqual(await shown(), { value: '0', state: 'ok', text: '0' });
    poisoned = true;
    const end = Date.now() + 30_000;
    while (run.stats.nonFinite < 3) {
      assert.ok(Date.now() < end, `only ${run.stats.nonFinite} non-finite forecasts in 30 s`);
      await sleep(50);
    }
    poisoned = false; // the count stays as it is now: the page must come to show it
    const count = run.stats.nonFinite;
    await page.waitForFunction(
      (n) => document.querySelector<HTMLElement>('[data-testid="non-finite"]')?.dataset.value === String(n),
      count,
      { timeout: 20_000 },
    );
    const { metrics } = await getJson<{ metrics: { non_finite_forecasts: number }[] }>(
      `${server.url}/api/metrics/latest?model_version=seasonal_naive`,
    );
    assert.equal(metrics[0].non_finite_forecasts, count);
    assert.deepEqual(await shown(), { value: String(count), state: 'warn', text: formatCount(count) });
    assert.deepEqual(errors, []);
  });

  it("switches streams in the selector: ?stream= in the URL, the chosen stream's price, its own forecasts", async () => {
    const priceOf = async (stream: string) => {
      await page.waitForFunction(
        (name) =>
          (document.querySelector<HTMLElement>('[data-testid="last-price"]')?.dataset.seq ?? '') !== '' &&
          new URLSearchParams(location.search).get('stream') === name,
        stream,
        { timeout: 20_000 },
      );
      const shown = (await page.evaluate(READ_PAGE)) as Shown;
      const seq = Number(shown.price.seq);
      const { ticks } = await getJson<{ ticks: { seq: number; price: number; stream: string }[] }>(
        `${server.url}/api/ticks?stream=${stream}&after=${seq - 1}&limit=1`,
      );
      assert.equal(ticks[0].stream, stream);
      assert.equal(Number(shown.price.value), ticks[0].price, `${stream}: price of seq ${seq}`);
      assert.ok(
        server.headSeq(stream) - seq <= 200,
        `${stream}: page at ${seq}, head ${server.headSeq(stream)}`,
      );
      return shown;
    };
    const options = await page.$$eval('[data-testid="stream-select"] option', (os) =>
      os.map((o) => (o as HTMLOptionElement).value),
    );
    assert.deepEqual(options, ['synthetic', 'other', 'drift']);
    await page.selectOption('[data-testid="stream-select"]', 'other');
    await page.waitForFunction(() => location.search === '?stream=other');
    // The page forgot the first stream: its price comes from `other`, and no forecast is shown (none is made).
    await page.waitForFunction(() => {
      const seq = Number(document.querySelector<HTMLElement>('[data-testid="last-price"]')?.dataset.seq);
      return seq > 0;
    });
    let shown = await priceOf('other');
    assert.equal(shown.forecastSeq, '', 'no forecasts for a stream nobody forecasts');
    assert.equal(shown.gaps, '0');
    // A reload keeps the stream (the URL says it); back to the default one, its forecasts come back.
    await page.reload();
    shown = await priceOf('other');
    assert.equal(
      await page.$eval('[data-testid="stream-select"]', (e) => (e as HTMLSelectElement).value),
      'other',
    );
    await page.selectOption('[data-testid="stream-select"]', 'synthetic');
    await page.waitForFunction(
      () => (document.querySelector<HTMLElement>('[data-testid="forecast"]')?.dataset.seq ?? '') !== '',
      undefined,
      { timeout: 20_000 },
    );
    shown = await priceOf('synthetic');
    const { forecasts } = await getJson<{ forecasts: { seq: number; forecast: number[] }[] }>(
      `${server.url}/api/forecasts/latest?stream=synthetic&limit=1000`,
    );
    const stored = forecasts.find((f) => f.seq === Number(shown.forecastSeq));
    assert.ok(stored, `forecast after seq ${shown.forecastSeq} is not among the stored ones`);
    assert.deepEqual(
      shown.forecast.map((f) => Number(f.value)),
      stored.forecast,
    );
    assert.deepEqual(errors, []);
  });

  it("shows the drift of the chosen stream's model: a DRIFT badge with both window MSEs, as the API has them", async () => {
    const drift = () =>
      page.evaluate(`(() => {
        const e = document.querySelector('[data-testid="drift"]');
        return {
          hidden: e.hidden,
          state: e.dataset.state,
          model: e.dataset.modelMse,
          baseline: e.dataset.baselineMse,
          fallback: e.dataset.fallback,
          badge: document.querySelector('[data-testid="drift-badge"]').textContent,
          text: document.querySelector('[data-testid="drift-text"]').textContent,
        };
      })()`) as Promise<Record<string, string | boolean>>;
    // The synthetic stream is forecast by a baseline: nothing is watched, no drift line.
    assert.deepEqual([(await drift()).hidden, (await drift()).state], [true, 'none']);
    await until(() => drifting.stats.driftEpisodes > 0, 60_000, 'the drift of the model on stream drift');
    await page.selectOption('[data-testid="stream-select"]', 'drift');
    await page.waitForFunction(
      () => document.querySelector<HTMLElement>('[data-testid="drift"]')?.dataset.state === 'active',
      undefined,
      { timeout: 20_000 },
    );
    // The page shows the MSEs of the stream's latest metrics document. A window closes every 2 s: when one closed
    // between the read of the API and the page's next poll, read again.
    let shown = await drift();
    let api: { model_mse: number; baseline_mse: number; fallback: string } | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const { metrics } = await getJson<{ metrics: { drift: typeof api }[] }>(
        `${server.url}/api/metrics/latest?stream=drift&model_version=seasonal_naive`,
      );
      api = metrics[0].drift;
      shown = await drift();
      if (shown.model === String(api?.model_mse) && shown.baseline === String(api?.baseline_mse)) break;
      await sleep(500);
    }
    assert.ok(api, 'a drift state in the latest metrics document');
    assert.deepEqual(
      [shown.hidden, shown.badge, shown.model, shown.baseline, shown.fallback],
      [false, 'DRIFT', String(api.model_mse), String(api.baseline_mse), 'seasonal_naive'],
    );
    assert.ok(api.model_mse > api.baseline_mse, JSON.stringify(api));
    assert.match(
      shown.text as string,
      new RegExp(
        `^last-value-model worse than the seasonal-naive baseline in \\d+ consecutive windows since seq [\\d,]+: ` +
          `window MSE ${formatError(api.model_mse)} vs seasonal naive ${formatError(api.baseline_mse)} ` +
          '\\(last 100 forecasts\\); forecasting with seasonal_naive meanwhile$',
      ),
    );
    // The forecasts shown are the fallback baseline's, and the model card says why.
    await page.waitForFunction(
      () => document.querySelector('[data-testid="forecast-model"]')?.textContent === 'seasonal_naive',
    );
    await page.waitForFunction(() =>
      document
        .querySelector('[data-testid="model"]')
        ?.textContent?.includes('fallback baseline while last-value-model drifts'),
    );
    await page.setViewportSize({ width: 1280, height: 800 });
    await sleep(300);
    await page.screenshot({
      path: UPDATE_SCREENSHOT
        ? join(ROOT, 'docs', 'dashboard-drift.png')
        : join(dir.path, 'dashboard-drift.png'),
    });
    assert.deepEqual(errors, []);
  });
});
