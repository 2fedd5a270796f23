// Seeded initialisation (Keras defaults of DESIGN §5): Glorot-uniform kernels, orthogonal recurrent kernels, zero
// biases with forget-gate bias 1; plus the small seeded RNG and hash the engine uses. Leaves memory to net.ts.
import type { ParamLayout, ResolvedConfig } from './config.js';

/** mulberry32: small, fast, reproducible 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into one 32-bit seed (murmur3 finaliser per word); used for per-sample dropout streams. */
export function hashSeed(...words: number[]): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    let k = Math.imul(w | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** Glorot uniform: U(−l, l), l = √(6 / (fanIn + fanOut)). */
function glorotUniform(out: Float32Array, fanIn: number, fanOut: number, rand: () => number): void {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < out.length; i++) out[i] = (2 * rand() - 1) * limit;
}

/** Orthogonal (rows, cols) with rows ≤ cols: Gram–Schmidt on Gaussian rows → orthonormal rows (gain 1). */
function orthogonal(out: Float32Array, rows: number, cols: number, rand: () => number): void {
  const g = gaussian(rand);
  const transposed = rows > cols;
  const r = transposed ? cols : rows;
  const c = transposed ? rows : cols;
  const q = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let pass = 0; pass < 2; pass++) {
      const row = q.subarray(i * c, (i + 1) * c);
      if (pass === 0) for (let j = 0; j < c; j++) row[j] = g();
      for (let k = 0; k < i; k++) {
        const prev = q.subarray(k * c, (k + 1) * c);
        let dot = 0;
        for (let j = 0; j < c; j++) dot += row[j] * prev[j];
        for (let j = 0; j < c; j++) row[j] -= dot * prev[j];
      }
      let norm = 0;
      for (let j = 0; j < c; j++) norm += row[j] * row[j];
      norm = Math.sqrt(norm);
      for (let j = 0; j < c; j++) row[j] /= norm;
    }
  }
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = transposed ? q[j * c + i] : q[i * c + j];
  }
}

/** Fills a parameter region (laid out by `layout`) with the initial weights for `cfg.seed`. */
export function initParams(region: Float32Array, cfg: ResolvedConfig, layout: ParamLayout): void {
  const rand = mulberry32(hashSeed(cfg.seed, 0x1a57));
  region.fill(0);
  for (const t of layout.tensors) {
    const view = region.subarray(t.offset, t.offset + t.size);
    if (t.kind === 'kernel') glorotUniform(view, t.shape[0], t.shape[1], rand);
    else if (t.kind === 'recurrent_kernel') orthogonal(view, t.shape[0], t.shape[1], rand);
    else if (t.layer.startsWith('lstm')) {
      const H = t.size / 4;
      view.fill(0);
      view.fill(1, H, 2 * H); // forget-gate bias 1 (Keras unit_forget_bias)
    }
  }
}
