// `npm run bench:metrics [-- --json] [-- --ticks N] [-- --clients K] [-- --rounds R]`: what the Prometheus metrics
// cost, in one process and one run: CPU time per 1,000 ticks of (a) the serve path (N ticks made, stored and sent to
// K SSE clients) and (b) the infer path (N stored ticks replayed through the pipeline: forecast, score, store),
// each with the metrics as shipped and with every byner metric's update made a no-op, alternated R times; and the
// time to render /metrics.
import { request } from 'node:http';
import { join } from 'node:path';
import { Counter, Histogram } from 'prom-client';
import { SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { ForecasterSet } from '../src/infer/forecasters.js';
import { runPipeline } from '../src/infer/pipeline.js';
import { StoreInput } from '../src/infer/store-input.js';
import { metrics, metricsText } from '../src/metrics/prometheus.js';
import { openStore } from '../src/store/index.js';
import { startServer } from '../src/stream/server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { GatedSource, tempDir } from '../test/live-helpers.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const arg = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback;
const N = arg('--ticks', 20_000);
const K = arg('--clients', 20);
const ROUNDS = arg('--rounds', 3);
const log = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);

/** Makes every byner metric's updates no-ops that only count the calls in `calls.n`, and back. */
function metricsOff(calls: { n: number }): () => void {
  const saved: [object, string, unknown][] = [];
  const noop = () => {
    calls.n += 1;
  };
  const child = { inc: noop, dec: noop, set: noop, observe: noop, startTimer: () => noop };
  for (const m of Object.values(metrics) as unknown as Record<string, unknown>[]) {
    for (const key of ['inc', 'dec', 'set', 'observe', 'startTimer', 'labels']) {
      if (!(key in m)) continue;
      saved.push([m, key, Object.hasOwn(m, key) ? m[key] : undefined]);
      m[key] = key === 'labels' ? () => child : key === 'startTimer' ? () => noop : noop;
    }
  }
  return () => {
    for (const [m, key, own] of saved) {
      if (own === undefined) delete (m as Record<string, unknown>)[key];
      else (m as Record<string, unknown>)[key] = own;
    }
  };
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

/** CPU ms per 1,000 ticks to make, store and send N ticks to K clients (clients in this process, draining raw). */
async function serve(dataDir: string, round: string): Promise<number> {
  const store = await openStore({ dataDir });
  const source = new GatedSource(N, (i) => (i % 17) - 8);
  const server = await startServer({ port: 0, store, streams: [{ name: `s${round}`, source }] });
  const reqs: ReturnType<typeof request>[] = [];
  try {
    await Promise.all(
      Array.from(
        { length: K },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = request(`${server.url}/realtime_data`, { agent: false }, (res) => {
              res.resume();
              resolve();
            });
            req.on('error', reject);
            req.end();
            reqs.push(req);
          }),
      ),
    );
    while (server.stats().clients < K) await new Promise((r) => setTimeout(r, 5));
    const cpu0 = process.cpuUsage();
    source.release();
    while (server.stats().eventsSent < N * K) await new Promise((r) => setTimeout(r, 2));
    return (cpuMs(cpu0) / N) * 1000;
  } finally {
    for (const r of reqs) r.destroy();
    await server.close();
    await store.close();
  }
}

/** CPU ms per 1,000 ticks to replay N stored ticks through inference (seasonal naive). */
async function infer(dataDir: string, round: string): Promise<number> {
  const store = await openStore({ dataDir });
  const stream = `i${round}`;
  try {
    const ticks = syntheticTicks(DEFAULT_SOURCE, {
      start: 0,
      count: N,
      stream,
      origin: new Date(Date.UTC(2026, 0, 1)),
    });
    await (await store.writeTicks('historical_data', ticks)).stored();
    const cpu0 = process.cpuUsage();
    await runPipeline({
      store,
      input: new StoreInput({ store }),
      forecasters: ForecasterSet.fixed(new SeasonalNaiveForecaster(5, 10)),
      streams: [stream],
    }).done;
    return (cpuMs(cpu0) / N) * 1000;
  } finally {
    await store.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** ns per update of a labelled counter's child and of a labelled histogram's (unregistered copies). */
function updateCost(): { counter: number; histogram: number } {
  const c = new Counter({ name: 'bench_total', help: 'x', labelNames: ['stream'], registers: [] }).labels({
    stream: 'synthetic',
  });
  const h = new Histogram({ name: 'bench_seconds', help: 'x', labelNames: ['collection'], registers: [] });
  const time = (f: () => void) => {
    const n = 1_000_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    return ((performance.now() - t0) / n) * 1e6;
  };
  return { counter: time(() => c.inc()), histogram: time(() => h.observe({ collection: 'ticks' }, 0.003)) };
}

const dir = tempDir('byner-bench-metrics-');
const results = {
  serve: { on: [] as number[], off: [] as number[] },
  infer: { on: [] as number[], off: [] as number[] },
};
/** Metric updates per 1,000 ticks, counted by the no-op stubs. */
const updates = { serve: 0, infer: 0 };
try {
  log(
    `metrics overhead: ${N} ticks; serve to ${K} clients; infer replays them (seasonal naive); ${ROUNDS} rounds each`,
  );
  await serve(join(dir.path, 'warm'), 'warm'); // untimed: V8 compiles the paths first
  await infer(join(dir.path, 'warm'), 'warm');
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      const calls = { n: 0 };
      const restore = mode === 'off' ? metricsOff(calls) : () => {};
      try {
        const id = `${r}${mode}`;
        results.serve[mode].push(await serve(join(dir.path, `serve-${id}`), id));
        if (mode === 'off') updates.serve = (calls.n / N) * 1000;
        calls.n = 0;
        results.infer[mode].push(await infer(join(dir.path, `infer-${id}`), id));
        if (mode === 'off') updates.infer = (calls.n / N) * 1000;
      } finally {
        restore();
      }
      log(
        `  round ${r + 1} metrics ${mode.padEnd(3)}: serve ${results.serve[mode].at(-1)?.toFixed(1)} ms CPU / 1,000 ticks, ` +
          `infer ${results.infer[mode].at(-1)?.toFixed(1)} ms CPU / 1,000 ticks`,
      );
    }
  }
  const cost = updateCost();
  const t0 = performance.now();
  const text = await metricsText();
  const renderMs = performance.now() - t0;
  const summary = {
    ticks: N,
    clients: K,
    rounds: ROUNDS,
    serve_cpu_ms_per_1000_ticks: { on: median(results.serve.on), off: median(results.serve.off) },
    infer_cpu_ms_per_1000_ticks: { on: median(results.infer.on), off: median(results.infer.off) },
    serve_ratio: median(results.serve.on) / median(results.serve.off),
    infer_ratio: median(results.infer.on) / median(results.infer.off),
    updates_per_1000_ticks: updates,
    ns_per_update: cost,
    render_ms: renderMs,
    render_bytes: text.length,
  };
  log(
    `median serve: ${summary.serve_cpu_ms_per_1000_ticks.on.toFixed(1)} ms with metrics vs ` +
      `${summary.serve_cpu_ms_per_1000_ticks.off.toFixed(1)} ms without (× ${summary.serve_ratio.toFixed(3)}); ` +
      `infer: ${summary.infer_cpu_ms_per_1000_ticks.on.toFixed(1)} vs ${summary.infer_cpu_ms_per_1000_ticks.off.toFixed(1)} ms ` +
      `(× ${summary.infer_ratio.toFixed(3)}); rendering /metrics: ${renderMs.toFixed(1)} ms, ${text.length} bytes`,
  );
  log(
    `metric updates per 1,000 ticks: serve ${updates.serve.toFixed(0)}, infer ${updates.infer.toFixed(0)}; ` +
      `one update costs ${cost.counter.toFixed(0)} ns (counter) to ${cost.histogram.toFixed(0)} ns (histogram): at most ` +
      `${((updates.serve * cost.histogram) / 1e6).toFixed(2)} and ${((updates.infer * cost.histogram) / 1e6).toFixed(2)} ms ` +
      'CPU per 1,000 ticks',
  );
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  dir.remove();
}
