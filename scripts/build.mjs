// Build: TypeScript → dist/ (tsc), then every extra step registered below (WASM kernels, dashboard assets).
// Runs as `prepare`, so a fresh clone works after `npm install` alone. Steps print what they do; any failure exits 1.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

/** Each step: a name and a command. Later issues add steps here (kernels before tsc, assets after). */
const steps = [];
const optional = (file) => existsSync(join(root, file));
if (optional('scripts/build-wasm.mjs'))
  steps.push(['wasm kernels', process.execPath, ['scripts/build-wasm.mjs']]);
steps.push(['typescript', bin('tsc'), ['-p', 'tsconfig.build.json']]);
if (optional('scripts/build-dashboard.mjs'))
  steps.push(['dashboard assets', process.execPath, ['scripts/build-dashboard.mjs']]);

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
