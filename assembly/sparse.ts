// Products with a ReLU layer's output, leaving out the units that are off. Leaves the GEMM itself to gemm.ts.
//
// A ReLU LSTM has units whose h is exactly 0 for every window of a batch (≈ 15–20% of the seed network's units
// from the first epochs on, most of them for good). Their rows of the next weight matrix only ever add 0·w, so
// C (+)= A·B is computed as A'·B' over the other k: A' gathers the kept columns of A, B' the kept rows of B (cached
// in a state block until the parameters change). Kept terms are summed in the same order and a 0 term never
// changes an accumulator (which starts at +0 and is never −0), so C equals the dense product bit for bit (the
// kept k of each of gemm's k-panels are summed as one panel, as there). B must be finite (0·∞ would be NaN): it is
// always a weight matrix here. Backward uses the same states for ∂L/∂z (an off unit's four gates get 0) and for
// the rows of ∂W that only collect 0 (gemmTNKeptRows).
//
// State block for a (K × N) B, in bytes from st: [valid, skipped count, kept runs, _] i32; skip list (K i32);
// keep list (K i32); runs of consecutive kept k as (first k, length) pairs (K pairs at most); B' (K × N) f32.
// The skip set starts as the columns of A that are 0 in every row, and only shrinks (a skipped unit that turns on
// is put back) until the owner invalidates the block (new parameters): rebuilds are rare, so B' is reused.
import { at, gemmSimd, KC } from './gemm';

const HEADER: usize = 16;

function listBytes(K: i32): usize {
  return <usize>((16 * K + 15) & ~15);
}

// Where the parts of a state block for K rows are (see the layout above).
function skipList(st: usize): usize {
  return st + HEADER;
}
function keepList(st: usize, K: i32): usize {
  return st + HEADER + ((<usize>K) << 2);
}
function runList(st: usize, K: i32): usize {
  return st + HEADER + ((<usize>K) << 3);
}
function packedRows(st: usize, K: i32): usize {
  return st + HEADER + listBytes(K);
}

/** Bytes of a state block for a K × N matrix (the TS side allocates it). */
export function skipStateBytes(K: i32, N: i32): i32 {
  return <i32>HEADER + <i32>listBytes(K) + 4 * K * N;
}

/** Below this share of skippable k the gathers cost more than they save: use the dense product. */
const MIN_SKIP_NUM: i32 = 1;
const MIN_SKIP_DEN: i32 = 16;

function columnIsZero(a: usize, M: i32, lda: i32, k: i32): bool {
  let p = at(a, k);
  const step = (<usize>lda) << 2;
  for (let i = 0; i < M; i++) {
    if (load<f32>(p) !== 0) return false;
    p += step;
  }
  return true;
}

/** dst[0..n) = the kept columns of one row `src` (runs of consecutive k, 4 at a time). */
function gatherRow(dst: usize, src: usize, runs: usize, nruns: i32): void {
  let d = dst;
  for (let r = 0; r < nruns; r++) {
    const p = runs + ((<usize>r) << 3);
    let s = at(src, load<i32>(p));
    const len = load<i32>(p, 4);
    let j = 0;
    for (; j + 4 <= len; j += 4) {
      v128.store(d, v128.load(s));
      d += 16;
      s += 16;
    }
    for (; j < len; j++) {
      store<f32>(d, load<f32>(s));
      d += 4;
      s += 4;
    }
  }
}

/** Checks the skip set against this A (shrinking it when a skipped column is not 0) and rebuilds what changed. */
function refresh(st: usize, a: usize, b: usize, M: i32, N: i32, K: i32, lda: i32): void {
  const skip = skipList(st);
  const keep = keepList(st, K);
  const runs = runList(st, K);
  const packed = packedRows(st, K);
  let ns = 0;
  if (load<i32>(st) !== 0) {
    const had = load<i32>(st, 4);
    for (let q = 0; q < had; q++) {
      const k = load<i32>(skip + ((<usize>q) << 2));
      if (columnIsZero(a, M, lda, k)) {
        store<i32>(skip + ((<usize>ns) << 2), k);
        ns++;
      }
    }
    if (ns === had) return;
  } else {
    for (let k = 0; k < K; k++) {
      if (columnIsZero(a, M, lda, k)) {
        store<i32>(skip + ((<usize>ns) << 2), k);
        ns++;
      }
    }
  }
  // keep list = complement of the (ascending) skip list, its runs, and B' = the kept rows of B
  let q = 0;
  let n = 0;
  let nr = 0;
  const row = (<usize>N) << 2;
  for (let k = 0; k < K; k++) {
    if (q < ns && load<i32>(skip + ((<usize>q) << 2)) === k) {
      q++;
      continue;
    }
    store<i32>(keep + ((<usize>n) << 2), k);
    memory.copy(packed + <usize>n * row, b + <usize>k * row, row);
    const last = runs + ((<usize>(nr - 1)) << 3);
    if (nr > 0 && load<i32>(last) + load<i32>(last, 4) === k) store<i32>(last, load<i32>(last, 4) + 1, 4);
    else {
      store<i32>(runs + ((<usize>nr) << 3), k);
      store<i32>(runs + ((<usize>nr) << 3), 1, 4);
      nr++;
    }
    n++;
  }
  store<i32>(st, 1);
  store<i32>(st, ns, 4);
  store<i32>(st, nr, 8);
}

/**
 * C (M × N, row stride ldc) (+)= A (M × K, row stride lda) · B (K × N, row stride N), leaving out the k in the
 * state's skip set; `scratch` holds A' (M × K floats). Returns the number of k left out.
 */
export function gemmSkipZeroColumns(
  c: usize,
  a: usize,
  b: usize,
  M: i32,
  N: i32,
  K: i32,
  lda: i32,
  ldc: i32,
  accumulate: bool,
  st: usize,
  scratch: usize,
): i32 {
  refresh(st, a, b, M, N, K, lda);
  const ns = load<i32>(st, 4);
  if (ns * MIN_SKIP_DEN < K * MIN_SKIP_NUM) {
    gemmSimd(c, a, b, M, N, K, lda, 1, N, ldc, accumulate);
    return 0;
  }
  const kept = K - ns;
  const keep = keepList(st, K);
  const runs = runList(st, K);
  const nr = load<i32>(st, 8);
  const packed = packedRows(st, K);
  for (let i = 0; i < M; i++) gatherRow(at(scratch, i * kept), at(a, i * lda), runs, nr);
  // gemmSimd sums k in panels of KC; run each original panel's kept k on their own, so the grouping (and so the
  // rounding) is the dense product's also when K > KC.
  let q0 = 0;
  for (let k0 = 0; k0 < K; k0 += KC) {
    let q1 = q0;
    while (q1 < kept && load<i32>(keep + ((<usize>q1) << 2)) < k0 + KC) q1++;
    gemmSimd(
      c,
      at(scratch, q0),
      packed + <usize>q0 * ((<usize>N) << 2),
      M,
      N,
      q1 - q0,
      kept,
      1,
      N,
      ldc,
      accumulate || k0 > 0,
    );
    q0 = q1;
  }
  return ns;
}

/** Marks a state block stale (its B changed). */
export function invalidateSkipState(st: usize): void {
  if (st !== 0) store<i32>(st, 0);
}

/**
 * C (M × N) += Aᵀ·B with A stored (K × M) and B (K × N), for the rows of C whose column of A is kept by a valid
 * state `st` over A's columns (the others would only add 0·B). The kept rows of C and columns of A are gathered,
 * updated by one dense product and scattered back: each value is the same sum in the same order. Returns false
 * (nothing done) when the state is not usable; the caller then runs the dense product.
 */
export function gemmTNKeptRows(
  c: usize,
  a: usize,
  b: usize,
  M: i32,
  N: i32,
  K: i32,
  st: usize,
  scratchA: usize,
  scratchC: usize,
): bool {
  if (st === 0 || load<i32>(st) === 0) return false;
  const ns = load<i32>(st, 4);
  if (ns * MIN_SKIP_DEN < M * MIN_SKIP_NUM) return false;
  const kept = M - ns;
  const keep = keepList(st, M);
  const runs = runList(st, M);
  const nr = load<i32>(st, 8);
  const row = (<usize>N) << 2;
  for (let q = 0; q < kept; q++) {
    const i = load<i32>(keep + ((<usize>q) << 2));
    memory.copy(scratchC + <usize>q * row, c + <usize>i * row, row);
  }
  for (let k = 0; k < K; k++) gatherRow(at(scratchA, k * kept), at(a, k * M), runs, nr);
  gemmSimd(scratchC, scratchA, b, kept, N, K, 1, kept, N, N, true);
  for (let q = 0; q < kept; q++) {
    const i = load<i32>(keep + ((<usize>q) << 2));
    memory.copy(c + <usize>i * row, scratchC + <usize>q * row, row);
  }
  return true;
}
