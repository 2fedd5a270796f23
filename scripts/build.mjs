// Build: the WASM kernels and their generated TypeScript type, TypeScript → dist/ (tsc: code and declaration files),
// the dashboard assets. dist/ starts empty, so no file of a deleted source is left over (or packed by `npm pack`).
// Runs as `prepare`, so a fresh clone works after `npm install` alone. Steps print what they do; any failure exits 1.
import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

/** Each step: a name and a command; the kernels first, since tsc checks the code against their generated type. */
const steps = [
  ['wasm kernels', process.execPath, ['scripts/build-wasm.mjs']],
  ['typescript', bin('tsc'), ['-p', 'tsconfig.build.json']],
  ['dashboard assets', process.execPath, ['scripts/build-dashboard.mjs']],
];

rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const [name, cmd, args] of steps) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(
      `byner build: step "${name}" failed (exit ${r.status ?? r.signal}). Fix the error above, then run: npm run build`,
    );
    process.exit(1);
  }
  console.error(`byner build: ${name} ok (${Date.now() - started} ms)`);
}
// The command itself: npm makes an installed package's bin executable, but `npx byner` in this folder runs the file
// tsc just wrote (mode 644 otherwise).
chmodSync(join(root, 'dist', 'cli', 'main.js'), 0o755);
