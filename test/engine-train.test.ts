// End-to-end check of the engine's training: on synthetic ticks (DESIGN §2) a small network reaches a test MSE near
// the Bayes limit (2.253) within the CI budget. Leaves the real pipeline (indicators, store, scaler) to test/train.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createModel } from '../src/engine/index.js';

const BAYES_MSE = 2.253;

/** DESIGN §2 ticks: clip(round(8·sin(2π·0.1·t) + N(0, 1.5)), −10, 10), seeded. */
function ticks(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const u = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const p = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const eps = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) * 1.5;
    p[t] = Math.max(-10, Math.min(10, Math.round(8 * Math.sin(2 * Math.PI * 0.1 * t) + eps)));
  }
  return p;
}

/** Windows of T scaled prices (one feature) → next 5 raw prices, for windows starting in [from, to). */
function windows(p: Float64Array, from: number, to: number, T: number) {
  const n = to - from;
  const x = new Float32Array(n * T);
  const y = new Float32Array(n * 5);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) x[i * T + t] = (p[from + i + t] + 10) / 20;
    for (let h = 0; h < 5; h++) y[i * 5 + h] = p[from + i + T + h];
  }
  return { x: { data: x, shape: [n, T, 1] as const }, y: { data: y, shape: [n, 5] as const } };
}

it('a short training run on synthetic ticks reaches a test MSE near the Bayes limit', async (t) => {
  const T = 20;
  const p = ticks(8000, 2026);
  const n = 8000 - T - 5;
  const train = windows(p, 0, Math.floor(n * 0.7), T);
  const val = windows(p, Math.floor(n * 0.7), Math.floor(n * 0.8), T);
  const test = windows(p, Math.floor(n * 0.8), n, T);
  const model = createModel({
    window: T,
    features: 1,
    layers: [{ units: 32 }],
    dropout: 0,
    horizon: 5,
    seed: 1,
  });
  const started = performance.now();
  const h = await model.fit(train.x, train.y, {
    epochs: 60,
    batchSize: 64,
    validation: val,
    patience: 8,
    learningRate: 0.005,
  });
  const mse = model.evaluate(test.x, test.y);
  t.diagnostic(
    `${h.epochs} epochs (${h.stoppedReason}, best ${h.bestEpoch}) in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `test MSE ${mse.toFixed(3)} vs Bayes limit ${BAYES_MSE}`,
  );
  assert.ok(mse < BAYES_MSE * 1.08, `test MSE ${mse} is not within 8% of the Bayes limit ${BAYES_MSE}`);
  assert.ok(mse > BAYES_MSE * 0.9, `test MSE ${mse} is implausibly below the Bayes limit`);
});
