// Exported kernels of the byner LSTM engine: LSTM / dense / dropout / MSE / Adam over raw pointers into this memory.
// Leaves memory layout, batching, validation and threads to the TypeScript engine in src/engine (it trusts us, we trust it).

import { cellBackwardScalar, cellBackwardSimd, cellForwardScalar, cellForwardSimd } from './cell';
import { at, gemmScalar, gemmSimd, transpose } from './gemm';
import { gemmSkipZeroColumns, gemmTNKeptRows, invalidateSkipState, skipStateBytes } from './sparse';

export { gemmScalar, gemmSimd, gemmSkipZeroColumns, gemmTNKeptRows, invalidateSkipState, skipStateBytes };

let simd: bool = true;
let skipZeros: bool = true;

/** Switch every kernel between the f32x4 variant (default) and the scalar reference. */
export function setSimd(on: bool): void {
  simd = on;
}

/** Switch the zero-skipping products (sparse.ts) on (default) or off; results are the same either way. */
export function setSkipZeros(on: bool): void {
  skipZeros = on;
}

/** First free byte after static data: the TS side lays out its regions from here. */
export function heapBase(): usize {
  return __heap_base;
}

/** gemmSimd, or gemmScalar after setSimd(false). */
function gemm(
  c: usize,
  a: usize,
  b: usize,
  M: i32,
  N: i32,
  K: i32,
  sai: i32,
  sak: i32,
  ldb: i32,
  ldc: i32,
  accumulate: bool,
): void {
  if (simd) gemmSimd(c, a, b, M, N, K, sai, sak, ldb, ldc, accumulate);
  else gemmScalar(c, a, b, M, N, K, sai, sak, ldb, ldc, accumulate);
}

/** C (M, N) (+)= A (M, K) · B (K, N), all dense row-major; with a skip state (sparse.ts), without A's zero columns. */
function product(
  c: usize,
  a: usize,
  b: usize,
  M: i32,
  N: i32,
  K: i32,
  accumulate: bool,
  st: usize,
  scratch: usize,
): void {
  if (st !== 0 && simd && skipZeros) gemmSkipZeroColumns(c, a, b, M, N, K, K, N, accumulate, st, scratch);
  else gemm(c, a, b, M, N, K, K, 1, N, N, accumulate);
}

/**
 * C (M, N) += Aᵀ · B with A stored (K, M), B (K, N); with a valid skip state over A's columns (the forward pass's),
 * only the rows of C that get more than 0 (sparse.ts).
 */
function productTN(
  c: usize,
  a: usize,
  b: usize,
  M: i32,
  N: i32,
  K: i32,
  st: usize,
  scratchA: usize,
  scratchC: usize,
): void {
  if (!(st !== 0 && simd && skipZeros && gemmTNKeptRows(c, a, b, M, N, K, st, scratchA, scratchC)))
    gemm(c, a, b, M, N, K, 1, M, N, N, true);
}

/**
 * Steps t0 ≤ t < t1 of one LSTM layer over a window, time-major (the steps before t0 already done; t0 = 0, t1 = T
 * and projectAll for the whole window). Keras semantics: z = x·W + hPrev·U + b, gates (i, f, ĉ, o),
 * c = f⊙cPrev + i⊙act(zĉ), h = o⊙act(c), zero initial state. Running a few steps at a time lets a layer run while
 * its input is still being produced (the two-thread forecast pipeline). With projectAll, the input projection x·W
 * of the whole window is one GEMM done at t0 = 0 (x must then be complete); otherwise each step projects its own
 * x_t. Either way every value is the same sum in the same order, so the results are the same bit for bit.
 */
export function lstmForwardRange(
  h: usize, // (T, B, H) out
  c: usize, // (T, B, H) out
  gates: usize, // (T, B, 4H) out: activated gates, kept for backward
  x: usize, // (T, B, C)
  W: usize, // (C, 4H)
  U: usize, // (H, 4H)
  bias: usize, // (4H)
  B: i32,
  T: i32,
  C: i32,
  H: i32,
  act: i32,
  t0: i32,
  t1: i32,
  projectAll: bool,
  stW: usize, // skip state for x·W (sparse.ts) when x is a ReLU layer's output, or 0
  stU: usize, // skip state for hPrev·U when act is ReLU, or 0
  scratch: usize, // (T·B, max(C, H)) when a skip state is given
): void {
  const G = 4 * H;
  if (projectAll && t0 === 0) product(gates, x, W, T * B, G, C, false, stW, scratch);
  for (let t = t0; t < t1; t++) {
    const gt = at(gates, t * B * G);
    const ht = at(h, t * B * H);
    const ct = at(c, t * B * H);
    const cPrev: usize = t > 0 ? at(c, (t - 1) * B * H) : 0;
    if (!projectAll) product(gt, at(x, t * B * C), W, B, G, C, false, stW, scratch);
    if (t > 0) product(gt, at(h, (t - 1) * B * H), U, B, G, H, true, stU, scratch);
    if (simd) cellForwardSimd(ht, ct, gt, cPrev, bias, B, H, act);
    else cellForwardScalar(ht, ct, gt, cPrev, bias, B, H, act, 0);
  }
}

/**
 * Backpropagation through time for lstmForwardRange over a whole window. ADDS into dW, dU, db; writes dx (if non-zero); clobbers dh.
 * With skip states (sparse.ts, simd only): stW / stU are the forward pass's (their skip lists are units whose
 * input to W / U was 0 in every row of this batch, so those rows of dW / dU get nothing); stWt / stUt are this
 * pass's own, for the zero columns of ∂L/∂z (gates of units that are off) in dz·Wᵀ and dz·Uᵀ.
 */
export function lstmBackward(
  dx: usize, // (T, B, C) out, or 0 when the input needs no gradient
  dW: usize, // (C, 4H) += ∂L/∂W
  dU: usize, // (H, 4H) += ∂L/∂U
  db: usize, // (4H) += ∂L/∂b
  dh: usize, // (T, B, H) in: ∂L/∂h_t from the layer above; overwritten with the full ∂L/∂h_t
  dz: usize, // (T, B, 4H) scratch: ∂L/∂z
  dcNext: usize, // (B, H) scratch
  ut: usize, // (4H, H) scratch: Uᵀ
  wt: usize, // (4H, C) scratch: Wᵀ (only if dx)
  x: usize, // (T, B, C)
  h: usize, // (T, B, H)
  c: usize, // (T, B, H)
  gates: usize, // (T, B, 4H) activated
  W: usize, // (C, 4H)
  U: usize, // (H, 4H)
  B: i32,
  T: i32,
  C: i32,
  H: i32,
  act: i32,
  stW: usize,
  stU: usize,
  stWt: usize,
  stUt: usize,
  scratchA: usize, // (T·B, max(C, 4H)) when any state is given
  scratchC: usize, // (max(C, H), 4H) when stW or stU is given
): void {
  const G = 4 * H;
  transpose(ut, U, H, G);
  invalidateSkipState(stUt);
  memory.fill(dcNext, 0, (<usize>(B * H)) << 2);
  for (let t = T - 1; t >= 0; t--) {
    const dht = at(dh, t * B * H);
    if (t < T - 1) {
      const dzn = at(dz, (t + 1) * B * G);
      product(dht, dzn, ut, B, H, G, true, stUt, scratchA);
    }
    const cPrev: usize = t > 0 ? at(c, (t - 1) * B * H) : 0;
    const gt = at(gates, t * B * G);
    if (simd) cellBackwardSimd(at(dz, t * B * G), dcNext, dht, gt, at(c, t * B * H), cPrev, B, H, act);
    else cellBackwardScalar(at(dz, t * B * G), dcNext, dht, gt, at(c, t * B * H), cPrev, B, H, act, 0);
  }
  // xᵀ·dz and h_{t−1}ᵀ·dz_t
  productTN(dW, x, dz, C, G, T * B, stW, scratchA, scratchC);
  if (T > 1) productTN(dU, h, at(dz, B * G), H, G, (T - 1) * B, stU, scratchA, scratchC);
  colSum(db, dz, T * B, G);
  if (dx !== 0) {
    transpose(wt, W, C, G);
    invalidateSkipState(stWt);
    product(dx, dz, wt, T * B, C, G, false, stWt, scratchA);
  }
}

/** y (B, N) = x (B, K) · W (K, N) + bias (N). */
export function denseForward(y: usize, x: usize, W: usize, bias: usize, B: i32, K: i32, N: i32): void {
  gemm(y, x, W, B, N, K, K, 1, N, N, false);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < N; j++)
      store<f32>(at(y, b * N + j), load<f32>(at(y, b * N + j)) + load<f32>(at(bias, j)));
  }
}

/** ADDS ∂L/∂W (K, N) and ∂L/∂b (N); writes dx (B, K) if non-zero, using wt (N, K) as scratch. */
export function denseBackward(
  dx: usize,
  dW: usize,
  db: usize,
  dy: usize,
  x: usize,
  W: usize,
  wt: usize,
  B: i32,
  K: i32,
  N: i32,
): void {
  gemm(dW, x, dy, K, N, B, 1, K, N, N, true);
  colSum(db, dy, B, N);
  if (dx !== 0) {
    transpose(wt, W, K, N);
    gemm(dx, dy, wt, B, K, N, N, 1, K, K, false);
  }
}

/** out (N) += Σ_rows a (R, N). */
function colSum(out: usize, a: usize, R: i32, N: i32): void {
  const N4 = N & ~3;
  for (let r = 0; r < R; r++) {
    const row = at(a, r * N);
    let j = 0;
    if (simd)
      for (; j < N4; j += 4) v128.store(at(out, j), f32x4.add(v128.load(at(out, j)), v128.load(at(row, j))));
    for (; j < N; j++) store<f32>(at(out, j), load<f32>(at(out, j)) + load<f32>(at(row, j)));
  }
}

/** Σ (y − target)² over n values (returned, f64) and dy = 2·scale·(y − target). Pass dy = 0 to skip the gradient. */
export function mseLoss(dy: usize, y: usize, target: usize, n: i32, scale: f32): f64 {
  let s: f64 = 0;
  for (let k = 0; k < n; k++) {
    const d = load<f32>(at(y, k)) - load<f32>(at(target, k));
    s += <f64>d * <f64>d;
    if (dy !== 0) store<f32>(at(dy, k), <f32>2 * scale * d);
  }
  return s;
}

/** out = a ⊙ b (n values): inverted dropout forward (b = mask) and backward. */
export function mulInto(out: usize, a: usize, b: usize, n: i32): void {
  let k = 0;
  if (simd)
    for (; k + 4 <= n; k += 4) v128.store(at(out, k), f32x4.mul(v128.load(at(a, k)), v128.load(at(b, k))));
  for (; k < n; k++) store<f32>(at(out, k), load<f32>(at(a, k)) * load<f32>(at(b, k)));
}

/** out += a (n values). */
export function addInto(out: usize, a: usize, n: i32): void {
  let k = 0;
  if (simd)
    for (; k + 4 <= n; k += 4) v128.store(at(out, k), f32x4.add(v128.load(at(out, k)), v128.load(at(a, k))));
  for (; k < n; k++) store<f32>(at(out, k), load<f32>(at(out, k)) + load<f32>(at(a, k)));
}

/**
 * Inverted-dropout mask of sample column b in a (T, B, H) block: keep with probability 1 − rate, value 1/(1 − rate).
 * The stream depends only on `seed` (the caller derives it from model seed, epoch, sample index and layer), so the
 * mask of a sample does not depend on which batch, shard or thread it lands in.
 */
export function dropoutMask(mask: usize, T: i32, B: i32, H: i32, b: i32, seed: u32, rate: f32): void {
  const scale: f32 = <f32>1 / (<f32>1 - rate);
  const H4 = simd ? H & ~3 : 0;
  const vscale = f32x4.splat(scale);
  const vrate = f32x4.splat(rate);
  const unit = f32x4.splat(5.9604644775390625e-8);
  let state: u32 = seed;
  for (let t = 0; t < T; t++) {
    const row = at(mask, (t * B + b) * H);
    // four consecutive states at once: the same stream, so the same mask bit for bit
    let vs = i32x4.add(i32x4.splat(state), i32x4.mul(i32x4(1, 2, 3, 4), i32x4.splat(0x9e3779b9)));
    const step = i32x4.splat(<i32>(<u32>0x9e3779b9 * 4));
    let j = 0;
    for (; j < H4; j += 4) {
      let z = vs;
      z = i32x4.mul(v128.xor(z, i32x4.shr_u(z, 16)), i32x4.splat(0x85ebca6b));
      z = i32x4.mul(v128.xor(z, i32x4.shr_u(z, 13)), i32x4.splat(0xc2b2ae35));
      z = v128.xor(z, i32x4.shr_u(z, 16));
      // z >>> 8 < 2²⁴ is the same number signed: convert_s is one instruction, convert_u ≈ 8 in V8
      const u = f32x4.mul(f32x4.convert_i32x4_s(i32x4.shr_u(z, 8)), unit);
      v128.store(at(row, j), v128.and(f32x4.ge(u, vrate), vscale));
      vs = i32x4.add(vs, step);
    }
    state += <u32>0x9e3779b9 * <u32>j;
    for (; j < H; j++) {
      state += 0x9e3779b9;
      let z = state;
      z = (z ^ (z >>> 16)) * 0x85ebca6b;
      z = (z ^ (z >>> 13)) * 0xc2b2ae35;
      z ^= z >>> 16;
      const u = <f32>(z >>> 8) * <f32>5.9604644775390625e-8; // [0, 1)
      store<f32>(at(row, j), u >= rate ? scale : 0);
    }
  }
}

/**
 * One Adam step over the whole flat parameter block, TF.js semantics (tfjs-core adam_optimizer.ts):
 * m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p + (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε) · (−lr).
 */
export function adamStep(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  omb1: f32,
  omb2: f32,
  omab1: f32,
  omab2: f32,
  eps: f32,
): void {
  let k = 0;
  if (simd) {
    const vb1 = f32x4.splat(beta1),
      vb2 = f32x4.splat(beta2),
      vo1 = f32x4.splat(omb1),
      vo2 = f32x4.splat(omb2);
    const va1 = f32x4.splat(omab1),
      va2 = f32x4.splat(omab2),
      ve = f32x4.splat(eps),
      vlr = f32x4.splat(-lr);
    for (; k + 4 <= n; k += 4) {
      const gk = v128.load(at(g, k));
      const mk = f32x4.add(f32x4.mul(v128.load(at(m, k)), vb1), f32x4.mul(gk, vo1));
      const vk = f32x4.add(f32x4.mul(v128.load(at(v, k)), vb2), f32x4.mul(f32x4.mul(gk, gk), vo2));
      v128.store(at(m, k), mk);
      v128.store(at(v, k), vk);
      const step = f32x4.div(f32x4.div(mk, va1), f32x4.add(f32x4.sqrt(f32x4.div(vk, va2)), ve));
      v128.store(at(p, k), f32x4.add(f32x4.mul(step, vlr), v128.load(at(p, k))));
    }
  }
  for (; k < n; k++) {
    const gk = load<f32>(at(g, k));
    const mk = load<f32>(at(m, k)) * beta1 + gk * omb1;
    const vk = load<f32>(at(v, k)) * beta2 + gk * gk * omb2;
    store<f32>(at(m, k), mk);
    store<f32>(at(v, k), vk);
    store<f32>(at(p, k), (mk / omab1 / (Mathf.sqrt(vk / omab2) + eps)) * -lr + load<f32>(at(p, k)));
  }
}

/** n values from p set to `value`. */
export function fill(p: usize, n: i32, value: f32): void {
  for (let k = 0; k < n; k++) store<f32>(at(p, k), value);
}

/** 1 when all n values are finite, else 0 (x − x is 0 for a finite x and NaN otherwise; NaN survives sums). */
export function allFinite(p: usize, n: i32): i32 {
  let k = 0;
  let acc = f32x4.splat(0);
  if (simd)
    for (; k + 4 <= n; k += 4) acc = f32x4.add(acc, f32x4.sub(v128.load(at(p, k)), v128.load(at(p, k))));
  let s: f32 =
    f32x4.extract_lane(acc, 0) +
    f32x4.extract_lane(acc, 1) +
    f32x4.extract_lane(acc, 2) +
    f32x4.extract_lane(acc, 3);
  for (; k < n; k++) s += load<f32>(at(p, k)) - load<f32>(at(p, k));
  return s === 0 ? 1 : 0;
}
