// Dense Float64 linear algebra for the ridge model: the Gram matrix of a row-major (n, p) array, a Cholesky
// factorisation and its two triangular solves. Shapes are the caller's promise (the model checks its inputs).
//
// Written here rather than taken from ml-matrix: the one costly step is XᵀX over ≈ 7,000 × 420 values straight
// from the Float64Array the model already holds (ml-matrix would first copy it into row objects), and the
// factorisation and solves of a 420 × 420 system are a few lines each.

/** out (p, p) = xᵀx for x (n, p) row-major, accumulated in Float64 four rows per pass; both triangles filled. */
export function gram(out: Float64Array, x: Float64Array, n: number, p: number): Float64Array {
  out.fill(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o0 = i * p;
    const o1 = o0 + p;
    const o2 = o1 + p;
    const o3 = o2 + p;
    for (let a = 0; a < p; a++) {
      const x0 = x[o0 + a];
      const x1 = x[o1 + a];
      const x2 = x[o2 + a];
      const x3 = x[o3 + a];
      const row = a * p;
      for (let b = a; b < p; b++) {
        out[row + b] += x0 * x[o0 + b] + x1 * x[o1 + b] + x2 * x[o2 + b] + x3 * x[o3 + b];
      }
    }
  }
  for (; i < n; i++) {
    const o = i * p;
    for (let a = 0; a < p; a++) {
      const xa = x[o + a];
      const row = a * p;
      for (let b = a; b < p; b++) out[row + b] += xa * x[o + b];
    }
  }
  for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) out[a * p + b] = out[b * p + a];
  return out;
}

/** out (p, m) = xᵀy for x (n, p) and y (n, m), both row-major. */
export function crossProduct(
  out: Float64Array,
  x: Float64Array,
  y: Float64Array,
  n: number,
  p: number,
  m: number,
): Float64Array {
  out.fill(0);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < p; a++) {
      const xa = x[i * p + a];
      for (let k = 0; k < m; k++) out[a * m + k] += xa * y[i * m + k];
    }
  }
  return out;
}

/**
 * Cholesky factorisation A = L·Lᵀ of a symmetric (p, p) matrix, in place: L ends in the lower triangle (the upper
 * one is left as it was). Returns false, leaving `a` partly overwritten, when A is not positive definite.
 */
export function cholesky(a: Float64Array, p: number): boolean {
  for (let j = 0; j < p; j++) {
    const rj = j * p;
    let d = a[rj + j];
    for (let k = 0; k < j; k++) d -= a[rj + k] * a[rj + k];
    if (!(d > 0) || !Number.isFinite(d)) return false;
    const ljj = Math.sqrt(d);
    a[rj + j] = ljj;
    for (let i = j + 1; i < p; i++) {
      const ri = i * p;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
      a[ri + j] = s / ljj;
    }
  }
  return true;
}

/** Solves L·Lᵀ·X = B for the (p, m) right-hand sides B (row-major), with L from `cholesky`; X replaces B. */
export function choleskySolve(l: Float64Array, b: Float64Array, p: number, m: number): Float64Array {
  for (let i = 0; i < p; i++) {
    const ri = i * p;
    for (let k = 0; k < m; k++) {
      let s = b[i * m + k];
      for (let j = 0; j < i; j++) s -= l[ri + j] * b[j * m + k];
      b[i * m + k] = s / l[ri + i];
    }
  }
  for (let i = p - 1; i >= 0; i--) {
    for (let k = 0; k < m; k++) {
      let s = b[i * m + k];
      for (let j = i + 1; j < p; j++) s -= l[j * p + i] * b[j * m + k];
      b[i * m + k] = s / l[i * p + i];
    }
  }
  return b;
}
