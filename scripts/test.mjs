// Test runner: finds every *.test.ts under src/ and test/ and runs them with Node's own test runner (via tsx).
// `npm test -- src/indicators` runs only the files under the given paths. Suites that need MongoDB decide for
// themselves whether they can run (MONGODB_URI or a ferretdb binary) and say so when they skip. The files run two
// at a time beside the one long training run; the cluster test then runs alone.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : walk(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });

const args = process.argv.slice(2);
const roots = args.length > 0 ? args.map((a) => join(root, a)) : [join(root, 'src'), join(root, 'test')];
const files = roots
  .flatMap((r) =>
    statSync(r, { throwIfNoEntry: false })?.isDirectory()
      ? walk(r)
      : statSync(r, { throwIfNoEntry: false })
        ? [r]
        : [],
  )
  .map((f) => relative(root, f))
  .sort();
if (files.length === 0) {
  console.error(
    `byner test: no *.test.ts files under ${roots.map((r) => relative(root, r) || '.').join(', ')}`,
  );
  process.exit(1);
}
// The runner does not use --test-force-exit: with it, Node's runner can drop the last verdicts of a test file and
// still exit 0 (nodejs/node#64833), and it can spin for good reporting a failed deepEqual of large arrays. A test
// file that leaves a handle open would keep the run alive instead, so the whole run has a watchdog that kills the
// runner's process group and fails loudly: BYNER_TEST_WATCHDOG_MIN minutes (default 30; a full run takes 6 to 8).
const watchdogMin = Number(process.env.BYNER_TEST_WATCHDOG_MIN ?? 30);
if (!(watchdogMin > 0)) {
  // setTimeout would take NaN or ≤ 0 as "at once" and kill every run
  console.error(
    `byner test: BYNER_TEST_WATCHDOG_MIN must be a number of minutes > 0; received "${process.env.BYNER_TEST_WATCHDOG_MIN}". ` +
      'Unset it for the default (30) or set e.g. BYNER_TEST_WATCHDOG_MIN=60.',
  );
  process.exit(2);
}
// The suite's one full-size training run (the default job's LSTM: ≈ 90 s on two calm cores, ten minutes or more
// on busy ones) runs beside the other files with 40 minutes; every other file and test fails after 5 minutes.
const LONG = new Set(['test/ladder-default.test.ts']);
// The cluster test asserts that a killed process's streams go on within the lease time. Its 7 processes and the
// FerretDB they write to take the two cores of a CI machine by themselves, so it runs alone, after the others:
// beside them the new owners' first reads and writes wait their turn for seconds.
const ALONE = new Set(['test/cluster.test.ts']);
const phases = [
  [
    { files: files.filter((f) => !LONG.has(f) && !ALONE.has(f)), timeoutMs: 300_000, concurrency: 2 },
    { files: files.filter((f) => LONG.has(f)), timeoutMs: 40 * 60_000, concurrency: 1 },
  ],
  [{ files: files.filter((f) => ALONE.has(f)), timeoutMs: 300_000, concurrency: 1 }],
]
  .map((runs) => runs.filter((r) => r.files.length > 0))
  .filter((runs) => runs.length > 0);
const children = [];
const spawnRun = (r) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${r.concurrency}`,
      '--test-reporter=spec',
      // A test never hangs CI: it fails after its timeout (and the watchdog ends a file that never exits).
      `--test-timeout=${r.timeoutMs}`,
      ...r.files,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      detached: true, // its own process group, so that the watchdog can kill the test files' processes too
      env: { ...process.env, BYNER_LOG_DIR: process.env.BYNER_LOG_DIR ?? 'none' },
    },
  );
  children.push(child);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1))); // null: killed by a signal
};
const killGroup = () => {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
};
const watchdog = setTimeout(() => {
  console.error(
    `byner test: the test run did not finish in ${watchdogMin} minutes; killed it. Expected a run of a few minutes: ` +
      'look above for the last test that started (a failed deepEqual of large arrays can stall the runner); ' +
      'set BYNER_TEST_WATCHDOG_MIN to allow longer.',
  );
  killGroup();
  process.exit(1);
}, watchdogMin * 60_000);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killGroup();
    process.exit(130);
  });
}
let worst = 0;
for (const [i, runs] of phases.entries()) {
  if (i > 0) console.log(`\nbyner test: running ${runs.flatMap((r) => r.files).join(', ')} alone\n`);
  for (const code of await Promise.all(runs.map(spawnRun))) worst = Math.max(worst, code);
}
clearTimeout(watchdog);
process.exit(worst);
