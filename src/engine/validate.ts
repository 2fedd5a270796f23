// Boundary checks for data handed to the engine: Float32Array, declared shape, finite values. Kernels trust them.
// Leaves scaling and windowing of raw ticks to the features stage.
import { BynerError, describe } from '../errors.js';

/** Samples × time steps × features, row-major. */
export interface Tensor3 {
  /** N·T·F values: window i, step t, feature f at `(i·T + t)·F + f`. */
  data: Float32Array;
  /** (N, T, F) */
  shape: readonly [number, number, number];
}

/** Samples × outputs, row-major. */
export interface Tensor2 {
  /** N·H values: sample i, output h at `i·H + h`. */
  data: Float32Array;
  /** (N, H) */
  shape: readonly [number, number];
}

const fmt = (shape: readonly (number | string)[]): string => `(${shape.join(', ')})`;

function checkArray(what: string, data: unknown): Float32Array {
  if (!(data instanceof Float32Array)) {
    throw new BynerError('BYNER_INPUT', `${what}: data must be a Float32Array`, {
      expected: 'Float32Array',
      received: describe(data),
    });
  }
  return data;
}

/** First non-finite value, reported with its multi-index. */
function checkFinite(what: string, data: Float32Array, shape: readonly number[]): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      const index: number[] = [];
      let rest = i;
      for (let d = shape.length - 1; d >= 0; d--) {
        index.unshift(rest % shape[d]);
        rest = Math.floor(rest / shape[d]);
      }
      throw new BynerError('BYNER_NOT_FINITE', `${what} contains a non-finite value`, {
        expected: 'finite numbers only',
        received: `${describe(v)} at index [${index.join(', ')}]`,
        hint: 'check the scaler and the indicators feeding this window (NaN usually means an undefined indicator)',
      });
    }
  }
}

/** Validates x (N, T, F) against the model's window and features; returns N. */
export function checkWindows(what: string, x: Tensor3 | Float32Array, T: number, F: number): Tensor3 {
  let t: Tensor3;
  if (x instanceof Float32Array) {
    if (x.length === 0 || x.length % (T * F) !== 0) {
      throw new BynerError('BYNER_SHAPE', `${what}: length is not a whole number of windows`, {
        expected: `(N, ${T}, ${F}) = a multiple of ${T * F} values`,
        received: `${x.length} values`,
      });
    }
    t = { data: x, shape: [x.length / (T * F), T, F] };
  } else {
    const data = checkArray(what, x?.data);
    const s = x.shape;
    if (!Array.isArray(s) || s.length !== 3 || s.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new BynerError('BYNER_SHAPE', `${what}: shape must be (N, T, F)`, {
        expected: `(N, ${T}, ${F})`,
        received: Array.isArray(s) ? fmt(s) : describe(s),
      });
    }
    t = { data, shape: [s[0], s[1], s[2]] };
  }
  const [N, tt, ff] = t.shape;
  if (tt !== T || ff !== F || N < 1 || N * T * F !== t.data.length) {
    throw new BynerError('BYNER_SHAPE', `${what}: wrong shape`, {
      expected: `(N ≥ 1, ${T}, ${F}) with N·${T}·${F} values`,
      received: `${fmt(t.shape)} with ${t.data.length} values`,
    });
  }
  checkFinite(what, t.data, t.shape);
  return t;
}

/** Validates y (N, horizon). */
export function checkTargets(what: string, y: Tensor2 | Float32Array, N: number, horizon: number): Tensor2 {
  const data = checkArray(what, y instanceof Float32Array ? y : y?.data);
  const shape: readonly number[] = y instanceof Float32Array ? [data.length / horizon, horizon] : y.shape;
  if (
    !Array.isArray(shape) ||
    shape.length !== 2 ||
    shape[0] !== N ||
    shape[1] !== horizon ||
    data.length !== N * horizon
  ) {
    throw new BynerError('BYNER_SHAPE', `${what}: wrong shape`, {
      expected: `(${N}, ${horizon}) with ${N * horizon} values`,
      received: `${Array.isArray(shape) ? fmt(shape) : describe(shape)} with ${data.length} values`,
    });
  }
  checkFinite(what, data, shape);
  return { data, shape: [N, horizon] };
}
