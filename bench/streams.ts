// `npm run bench:streams [-- --json]`: many live streams end to end, in real processes on one embedded store: one
// `byner serve` of N synthetic streams at R ticks/s each and one `byner infer --all-streams` (a registered linear
// model serving some streams, the seasonal-naive baseline the rest). Measures ticks/s delivered, the latency from a
// tick to its forecast stored, CPU and RSS of each process, memory per stream, beside same-run references (10
// streams, 1 stream); then the server's memory per stream with full replay rings (a child process per ring size).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createParser } from 'eventsource-parser';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { SyntheticSource } from '../src/sources/synthetic.js';
import { openStore, type Store } from '../src/store/index.js';
import { SQLITE_FILE } from '../src/store/sqlite/sqlite-store.js';
import { defaultRingCapacity, startServer } from '../src/stream/server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { ROOT } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/ferretdb.js';
import { registerLinear } from '../test/helpers/models.js';
import { type Child, startByner, stopChild } from '../test/helpers/processes.js';
import { tempDir } from '../test/live-helpers.js';
import { cpuSeconds, quantile, rssMb } from './procs.js';

const args = process.argv.slice(2);
function arg(name: string, fallback: number, min = 1): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name}: expected an integer >= ${min}, received ${JSON.stringify(args[at + 1])}`);
  }
  return value;
}
const STREAMS = arg('--streams', 100);
const RATE = arg('--rate', 10); // ticks/s per stream
const SECONDS = arg('--seconds', 60);
const WARMUP = arg('--warmup', 15);
const REFERENCE = arg('--reference', 10);
const REFERENCE_SECONDS = arg('--reference-seconds', 20);
/** Streams served by a trained model: one in ten. */
const TRAINED_SHARE = 0.1;
const POLL_MS = 5;
/** Streams the benchmark also reads over SSE itself, to time the server's part: tick made → received by a client. */
const PROBED = 10;
const GOAL_P99_MS = 100;
const json = args.includes('--json');
const log = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);

/** Fits a ridge model on 2,000 synthetic ticks (another seed than the stream's) and makes it serve `stream`. */
async function registerFor(store: Store, stream: string, seed: number): Promise<void> {
  const origin = new Date(Date.UTC(2026, 0, 1));
  const ticks = syntheticTicks({ ...DEFAULT_SOURCE, seed }, { start: 0, count: 2000, stream, origin });
  await registerLinear(store, `linear-${stream}`, ticks);
}

interface Usage {
  /** Share of one core over the measured window (CPU seconds / wall seconds). */
  cpu: number;
  /** CPU seconds per 1,000 ticks made in the window. */
  cpuPer1000Ticks: number;
  rssMeanMb: number;
  rssMaxMb: number;
}

interface Latency {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface LiveResult {
  streams: number;
  trained: number;
  ratePerStream: number;
  seconds: number;
  /** Ticks made by the server per second (its streams' head seqs). */
  ticksMadePerS: number;
  /** Ticks the inference process received and stored per second (inf_historical_db). */
  ticksDeliveredPerS: number;
  forecastsPerS: number;
  /** Ticks made in the window whose forecast was not visible 2 s after the window. */
  unforecast: number;
  /** Tick timestamp → forecast row visible in the store (the full path). */
  latencyMs: Latency;
  /** Tick timestamp → the forecast's own timestamp (set by infer as it made it, before queueing the write). */
  madeMs: Latency;
  /** Tick timestamp → received by another SSE client (this benchmark, on up to PROBED streams): serve's part. */
  receivedMs: Latency;
  serve: Usage;
  infer: Usage;
  /** This benchmark process (the latency poller): its cost on the same two cores. */
  benchCpu: number;
  load: { min: number; max: number };
  /** Streams whose forecasts came from a registered model / the baseline. */
  byModel: { trained: number; baseline: number };
  /** Streams with inf_metrics documents. */
  metricsStreams: number;
  /** Warning and error lines the two processes logged. */
  warnings: string[];
}

const latency = (values: number[]): Latency => {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function headSeqs(url: string): Promise<number> {
  const res = await fetch(new URL('/api/streams', url));
  const body = (await res.json()) as { streams: { head_seq: number }[] };
  return body.streams.reduce((sum, s) => sum + s.head_seq + 1, 0);
}

/**
 * Reads `/realtime_data?stream=NAME` like any client and calls `onTick` with each tick's timestamp (ms) as it
 * arrives; returns a function that closes the connection.
 */
function probe(url: string, stream: string, onTick: (tickMs: number, now: number) => void): () => void {
  const target = new URL(url);
  target.searchParams.set('stream', stream);
  const parser = createParser({
    onEvent: (e) => onTick(Date.parse((JSON.parse(e.data) as { timestamp: string }).timestamp), Date.now()),
  });
  const req = request(target, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => parser.feed(chunk));
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  return () => req.destroy();
}

/**
 * One live run. Latency is measured by watching the shared store from this process: every POLL_MS it reads the
 * forecast rows added since the last read, and the forecast of a tick counts as stored when its row is first seen
 * (committed, visible to any reader); its latency is that moment minus the tick's timestamp, which `byner serve`
 * stamps as it makes the tick, just before storing and sending it.
 */
async function liveRun(streams: number, seconds: number): Promise<LiveResult> {
  const trained = Math.round(streams * TRAINED_SHARE);
  const dir = tempDir('byner-bench-streams-');
  const children: Child[] = [];
  try {
    const names = Array.from({ length: streams }, (_, i) => `s${i}`);
    const store = await openStore({ dataDir: dir.path });
    for (let k = 0; k < trained; k++) await registerFor(store, names[k], 1000 + k);
    await store.close();
    const streamsFile = join(dir.path, 'streams.json');
    writeFileSync(
      streamsFile,
      JSON.stringify(
        names.map((name, i) => ({ name, source: 'synthetic', seed: i, interval: Math.round(1000 / RATE) })),
      ),
    );
    const port = await freePort();
    const serve = await startByner(
      ['serve', '--port', String(port), '--streams', streamsFile, '--data-dir', dir.path],
      /streaming on (\S+\/realtime_data)/,
    );
    children.push(serve);
    const url = serve.match?.[1] as string;
    const started = Date.now();
    const infer = await startByner(
      ['infer', '--all-streams', '--url', url, '--quiet', '--data-dir', dir.path],
      null,
    );
    children.push(infer);

    const db = new Database(join(dir.path, SQLITE_FILE), { readonly: true, fileMustExist: true });
    const newRows = db.prepare(
      `SELECT p.rowid AS id, p.stream AS stream, p.timestamp AS made, h.timestamp AS tick
       FROM inf_predictions p JOIN historical_data h ON h.stream = p.stream AND h.seq = p.seq
       WHERE p.rowid > ? ORDER BY p.rowid`,
    );
    let lastId = 0;
    const seen = new Set<string>();
    let window: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
    const full: number[] = [];
    const made: number[] = [];
    const poll = () => {
      const now = Date.now();
      for (const r of newRows.all(lastId) as { id: number; stream: string; made: number; tick: number }[]) {
        lastId = r.id;
        seen.add(r.stream);
        if (r.tick >= window[0] && r.tick < window[1]) {
          full.push(now - r.tick);
          made.push(r.made - r.tick);
        }
      }
    };
    const received: number[] = [];
    const probes = names.slice(0, PROBED).map((name) =>
      probe(url, name, (tick, now) => {
        if (tick >= window[0] && tick < window[1]) received.push(now - tick);
      }),
    );
    let polling = true;
    const poller = (async () => {
      while (polling) {
        poll();
        await sleep(POLL_MS);
      }
    })();

    try {
      const deadline = Date.now() + 90_000;
      while (seen.size < streams) {
        if (Date.now() > deadline)
          throw new Error(`forecasts of ${seen.size}/${streams} streams after 90 s\n${infer.stderr()}`);
        if (infer.process.exitCode !== null) throw new Error(`byner infer exited\n${infer.stderr()}`);
        await sleep(100);
      }
      log(
        `  ${streams} streams: every stream forecast ${((Date.now() - started) / 1000).toFixed(1)} s after infer started`,
      );
      await sleep(Math.max(0, started + WARMUP * 1000 - Date.now()));

      const pids = { serve: serve.pid, infer: infer.pid };
      const cpu0 = { serve: cpuSeconds(serve.pid), infer: cpuSeconds(infer.pid), bench: process.cpuUsage() };
      const head0 = await headSeqs(url);
      const count = db.prepare('SELECT count(*) FROM inf_historical_db').pluck();
      const delivered0 = count.get() as number;
      const t0 = Date.now();
      window = [t0, t0 + seconds * 1000];
      const rss = { serve: [] as number[], infer: [] as number[] };
      const loads: number[] = [];
      while (Date.now() < window[1]) {
        await sleep(Math.min(1000, window[1] - Date.now()));
        for (const p of ['serve', 'infer'] as const) rss[p].push(rssMb(pids[p]));
        loads.push(os.loadavg()[0]);
      }
      const wall = (Date.now() - t0) / 1000;
      const cpu1 = {
        serve: cpuSeconds(serve.pid),
        infer: cpuSeconds(infer.pid),
        bench: process.cpuUsage(cpu0.bench),
      };
      const head1 = await headSeqs(url);
      const delivered1 = count.get() as number;
      await sleep(2000); // forecasts of the window's last ticks
      const madeInWindow = db
        .prepare('SELECT count(*) FROM historical_data WHERE timestamp >= ? AND timestamp < ?')
        .pluck()
        .get(window[0], window[1]) as number;
      const usage = (p: 'serve' | 'infer'): Usage => ({
        cpu: (cpu1[p] - cpu0[p]) / wall,
        cpuPer1000Ticks: (cpu1[p] - cpu0[p]) / ((head1 - head0) / 1000),
        rssMeanMb: rss[p].reduce((a, b) => a + b, 0) / rss[p].length,
        rssMaxMb: Math.max(...rss[p]),
      });
      const result = {
        streams,
        trained,
        ratePerStream: RATE,
        seconds: wall,
        ticksMadePerS: (head1 - head0) / wall,
        ticksDeliveredPerS: (delivered1 - delivered0) / wall,
        forecastsPerS: full.length / wall,
        unforecast: madeInWindow - full.length,
        latencyMs: latency(full),
        madeMs: latency(made),
        receivedMs: latency(received),
        serve: usage('serve'),
        infer: usage('infer'),
        benchCpu: (cpu1.bench.user + cpu1.bench.system) / 1e6 / wall,
        load: { min: Math.min(...loads), max: Math.max(...loads) },
      };
      polling = false;
      await poller;
      for (const close of probes) close();
      for (const c of children.splice(0).reverse()) {
        const end = await stopChild(c);
        if (end !== 0)
          throw new Error(`byner ${c === infer ? 'infer' : 'serve'} ended with ${end}\n${c.stderr()}`);
      }
      const versions = db
        .prepare(
          'SELECT stream, model_version AS version FROM inf_predictions GROUP BY stream, model_version',
        )
        .all() as { stream: string; version: string }[];
      const metricsStreams = db
        .prepare("SELECT count(DISTINCT json_extract(doc, '$.stream')) FROM inf_metrics")
        .pluck()
        .get() as number;
      db.close();
      const warnings = [serve, infer].flatMap((c) =>
        c
          .stderr()
          .split('\n')
          .filter((l) => /WARN|ERROR|FATAL/.test(l)),
      );
      return {
        ...result,
        byModel: {
          trained: new Set(versions.filter((v) => v.version.startsWith('linear-')).map((v) => v.stream)).size,
          baseline: new Set(versions.filter((v) => !v.version.startsWith('linear-')).map((v) => v.stream))
            .size,
        },
        metricsStreams,
        warnings,
      };
    } finally {
      polling = false;
      await poller;
      for (const close of probes) close();
      if (db.open) db.close();
    }
  } finally {
    for (const c of children) await stopChild(c, 5000);
    dir.remove();
  }
}

interface RingMeasured {
  streams: number;
  ring: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  heapBeforeMb: number;
  heapAfterMb: number;
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** In a child: opens a server over the stored streams (rings filled from the store), measures before and after. */
async function ringChild(dataDir: string, streams: number, ring: number): Promise<void> {
  const store = await openStore({ dataDir });
  gc();
  const before = process.memoryUsage();
  const server = await startServer({
    port: 0,
    store,
    ringCapacity: ring,
    streams: Array.from({ length: streams }, (_, i) => ({
      name: `s${i}`,
      source: new SyntheticSource({ ...DEFAULT_SOURCE, seed: i, intervalMs: 1000 }),
    })),
  });
  gc();
  gc();
  const after = process.memoryUsage();
  const m: RingMeasured = {
    streams,
    ring,
    rssBeforeMb: mb(before.rss),
    rssAfterMb: mb(after.rss),
    heapBeforeMb: mb(before.heapUsed),
    heapAfterMb: mb(after.heapUsed),
  };
  process.stdout.write(`${JSON.stringify(m)}\n`);
  await server.close();
  await store.close();
}

type RingRow = RingMeasured & { rssPerStreamMb: number; heapPerStreamMb: number };

/** Memory of a server with `streams` streams of 10,000 stored ticks each, for a 10,000-tick ring and the default. */
async function ringMemory(streams: number): Promise<RingRow[]> {
  const TICKS = 10_000;
  const dir = tempDir('byner-bench-rings-');
  try {
    const store = await openStore({ dataDir: dir.path });
    for (let i = 0; i < streams; i++) {
      const origin = new Date(Date.UTC(2026, 0, 1));
      await store.writeTicks(
        'historical_data',
        syntheticTicks({ ...DEFAULT_SOURCE, seed: i }, { start: 0, count: TICKS, stream: `s${i}`, origin }),
      );
    }
    await store.close();
    const rows: RingRow[] = [];
    for (const ring of new Set([10_000, defaultRingCapacity(streams)])) {
      const r = spawnSync(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          join(ROOT, 'bench', 'streams.ts'),
          '--ring-child',
          '--data',
          dir.path,
          '--streams',
          String(streams),
          '--ring',
          String(ring),
        ],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BYNER_LOG_DIR: 'none' } },
      );
      if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
      const m = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as RingMeasured;
      rows.push({
        ...m,
        rssPerStreamMb: Math.round(((m.rssAfterMb - m.rssBeforeMb) / streams) * 100) / 100,
        heapPerStreamMb: Math.round(((m.heapAfterMb - m.heapBeforeMb) / streams) * 100) / 100,
      });
    }
    return rows;
  } finally {
    dir.remove();
  }
}

const f1 = (x: number) => x.toFixed(1);
const f0 = (x: number) => x.toFixed(0);

function describeRun(r: LiveResult): string {
  const l = r.latencyMs;
  return (
    `${r.streams} streams (${r.trained} linear, ${r.streams - r.trained} seasonal naive) at ${r.ratePerStream} ticks/s ` +
    `each, ${f0(r.seconds)} s measured, load average ${r.load.min.toFixed(2)} – ${r.load.max.toFixed(2)}:\n` +
    `    ticks/s made ${f0(r.ticksMadePerS)}, delivered and stored by infer ${f0(r.ticksDeliveredPerS)}, ` +
    `forecasts stored/s ${f0(r.forecastsPerS)} (${r.unforecast} ticks of the window without a forecast)\n` +
    `    tick → forecast stored: p50 ${f1(l.p50)} ms, p90 ${f1(l.p90)}, p99 ${f1(l.p99)}, max ${f1(l.max)} ` +
    `(${l.count} forecasts; goal p99 ≤ ${GOAL_P99_MS} ms: ${l.p99 <= GOAL_P99_MS ? 'met' : 'MISSED'}); ` +
    `tick → received by a client p50 ${f1(r.receivedMs.p50)}, p99 ${f1(r.receivedMs.p99)}; ` +
    `tick → forecast made p50 ${f1(r.madeMs.p50)}, p99 ${f1(r.madeMs.p99)}\n` +
    `    serve: ${f0(r.serve.cpu * 100)}% of a core, ${r.serve.cpuPer1000Ticks.toFixed(3)} CPU s per 1,000 ticks, ` +
    `RSS ${f0(r.serve.rssMeanMb)} MB (max ${f0(r.serve.rssMaxMb)}); ` +
    `infer: ${f0(r.infer.cpu * 100)}% of a core, ${r.infer.cpuPer1000Ticks.toFixed(3)} CPU s per 1,000 ticks, ` +
    `RSS ${f0(r.infer.rssMeanMb)} MB (max ${f0(r.infer.rssMaxMb)}); ` +
    `this poller ${f0(r.benchCpu * 100)}%\n` +
    `    forecast by their linear model: ${r.byModel.trained} streams, by the baseline: ${r.byModel.baseline}; ` +
    `inf_metrics for ${r.metricsStreams} streams; ${r.warnings.length} warning line(s)` +
    (r.warnings.length > 0 ? `\n      ${r.warnings.slice(0, 5).join('\n      ')}` : '')
  );
}

async function main(): Promise<void> {
  if (args.includes('--ring-child')) {
    await ringChild(String(args[args.indexOf('--data') + 1]), arg('--streams', 1), arg('--ring', 10_000));
    return;
  }
  const sizes = [STREAMS, ...[REFERENCE, 1].filter((n) => n < STREAMS)].filter(
    (n, i, all) => all.indexOf(n) === i,
  );
  log(
    `byner serve (${STREAMS} synthetic streams at ${RATE} ticks/s) + byner infer --all-streams, one embedded store ` +
      `(built CLI, Node.js ${process.version}, ${os.cpus().length} cores):`,
  );
  const runs: LiveResult[] = [];
  for (const n of sizes) {
    const r = await liveRun(n, n === STREAMS ? SECONDS : REFERENCE_SECONDS);
    runs.push(r);
    log(`  ${describeRun(r)}`);
  }
  const main = runs[0];
  const one = runs.find((r) => r.streams === 1);
  const perStream =
    one === undefined || main.streams === 1
      ? null
      : {
          serveMb: (main.serve.rssMeanMb - one.serve.rssMeanMb) / (main.streams - 1),
          inferMb: (main.infer.rssMeanMb - one.infer.rssMeanMb) / (main.streams - 1),
        };
  if (perStream !== null) {
    log(
      `  memory per live stream (RSS with ${main.streams} streams − with 1, / ${main.streams - 1}): ` +
        `serve ${perStream.serveMb.toFixed(2)} MB, infer ${perStream.inferMb.toFixed(2)} MB`,
    );
  }
  const rings = await ringMemory(STREAMS);
  log(
    `${STREAMS} streams of 10000 stored ticks each, replay rings filled from the store (server in-process):`,
  );
  for (const r of rings) {
    log(
      `  ring ${String(r.ring).padStart(6)}: RSS +${(r.rssAfterMb - r.rssBeforeMb).toFixed(1)} MB ` +
        `(${r.rssPerStreamMb.toFixed(2)} MB/stream), heap +${(r.heapAfterMb - r.heapBeforeMb).toFixed(1)} MB ` +
        `(${r.heapPerStreamMb.toFixed(2)} MB/stream)`,
    );
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        store: 'embedded SQLite, one file shared by serve and infer (WAL)',
        latency: `tick timestamp (serve) → forecast row visible to a reader, polled every ${POLL_MS} ms`,
        goal_p99_ms: GOAL_P99_MS,
        runs,
        memory_per_stream_mb: perStream,
        rings,
        cpus: os.cpus().length,
        node: process.version,
      })}\n`,
    );
  }
}

await main();
