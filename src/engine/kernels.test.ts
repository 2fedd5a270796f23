// Each SIMD kernel against its scalar reference (GEMM in both stride modes over awkward shapes, the whole network's
// forward and backward, Adam, dropout masks). Leaves agreement with TF.js to test/engine-oracle.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomFloats } from '../../test/engine-tfjs.js';
import { resolveConfig } from './config.js';
import { initParams } from './init.js';
import { Net } from './net.js';
import { instantiateKernels } from './wasm.js';

const rel = (a: Float32Array, b: Float32Array): number => {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return s > 0 ? d / s : d;
};

describe('engine kernels: SIMD vs scalar reference', () => {
  const k = instantiateKernels();
  k.memory.grow(64);
  const mem = () => new Float32Array(k.memory.buffer);
  const A = 1 << 16;
  const B = 1 << 20;
  const C1 = 2 << 20;
  const C2 = 3 << 20;
  // M × N × K: register-block multiples, every remainder path (N mod 8 ∈ {4, other}, M mod 4 ≠ 0), K > panel
  const shapes = [
    [4, 8, 1],
    [1, 1, 1],
    [3, 5, 7],
    [32, 400, 100],
    [1, 400, 100],
    [7, 100, 400],
    [13, 12, 300],
    [60, 50, 3],
    [5, 21, 257],
    [9, 36, 19],
  ];
  for (const [M, N, K] of shapes) {
    for (const mode of ['NN', 'TN'] as const) {
      for (const accumulate of [0, 1]) {
        it(`gemm ${mode} ${M}×${N}×${K}${accumulate ? ' accumulate' : ''}`, () => {
          const m = mem();
          m.set(randomFloats(M * K, M * 31 + K), A / 4);
          m.set(randomFloats(K * N, N * 17 + K), B / 4);
          const c0 = randomFloats(M * N, 5);
          m.set(c0, C1 / 4);
          m.set(c0, C2 / 4);
          const [sai, sak] = mode === 'NN' ? [K, 1] : [1, M];
          k.gemmScalar(C1, A, B, M, N, K, sai, sak, N, N, accumulate);
          k.gemmSimd(C2, A, B, M, N, K, sai, sak, N, N, accumulate);
          const r = mem();
          const d = rel(r.subarray(C2 / 4, C2 / 4 + M * N), r.subarray(C1 / 4, C1 / 4 + M * N));
          assert.ok(d <= 1e-6, `rel diff ${d}`);
        });
      }
    }
  }

  it('Adam: SIMD and scalar give identical bits', () => {
    const n = 1003;
    const run = (simd: boolean) => {
      k.setSimd(simd ? 1 : 0);
      const m = mem();
      m.set(randomFloats(n, 1), A / 4);
      m.set(randomFloats(n, 2), B / 4);
      m.set(randomFloats(n, 3, -0.01, 0.01), C1 / 4);
      m.set(randomFloats(n, 4, 0, 0.01), C2 / 4);
      for (let s = 0; s < 3; s++)
        k.adamStep(A, B, C1, C2, n, 0.001, 0.9, 0.999, 0.1, 0.001, 0.19, 0.002, 1e-7);
      return mem().slice(A / 4, A / 4 + n);
    };
    const a = run(true);
    const b = run(false);
    k.setSimd(1);
    assert.deepEqual(a, b);
  });

  it('dropout mask: rate, inverted scale, depends only on the seed', () => {
    const [T, Bt, H] = [20, 3, 50];
    k.dropoutMask(A, T, Bt, H, 1, 1234, 0.2);
    const m = mem();
    const col = (ptr: number, b: number, B: number) =>
      Array.from({ length: T * H }, (_, i) => m[ptr / 4 + (Math.floor(i / H) * B + b) * H + (i % H)]);
    const kept = col(A, 1, Bt);
    assert.ok(kept.every((v) => v === 0 || Math.abs(v - 1.25) < 1e-7));
    const rate = kept.filter((v) => v === 0).length / kept.length;
    assert.ok(rate > 0.15 && rate < 0.25, `rate ${rate}`);
    k.dropoutMask(B, T, 5, H, 4, 1234, 0.2); // same seed, other batch size and column → same mask
    assert.deepEqual(col(B, 4, 5), kept);
    for (const h of [H, 52, 3]) {
      // the f32x4 hash (4 states at once, scalar tail) draws the scalar reference's stream
      k.dropoutMask(A, T, Bt, h, 2, 99, 0.3);
      const simd = mem().slice(A / 4, A / 4 + T * Bt * h);
      k.setSimd(0);
      k.dropoutMask(A, T, Bt, h, 2, 99, 0.3);
      k.setSimd(1);
      assert.deepEqual(simd, mem().slice(A / 4, A / 4 + T * Bt * h), `H = ${h}`);
    }
  });

  for (const activation of ['relu', 'tanh'] as const) {
    it(`whole network forward + backward (${activation}, dropout 0.2)`, () => {
      const cfg = resolveConfig({
        window: 9,
        features: 7,
        layers: [
          { units: 22, activation },
          { units: 13, activation },
        ],
        horizon: 5,
      });
      const nets = [new Net(cfg), new Net(cfg)];
      nets[1].setSimd(false);
      const n = 6;
      const x = randomFloats(n * 9 * 7, 3, 0, 1);
      const y = randomFloats(n * 5, 4);
      const idx = [5, 1, 4, 0, 2, 3];
      const out = nets.map((net) => {
        initParams(net.regionView('params'), cfg, net.layout);
        net.zeroGrads();
        const sse = net.trainShard(x, y, idx, 0, n, 2, 1 / (n * 5));
        const pred = new Float32Array(n * 5);
        net.predictInto(pred, x, n);
        return { sse, grads: net.regionView('grads').slice(), pred };
      });
      assert.ok(Math.abs(out[0].sse - out[1].sse) <= 1e-5 * out[1].sse);
      assert.ok(rel(out[0].pred, out[1].pred) <= 1e-5);
      for (const t of nets[0].layout.tensors) {
        const d = rel(
          out[0].grads.subarray(t.offset, t.offset + t.size),
          out[1].grads.subarray(t.offset, t.offset + t.size),
        );
        assert.ok(d <= 1e-5, `${t.name}: ${d}`);
      }
    });
  }
});
