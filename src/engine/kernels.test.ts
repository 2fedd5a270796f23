// The WebAssembly boundary (the built module's exports against the generated type), each SIMD kernel against its
// scalar reference (GEMM in both stride modes over awkward shapes, the whole network's forward and backward, Adam,
// dropout masks), and the zero-skipping products against the dense ones bit for bit. Leaves agreement with TF.js to
// test/engine-oracle.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomFloats } from '../../test/engine-tfjs.js';
import { resolveConfig } from './config.js';
import { initParams } from './init.js';
import { KERNEL_ARITY } from './kernels.generated.js';
import { Net } from './net.js';
import { instantiateKernels, kernelMismatches, WASM_URL } from './wasm.js';

describe('engine kernels: the WebAssembly boundary', () => {
  it("the built module exports exactly the generated type's names, kinds and parameter counts", () => {
    const module = new WebAssembly.Module(readFileSync(WASM_URL));
    const kinds = Object.fromEntries(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
    const expected = Object.fromEntries([
      ['memory', 'memory'],
      ...Object.keys(KERNEL_ARITY).map((name) => [name, 'function']),
    ]);
    assert.deepEqual(kinds, expected);
    const { exports } = new WebAssembly.Instance(module, {});
    const arity = Object.fromEntries(
      Object.keys(KERNEL_ARITY).map((n) => [n, (exports[n] as () => void).length]),
    );
    assert.deepEqual(arity, KERNEL_ARITY);
    assert.deepEqual(kernelMismatches(exports), []);
  });

  it('the loader refuses a module whose exports differ from the type, naming each difference', () => {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(WASM_URL)), {});
    const changed: WebAssembly.Exports = { ...exports, fill: (p: number) => p, extra: () => 0 };
    delete changed.mulInto;
    assert.deepEqual(kernelMismatches(changed), [
      'mulInto: missing',
      'fill: 1 parameters, not 3',
      'extra: not in the type',
    ]);
  });

  it('dist/wasm/lstm.wasm and kernels.generated.ts are what assembly/ compiles to now (build-wasm --check)', () => {
    const script = fileURLToPath(new URL('../../scripts/build-wasm.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stderr}${r.error ?? ''}`);
  });
});

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

  it('zero-skipping product = dense product bit for bit (K over one panel, shrinking skip set, accumulate)', () => {
    const [M, N, K] = [6, 37, 300];
    const st = 4 << 20;
    const scratch = 5 << 20;
    const have = k.memory.buffer.byteLength;
    if (have < 8 << 20) k.memory.grow(((8 << 20) - have) / 65536);
    const stBytes = k.skipStateBytes(K, N);
    assert.ok(st + stBytes <= scratch);
    const a = randomFloats(M * K, 21);
    // zero columns: a run, scattered singles, one each side of the 256 panel edge, the first and the last
    const zero = new Set([0, 3, 4, 5, 6, 7, 40, 41, 99, 255, 256, 257, 298, 299]);
    for (let z = 100; z < 140; z += 3) zero.add(z); // 28 in all: enough for the skipping path (≥ K / 16)
    for (let i = 0; i < M; i++) for (const z of zero) a[i * K + z] = 0;
    const b = randomFloats(K * N, 22);
    const c0 = randomFloats(M * N, 23);
    new Int32Array(k.memory.buffer)[st / 4] = 0; // stale state
    const check = (label: string, accumulate: number) => {
      const m = mem();
      m.set(a, A / 4);
      m.set(b, B / 4);
      m.set(c0, C1 / 4);
      m.set(c0, C2 / 4);
      k.gemmSimd(C1, A, B, M, N, K, K, 1, N, N, accumulate);
      const skipped = k.gemmSkipZeroColumns(C2, A, B, M, N, K, K, N, accumulate, st, scratch);
      const r = mem();
      assert.deepEqual(r.slice(C2 / 4, C2 / 4 + M * N), r.slice(C1 / 4, C1 / 4 + M * N), label);
      return skipped;
    };
    assert.equal(check('first use', 0), zero.size);
    assert.equal(check('reused state', 1), zero.size);
    a[2 * K + 41] = 0.5; // a skipped column turns on: put back
    a[3 * K + 256] = -0.25;
    assert.equal(check('after shrinking', 1), zero.size - 2);
    // the TN form for weight gradients: rows of C whose column of A is skipped are left alone
    const [Mt, Nt, Kt] = [K, 9, 7]; // C (K × 9) += Aᵀ (K × M→7 rows) · B (7 × 9): A stored (7 × K)
    const at = randomFloats(Kt * Mt, 24);
    for (let r = 0; r < Kt; r++) for (const z of zero) if (z !== 41 && z !== 256) at[r * Mt + z] = 0;
    const bt = randomFloats(Kt * Nt, 25);
    const ct = randomFloats(Mt * Nt, 26);
    const m = mem();
    m.set(at, A / 4);
    m.set(bt, B / 4);
    m.set(ct, C1 / 4);
    m.set(ct, C2 / 4);
    k.gemmSimd(C1, A, B, Mt, Nt, Kt, 1, Mt, Nt, Nt, 1);
    assert.ok(k.gemmTNKeptRows(C2, A, B, Mt, Nt, Kt, st, scratch, 6 << 20));
    const r = mem();
    assert.deepEqual(r.slice(C2 / 4, C2 / 4 + Mt * Nt), r.slice(C1 / 4, C1 / 4 + Mt * Nt));
    k.invalidateSkipState(st);
    assert.equal(
      k.gemmTNKeptRows(C2, A, B, Mt, Nt, Kt, st, scratch, 6 << 20),
      0,
      'a stale state is not used',
    );
  });

  it('whole network with dead units: gradients and forecasts identical with zero-skipping on and off', () => {
    const cfg = resolveConfig({
      window: 12,
      features: 7,
      layers: [{ units: 40 }, { units: 21 }, { units: 10, activation: 'tanh' }],
      horizon: 5,
    });
    const net = new Net(cfg);
    initParams(net.regionView('params'), cfg, net.layout);
    // a third of the units of each ReLU layer off for every input: very negative candidate bias
    const p = net.regionView('params');
    cfg.layers.forEach((l, i) => {
      const bias = net.layout.tensors.find((t) => t.name === `${i === 0 ? 'lstm' : `lstm_${i}`}/bias`)!;
      if (l.activation === 'relu')
        for (let j = 0; j < l.units; j += 3) p[bias.offset + 2 * l.units + j] = -100;
    });
    const n = 9;
    const x = randomFloats(n * 12 * 7, 7, 0, 1);
    const y = randomFloats(n * 5, 8);
    const idx = [3, 8, 1, 0, 7, 2, 6, 4, 5];
    const run = (skip: number) => {
      net.k.setSkipZeros(skip);
      net.regionView('params'); // fresh states, as after an optimizer step
      net.zeroGrads();
      const sse = net.trainShard(x, y, idx, 0, n, 1, 1 / (n * 5));
      const pred = new Float32Array(n * 5);
      net.predictInto(pred, x, n);
      const one = new Float32Array(5);
      net.predictInto(one, x.subarray(2 * 84, 3 * 84), 1);
      return { sse, grads: net.regionView('grads').slice(), pred, one };
    };
    const on = run(1);
    const off = run(0);
    net.k.setSkipZeros(1);
    assert.equal(on.sse, off.sse);
    assert.deepEqual(on.pred, off.pred);
    assert.deepEqual(on.one, off.one);
    assert.deepEqual(on.grads, off.grads);
    // and new parameters reach the forecasts (the states' copies of the weights are rebuilt)
    const before = run(1).pred;
    const U = net.layout.tensors.find((t) => t.name === 'lstm/recurrent_kernel')!;
    const params = net.regionView('params'); // every recurrent weight changes: the packed copies must follow
    for (let i = U.offset; i < U.offset + U.size; i++) params[i] *= 1.5;
    const after = new Float32Array(n * 5);
    net.predictInto(after, x, n);
    net.k.setSkipZeros(0);
    const dense = new Float32Array(n * 5);
    net.predictInto(dense, x, n);
    net.k.setSkipZeros(1);
    assert.notDeepEqual(after, before);
    assert.deepEqual(after, dense);
  });
});
