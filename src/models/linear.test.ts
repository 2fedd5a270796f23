// The ridge model against independent answers: exact recovery of known coefficients, the normal equations solved
// by Gauss–Jordan elimination here, the λ choice, determinism, and the Bayes floor of the default synthetic source.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectedPrice } from '../../test/helpers/bayes.js';
import { FEATURES } from '../features/forecaster.js';
import { ErrorAccumulator, mean } from '../features/metrics.js';
import { MinMaxScaler } from '../features/scaler.js';
import { buildWindows, splitWindows } from '../features/windows.js';
import { syntheticTicks } from '../indicators/ticks.js';
import { DEFAULT_SOURCE } from '../ticks/generator.js';
import { seedKey, standardNormal } from '../ticks/noise.js';
import { fitData, type Supervised, supervised } from './data.js';
import { cholesky, choleskySolve } from './linalg.js';
import { DEFAULT_LAMBDAS, LinearModel } from './linear.js';

/** Features already in [0, 1]: the identity scaler. */
const IDENTITY = MinMaxScaler.fit(
  new Float64Array([...Array(FEATURES).fill(0), ...Array(FEATURES).fill(1)]),
  FEATURES,
);

/** n windows of `window` rows with pseudo-random inputs in [0, 1) and y = b + x·W (+ noise). */
function problem(n: number, window: number, H: number, seed: number, noise = 0) {
  const p = window * FEATURES;
  const u = (i: number) => 0.5 + 0.5 * Math.tanh(standardNormal(seedKey(seed), i));
  const x = Float64Array.from({ length: n * p }, (_, i) => u(i));
  const W = Float64Array.from({ length: p * H }, (_, i) => standardNormal(seedKey(seed + 1), i));
  const b = Float64Array.from({ length: H }, (_, h) => 3 * (h + 1));
  const y = new Float64Array(n * H);
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < H; h++) {
      let s = b[h];
      for (let a = 0; a < p; a++) s += x[i * p + a] * W[a * H + h];
      y[i * H + h] = s + noise * standardNormal(seedKey(seed + 2), i * H + h);
    }
  }
  const data: Supervised = { x: { x, n, window, features: FEATURES, scaler: IDENTITY }, y, horizon: H };
  return { data, W, b, p };
}

/** Gauss–Jordan with partial pivoting on the (p+1) normal equations of [1, X] with λ on all but the intercept. */
function normalEquations(d: Supervised, lambda: number): { w: number[][]; b: number[] } {
  const { n } = d.x;
  const p = d.x.window * FEATURES;
  const H = d.horizon;
  const q = p + 1;
  const z = (i: number, a: number) => (a === 0 ? 1 : d.x.x[i * p + a - 1]);
  const m = Array.from({ length: q }, (_, r) =>
    Array.from({ length: q + H }, (_, c) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += z(i, r) * (c < q ? z(i, c) : d.y[i * H + c - q]);
      return s + (c === r && r > 0 ? lambda * n : 0);
    }),
  );
  for (let c = 0; c < q; c++) {
    let piv = c;
    for (let r = c + 1; r < q; r++) if (Math.abs(m[r][c]) > Math.abs(m[piv][c])) piv = r;
    [m[c], m[piv]] = [m[piv], m[c]];
    for (let r = 0; r < q; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k < q + H; k++) m[r][k] -= f * m[c][k];
    }
  }
  const theta = m.map((row, r) => row.slice(q).map((v) => v / m[r][r]));
  return { b: theta[0], w: theta.slice(1) };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('linear algebra', () => {
  it('Cholesky solves a hand-checked system and refuses a matrix that is not positive definite', () => {
    // A = [[4, 2], [2, 3]] = L·Lᵀ with L = [[2, 0], [1, √2]]; A·[1, 2]ᵀ = [8, 8]ᵀ.
    const a = new Float64Array([4, 2, 2, 3]);
    assert.equal(cholesky(a, 2), true);
    assert.deepEqual([a[0], a[2]], [2, 1]);
    assert.ok(Math.abs(a[3] - Math.SQRT2) < 1e-15);
    assert.ok(maxDiff(choleskySolve(a, new Float64Array([8, 8]), 2, 1), [1, 2]) < 1e-12);
    assert.equal(cholesky(new Float64Array([1, 2, 2, 1]), 2), false);
  });
});

describe('linear model', () => {
  it('recovers the coefficients of noise-free data to 1e-6 (λ = 0)', async () => {
    const { data, W, b } = problem(300, 2, 3, 11);
    const m = new LinearModel({ window: 2, horizon: 3 }, { lambdas: [0] });
    const report = await m.fit({ train: data });
    const c = m.coefficients;
    assert.equal(report.validation_mse, null);
    assert.ok(maxDiff(c.weights, W) < 1e-6, `weights off by ${maxDiff(c.weights, W)}`);
    assert.ok(maxDiff(c.intercept, b) < 1e-6, `intercept off by ${maxDiff(c.intercept, b)}`);
  });

  it('matches the regularised normal equations solved by Gauss–Jordan elimination (intercept not penalised)', async () => {
    for (const lambda of [1e-4, 0.05, 2]) {
      const { data } = problem(150, 2, 2, 5, 0.7);
      const m = new LinearModel({ window: 2, horizon: 2 }, { lambdas: [lambda] });
      await m.fit({ train: data });
      const ref = normalEquations(data, lambda);
      const c = m.coefficients;
      assert.ok(
        maxDiff(c.weights, ref.w.flat()) < 1e-9,
        `λ ${lambda}: weights off by ${maxDiff(c.weights, ref.w.flat())}`,
      );
      assert.ok(
        maxDiff(c.intercept, ref.b) < 1e-9,
        `λ ${lambda}: intercept off by ${maxDiff(c.intercept, ref.b)}`,
      );
    }
  });

  it('chooses λ with the lowest validation MSE, deterministically, and needs validation for a grid', async () => {
    const { data } = problem(240, 3, 2, 9, 4);
    const train: Supervised = {
      x: { ...data.x, n: 160, x: data.x.x.subarray(0, 160 * 21) },
      y: data.y.subarray(0, 320),
      horizon: 2,
    };
    const validation: Supervised = {
      x: { ...data.x, n: 80, x: data.x.x.subarray(160 * 21) },
      y: data.y.subarray(320),
      horizon: 2,
    };
    const fit = async () => {
      const m = new LinearModel({ window: 3, horizon: 2 });
      return { m, r: await m.fit({ train, validation }) };
    };
    const { m, r } = await fit();
    const scores = r.details.validation_mse_by_lambda as number[];
    assert.deepEqual(r.details.lambdas, [...DEFAULT_LAMBDAS]);
    const best = scores.indexOf(Math.min(...scores));
    assert.equal(r.details.lambda, DEFAULT_LAMBDAS[best]);
    assert.equal(mean(r.validation_mse!), scores[best]);
    // Few noisy windows for 21 inputs: some shrinkage pays.
    assert.ok((r.details.lambda as number) > DEFAULT_LAMBDAS[0]);
    const again = await fit();
    assert.deepEqual(again.m.coefficients, m.coefficients, 'bit for bit the same fit');
    await assert.rejects(new LinearModel({ window: 3, horizon: 2 }).fit({ train }), {
      code: 'BYNER_INPUT',
      message: /needs validation windows/,
    });
    assert.throws(() => new LinearModel({ window: 3, horizon: 2 }, { lambdas: [-1] }), {
      code: 'BYNER_CONFIG',
    });
  });

  it('on the default source (10,000 ticks, seed 42, 70/10/20): test MSE within 5% of the Bayes-optimal forecast', async (t) => {
    const ticks = syntheticTicks(DEFAULT_SOURCE, { start: 0, count: 10_000, origin: new Date(0) });
    const set = buildWindows(ticks, 60, 5);
    const split = splitWindows(set.count);
    const data = fitData(set, split);
    const m = new LinearModel({ window: 60, horizon: 5 });
    await m.fit(data);
    const test = supervised(set, split.test, m.scaler!);
    const model = new ErrorAccumulator(5).add(m.predict(test.x), test.y, test.x.n).result();
    // DESIGN §2: the Bayes-optimal forecast of tick u is E[clip(round(A·sin(2πf·u) + ε), −B, B)], ε ~ N(0, σ).
    const bayes = new Float64Array(test.y.length);
    for (let i = 0; i < test.x.n; i++) {
      for (let h = 0; h < 5; h++)
        bayes[i * 5 + h] = expectedPrice(DEFAULT_SOURCE, set.seqs[split.test[0] + i + 60 + h]);
    }
    const floor = new ErrorAccumulator(5).add(bayes, test.y, test.x.n).result();
    const ratio = mean(model.mse) / mean(floor.mse);
    t.diagnostic(
      `test MSE per horizon: linear ${model.mse.map((v) => v.toFixed(4)).join(' ')}, Bayes ${floor.mse.map((v) => v.toFixed(4)).join(' ')}; mean ×${ratio.toFixed(4)}`,
    );
    assert.ok(mean(floor.mse) > 2 && mean(floor.mse) < 2.5, `Bayes MSE ${mean(floor.mse)}`);
    assert.ok(
      ratio < 1.05,
      `linear MSE ${mean(model.mse).toFixed(4)} vs Bayes ${mean(floor.mse).toFixed(4)}: ×${ratio.toFixed(4)}`,
    );
  });
});
