// C (+)= A·B on row-major f32 matrices, A read through strides (so Aᵀ·B needs no copy): scalar reference and a
// register-blocked f32x4 kernel (4×8 block of C in eight registers). Leaves Bᵀ cases to transpose() and shapes to TS.

export const KC: i32 = 256; // k-panel length: keeps the 8-column panel of B in L1 while the rows of A stream by

export function at(p: usize, idx: i32): usize {
  return p + ((<usize>idx) << 2);
}

/**
 * Reference: C[i,j] = (accumulate ? C[i,j] : 0) + Σ_k A[i,k]·B[k,j], with A[i,k] = a[i·sai + k·sak],
 * B[k,j] = b[k·ldb + j], C[i,j] = c[i·ldc + j]. NN: sai = lda, sak = 1. TN (Aᵀ·B, A stored K×M): sai = 1, sak = lda.
 */
export function gemmScalar(
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
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = accumulate ? load<f32>(at(c, i * ldc + j)) : 0;
      for (let k = 0; k < K; k++) s += load<f32>(at(a, i * sai + k * sak)) * load<f32>(at(b, k * ldb + j));
      store<f32>(at(c, i * ldc + j), s);
    }
  }
}

function block4x8(
  c: usize,
  a: usize,
  b: usize,
  K: i32,
  sai: i32,
  sak: i32,
  ldb: i32,
  ldc: i32,
  acc: bool,
): void {
  let c00 = f32x4.splat(0),
    c01 = f32x4.splat(0),
    c10 = f32x4.splat(0),
    c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0),
    c21 = f32x4.splat(0),
    c30 = f32x4.splat(0),
    c31 = f32x4.splat(0);
  const sa = (<usize>sai) << 2;
  const sk = (<usize>sak) << 2;
  const sb = (<usize>ldb) << 2;
  let pa = a;
  let pb = b;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const a0 = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a0, b0));
    c01 = f32x4.add(c01, f32x4.mul(a0, b1));
    const a1 = v128.load32_splat(pa + sa);
    c10 = f32x4.add(c10, f32x4.mul(a1, b0));
    c11 = f32x4.add(c11, f32x4.mul(a1, b1));
    const a2 = v128.load32_splat(pa + 2 * sa);
    c20 = f32x4.add(c20, f32x4.mul(a2, b0));
    c21 = f32x4.add(c21, f32x4.mul(a2, b1));
    const a3 = v128.load32_splat(pa + 3 * sa);
    c30 = f32x4.add(c30, f32x4.mul(a3, b0));
    c31 = f32x4.add(c31, f32x4.mul(a3, b1));
    pa += sk;
    pb += sb;
  }
  const sc = (<usize>ldc) << 2;
  const r0 = c,
    r1 = c + sc,
    r2 = c + 2 * sc,
    r3 = c + 3 * sc;
  if (acc) {
    c00 = f32x4.add(c00, v128.load(r0));
    c01 = f32x4.add(c01, v128.load(r0, 16));
    c10 = f32x4.add(c10, v128.load(r1));
    c11 = f32x4.add(c11, v128.load(r1, 16));
    c20 = f32x4.add(c20, v128.load(r2));
    c21 = f32x4.add(c21, v128.load(r2, 16));
    c30 = f32x4.add(c30, v128.load(r3));
    c31 = f32x4.add(c31, v128.load(r3, 16));
  }
  v128.store(r0, c00);
  v128.store(r0, c01, 16);
  v128.store(r1, c10);
  v128.store(r1, c11, 16);
  v128.store(r2, c20);
  v128.store(r2, c21, 16);
  v128.store(r3, c30);
  v128.store(r3, c31, 16);
}

function block4x4(
  c: usize,
  a: usize,
  b: usize,
  K: i32,
  sai: i32,
  sak: i32,
  ldb: i32,
  ldc: i32,
  acc: bool,
): void {
  let c0 = f32x4.splat(0),
    c1 = f32x4.splat(0),
    c2 = f32x4.splat(0),
    c3 = f32x4.splat(0);
  const sa = (<usize>sai) << 2;
  const sk = (<usize>sak) << 2;
  const sb = (<usize>ldb) << 2;
  let pa = a;
  let pb = b;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(pb);
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), b0));
    c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(pa + sa), b0));
    c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(pa + 2 * sa), b0));
    c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(pa + 3 * sa), b0));
    pa += sk;
    pb += sb;
  }
  const sc = (<usize>ldc) << 2;
  const r0 = c,
    r1 = c + sc,
    r2 = c + 2 * sc,
    r3 = c + 3 * sc;
  if (acc) {
    c0 = f32x4.add(c0, v128.load(r0));
    c1 = f32x4.add(c1, v128.load(r1));
    c2 = f32x4.add(c2, v128.load(r2));
    c3 = f32x4.add(c3, v128.load(r3));
  }
  v128.store(r0, c0);
  v128.store(r1, c1);
  v128.store(r2, c2);
  v128.store(r3, c3);
}

/** One row of C, 16 then 4 then 1 columns at a time (matrix–vector case: single-window forecasts). */
function row1(c: usize, a: usize, b: usize, N: i32, K: i32, sak: i32, ldb: i32, acc: bool): void {
  const sk = (<usize>sak) << 2;
  const sb = (<usize>ldb) << 2;
  let j = 0;
  for (; j + 16 <= N; j += 16) {
    let c0 = f32x4.splat(0),
      c1 = f32x4.splat(0),
      c2 = f32x4.splat(0),
      c3 = f32x4.splat(0);
    let pa = a;
    let pb = at(b, j);
    for (let k = 0; k < K; k++) {
      const av = v128.load32_splat(pa);
      c0 = f32x4.add(c0, f32x4.mul(av, v128.load(pb)));
      c1 = f32x4.add(c1, f32x4.mul(av, v128.load(pb, 16)));
      c2 = f32x4.add(c2, f32x4.mul(av, v128.load(pb, 32)));
      c3 = f32x4.add(c3, f32x4.mul(av, v128.load(pb, 48)));
      pa += sk;
      pb += sb;
    }
    const pc = at(c, j);
    if (acc) {
      c0 = f32x4.add(c0, v128.load(pc));
      c1 = f32x4.add(c1, v128.load(pc, 16));
      c2 = f32x4.add(c2, v128.load(pc, 32));
      c3 = f32x4.add(c3, v128.load(pc, 48));
    }
    v128.store(pc, c0);
    v128.store(pc, c1, 16);
    v128.store(pc, c2, 32);
    v128.store(pc, c3, 48);
  }
  for (; j + 4 <= N; j += 4) {
    let c0 = f32x4.splat(0);
    let pa = a;
    let pb = at(b, j);
    for (let k = 0; k < K; k++) {
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
      pa += sk;
      pb += sb;
    }
    const pc = at(c, j);
    if (acc) c0 = f32x4.add(c0, v128.load(pc));
    v128.store(pc, c0);
  }
  for (; j < N; j++) {
    let s: f32 = 0;
    let pa = a;
    let pb = at(b, j);
    for (let k = 0; k < K; k++) {
      s += load<f32>(pa) * load<f32>(pb);
      pa += sk;
      pb += sb;
    }
    const pc = at(c, j);
    store<f32>(pc, acc ? load<f32>(pc) + s : s);
  }
}

/** Same contract as gemmScalar; 4×8 register blocks, then 4×4, then rows one by one, k in panels of KC. */
export function gemmSimd(
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
  if (K === 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(at(c, i * ldc), 0, (<usize>N) << 2);
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const acc = accumulate || k0 > 0;
    const ak = at(a, k0 * sak);
    const bk = at(b, k0 * ldb);
    const M4 = M & ~3;
    let j = 0;
    for (; j + 8 <= N; j += 8) {
      for (let i = 0; i < M4; i += 4) {
        block4x8(at(c, i * ldc + j), at(ak, i * sai), at(bk, j), kc, sai, sak, ldb, ldc, acc);
      }
    }
    for (; j + 4 <= N; j += 4) {
      for (let i = 0; i < M4; i += 4) {
        block4x4(at(c, i * ldc + j), at(ak, i * sai), at(bk, j), kc, sai, sak, ldb, ldc, acc);
      }
    }
    if (j < N) {
      for (let i = 0; i < M4; i++)
        row1(at(c, i * ldc + j), at(ak, i * sai), at(bk, j), N - j, kc, sak, ldb, acc);
    }
    for (let i = M4; i < M; i++) row1(at(c, i * ldc), at(ak, i * sai), bk, N, kc, sak, ldb, acc);
  }
}

/** out (C, R) = inp (R, C)ᵀ. */
export function transpose(out: usize, inp: usize, R: i32, C: i32): void {
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) store<f32>(at(out, c * R + r), load<f32>(at(inp, r * C + c)));
  }
}
