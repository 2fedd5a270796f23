// Loads the AssemblyScript kernels (dist/wasm/lstm.wasm, built by scripts/build-wasm.mjs) and checks their exports
// against the type the same build generated (kernels.generated.ts). Leaves memory layout and every shape decision
// to net.ts: the kernels trust their callers.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BynerError } from '../errors.js';
import { KERNEL_ARITY, type KernelExports } from './kernels.generated.js';

/** src/engine and dist/engine sit at the same depth, so this resolves to <root>/dist/wasm/lstm.wasm from both. */
export const WASM_URL = new URL('../../dist/wasm/lstm.wasm', import.meta.url);

let compiled: WebAssembly.Module | undefined;

function wasmModule(): WebAssembly.Module {
  if (compiled) return compiled;
  let bytes: Buffer;
  try {
    bytes = readFileSync(WASM_URL);
  } catch (cause) {
    throw new BynerError('BYNER_MODEL', 'the LSTM kernels are not built', {
      expected: `a WebAssembly file at ${fileURLToPath(WASM_URL)}`,
      received: 'no such file',
      hint: 'run: npm run build (or node scripts/build-wasm.mjs)',
      cause,
    });
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  compiled = new WebAssembly.Module(copy);
  return compiled;
}

/** Exported functions whose name or parameter count differ from the generated type's (empty when they match). */
export function kernelMismatches(exports: WebAssembly.Exports): string[] {
  const wrong: string[] = [];
  if (!(exports.memory instanceof WebAssembly.Memory)) wrong.push('memory: missing');
  for (const [name, arity] of Object.entries(KERNEL_ARITY)) {
    const f = exports[name];
    if (typeof f !== 'function') wrong.push(`${name}: missing`);
    else if (f.length !== arity) wrong.push(`${name}: ${f.length} parameters, not ${arity}`);
  }
  const known = new Set<string>(['memory', ...Object.keys(KERNEL_ARITY)]);
  for (const name of Object.keys(exports)) if (!known.has(name)) wrong.push(`${name}: not in the type`);
  return wrong;
}

function isKernelExports(exports: WebAssembly.Exports): exports is WebAssembly.Exports & KernelExports {
  return kernelMismatches(exports).length === 0;
}

/** A fresh kernel instance with its own memory (one per model and per worker thread). */
export function instantiateKernels(): KernelExports {
  const { exports } = new WebAssembly.Instance(wasmModule(), {});
  if (!isKernelExports(exports)) {
    throw new BynerError('BYNER_MODEL', 'the LSTM kernels are not the ones this code was built with', {
      expected: `the exports of src/engine/kernels.generated.ts in ${fileURLToPath(WASM_URL)}`,
      received: kernelMismatches(exports).join('; '),
      hint: 'run: npm run build (it compiles assembly/ and regenerates the type together)',
    });
  }
  return exports;
}
