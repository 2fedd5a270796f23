// Activation functions for the fused LSTM kernels: scalar references and f32x4 versions (Cephes-style exp).
// Leaves the cell arithmetic that uses them to cell.ts.

export const ACT_RELU: i32 = 0;
export const ACT_TANH: i32 = 1;

// ---- scalar references -------------------------------------------------------------------------------

export function sigmoid1(x: f32): f32 {
  return <f32>1 / (<f32>1 + Mathf.exp(-x));
}

export function act1(x: f32, act: i32): f32 {
  return act === ACT_RELU ? Mathf.max(x, 0) : Mathf.tanh(x);
}

/** Derivative of the activation, given its OUTPUT y = act(x). ReLU: x > 0 ⇔ y > 0; tanh: 1 − y². */
export function actGradFromOut1(y: f32, act: i32): f32 {
  return act === ACT_RELU ? (y > 0 ? <f32>1 : <f32>0) : <f32>1 - y * y;
}

// ---- f32x4 versions ----------------------------------------------------------------------------------

/** e^x per lane, ≈ 2 ulp on [−87, 88] (clamped outside), NaN in → NaN out. */
export function exp4(x: v128): v128 {
  // pmin/pmax (b < a ? b : a, a < b ? b : a) are one minps/maxps each; f32x4.min/max cost V8 ≈ 7 instructions for
  // their NaN and ±0 rules. With x first, a NaN x stays NaN, and ±0 cannot matter at the bounds: same results.
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.0)), f32x4.splat(88.0));
  // n = round-to-nearest-even(x·log2 e) by adding and subtracting 1.5·2²³: the same value as f32x4.nearest, and
  // t's low mantissa bits hold n, so 2ⁿ is a shift away (V8 lowers i32x4.trunc_sat_f32x4_s to ~7 instructions).
  const magic = f32x4.splat(12582912.0);
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(<f32>Math.LOG2E)), magic);
  const fx = f32x4.sub(t, magic);
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(-2.1219444e-4)));
  let y = f32x4.splat(1.98756915e-4);
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(y, r), r), r), f32x4.splat(1.0));
  const pow2n = i32x4.add(i32x4.shl(t, 23), i32x4.splat(127 << 23));
  return f32x4.mul(y, pow2n);
}

export function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/** tanh via (1 − e^{−2|x|}) / (1 + e^{−2|x|}) with the sign of x; absolute error ≈ 1e-7. */
export function tanh4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  const t = exp4(f32x4.mul(f32x4.abs(x), f32x4.splat(-2.0)));
  const r = f32x4.div(f32x4.sub(one, t), f32x4.add(one, t));
  return v128.or(r, v128.and(x, i32x4.splat(0x80000000)));
}

export function act4(x: v128, act: i32): v128 {
  // pmax (one maxps, see exp4) keeps a NaN; it maps −0 to −0 where max gives +0, which no later step can tell
  // apart (−0 · w adds nothing, and −0 > 0 is false like +0 > 0)
  return act === ACT_RELU ? f32x4.pmax(x, f32x4.splat(0)) : tanh4(x);
}

export function actGradFromOut4(y: v128, act: i32): v128 {
  const one = f32x4.splat(1.0);
  if (act === ACT_RELU) return v128.and(f32x4.gt(y, f32x4.splat(0)), one);
  return f32x4.sub(one, f32x4.mul(y, y));
}
