// Fused LSTM cell, forward and backward, over one time step of a (B, 4H) gate block: scalar reference and f32x4.
// Leaves the matrix products (gemm.ts) and the walk through time (index.ts) to others.
import { at } from './gemm';
import { act1, act4, actGradFromOut1, actGradFromOut4, sigmoid1, sigmoid4 } from './simdmath';

/**
 * In: g (B, 4H) pre-activations without bias, bias (4H), cPrev (B, H) or 0 for zero state.
 * Out: g overwritten with the activated gates (i, f, ĉ, o), c (B, H) and h (B, H).
 */
export function cellForwardScalar(
  h: usize,
  c: usize,
  g: usize,
  cPrev: usize,
  bias: usize,
  B: i32,
  H: i32,
  act: i32,
  from: i32,
): void {
  const G = 4 * H;
  for (let b = 0; b < B; b++) {
    const row = at(g, b * G);
    for (let j = from; j < H; j++) {
      const i = sigmoid1(load<f32>(at(row, j)) + load<f32>(at(bias, j)));
      const f = sigmoid1(load<f32>(at(row, H + j)) + load<f32>(at(bias, H + j)));
      const cc = act1(load<f32>(at(row, 2 * H + j)) + load<f32>(at(bias, 2 * H + j)), act);
      const o = sigmoid1(load<f32>(at(row, 3 * H + j)) + load<f32>(at(bias, 3 * H + j)));
      const cp: f32 = cPrev !== 0 ? load<f32>(at(cPrev, b * H + j)) : 0;
      const cn = f * cp + i * cc;
      store<f32>(at(row, j), i);
      store<f32>(at(row, H + j), f);
      store<f32>(at(row, 2 * H + j), cc);
      store<f32>(at(row, 3 * H + j), o);
      store<f32>(at(c, b * H + j), cn);
      store<f32>(at(h, b * H + j), o * act1(cn, act));
    }
  }
}

export function cellForwardSimd(
  h: usize,
  c: usize,
  g: usize,
  cPrev: usize,
  bias: usize,
  B: i32,
  H: i32,
  act: i32,
): void {
  const G = 4 * H;
  const H4 = H & ~3;
  for (let b = 0; b < B; b++) {
    const row = at(g, b * G);
    for (let j = 0; j < H4; j += 4) {
      const i = sigmoid4(f32x4.add(v128.load(at(row, j)), v128.load(at(bias, j))));
      const f = sigmoid4(f32x4.add(v128.load(at(row, H + j)), v128.load(at(bias, H + j))));
      const cc = act4(f32x4.add(v128.load(at(row, 2 * H + j)), v128.load(at(bias, 2 * H + j))), act);
      const o = sigmoid4(f32x4.add(v128.load(at(row, 3 * H + j)), v128.load(at(bias, 3 * H + j))));
      const cp = cPrev !== 0 ? v128.load(at(cPrev, b * H + j)) : f32x4.splat(0);
      const cn = f32x4.add(f32x4.mul(f, cp), f32x4.mul(i, cc));
      v128.store(at(row, j), i);
      v128.store(at(row, H + j), f);
      v128.store(at(row, 2 * H + j), cc);
      v128.store(at(row, 3 * H + j), o);
      v128.store(at(c, b * H + j), cn);
      v128.store(at(h, b * H + j), f32x4.mul(o, act4(cn, act)));
    }
  }
  if (H4 < H) cellForwardScalar(h, c, g, cPrev, bias, B, H, act, H4);
}

/**
 * In: g (B, 4H) activated gates, c (B, H), cPrev (B, H) or 0, dh (B, H) = ∂L/∂h_t (all paths),
 * dcNext (B, H) = ∂L/∂c_t through c_{t+1}. Out: dz (B, 4H) = ∂L/∂(pre-activations), dcNext ← ∂L/∂c_{t−1}.
 */
export function cellBackwardScalar(
  dz: usize,
  dcNext: usize,
  dh: usize,
  g: usize,
  c: usize,
  cPrev: usize,
  B: i32,
  H: i32,
  act: i32,
  from: i32,
): void {
  const G = 4 * H;
  for (let b = 0; b < B; b++) {
    const row = at(g, b * G);
    const drow = at(dz, b * G);
    for (let j = from; j < H; j++) {
      const i = load<f32>(at(row, j));
      const f = load<f32>(at(row, H + j));
      const cc = load<f32>(at(row, 2 * H + j));
      const o = load<f32>(at(row, 3 * H + j));
      const ac = act1(load<f32>(at(c, b * H + j)), act);
      const dhv = load<f32>(at(dh, b * H + j));
      const dc = load<f32>(at(dcNext, b * H + j)) + dhv * o * actGradFromOut1(ac, act);
      const cp: f32 = cPrev !== 0 ? load<f32>(at(cPrev, b * H + j)) : 0;
      store<f32>(at(drow, j), dc * cc * i * (1 - i));
      store<f32>(at(drow, H + j), dc * cp * f * (1 - f));
      store<f32>(at(drow, 2 * H + j), dc * i * actGradFromOut1(cc, act));
      store<f32>(at(drow, 3 * H + j), dhv * ac * o * (1 - o));
      store<f32>(at(dcNext, b * H + j), dc * f);
    }
  }
}

export function cellBackwardSimd(
  dz: usize,
  dcNext: usize,
  dh: usize,
  g: usize,
  c: usize,
  cPrev: usize,
  B: i32,
  H: i32,
  act: i32,
): void {
  const G = 4 * H;
  const H4 = H & ~3;
  const one = f32x4.splat(1.0);
  for (let b = 0; b < B; b++) {
    const row = at(g, b * G);
    const drow = at(dz, b * G);
    for (let j = 0; j < H4; j += 4) {
      const i = v128.load(at(row, j));
      const f = v128.load(at(row, H + j));
      const cc = v128.load(at(row, 2 * H + j));
      const o = v128.load(at(row, 3 * H + j));
      const ac = act4(v128.load(at(c, b * H + j)), act);
      const dhv = v128.load(at(dh, b * H + j));
      const dc = f32x4.add(
        v128.load(at(dcNext, b * H + j)),
        f32x4.mul(f32x4.mul(dhv, o), actGradFromOut4(ac, act)),
      );
      const cp = cPrev !== 0 ? v128.load(at(cPrev, b * H + j)) : f32x4.splat(0);
      v128.store(at(drow, j), f32x4.mul(f32x4.mul(f32x4.mul(dc, cc), i), f32x4.sub(one, i)));
      v128.store(at(drow, H + j), f32x4.mul(f32x4.mul(f32x4.mul(dc, cp), f), f32x4.sub(one, f)));
      v128.store(at(drow, 2 * H + j), f32x4.mul(f32x4.mul(dc, i), actGradFromOut4(cc, act)));
      v128.store(at(drow, 3 * H + j), f32x4.mul(f32x4.mul(f32x4.mul(dhv, ac), o), f32x4.sub(one, o)));
      v128.store(at(dcNext, b * H + j), f32x4.mul(dc, f));
    }
  }
  if (H4 < H) cellBackwardScalar(dz, dcNext, dh, g, c, cPrev, B, H, act, H4);
}
