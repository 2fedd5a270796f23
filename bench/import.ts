// `npm run bench:import [-- --json] [-- --rows N] [-- --repeats R]`: `byner import` of an N-row CSV (made here, in a
// temp dir) into the embedded store, and `byner indicators` on the same file: wall time, CPU time, rows/s and peak
// RSS of each child process, next to same-run references: reading the file's lines (the floor of any reader) and
// `byner generate` of N ticks into an empty store (the store's write floor). Runs the built CLI (dist/).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { childEnv, ROOT } from '../test/helpers/cli.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const arg = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback;
const ROWS = arg('--rows', 1_000_000);
const REPEATS = arg('--repeats', 3);
const GOAL_ROWS_PER_S = 200_000;
const GOAL_PEAK_MB = 300;
const log = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);

const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
const PROBE = join(ROOT, 'bench', 'usage-probe.mjs');

/** The reference reader: the file's lines counted, nothing parsed (what any line-based reader pays at least). */
const READ_LINES = `
import { createReadStream } from 'node:fs';
let rest = '', lines = 0;
for await (const chunk of createReadStream(process.argv[1], { encoding: 'utf8', highWaterMark: 1 << 20 })) {
  const s = rest + chunk;
  let start = 0;
  for (let nl = s.indexOf('\\n'); nl >= 0; nl = s.indexOf('\\n', start)) { lines++; start = nl + 1; }
  rest = s.slice(start);
}
if (lines === 0) process.exitCode = 1;`;

/** Builds dist/ with tsc when a source file is newer than dist/cli/main.js (the benchmark runs the built CLI). */
function ensureBuilt(): void {
  const built = statSync(MAIN, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const newest = spawnSync('find', [join(ROOT, 'src'), '-name', '*.ts', '-newermt', `@${built / 1000}`], {
    encoding: 'utf8',
  }).stdout.trim();
  if (built > 0 && newest === '') return;
  log('building dist/ (tsc) …');
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('tsc failed: run npm run build and fix the errors');
}

/** A CSV of `rows` float prices (a random walk, 4 decimals) with irregularly spaced ISO timestamps. */
function writeCsv(file: string, rows: number): number {
  const fd = openSync(file, 'w');
  let s = 'timestamp,price\n';
  let price = 100;
  let x = 12345;
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < rows; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    price += (x / 2 ** 32 - 0.5) * 0.2;
    s += `${new Date(t0 + i * 1000 + (i % 10) * 37).toISOString()},${price.toFixed(4)}\n`;
    if (s.length > 1 << 20) {
      writeSync(fd, s);
      s = '';
    }
  }
  writeSync(fd, s);
  closeSync(fd);
  return statSync(file).size;
}

interface Run {
  seconds: number;
  cpuSeconds: number;
  peakMb: number;
}

/** Runs `node --import usage-probe.mjs …argv` to its end; its wall time, CPU time and peak RSS. */
function run(argv: string[], dir: string): Promise<Run> {
  const usageFile = join(dir, `usage-${process.hrtime.bigint()}`);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', PROBE, ...argv], {
      cwd: dir,
      env: childEnv({ BYNER_BENCH_USAGE: usageFile }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`${argv.join(' ')} exited with ${code}\n${stderr}`));
      else {
        const usage = JSON.parse(readFileSync(usageFile, 'utf8'));
        resolve({ seconds, cpuSeconds: usage.cpuSeconds, peakMb: usage.peakRssBytes / 2 ** 20 });
      }
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (runs: Run[]) => ({
  seconds: Number(median(runs.map((r) => r.seconds)).toFixed(2)),
  cpu_seconds: Number(median(runs.map((r) => r.cpuSeconds)).toFixed(2)),
  peak_mb: Math.round(Math.max(...runs.map((r) => r.peakMb))),
});

ensureBuilt();
const dir = mkdtempSync(join(os.tmpdir(), 'byner-bench-import-'));
try {
  const csv = join(dir, 'prices.csv');
  const bytes = writeCsv(csv, ROWS);
  log(`${ROWS} rows, ${(bytes / 1e6).toFixed(1)} MB CSV; ${REPEATS} runs each, interleaved`);
  const runs: Record<'read' | 'import' | 'generate' | 'indicators', Run[]> = {
    read: [],
    import: [],
    generate: [],
    indicators: [],
  };
  for (let r = 0; r < REPEATS; r++) {
    const store = (name: string) => ['--data-dir', join(dir, `${name}-${r}`), '--log-dir', 'none', '-q'];
    runs.read.push(await run(['--input-type=module', '-e', READ_LINES, csv], dir));
    runs.import.push(await run([MAIN, 'import', csv, '--stream', 'bench', ...store('import')], dir));
    runs.generate.push(
      await run([MAIN, 'generate', '--ticks', String(ROWS), '--stream', 'bench', ...store('gen')], dir),
    );
    runs.indicators.push(await run([MAIN, 'indicators', csv, '--log-dir', 'none', '-q'], dir));
    rmSync(join(dir, `import-${r}`), { recursive: true, force: true });
    rmSync(join(dir, `gen-${r}`), { recursive: true, force: true });
  }
  const read = summary(runs.read);
  const imp = summary(runs.import);
  const gen = summary(runs.generate);
  const ind = summary(runs.indicators);
  const result = {
    rows: ROWS,
    csv_mb: Number((bytes / 1e6).toFixed(1)),
    import: { ...imp, rows_per_s: Math.round(ROWS / imp.seconds) },
    indicators: { ...ind, rows_per_s: Math.round(ROWS / ind.seconds) },
    reference_read_lines: { ...read, rows_per_s: Math.round(ROWS / read.seconds) },
    reference_generate_into_store: { ...gen, ticks_per_s: Math.round(ROWS / gen.seconds) },
    import_over_read_lines: Number((imp.seconds / read.seconds).toFixed(2)),
    import_over_generate: Number((imp.seconds / gen.seconds).toFixed(2)),
    indicators_over_read_lines: Number((ind.seconds / read.seconds).toFixed(2)),
    import_rows_per_cpu_s: Math.round(ROWS / imp.cpu_seconds),
    goal_import_rows_per_s: GOAL_ROWS_PER_S,
    goal_import_peak_mb: GOAL_PEAK_MB,
    cores: os.availableParallelism(),
    node: process.version,
    load_average: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
  if (json) console.log(JSON.stringify(result));
  else {
    const line = (what: string, x: ReturnType<typeof summary>, rate: string) =>
      log(
        `${what.padEnd(36)} ${x.seconds.toFixed(2).padStart(6)} s (CPU ${x.cpu_seconds.toFixed(2).padStart(5)} s) ${rate.padStart(17)}  peak ${x.peak_mb} MB`,
      );
    line('byner import (embedded store)', imp, `${result.import.rows_per_s} rows/s`);
    line('byner indicators', ind, `${result.indicators.rows_per_s} rows/s`);
    line('reference: read the lines', read, `${result.reference_read_lines.rows_per_s} rows/s`);
    line(
      'reference: byner generate → store',
      gen,
      `${result.reference_generate_into_store.ticks_per_s} ticks/s`,
    );
    log(
      `import = ${result.import_over_read_lines}× reading the lines, ${result.import_over_generate}× generate; indicators = ${result.indicators_over_read_lines}× reading the lines`,
    );
    log(
      `goals: import ≥ ${GOAL_ROWS_PER_S} rows/s (${result.import.rows_per_s}; ${result.import_rows_per_cpu_s} per CPU second), peak RSS ≤ ${GOAL_PEAK_MB} MB (${imp.peak_mb}); ${result.cores} cores, Node ${result.node}, load ${result.load_average.join(' ')}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
