// Verification of the engine against TF.js (cpu backend, sigmoid recurrent activation): forward outputs, every
// gradient tensor, a finite-difference check and 20 Adam steps. Leaves files and the fit loop to other suites.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import { type ModelConfig, resolveConfig } from '../src/engine/config.js';
import { createModel, type LstmModel } from '../src/engine/model.js';
import { maxDiff, randomFloats, tfjs, tfModel } from './engine-tfjs.js';

/** Architectures checked: both activations, odd sizes (SIMD edge paths), 1–3 layers. */
const CASES: { name: string; config: Partial<ModelConfig>; n: number }[] = [
  {
    name: 'relu 2 layers',
    config: { window: 8, features: 3, layers: [{ units: 6 }, { units: 5 }], horizon: 3 },
    n: 7,
  },
  {
    name: 'tanh 2 layers',
    config: {
      window: 7,
      features: 4,
      layers: [
        { units: 9, activation: 'tanh' },
        { units: 8, activation: 'tanh' },
      ],
      horizon: 5,
    },
    n: 9,
  },
  {
    name: 'mixed 3 layers',
    config: {
      window: 5,
      features: 7,
      layers: [{ units: 12 }, { units: 4, activation: 'tanh' }, { units: 10 }],
      horizon: 2,
    },
    n: 6,
  },
  { name: 'seed shape, short window', config: { window: 12, features: 7 }, n: 10 },
];

/** A model with random weights (biases too, so every gate path is exercised) and random data. */
function setup(config: Partial<ModelConfig>, n: number, seed: number) {
  const cfg = resolveConfig({ ...config, seed });
  const model = createModel(cfg);
  const weights = model.getWeights().map((w, i) => ({
    ...w,
    data: w.name.endsWith('/bias') ? randomFloats(w.data.length, seed + 100 + i, -0.3, 0.3) : w.data,
  }));
  model.setWeights(weights);
  const x = randomFloats(n * cfg.window * cfg.features, seed + 1, 0, 1);
  const y = randomFloats(n * cfg.horizon, seed + 2, -1, 1);
  return { cfg, model, weights, x, y };
}

/** Our gradients of the Keras MSE over the whole set (dropout off), one Float32Array per tensor. */
function ourGradients(model: LstmModel, x: Float32Array, y: Float32Array, n: number): Float32Array[] {
  const net = model.net;
  net.zeroGrads();
  const idx = Array.from({ length: n }, (_, i) => i);
  net.trainShard(x, y, idx, 0, n, 0, 1 / (n * model.config.horizon), false);
  const g = net.regionView('grads');
  return net.layout.tensors.map((t) => g.slice(t.offset, t.offset + t.size));
}

describe('engine vs TF.js', () => {
  for (const c of CASES) {
    it(`forward and gradients: ${c.name}`, async (t) => {
      const tf = await tfjs();
      const { cfg, model, weights, x, y } = setup(c.config, c.n, 11);
      const ref = tfModel(cfg, weights);
      const xT = tf.tensor3d(x, [c.n, cfg.window, cfg.features]);
      const yT = tf.tensor2d(y, [c.n, cfg.horizon]);
      for (const simd of [true, false]) {
        model.net.setSimd(simd);
        const fwd = maxDiff(
          model.predict({ data: x, shape: [c.n, cfg.window, cfg.features] }),
          (ref.predict(xT) as typeof xT).dataSync(),
        );
        t.diagnostic(
          `${simd ? 'simd' : 'scalar'} forward: max abs ${fwd.abs.toExponential(2)}, rel ${fwd.rel.toExponential(2)}`,
        );
        assert.ok(fwd.rel <= 1e-5, `forward rel diff ${fwd.rel}`);
        const vars = ref.trainableWeights.map((w) => w.read() as Variable);
        const loss = (): Scalar =>
          tf.losses.meanSquaredError(yT, ref.apply(xT, { training: false }) as Tensor) as Scalar;
        const { grads } = tf.variableGrads(loss, vars);
        const ours = ourGradients(model, x, y, c.n);
        model.net.layout.tensors.forEach((tensor, i) => {
          const d = maxDiff(ours[i], grads[vars[i].name].dataSync());
          t.diagnostic(
            `${simd ? 'simd' : 'scalar'} ∂L/∂${tensor.name}: max abs ${d.abs.toExponential(2)}, rel ${d.rel.toExponential(2)}`,
          );
          assert.ok(d.rel <= 1e-4, `${tensor.name}: rel diff ${d.rel}`);
        });
        tf.dispose(Object.values(grads));
      }
      model.net.setSimd(true);
    });
  }

  it('finite differences agree with the analytic gradient (tanh, small network)', (t) => {
    const n = 3;
    const { cfg, model, x, y } = setup(
      {
        window: 4,
        features: 2,
        layers: [
          { units: 3, activation: 'tanh' },
          { units: 2, activation: 'tanh' },
        ],
        horizon: 2,
        dropout: 0,
      },
      n,
      5,
    );
    const grads = ourGradients(model, x, y, n);
    const loss = (): number =>
      model.evaluate({ data: x, shape: [n, cfg.window, cfg.features] }, { data: y, shape: [n, cfg.horizon] });
    const params = model.net.regionView('params');
    const h = 1e-2;
    let worst = 0;
    model.net.layout.tensors.forEach((tensor, ti) => {
      for (let j = 0; j < tensor.size; j++) {
        const k = tensor.offset + j;
        const keep = params[k];
        params[k] = keep + h;
        const up = loss();
        params[k] = keep - h;
        const down = loss();
        params[k] = keep;
        const fd = (up - down) / (2 * h);
        const err = Math.abs(fd - grads[ti][j]) / Math.max(1e-2, Math.abs(fd));
        worst = Math.max(worst, err);
      }
    });
    t.diagnostic(
      `largest relative difference analytic vs central difference (h = ${h}): ${worst.toExponential(2)}`,
    );
    assert.ok(worst < 2e-2, `finite-difference mismatch ${worst}`);
  });

  it('20 Adam steps follow TF.js (loss curve and final weights)', async (t) => {
    const tf = await tfjs();
    const n = 16;
    const { cfg, model, weights, x, y } = setup(
      { window: 10, features: 3, layers: [{ units: 8 }, { units: 6 }], horizon: 3, dropout: 0 },
      n,
      9,
    );
    const ref = tfModel(cfg, weights);
    const lr = 0.01;
    ref.compile({ optimizer: tf.train.adam(lr, 0.9, 0.999, 1e-7), loss: 'meanSquaredError' });
    const xT = tf.tensor3d(x, [n, cfg.window, cfg.features]);
    const yT = tf.tensor2d(y, [n, cfg.horizon]);
    const refLoss: number[] = [];
    for (let s = 0; s < 20; s++) refLoss.push((await ref.trainOnBatch(xT, yT)) as number);
    const h = await model.fit(
      { data: x, shape: [n, cfg.window, cfg.features] },
      { data: y, shape: [n, cfg.horizon] },
      {
        epochs: 20,
        batchSize: n,
        shuffle: false,
        learningRate: lr,
        workers: 1,
        patience: Infinity,
        restoreBestWeights: false,
      },
    );
    const d = maxDiff(h.loss, refLoss);
    t.diagnostic(
      `loss ${refLoss[0].toFixed(5)} → ${refLoss[19].toFixed(5)} (TF.js); largest rel diff per step ${d.rel.toExponential(2)}`,
    );
    assert.ok(refLoss[19] < refLoss[0]);
    assert.ok(d.rel <= 1e-4, `loss curve rel diff ${d.rel}`);
    const refW = ref.getWeights();
    model.getWeights().forEach((w, i) => {
      const dw = maxDiff(w.data, refW[i].dataSync());
      t.diagnostic(
        `weights after 20 steps ${w.name}: max abs ${dw.abs.toExponential(2)}, rel ${dw.rel.toExponential(2)}`,
      );
      assert.ok(dw.rel <= 1e-4, `${w.name}: rel diff ${dw.rel}`);
    });
  });
});
