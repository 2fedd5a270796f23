// Test helper (not a suite): the TF.js oracle for the engine suites — the same architecture built with
// @tensorflow/tfjs on its pure-JS 'cpu' backend, recurrentActivation 'sigmoid'. Leaves the assertions to the suites.
import * as tf from '@tensorflow/tfjs';
import type { ResolvedConfig } from '../src/engine/config.js';
import type { NamedWeight } from '../src/engine/model.js';

let ready: Promise<boolean> | undefined;

/** The TF.js module on the 'cpu' backend (its startup banner silenced). */
export async function tfjs(): Promise<typeof tf> {
  ready ??= tf.setBackend('cpu');
  await ready;
  tf.env().set('PROD', true);
  return tf;
}

/** Sequential LSTM → Dropout … → Dense built in TF.js for `cfg`, holding `weights` (our getWeights() order). */
export function tfModel(cfg: ResolvedConfig, weights?: readonly NamedWeight[]): tf.Sequential {
  const model = tf.sequential();
  cfg.layers.forEach((l, i) => {
    model.add(
      tf.layers.lstm({
        units: l.units,
        activation: l.activation,
        recurrentActivation: 'sigmoid',
        returnSequences: i < cfg.layers.length - 1,
        ...(i === 0 ? { inputShape: [cfg.window, cfg.features] } : {}),
      }),
    );
    model.add(tf.layers.dropout({ rate: cfg.dropout }));
  });
  model.add(tf.layers.dense({ units: cfg.horizon }));
  if (weights) model.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
  return model;
}

/** Largest absolute difference and the same divided by the largest |reference| value (norm-wise relative). */
export function maxDiff(ours: ArrayLike<number>, ref: ArrayLike<number>): { abs: number; rel: number } {
  if (ours.length !== ref.length) throw new Error(`length ${ours.length} ≠ ${ref.length}`);
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    abs = Math.max(abs, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { abs, rel: scale > 0 ? abs / scale : abs };
}

/** Seeded uniform floats in [lo, hi). */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}
