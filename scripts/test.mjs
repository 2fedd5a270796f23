// Test runner: finds every *.test.ts under src/ and test/ and runs them with Node's own test runner (via tsx).
// `npm test -- src/indicators` runs only the files under the given paths. Suites that need MongoDB decide for
// themselves whether they can run (MONGODB_URI or a ferretdb binary) and say so when they skip.
import { spawnSync } from 'node:child_process';
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
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    // A test never hangs CI: each fails after 5 minutes, and a file whose tests are done exits even if a
    // child process or socket it forgot is still open.
    '--test-timeout=300000',
    '--test-force-exit',
    ...files,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, BYNER_LOG_DIR: process.env.BYNER_LOG_DIR ?? 'none' },
  },
);
process.exit(r.status ?? 1);
