// The model API: config and input validation, reproducibility, fit mechanics (callbacks, early stopping, abort,
// non-finite loss), worker threads vs single thread (tsx and dist), and the WASM memory leak check.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomFloats } from '../../test/engine-tfjs.js';
import { isBynerError } from '../errors.js';
import { type ModelConfig, resolveConfig } from './config.js';
import { createModel, type FitOptions, type LstmModel, type NamedWeight } from './model.js';
import { Net } from './net.js';

const CFG: Partial<ModelConfig> = {
  window: 10,
  features: 3,
  layers: [{ units: 8 }, { units: 6 }],
  horizon: 2,
  seed: 7,
};
const T = 10;
const F = 3;

function data(n: number, seed: number) {
  // a learnable target: the mean of the last window row, plus a trend
  const x = randomFloats(n * T * F, seed, 0, 1);
  const y = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const row = x.subarray((i * T + T - 1) * F, (i * T + T) * F);
    y[2 * i] = row[0] + row[1];
    y[2 * i + 1] = row[2] - row[0];
  }
  return { x: { data: x, shape: [n, T, F] as const }, y: { data: y, shape: [n, 2] as const } };
}

const code = (c: string) => (e: unknown) => isBynerError(e) && e.code === c;
const maxRel = (a: readonly NamedWeight[], b: readonly NamedWeight[]): number => {
  let worst = 0;
  a.forEach((w, i) => {
    let d = 0;
    let s = 0;
    for (let k = 0; k < w.data.length; k++) {
      d = Math.max(d, Math.abs(w.data[k] - b[i].data[k]));
      s = Math.max(s, Math.abs(b[i].data[k]));
    }
    worst = Math.max(worst, d / s);
  });
  return worst;
};

describe('engine model: validation', () => {
  const model = createModel(CFG);
  const good = data(4, 1);
  const nan = new Float32Array(good.x.data);
  nan[37] = Number.NaN;
  const inf = new Float32Array(good.y.data);
  inf[3] = Number.POSITIVE_INFINITY;
  const cases: { name: string; run: () => unknown; code: string; mentions?: string }[] = [
    {
      name: 'wrong window length',
      run: () => model.predict({ data: new Float32Array(4 * 9 * 3), shape: [4, 9, 3] }),
      code: 'BYNER_SHAPE',
      mentions: '(N ≥ 1, 10, 3)',
    },
    {
      name: 'wrong feature count',
      run: () => model.predict({ data: new Float32Array(4 * 10 * 4), shape: [4, 10, 4] }),
      code: 'BYNER_SHAPE',
      mentions: '(4, 10, 4)',
    },
    {
      name: 'shape / length mismatch',
      run: () => model.predict({ data: new Float32Array(10), shape: [4, 10, 3] }),
      code: 'BYNER_SHAPE',
    },
    {
      name: 'flat length not whole windows',
      run: () => model.predict(new Float32Array(31)),
      code: 'BYNER_SHAPE',
    },
    {
      name: 'not a Float32Array',
      run: () => model.predict({ data: [1, 2] as unknown as Float32Array, shape: [1, 1, 2] }),
      code: 'BYNER_INPUT',
    },
    {
      name: 'NaN input',
      run: () => model.predict({ data: nan, shape: [4, 10, 3] }),
      code: 'BYNER_NOT_FINITE',
      mentions: '[1, 2, 1]',
    },
    {
      name: 'predictOne wrong length',
      run: () => model.predictOne(new Float32Array(29)),
      code: 'BYNER_SHAPE',
      mentions: '30',
    },
    {
      name: 'Infinity target',
      run: () => model.fit(good.x, { data: inf, shape: [4, 2] }),
      code: 'BYNER_NOT_FINITE',
    },
    {
      name: 'targets of the wrong length',
      run: () => model.fit(good.x, { data: new Float32Array(6), shape: [3, 2] }),
      code: 'BYNER_SHAPE',
    },
    { name: 'batchSize 0', run: () => model.fit(good.x, good.y, { batchSize: 0 }), code: 'BYNER_CONFIG' },
    {
      name: 'setWeights wrong shape',
      run: () => model.setWeights(model.getWeights().map((w) => ({ data: w.data.subarray(1) }))),
      code: 'BYNER_SHAPE',
    },
    { name: 'config units 0', run: () => createModel({ layers: [{ units: 0 }] }), code: 'BYNER_CONFIG' },
    { name: 'config dropout 1', run: () => createModel({ dropout: 1 }), code: 'BYNER_CONFIG' },
    {
      name: "config activation 'sigmoid'",
      run: () => createModel({ layers: [{ units: 3, activation: 'sigmoid' as 'tanh' }] }),
      code: 'BYNER_CONFIG',
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, async () => {
      await assert.rejects(
        async () => c.run(),
        (e) => {
          assert.ok(code(c.code)(e), `got ${String(e)}`);
          if (c.mentions) assert.ok((e as Error).message.includes(c.mentions), (e as Error).message);
          return true;
        },
      );
    });
  }
});

describe('engine model: initialisation and reproducibility', () => {
  it('Glorot-uniform kernels, orthogonal recurrent kernels, forget bias 1, seeded', () => {
    const a = createModel(CFG);
    const b = createModel(CFG);
    const c = createModel({ ...CFG, seed: 8 });
    assert.deepEqual(a.getWeights(), b.getWeights());
    assert.notDeepEqual(a.getWeights(), c.getWeights());
    const w = Object.fromEntries(a.getWeights().map((t) => [t.name, t]));
    const limit = Math.sqrt(6 / (3 + 32));
    assert.ok(w['lstm/kernel'].data.every((v) => Math.abs(v) <= limit));
    const U = w['lstm/recurrent_kernel'];
    const [H, G] = U.shape;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) {
        let dot = 0;
        for (let k = 0; k < G; k++) dot += U.data[i * G + k] * U.data[j * G + k];
        assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-5, `U Uᵀ [${i},${j}] = ${dot}`);
      }
    }
    assert.deepEqual(
      [...w['lstm/bias'].data],
      [...Array(32)].map((_, i) => (i >= 8 && i < 16 ? 1 : 0)),
    );
  });

  it('same seed and data → identical fit, bit for bit (single thread and two threads)', async () => {
    const { x, y } = data(40, 2);
    for (const workers of [1, 2]) {
      const runs = await Promise.all(
        [0, 1].map(async () => {
          const m = createModel(CFG);
          const h = await m.fit(x, y, { epochs: 2, batchSize: 8, workers });
          return { h, w: m.getWeights() };
        }),
      );
      assert.deepEqual(runs[0].h, runs[1].h);
      assert.deepEqual(runs[0].w, runs[1].w);
    }
  });
});

describe('engine model: data parallelism', () => {
  it('shard gradients summed = whole-batch gradient (up to summation order), dropout on', () => {
    const cfg = resolveConfig({ ...CFG, dropout: 0.3 });
    const { x, y } = data(13, 3);
    const idx = Int32Array.from([12, 3, 5, 0, 7, 9, 1, 11, 2, 4, 6, 8, 10]);
    const whole = new Net(cfg);
    const parts = [new Net(cfg), new Net(cfg)];
    const init = createModel(cfg).net.regionView('params');
    for (const n of [whole, ...parts]) n.regionView('params').set(init);
    const scale = 1 / (13 * 2);
    whole.zeroGrads();
    const sse = whole.trainShard(x.data, y.data, idx, 0, 13, 4, scale);
    parts[0].zeroGrads();
    parts[1].zeroGrads();
    const sse0 = parts[0].trainShard(x.data, y.data, idx, 0, 6, 4, scale);
    const sse1 = parts[1].trainShard(x.data, y.data, idx, 6, 7, 4, scale);
    assert.ok(Math.abs(sse - sse0 - sse1) <= 1e-6 * sse);
    parts[0].addGrads(parts[1].regionView('grads'));
    const g = whole.regionView('grads');
    const h = parts[0].regionView('grads');
    let d = 0;
    let s = 0;
    for (let k = 0; k < g.length; k++) {
      d = Math.max(d, Math.abs(g[k] - h[k]));
      s = Math.max(s, Math.abs(g[k]));
    }
    assert.ok(d / s <= 1e-6, `rel diff ${d / s}`);
  });

  it('fit with 2 threads ≈ fit with 1 thread', async () => {
    const { x, y } = data(64, 4);
    const opts: FitOptions = { epochs: 1, batchSize: 16, learningRate: 1e-4 };
    const one = createModel(CFG);
    const two = createModel(CFG);
    const h1 = await one.fit(x, y, { ...opts, workers: 1 });
    const h2 = await two.fit(x, y, { ...opts, workers: 2 });
    assert.ok(Math.abs(h1.loss[0] - h2.loss[0]) <= 1e-5 * h1.loss[0]);
    assert.ok(maxRel(two.getWeights(), one.getWeights()) <= 1e-4);
  });

  it('worker threads start from the compiled dist/ build too', {
    skip:
      !existsSync(new URL('../../dist/engine/pool.js', import.meta.url)) &&
      'dist/engine not built (npm run build)',
  }, () => {
    const entry = fileURLToPath(new URL('../../dist/engine/index.js', import.meta.url));
    const script = `
      const { createModel } = await import(${JSON.stringify(entry)});
      const m = createModel({ window: 4, features: 2, layers: [{ units: 4 }], horizon: 1 });
      const x = new Float32Array(8 * 8).fill(0.5), y = new Float32Array(8).fill(1);
      const h = await m.fit({ data: x, shape: [8, 4, 2] }, { data: y, shape: [8, 1] }, { epochs: 1, batchSize: 8, workers: 2 });
      console.log(JSON.stringify(h.loss));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).length, 1);
  });
});

describe('engine model: forecast thread', () => {
  const THREE: Partial<ModelConfig> = { ...CFG, layers: [{ units: 8 }, { units: 6 }, { units: 5 }] };

  for (const [name, cfg] of [
    ['two LSTM layers', CFG],
    ['three LSTM layers', THREE],
  ] as const) {
    it(`one window (pipelined) and batches (halved) equal the one-thread forecasts bit for bit: ${name}`, async () => {
      const model = createModel(cfg);
      const { x } = data(600, 9);
      const n = x.shape[0];
      const ref = model.predict(x);
      // a tiny network's forecast is over before a helper wakes up: make the caller wait for it here
      await model.startForecastThread({ claimGraceMs: 5000 });
      try {
        const stats = model.forecastThreadStats;
        assert.ok(stats, 'the helper thread started');
        for (let i = 0; i < n; i++) {
          const one = model.predictOne(x.data.subarray(i * T * F, (i + 1) * T * F));
          assert.deepEqual(one, ref.subarray(i * 2, i * 2 + 2), `window ${i}`);
        }
        for (const count of [2, 3, 255, 256, 257, 600]) {
          const got = model.predict({ data: x.data.subarray(0, count * T * F), shape: [count, T, F] });
          assert.deepEqual(got, ref.subarray(0, count * 2), `batch of ${count}`);
        }
        // both paths ran on the helper (a job it had not picked up yet is done by the caller instead)
        const after = model.forecastThreadStats!;
        assert.ok(after.one > 0 && after.batch > 0, JSON.stringify(after));
      } finally {
        await model.closeForecastThread();
      }
      assert.equal(model.forecastThreadStats, null);
      assert.deepEqual(model.predict(x), ref, 'one thread again after close');
    });
  }

  it("predictStart: a started batch (shares of 1 … n − 1 for the helper) finishes with predict's values", async () => {
    const model = createModel(CFG);
    const { x } = data(300, 11);
    const ref = model.predict(x);
    await model.startForecastThread({ claimGraceMs: 5000 });
    try {
      const shares: number[] = [];
      for (const count of [2, 3, 57, 300]) {
        const part = {
          data: x.data.subarray(0, count * T * F),
          shape: [count, T, F] as [number, number, number],
        };
        for (let round = 0; round < 30; round++) {
          const job = model.predictStart(part);
          // while the helper works: other forecasts run here, on this thread
          assert.deepEqual(model.predict(part), ref.subarray(0, count * 2));
          assert.deepEqual(job.finish(), ref.subarray(0, count * 2), `batch of ${count}, round ${round}`);
          assert.deepEqual(job.finish(), ref.subarray(0, count * 2), 'finish() twice returns the same');
          shares.push(model.forecastThreadShare);
        }
      }
      assert.ok(model.forecastThreadStats!.batch > 0);
      assert.ok(shares.every((v) => v >= 0.15 && v <= 0.85));
      assert.ok(new Set(shares).size > 1, 'the share adapts');
    } finally {
      await model.closeForecastThread();
    }
    const job = model.predictStart(x); // no helper: all in finish()
    assert.deepEqual(job.finish(), ref);
  });

  it('new weights (setWeights, fit) reach the helper before its next forecast', async () => {
    const model = createModel(CFG);
    const other = createModel({ ...CFG, seed: 99 });
    const { x, y } = data(64, 5);
    await model.startForecastThread();
    try {
      const before = model.predict(x);
      model.setWeights(other.getWeights());
      assert.deepEqual(model.predict(x), other.predict(x));
      assert.notDeepEqual(model.predict(x), before);
      await model.fit(x, y, { epochs: 1, batchSize: 16, workers: 1 });
      const single = createModel(CFG);
      single.setWeights(model.getWeights());
      assert.deepEqual(model.predict(x), single.predict(x));
      const w = x.data.subarray(0, T * F);
      assert.deepEqual(model.predictOne(w), single.predictOne(w));
    } finally {
      await model.closeForecastThread();
    }
  });

  it('an idle helper does not keep the process alive (dist build)', {
    skip:
      !existsSync(new URL('../../dist/engine/forecast-worker.js', import.meta.url)) &&
      'dist/engine not built (npm run build)',
  }, () => {
    const entry = fileURLToPath(new URL('../../dist/engine/index.js', import.meta.url));
    const script = `
      const { createModel } = await import(${JSON.stringify(entry)});
      const m = createModel({ window: 4, features: 2, layers: [{ units: 4 }, { units: 3 }], horizon: 1 });
      await m.startForecastThread();
      const y = m.predict({ data: new Float32Array(3 * 8).fill(0.5), shape: [3, 4, 2] });
      console.log(JSON.stringify({ y: Array.from(y), stats: m.forecastThreadStats }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''} ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    assert.equal(out.y.length, 3);
    assert.ok(out.y.every((v: number) => Number.isFinite(v)));
  });
});

describe('engine model: fit mechanics', () => {
  it('callbacks, early stopping, and the best weights restored', async () => {
    const { x, y } = data(48, 5);
    const val = data(16, 6);
    const model = createModel(CFG);
    const batches: string[] = [];
    const snapshots = new Map<number, NamedWeight[]>();
    const h = await model.fit(x, y, {
      epochs: 6,
      batchSize: 16,
      validation: val,
      patience: 2,
      workers: 1,
      onBatchEnd: (b) => batches.push(`${b.epoch}:${b.batch}/${b.batches}`),
      onEpochEnd: async (e) => {
        await new Promise((r) => setTimeout(r, 1)); // awaited: checkpoints may be asynchronous
        snapshots.set(e.epoch, e.model.getWeights());
      },
    });
    assert.equal(batches.length, 3 * h.epochs);
    assert.equal(batches[0], '0:0/3');
    assert.equal(h.valLoss.length, h.epochs);
    assert.equal(h.bestLoss, Math.min(...h.valLoss));
    assert.deepEqual(model.getWeights(), snapshots.get(h.bestEpoch));
  });

  it('stops after `patience` epochs without improvement', async () => {
    const { x, y } = data(32, 7);
    const model = createModel(CFG);
    const h = await model.fit(x, y, {
      epochs: 10,
      batchSize: 16,
      validation: data(8, 8),
      patience: 2,
      learningRate: 1e-30,
      workers: 1,
    });
    assert.equal(h.stoppedReason, 'early-stopping');
    assert.equal(h.epochs, 3);
    assert.equal(h.bestEpoch, 0);
  });

  it('an AbortSignal stops cleanly and keeps the best weights', async () => {
    const { x, y } = data(32, 9);
    const model = createModel(CFG);
    const ctl = new AbortController();
    let atEpoch0: NamedWeight[] = [];
    const h = await model.fit(x, y, {
      epochs: 5,
      batchSize: 8,
      workers: 2,
      onEpochEnd: (e) => {
        atEpoch0 = e.model.getWeights();
      },
      onBatchEnd: (b) => {
        if (b.epoch === 1 && b.batch === 1) ctl.abort();
      },
      signal: ctl.signal,
    });
    assert.equal(h.stoppedReason, 'aborted');
    assert.equal(h.epochs, 1);
    assert.deepEqual(model.getWeights(), atEpoch0);
  });

  it('a non-finite loss stops training and keeps the best weights', async () => {
    const { x, y } = data(32, 10);
    const model = createModel(CFG);
    let best: NamedWeight[] = [];
    const h = await model.fit(x, y, {
      epochs: 5,
      batchSize: 8,
      workers: 1,
      onEpochEnd: (e) => {
        best = e.model.getWeights();
        // blow the weights up: the next forward pass overflows to Infinity / NaN
        e.model.setWeights(best.map((w) => ({ ...w, data: w.data.map((v) => (v === 0 ? 1e30 : v * 1e30)) })));
      },
    });
    assert.equal(h.stoppedReason, 'non-finite-loss');
    assert.equal(h.bestEpoch, 0);
    assert.deepEqual(model.getWeights(), best);
  });
});

describe('engine model: memory', () => {
  it('WASM memory stays flat over 10,000 predict calls', () => {
    const model: LstmModel = createModel({ window: 60, features: 7 });
    const w = randomFloats(60 * 7, 11, 0, 1);
    const batch = randomFloats(40 * 60 * 7, 12, 0, 1);
    model.predictOne(w);
    model.predict(batch);
    const before = model.net.memoryBytes;
    for (let i = 0; i < 10_000; i++) {
      if (i % 1000 === 0) model.predict(batch);
      else model.predictOne(w);
    }
    assert.equal(model.net.memoryBytes, before);
  });
});
