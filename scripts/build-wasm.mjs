// Build step "wasm kernels": compiles the AssemblyScript engine kernels (assembly/) with SIMD, -O3, to dist/wasm/lstm.wasm.
// Leaves the TypeScript build to scripts/build.mjs; src/engine/wasm.ts and dist/engine/wasm.js both load this one file.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'wasm', 'lstm.wasm');
mkdirSync(dirname(out), { recursive: true });
const asc = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'asc.cmd' : 'asc');
const args = [
  'assembly/index.ts',
  '--outFile',
  out,
  '-O3',
  '--enable',
  'simd',
  '--runtime',
  'stub', // kernels never allocate: the TS side owns the memory layout
  '--noAssert',
  '--disableWarning',
  '112', // v128 in signatures of internal helpers: fine, the host never sees them
];
const r = spawnSync(asc, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`build-wasm: asc failed (exit ${r.status ?? r.signal})`);
  process.exit(1);
}
console.error(`build-wasm: wrote ${out}`);
