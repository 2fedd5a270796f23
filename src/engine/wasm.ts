// Loads the AssemblyScript kernels (dist/wasm/lstm.wasm, built by scripts/build-wasm.mjs) and types their exports.
// Leaves memory layout and every shape decision to net.ts: the kernels trust their callers.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BynerError } from '../errors.js';

/** C (M, N) (+)= A (M, K) · B (K, N): the dispatching kernel, its scalar reference and its SIMD variant. */
export type GemmKernel = (
  c: number,
  a: number,
  b: number,
  M: number,
  N: number,
  K: number,
  sai: number,
  sak: number,
  ldb: number,
  ldc: number,
  accumulate: number,
) => void;

/** Raw kernel exports; pointers are byte offsets into `memory`, sizes are element counts. */
export interface Kernels {
  memory: WebAssembly.Memory;
  setSimd(on: number): void;
  setSkipZeros(on: number): void;
  heapBase(): number;
  gemm: GemmKernel;
  gemmScalar: GemmKernel;
  gemmSimd: GemmKernel;
  transpose(out: number, inp: number, R: number, C: number): void;
  /** Bytes of a skip-state block (assembly/sparse.ts) for a K × N weight matrix. */
  skipStateBytes(K: number, N: number): number;
  gemmSkipZeroColumns(
    c: number,
    a: number,
    b: number,
    M: number,
    N: number,
    K: number,
    lda: number,
    ldc: number,
    accumulate: number,
    st: number,
    scratch: number,
  ): number;
  gemmTNKeptRows(
    c: number,
    a: number,
    b: number,
    M: number,
    N: number,
    K: number,
    st: number,
    scratchA: number,
    scratchC: number,
  ): number;
  invalidateSkipState(st: number): void;
  allFinite(p: number, n: number): number;
  lstmForwardRange(
    h: number,
    c: number,
    gates: number,
    x: number,
    W: number,
    U: number,
    bias: number,
    B: number,
    T: number,
    C: number,
    H: number,
    act: number,
    t0: number,
    t1: number,
    projectAll: number,
    stW: number,
    stU: number,
    scratch: number,
  ): void;
  lstmBackward(
    dx: number,
    dW: number,
    dU: number,
    db: number,
    dh: number,
    dz: number,
    dcNext: number,
    ut: number,
    wt: number,
    x: number,
    h: number,
    c: number,
    gates: number,
    W: number,
    U: number,
    B: number,
    T: number,
    C: number,
    H: number,
    act: number,
    stW: number,
    stU: number,
    stWt: number,
    stUt: number,
    scratchA: number,
    scratchC: number,
  ): void;
  denseForward(y: number, x: number, W: number, bias: number, B: number, K: number, N: number): void;
  denseBackward(
    dx: number,
    dW: number,
    db: number,
    dy: number,
    x: number,
    W: number,
    wt: number,
    B: number,
    K: number,
    N: number,
  ): void;
  colSum(out: number, a: number, R: number, N: number): void;
  mseLoss(dy: number, y: number, target: number, n: number, scale: number): number;
  mulInto(out: number, a: number, b: number, n: number): void;
  addInto(out: number, a: number, n: number): void;
  dropoutMask(mask: number, T: number, B: number, H: number, b: number, seed: number, rate: number): void;
  adamStep(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    omb1: number,
    omb2: number,
    omab1: number,
    omab2: number,
    eps: number,
  ): void;
  fill(p: number, n: number, value: number): void;
}

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

/** A fresh kernel instance with its own memory (one per model and per worker thread). */
export function instantiateKernels(): Kernels {
  const instance = new WebAssembly.Instance(wasmModule(), {});
  return instance.exports as unknown as Kernels;
}
