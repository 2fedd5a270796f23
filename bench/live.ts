// `npm run bench:live [-- --json] [-- --ticks N] [-- --clients N] [-- --seconds S]`: in one run, replay throughput
// tick → forecast → stored and scored (embedded store, and FerretDB when installed), and SSE fan-out delivery lag
// with N clients at 10 ticks/s. The server runs as a child process (`byner serve`), so that it has its own core.
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { createModel } from '../src/engine/index.js';
import { type Forecaster, SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { MinMaxScaler } from '../src/features/scaler.js';
import { buildWindows, tensors } from '../src/features/windows.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { runInference } from '../src/infer/runner.js';
import { openStore, type StoreOptions, seedTicks } from '../src/store/index.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { LstmForecaster } from '../src/train/load.js';
import { childEnv, ROOT } from '../test/helpers/cli.js';
import { findFerretDB, freePort, startFerretDB } from '../test/helpers/ferretdb.js';
import { tempDir } from '../test/live-helpers.js';
import { cpuSeconds } from './procs.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const arg = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback;
const N = arg('--ticks', 20_000);
const CLIENTS = arg('--clients', 1000);
const SECONDS = arg('--seconds', 10);
const log = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);

function serve(port: number, dataDir: string, interval: number): Promise<ChildProcess> {
  const main = join(ROOT, 'src', 'cli', 'main.ts');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      main,
      'serve',
      '--port',
      String(port),
      '--interval',
      String(interval),
      '--data-dir',
      dataDir,
    ],
    {
      cwd: ROOT,
      env: childEnv({ BYNER_LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d) => String(d).includes('streaming on') && resolve(child));
    child.once('exit', (code) => reject(new Error(`byner serve exited with ${code}`)));
  });
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/** Seeds `ticks` ticks, serves them, and times a client replaying them all (Last-Event-ID 0) into `clientStore`. */
async function replay(
  clientStore: StoreOptions,
  label: string,
  makeForecaster: () => Forecaster | Promise<Forecaster>,
  ticks = N,
): Promise<number> {
  const dir = tempDir('byner-bench-live-');
  try {
    const seed = await openStore({ dataDir: join(dir.path, 'server') });
    await seedTicks(seed, {
      stream: 'synthetic',
      count: ticks,
      makeTicks: (start, count) =>
        syntheticTicks(DEFAULT_SOURCE, { start, count, origin: new Date(Date.UTC(2026, 0, 1)) }),
    });
    await seed.close();
    const port = await freePort();
    const child = await serve(port, join(dir.path, 'server'), 3_600_000);
    const store = await openStore(clientStore.mongoUri ? clientStore : { dataDir: join(dir.path, 'client') });
    const forecaster = await makeForecaster();
    try {
      const t0 = performance.now();
      const run = runInference({
        url: `http://127.0.0.1:${port}/realtime_data`,
        store,
        forecaster,
        startAfter: 0,
        out: null,
      });
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (run.stats.accepted >= ticks - 1) {
            clearInterval(timer);
            resolve();
          }
        }, 2);
      });
      const stats = await run.stop(); // everything stored and flushed
      const rate = (ticks - 1) / ((performance.now() - t0) / 1000);
      log(
        `replay ${label}: ${ticks - 1} ticks → ${stats.forecasts} forecasts, ${stats.scored} scores, ` +
          `${stats.writes.metrics} metrics docs in ${(((ticks - 1) / rate) * 1000).toFixed(0)} ms = ${Math.round(rate)} ticks/s`,
      );
      return rate;
    } finally {
      await store.close();
      await stop(child);
    }
  } finally {
    dir.remove();
  }
}

const MARK = Buffer.from('"timestamp":"');

/** CLIENTS event streams on a server making 10 ticks/s; lag = arrival − the tick's timestamp. */
async function fanout(): Promise<{ p50: number; p99: number; max: number; cpu: number; events: number }> {
  const dir = tempDir('byner-bench-fanout-');
  const port = await freePort();
  const child = await serve(port, dir.path, 100);
  const lags: number[] = [];
  let measuring = false;
  const reqs: ReturnType<typeof request>[] = [];
  try {
    await Promise.all(
      Array.from(
        { length: CLIENTS },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = request(`http://127.0.0.1:${port}/realtime_data`, { agent: false }, (res) => {
              res.on('data', (chunk: Buffer) => {
                const now = Date.now();
                if (!measuring) return;
                // Cheap scan (no decoding, no regex): the client's own cost is part of the measured lag.
                for (let i = chunk.indexOf(MARK); i >= 0; i = chunk.indexOf(MARK, i + 1)) {
                  const at = i + MARK.length;
                  lags.push(now - Date.parse(chunk.toString('latin1', at, at + 24)));
                }
              });
              res.on('error', () => {});
              resolve();
            });
            req.on('error', reject);
            req.end();
            reqs.push(req);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 1000));
    measuring = true;
    const cpu0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    measuring = false;
    const cpu = (cpuSeconds(child.pid!) - cpu0) / ((performance.now() - t0) / 1000);
    lags.sort((a, b) => a - b);
    const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? Number.NaN;
    return { p50: q(0.5), p99: q(0.99), max: lags[lags.length - 1], cpu, events: lags.length };
  } finally {
    for (const r of reqs) r.destroy();
    await stop(child);
    dir.remove();
  }
}

/**
 * The seed network (60×7 → LSTM 100 → LSTM 50 → Dense 5) with its scaler fitted on the replayed ticks, trained
 * for 2 epochs on their first 8,000 windows: a forecast costs less when ReLU units are off (the engine leaves them
 * out), and a trained network has them (≈ 20% of the first layer's from the first epochs on, as the default job's
 * final model), a freshly initialised one far fewer. Trained once per run. Like `byner infer`, it forecasts on two
 * threads (a replayed batch split between them).
 */
let trained: LstmForecaster | null = null;
async function lstm(): Promise<Forecaster> {
  if (trained) return trained;
  const ticks = syntheticTicks(DEFAULT_SOURCE, {
    start: 0,
    count: N,
    origin: new Date(Date.UTC(2026, 0, 1)),
  });
  const set = buildWindows(ticks, 60, 5);
  const scaler = MinMaxScaler.fit(set.rows, 7);
  const n = Math.min(8000, set.count);
  const { x, y } = tensors(set, [0, n], (r, out, off) => scaler.transform(r, out, off));
  const model = createModel({ seed: 1 });
  const t0 = performance.now();
  await model.fit(
    { data: x, shape: [n, 60, 7] },
    { data: y, shape: [n, 5] },
    { epochs: 2, patience: Infinity },
  );
  log(`(bench model: 2 epochs on ${n} windows in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  await model.startForecastThread(); // as byner infer does (modelFromEntry)
  trained = new LstmForecaster('lstm-bench', model, scaler);
  return trained;
}
const baseline = () => new SeasonalNaiveForecaster(5, 10);

// Untimed warm-up: the first replay in a process runs ≈ 10% slower while V8 compiles the pipeline's code.
await replay({}, 'warm-up (not counted), embedded store, LSTM', lstm, 5_000);
const embedded = await replay({}, 'embedded store, LSTM', lstm);
const embeddedBaseline = await replay({}, 'embedded store, seasonal naive', baseline);
let mongo: number | null = null;
const ferret = findFerretDB();
if ('path' in ferret) {
  const db = await startFerretDB();
  try {
    mongo = await replay({ mongoUri: db.uri, dbName: 'byner_bench' }, 'FerretDB, LSTM', lstm);
  } finally {
    await db.stop();
  }
} else log(`replay FerretDB: skipped (${ferret.reason})`);
const f = await fanout();
log(
  `fan-out: ${CLIENTS} clients at 10 ticks/s for ${SECONDS} s: ${f.events} events, delivery lag p50 ${f.p50} ms, ` +
    `p99 ${f.p99} ms, max ${f.max} ms; server CPU ${(f.cpu * 100).toFixed(0)}% of one core`,
);
if (json) {
  process.stdout.write(
    `${JSON.stringify({
      replay_ticks: N - 1,
      replay_ticks_per_s_embedded: Math.round(embedded),
      replay_ticks_per_s_mongo: mongo === null ? null : Math.round(mongo),
      replay_model: 'lstm 100/50 (seed network)',
      replay_ticks_per_s_embedded_seasonal_naive: Math.round(embeddedBaseline),
      fanout_clients: CLIENTS,
      fanout_p50_ms: f.p50,
      fanout_p99_ms: f.p99,
      fanout_max_ms: f.max,
      fanout_server_cpu: Number(f.cpu.toFixed(3)),
      cpus: os.cpus().length,
      node: process.version,
    })}\n`,
  );
}
