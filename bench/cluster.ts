// `npm run bench:cluster [-- --json] [-- --seconds N]`: the cost of the Redis bus, in one run on 127.0.0.1 with real
// processes: 1, 2 and 3 `infer --bus` workers on one `serve --bus` (200 streams × 10 ticks/s), and the single-process
// mode (`serve` + one `infer --all-streams` over SSE) on the same streams as the reference. Per phase: forecasts/s,
// latency (tick made → forecast made), CPU seconds per 1,000 forecasts of each process, Redis commands per tick, RSS.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { inferLeaseKey } from '../src/infer/bus-leases.js';
import { builtCli } from '../test/helpers/cli.js';
import { type FerretDB, findFerretDB, freePort, startFerretDB } from '../test/helpers/ferretdb.js';
import { spawnByner } from '../test/helpers/processes.js';
import { findRedisServer, type RedisServer, startRedis } from '../test/helpers/redis.js';
import { tempDir } from '../test/live-helpers.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const arg = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback;
const STREAMS = arg('--streams', 200);
/** `--logs DIR`: every process logs at info level into DIR/<process>.log (to see what a phase did). */
const LOGS = args.includes('--logs') ? args[args.indexOf('--logs') + 1] : undefined;
/** `infer --quiet` logs warnings only and prints no tick lines; with --logs, its info lines are wanted. */
const QUIET = LOGS === undefined ? ['--quiet'] : [];
const INTERVAL_MS = arg('--interval', 100);
const SECONDS = arg('--seconds', 20);
/** `--workers 1,2,3`: the bus phases, by their number of workers. */
const WORKERS = (args.includes('--workers') ? args[args.indexOf('--workers') + 1] : '1,2,3')
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const WINDOW = 60; // ticks a stream's window needs before its first forecast
const WARMUP_MS = WINDOW * INTERVAL_MS + 4000;
const MODEL = 'seasonal_naive';
/** How long the single-process infer may take to connect to every stream before the phase is measured anyway. */
const CONNECT_MS = 60_000;
/** How long a worker may take to store what it holds after SIGTERM before it is killed. */
const STOP_MS = 60_000;
const NAMES = Array.from({ length: STREAMS }, (_, i) => `s${String(i).padStart(3, '0')}`);
/** What a machine may spend on workers in the estimate: 70% of 8 cores. */
const MACHINE = { cores: 8, share: 0.7 };
const log = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU seconds (user + system) of a process so far, from /proc (Linux); 0 once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Resident memory of a process now (MB), from /proc. */
function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Math.round(Number(m[1]) / 102.4) / 10;
  } catch {
    return 0;
  }
}

/** The run's stop signal: SIGINT/SIGTERM abort every wait, and the run cleans up on its way out. */
const interrupt = new AbortController();
/** The servers the run started (FerretDB, Redis), for killAll. */
const servers: { pid(): number | undefined }[] = [];
let mongo: FerretDB | undefined;
let redisServer: RedisServer | undefined;

/** SIGKILL to every process the run started that still runs (at exit, and at a second signal). */
function killAll(): void {
  for (const p of procs)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const s of servers) {
    try {
      const pid = s.pid();
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// The first signal stops the run (the cleanup stops every process, each with a deadline); a second one kills them at
// once (`timeout` and a terminal send the signal to the whole process group, so the first may come twice).
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupt.signal.aborted) killAll();
  else interrupt.abort(new Error(`interrupted by ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.once('exit', killAll);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (interrupt.signal.aborted) return reject(interrupt.signal.reason);
    const timer = setTimeout(() => {
      interrupt.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(interrupt.signal.reason);
    };
    interrupt.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A `byner` child process with the tail of its output (for error messages) and its start-up lines. */
interface Proc {
  name: string;
  child: ChildProcess;
  head: string;
  err: string;
  exited: Promise<number | null>;
  /** Set when the run stops it (an exit before that is a failure). */
  stopping: boolean;
}

const procs: Proc[] = [];

function launch(name: string, cliArgs: string[]): Proc {
  const child = spawnByner(cliArgs, { BYNER_LOG_LEVEL: LOGS === undefined ? 'warn' : 'info' });
  const p: Proc = {
    name,
    child,
    head: '',
    err: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    stopping: false,
  };
  child.stdout?.on('data', (d: string) => {
    if (p.head.length < 8000) p.head += d;
  });
  const file = LOGS === undefined ? null : join(LOGS, `${name.replace(/[^\w.-]+/g, '-')}.log`);
  child.stderr?.on('data', (d: string) => {
    p.err = (p.err + d).slice(-8000);
    if (file !== null) appendFileSync(file, d);
  });
  procs.push(p);
  return p;
}

/** Polls `cond` every 200 ms; fails naming `what` and the processes' last log lines after `ms`. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    const dead = procs.find((p) => !p.stopping && p.child.exitCode !== null);
    if (dead !== undefined || Date.now() > end) {
      const why =
        dead === undefined ? `timed out after ${ms} ms` : `${dead.name} exited (${dead.child.exitCode})`;
      const logs = procs.map((p) => `--- ${p.name}:\n${p.err.slice(-1500)}`).join('\n');
      throw new Error(`${why} waiting for ${what}\n${logs}`);
    }
    await sleep(200);
  }
}

/** SIGTERM, SIGKILL after `ms`; resolves when it has exited. */
async function stop(p: Proc, ms = 20_000): Promise<number | null> {
  p.stopping = true;
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

/** One stream's line of `GET /api/streams`. */
interface StreamInfo {
  name: string;
  head_seq: number;
  clients: number;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

const streamsOf = async (base: string) =>
  (await getJson<{ streams: StreamInfo[] }>(`${base}/api/streams`)).streams;
const headSum = async (base: string) => (await streamsOf(base)).reduce((n, s) => n + s.head_seq, 0);

/** Redis's per-command call counts and its total of commands processed. */
async function redisCounts(redis: Redis | null): Promise<{ total: number; calls: Map<string, number> }> {
  const calls = new Map<string, number>();
  if (redis === null) return { total: 0, calls };
  const [stats, commands] = await Promise.all([redis.info('stats'), redis.info('commandstats')]);
  for (const m of commands.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) calls.set(m[1], Number(m[2]));
  return { total: Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? 0), calls };
}

/**
 * MongoDB's count of each command it ran since it started (serverStatus `metrics.commands`: MongoDB and FerretDB
 * both keep it), without the bench's own reads.
 */
async function mongoCounts(uri: string): Promise<Map<string, number>> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    const status = await client.db('admin').command({ serverStatus: 1 });
    const commands = (status.metrics?.commands ?? {}) as Record<string, { total?: unknown }>;
    return new Map(
      Object.entries(commands)
        .map(([name, c]) => [name, Number(c?.total ?? 0)] as [string, number])
        .filter(([, n]) => Number.isFinite(n)),
    );
  } finally {
    await client.close();
  }
}

/** The commands called between two counts (those in `skip` left out), most called first. */
function callsBetween(
  before: Map<string, number>,
  after: Map<string, number>,
  skip: readonly string[] = [],
): [string, number][] {
  return [...after]
    .filter(([n]) => !skip.includes(n))
    .map(([n, c]): [string, number] => [n, c - (before.get(n) ?? 0)])
    .filter(([, c]) => c > 0)
    .sort((x, y) => y[1] - x[1]);
}

/** The six most called commands, per `unit` (tick, forecast), rounded to `digits`. */
function topPer(calls: [string, number][], unit: number, digits: number): Record<string, number> {
  return Object.fromEntries(calls.slice(0, 6).map(([n, c]) => [n, round(c / unit, digits)]));
}

/** What the processes of a phase did over the measured interval. */
interface Snapshot {
  at: number;
  cpu: Record<string, number>;
  ticks: number;
  redis: { total: number; calls: Map<string, number> };
  mongo: Map<string, number>;
}

interface Roles {
  serve: number | undefined;
  workers: (number | undefined)[];
  redis: number | undefined;
  mongo: number | undefined;
}

async function snapshot(roles: Roles, base: string, redis: Redis | null, uri: string): Promise<Snapshot> {
  const [ticks, counts, mongo] = await Promise.all([headSum(base), redisCounts(redis), mongoCounts(uri)]);
  return {
    at: Date.now(),
    ticks,
    redis: counts,
    mongo,
    cpu: {
      serve: cpuSeconds(roles.serve),
      infer: roles.workers.reduce<number>((s, pid) => s + cpuSeconds(pid), 0),
      redis: cpuSeconds(roles.redis),
      mongo: cpuSeconds(roles.mongo),
    },
  };
}

export interface PhaseResult {
  phase: string;
  workers: number;
  bus: boolean;
  seconds: number;
  ticks_per_s: number;
  forecasts_per_s: number;
  /** Seconds the workers took to stop (SIGTERM: they store what they hold), and how many were killed at STOP_MS. */
  stop: { seconds: number; killed: number };
  /** Streams with forecasts in the interval. */
  streams_forecast: number;
  /** Ticks of the interval's forecast seq ranges that have no forecast (per stream: last − first + 1 − count). */
  missing_forecasts: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; samples: number };
  /** CPU seconds per 1,000 forecasts, per role, and of all of them. */
  cpu_s_per_1000: { infer: number; serve: number; redis: number; mongo: number; total: number };
  /** Share of one core each role used over the interval. */
  cores: { infer: number; serve: number; redis: number; mongo: number; total: number };
  redis_commands_per_tick: number;
  /** The commands most called, per tick. */
  redis_top_per_tick: Record<string, number>;
  /** MongoDB commands of the interval (serverStatus counts; the bench's own are left out) per forecast. */
  mongo_commands_per_forecast: number;
  /** The MongoDB commands most run, per forecast. */
  mongo_top_per_forecast: Record<string, number>;
  rss_mb: { infer: number[]; serve: number; redis: number; mongo: number };
  /** Streams per worker at the interval's start, and how many streams changed hands during it. */
  leases: { held: number[]; moved: number } | null;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const pct = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * The forecasts made in [from, to) in database `db`, read after the phase stopped (FerretDB scans a collection for
 * every query, so nothing is read while the phase is measured): their count, the seqs missing among them, and the
 * latency of each: forecast made (its `timestamp`) − tick made (the tick's `timestamp` in inf_historical_db).
 */
async function forecastsOf(uri: string, db: string, from: number, to: number) {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  try {
    const range = { $gte: new Date(from), $lt: new Date(to) };
    const project = { projection: { _id: 0, stream: 1, seq: 1, timestamp: 1 } };
    const [forecasts, ticks] = await Promise.all([
      client.db(db).collection('inf_predictions').find({ timestamp: range }, project).toArray(),
      client
        .db(db)
        .collection('inf_historical_db')
        .find({ timestamp: { $gte: new Date(from - 120_000), $lt: new Date(to) } }, project)
        .toArray(),
    ]);
    const made = new Map(ticks.map((t) => [`${t.stream}:${t.seq}`, (t.timestamp as Date).getTime()]));
    const latencies: number[] = [];
    const seqs = new Map<string, number[]>();
    for (const f of forecasts) {
      const at = made.get(`${f.stream}:${f.seq}`);
      if (at !== undefined) latencies.push((f.timestamp as Date).getTime() - at);
      const list = seqs.get(f.stream) ?? [];
      list.push(f.seq as number);
      seqs.set(f.stream, list);
    }
    let missing = 0;
    for (const list of seqs.values()) missing += Math.max(...list) - Math.min(...list) + 1 - list.length;
    latencies.sort((a, b) => a - b);
    return {
      count: forecasts.length,
      streams: seqs.size,
      missing,
      latency: {
        p50: pct(latencies, 50),
        p90: pct(latencies, 90),
        p99: pct(latencies, 99),
        max: latencies.at(-1) ?? Number.NaN,
        samples: latencies.length,
      },
    };
  } finally {
    await client.close();
  }
}

/** Measures one phase over SECONDS after its warm-up; `leases` reads who holds each stream (bus phases). */
async function measure(
  phase: string,
  opts: {
    roles: Roles;
    base: string;
    redis: Redis | null;
    uri: string;
    db: string;
    workers: Proc[];
    leases?: () => Promise<(string | null)[]>;
    owners?: string[];
  },
): Promise<PhaseResult> {
  const { roles, base, redis } = opts;
  log(`  ${phase}: warming up ${(WARMUP_MS / 1000).toFixed(0)} s (window fill: ${WINDOW} ticks)`);
  await sleep(WARMUP_MS);
  const heldAt0 = opts.leases === undefined ? null : await opts.leases();
  const a = await snapshot(roles, base, redis, opts.uri);
  log(`  ${phase}: measuring ${SECONDS} s`);
  await sleep(SECONDS * 1000);
  const b = await snapshot(roles, base, redis, opts.uri);
  const heldAt1 = opts.leases === undefined ? null : await opts.leases();
  const rss = {
    infer: roles.workers.map(rssMb),
    serve: rssMb(roles.serve),
    redis: rssMb(roles.redis),
    mongo: rssMb(roles.mongo),
  };
  log(`  ${phase}: stopping the workers, then reading the forecasts of the interval`);
  const stopAt = Date.now();
  const codes = await Promise.all(opts.workers.map((w) => stop(w, STOP_MS)));
  const stopSeconds = round((Date.now() - stopAt) / 1000, 1);
  // A worker killed at the deadline lost what it held: its forecasts of the interval may be missing from the count.
  const killed = codes.filter((c) => c !== 0).length;
  if (killed > 0) log(`  ${phase}: ${killed} worker(s) did not stop within ${STOP_MS / 1000} s (killed)`);
  const f = await forecastsOf(opts.uri, opts.db, a.at, b.at);
  const seconds = (b.at - a.at) / 1000;
  const per1000 = (role: string) => round(((b.cpu[role] - a.cpu[role]) / f.count) * 1000);
  const cores = (role: string) => round((b.cpu[role] - a.cpu[role]) / seconds, 2);
  const ticks = b.ticks - a.ticks;
  // The snapshots' own serverStatus (2) and the hello/endSessions of their connections are not the phase's.
  const mongoCalls = callsBetween(a.mongo, b.mongo, [
    'serverStatus',
    'hello',
    'isMaster',
    'ismaster',
    'endSessions',
    'unknown',
  ]);
  const roleNames = ['infer', 'serve', 'redis', 'mongo'];
  const totalCpu = roleNames.reduce((s, r) => s + b.cpu[r] - a.cpu[r], 0);
  const result: PhaseResult = {
    phase,
    workers: roles.workers.length,
    bus: redis !== null,
    seconds: round(seconds, 1),
    ticks_per_s: round(ticks / seconds, 0),
    forecasts_per_s: round(f.count / seconds, 0),
    streams_forecast: f.streams,
    stop: { seconds: stopSeconds, killed },
    missing_forecasts: f.missing,
    latency_ms: f.latency,
    cpu_s_per_1000: {
      infer: per1000('infer'),
      serve: per1000('serve'),
      redis: per1000('redis'),
      mongo: per1000('mongo'),
      total: round((totalCpu / f.count) * 1000),
    },
    cores: {
      infer: cores('infer'),
      serve: cores('serve'),
      redis: cores('redis'),
      mongo: cores('mongo'),
      total: round(totalCpu / seconds, 2),
    },
    redis_commands_per_tick: redis === null ? 0 : round((b.redis.total - a.redis.total) / ticks, 2),
    redis_top_per_tick: topPer(callsBetween(a.redis.calls, b.redis.calls), ticks, 2),
    mongo_commands_per_forecast: round(mongoCalls.reduce((n, [, c]) => n + c, 0) / f.count, 3),
    mongo_top_per_forecast: topPer(mongoCalls, f.count, 3),
    rss_mb: rss,
    leases:
      heldAt0 === null || heldAt1 === null
        ? null
        : {
            held: (opts.owners ?? []).map((o) => heldAt0.filter((h) => h === o).length),
            moved: heldAt0.filter((h, i) => h !== heldAt1[i]).length,
          },
  };
  log(
    `  ${phase}: ${result.ticks_per_s} ticks/s, ${result.forecasts_per_s} forecasts/s (${f.streams} streams), ` +
      `latency p50 ${f.latency.p50} ms p99 ${f.latency.p99} ms, ${result.cpu_s_per_1000.total} CPU s per 1,000 ` +
      `forecasts, workers stopped in ${stopSeconds} s`,
  );
  return result;
}

/** The streams file every serve process of the run reads: NAMES, synthetic, one tick per INTERVAL_MS each. */
function streamsFile(dir: string): string {
  const file = join(dir, 'streams.json');
  writeFileSync(file, JSON.stringify(NAMES.map((name, i) => ({ name, seed: i + 1, interval: INTERVAL_MS }))));
  return file;
}

/** The single-process mode: `serve`, and one `infer --all-streams` reading its SSE streams (they start then). */
async function referencePhase(uri: string, mongo: FerretDB, file: string): Promise<PhaseResult> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const store = ['--mongo-uri', uri];
  const serve = launch('serve (single process)', [
    'serve',
    ...store,
    '--db-name',
    'bench_ref_ticks',
    '--port',
    String(port),
    '--streams',
    file,
  ]);
  try {
    await until('serve to listen', () => serve.head.includes('streaming on'), 60_000);
    const db = 'bench_ref';
    const worker = launch('infer (SSE)', [
      ...QUIET,
      'infer',
      ...store,
      '--db-name',
      db,
      '--url',
      `${base}/realtime_data`,
      '--all-streams',
      '--model',
      MODEL,
    ]);
    // Measured even when some streams are not read yet after CONNECT_MS (the table says how many were forecast).
    const connectEnd = Date.now() + CONNECT_MS;
    let reading = 0;
    while (Date.now() < connectEnd) {
      reading = (await streamsOf(base)).filter((s) => s.clients >= 1).length;
      if (reading === STREAMS) break;
      await sleep(1000);
    }
    log(`  single process: ${reading} of ${STREAMS} streams read by infer`);
    return await measure('single process', {
      roles: { serve: serve.child.pid, workers: [worker.child.pid], redis: undefined, mongo: mongo.pid() },
      base,
      redis: null,
      uri,
      db,
      workers: [worker],
    });
  } finally {
    await stop(serve);
  }
}

/**
 * The bus phases, each on its own: a fresh `serve --bus`, database and Redis (flushed), so that every phase starts
 * alike (as the single-process phase does: a new serve on an empty database) whatever the phases before it left.
 */
async function busPhases(uri: string, mongo: FerretDB, redisServer: RedisServer, file: string) {
  const redis = new Redis(redisServer.url, {
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    commandTimeout: 10_000,
  });
  redis.on('error', () => {});
  const results: PhaseResult[] = [];
  try {
    await redis.connect();
    for (const n of WORKERS) {
      await redis.flushall();
      results.push(await busPhase(n, uri, mongo, redisServer, redis, file));
    }
    return results;
  } finally {
    redis.disconnect();
  }
}

/** One `serve --bus` and `n` workers of one group, on database bench_bus_<n>. */
async function busPhase(
  n: number,
  uri: string,
  mongo: FerretDB,
  redisServer: RedisServer,
  redis: Redis,
  file: string,
): Promise<PhaseResult> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const db = `bench_bus_${n}`;
  const bus = ['--bus', redisServer.url, '--mongo-uri', uri, '--db-name', db];
  const serve = launch(`serve --bus (${n})`, ['serve', ...bus, '--port', String(port), '--streams', file]);
  try {
    await until('serve --bus to listen', () => serve.head.includes('streaming on'), 60_000);
    await until(
      `serve --bus to produce all ${STREAMS} streams`,
      async () =>
        (await getJson<{ bus: { producing: string[] } }>(`${base}/healthz`)).bus.producing.length === STREAMS,
      60_000,
    );
    const group = `bench${n}`;
    const workers = Array.from({ length: n }, (_, i) =>
      launch(`infer --bus ${n}.${i}`, [
        ...QUIET,
        'infer',
        ...bus,
        '--group',
        group,
        '--all-streams',
        '--model',
        MODEL,
      ]),
    );
    const ownerOf = (p: Proc) => /worker (\S+) of group/.exec(p.head)?.[1];
    await until('the workers to start', () => workers.every((w) => ownerOf(w) !== undefined), 60_000);
    const owners = workers.map((w) => ownerOf(w) as string);
    const leases = () => redis.mget(NAMES.map((s) => inferLeaseKey(group, s)));
    const share = Math.ceil(STREAMS / n);
    let spread = '';
    await until(
      `every stream held by one of the ${n} workers, at most ${share} each`,
      async () => {
        const held = await leases();
        const counts = owners.map((o) => held.filter((h) => h === o).length);
        spread = counts.join('/');
        return held.every((h) => h !== null && owners.includes(h)) && counts.every((c) => c <= share);
      },
      90_000,
    );
    log(`  ${n} worker(s): streams held ${spread}`);
    return await measure(`bus, ${n} worker${n > 1 ? 's' : ''}`, {
      roles: {
        serve: serve.child.pid,
        workers: workers.map((w) => w.child.pid),
        redis: redisServer.pid(),
        mongo: mongo.pid(),
      },
      base,
      redis,
      uri,
      db,
      workers,
      leases,
      owners,
    });
  } finally {
    await stop(serve);
  }
}

/** Streams one machine's workers handle at INTERVAL_MS per tick, from the infer CPU per forecast. */
const streamsPerMachine = (cpuPer1000: number) =>
  Math.floor((MACHINE.cores * MACHINE.share) / ((cpuPer1000 / 1000) * (1000 / INTERVAL_MS)));

function report(rows: PhaseResult[], meta: Record<string, unknown>): void {
  const ref = rows[0];
  const ratio = (x: number, r: number) => (r > 0 ? `${(x / r).toFixed(2)}×` : '–');
  // Only from phases that forecast every stream and stopped cleanly: a stalled worker's CPU, spent without
  // forecasts, would count against the others' forecasts.
  const estimates = rows
    .filter((r) => r.bus)
    .map((r) => ({
      phase: r.phase,
      streams: streamsPerMachine(r.cpu_s_per_1000.infer),
      clean: r.streams_forecast === STREAMS && r.stop.killed === 0,
    }));
  const clean = estimates.filter((e) => e.clean).map((e) => e.streams);
  const conservative = clean.length === 0 ? null : Math.min(...clean);
  if (json) {
    const doc = {
      ...meta,
      phases: rows,
      streams_per_8_core_worker_machine: { assumption: meta.assumption, estimates, conservative },
    };
    process.stdout.write(`${JSON.stringify(doc)}\n`);
    return;
  }
  const header = [
    'phase',
    'ticks/s',
    'forecasts/s',
    'streams',
    'missing',
    'latency p50/p99 ms',
    'CPU s/1000: infer',
    'serve',
    'redis',
    'mongo',
    'total',
    'total vs ref',
    'infer vs ref',
    'redis cmd/tick',
    'mongo cmd/forecast',
    'RSS infer MB',
  ];
  const table = rows.map((r) => [
    r.phase,
    String(r.ticks_per_s),
    String(r.forecasts_per_s),
    String(r.streams_forecast),
    String(r.missing_forecasts),
    `${r.latency_ms.p50} / ${r.latency_ms.p99}`,
    r.cpu_s_per_1000.infer.toFixed(3),
    r.cpu_s_per_1000.serve.toFixed(3),
    r.cpu_s_per_1000.redis.toFixed(3),
    r.cpu_s_per_1000.mongo.toFixed(3),
    r.cpu_s_per_1000.total.toFixed(3),
    ratio(r.cpu_s_per_1000.total, ref.cpu_s_per_1000.total),
    ratio(r.cpu_s_per_1000.infer, ref.cpu_s_per_1000.infer),
    r.bus ? r.redis_commands_per_tick.toFixed(2) : '–',
    r.mongo_commands_per_forecast.toFixed(3),
    r.rss_mb.infer.map((m) => m.toFixed(0)).join('+'),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  log('');
  log(line(header));
  for (const row of table) log(line(row));
  log('');
  for (const r of rows) {
    const c = r.cores;
    log(
      `${r.phase}: cores used infer ${c.infer}, serve ${c.serve}, redis ${c.redis}, mongo ${c.mongo}, total ${c.total}` +
        (r.leases === null
          ? ''
          : `; streams per worker ${r.leases.held.join('/')}, ${r.leases.moved} moved while measured`) +
        (r.bus
          ? `; Redis per tick: ${Object.entries(r.redis_top_per_tick)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`
          : '') +
        `; MongoDB per forecast: ${Object.entries(r.mongo_top_per_forecast)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
    );
  }
  log('');
  log(
    `Latency: tick made (its timestamp, set by serve before storing and sending it) → forecast made (the forecast's ` +
      `timestamp, set when it is handed to the writer), for every forecast of the interval, read from MongoDB after ` +
      `the phase stopped. The write of the forecast (write-behind, ≥ 20 ms batching, then the insert) is not in it: ` +
      `the documents carry no stored-at time, and FerretDB scans the collection for every query, so polling it ` +
      `during the run would load the machine being measured.`,
  );
  log(
    `On ${os.cpus().length} cores (serve, FerretDB, Redis and the workers share them) more workers cannot be faster: ` +
      `the phases measure the cost of the bus, not a speed-up.`,
  );
  log(
    `Estimate: one ${MACHINE.cores}-core worker machine, ${MACHINE.share * 100}% of its cores for workers, MongoDB, ` +
      `Redis and serve elsewhere, ${MODEL} forecasts: ` +
      estimates
        .map((e) => `${e.streams} streams (${e.phase}${e.clean ? '' : ': not every stream forecast'})`)
        .join(', ') +
      ` at ${1000 / INTERVAL_MS} ticks/s; ` +
      (conservative === null
        ? 'no phase forecast every stream, so no estimate.'
        : `conservatively ${conservative} (the least of the phases that forecast every stream).`),
  );
}

async function main(): Promise<void> {
  const redisBinary = findRedisServer();
  const ferret = process.env.MONGODB_URI ? null : findFerretDB();
  const missing = [
    'reason' in redisBinary ? `redis-server: ${redisBinary.reason}` : null,
    ferret !== null && 'reason' in ferret ? `FerretDB: ${ferret.reason}` : null,
  ].filter((x) => x !== null);
  if (missing.length > 0) {
    process.stderr.write(`bench:cluster needs redis-server and FerretDB:\n  - ${missing.join('\n  - ')}\n`);
    process.exitCode = 1;
    return;
  }
  if (LOGS !== undefined) mkdirSync(LOGS, { recursive: true });
  builtCli(); // fails early, naming the stale files, when dist/ is older than the sources
  const dir = tempDir('byner-bench-cluster-');
  try {
    const file = streamsFile(dir.path);
    mongo = await startFerretDB({ binary: (ferret as { path: string }).path });
    servers.push(mongo);
    redisServer = await startRedis({ binary: (redisBinary as { path: string }).path });
    servers.push(redisServer);
    const load = os.loadavg().map((l) => l.toFixed(2));
    log(
      `bench:cluster: ${STREAMS} streams × ${1000 / INTERVAL_MS} ticks/s, ${SECONDS} s measured per phase after ` +
        `${(WARMUP_MS / 1000).toFixed(0)} s of warm-up; ${MODEL}; node ${process.version}, ${os.cpus().length} cores, load ${load.join(' ')}`,
    );
    log('single process (serve + infer over SSE, MongoDB):');
    const ref = await referencePhase(mongo.uri, mongo, file);
    log('bus (serve --bus, infer --bus workers, Redis, MongoDB):');
    const bus = await busPhases(mongo.uri, mongo, redisServer, file);
    report([ref, ...bus], {
      streams: STREAMS,
      ticks_per_s_per_stream: 1000 / INTERVAL_MS,
      seconds: SECONDS,
      warmup_s: WARMUP_MS / 1000,
      model: MODEL,
      node: process.version,
      cores: os.cpus().length,
      load_at_start: load.map(Number),
      load_at_end: os.loadavg().map((l) => round(l, 2)),
      latency:
        'tick made (tick timestamp) → forecast made (forecast timestamp); the store write is not included',
      assumption: `${MACHINE.share * 100}% of ${MACHINE.cores} cores for infer workers; MongoDB, Redis and serve on other machines`,
    });
  } finally {
    await Promise.all(procs.map((p) => stop(p, 5000)));
    await redisServer?.stop();
    await mongo?.stop();
    dir.remove();
  }
}

await main();
