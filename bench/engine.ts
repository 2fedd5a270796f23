// `npm run bench:engine [-- --json]`: trains the seed network (60×7 → LSTM 100 → LSTM 50 → Dense 5, dropout 0.2,
// batch 32) with our engine and with @tensorflow/tfjs-backend-wasm on the same synthetic windows, then times
// single-window forecasts (two threads pipelined, and the calling thread alone). Prints ms/sample/epoch, the
// speed-up and latency p50/p99. Leaves CI budgets to the tests.
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { createModel, DEFAULT_MODEL_CONFIG, type ResolvedConfig } from '../src/engine/index.js';
import { tfModel } from '../test/engine-tfjs.js';

const json = process.argv.includes('--json');
const log = (...a: unknown[]): void => {
  if (!json) console.log(...a);
};
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

const cfg: ResolvedConfig = DEFAULT_MODEL_CONFIG;
const { window: T, features: F, horizon: N } = cfg;
const OURS_SAMPLES = arg('ours-samples', 2048);
const OURS_EPOCHS = arg('ours-epochs', 3); // the first epoch (thread start-up, JIT) is not timed
const TFJS_SAMPLES = arg('tfjs-samples', 512);
const PREDICTS = arg('predicts', 3000);
const TFJS_PREDICTS = arg('tfjs-predicts', 300);

/** Synthetic ticks (DESIGN §2: 8·sin(2π·0.1·t) + N(0, 1.5), rounded, clipped) → min-max scaled 7-feature windows. */
function windows(n: number, seed: number): { x: Float32Array; y: Float32Array } {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const len = n + T + N + 30;
  const price = new Float64Array(len);
  for (let t = 0; t < len; t++) {
    const eps = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand()) * 1.5;
    price[t] = Math.max(-10, Math.min(10, Math.round(8 * Math.sin(2 * Math.PI * 0.1 * t) + eps)));
  }
  // stand-ins for the six indicators: moving mean, spread and momentum of the price at a few lags
  const feat = (t: number, f: number): number => {
    if (f === 0) return price[t];
    const k = [0, 10, 14, 10, 10, 8, 17][f];
    let m = 0;
    for (let i = 0; i < k; i++) m += price[t - i];
    m /= k;
    return f % 2 === 0 ? m : price[t] - m;
  };
  const x = new Float32Array(n * T * F);
  const y = new Float32Array(n * N);
  for (let i = 0; i < n; i++) {
    const t0 = 30 + i;
    for (let t = 0; t < T; t++)
      for (let f = 0; f < F; f++) x[(i * T + t) * F + f] = (feat(t0 + t, f) + 10) / 20;
    for (let h = 0; h < N; h++) y[i * N + h] = price[t0 + T + h];
  }
  return { x, y };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function ours(x: Float32Array, y: Float32Array) {
  const model = createModel(cfg);
  const n = y.length / N;
  const stamps: number[] = [];
  const t0 = performance.now();
  await model.fit(
    { data: x, shape: [n, T, F] },
    { data: y, shape: [n, N] },
    {
      epochs: OURS_EPOCHS,
      batchSize: 32,
      patience: Infinity,
      onEpochEnd: () => {
        stamps.push(performance.now());
      },
    },
  );
  const epochMs = stamps.slice(1).map((t, i) => t - stamps[i]);
  const train =
    epochMs.length > 0 ? epochMs.reduce((s, v) => s + v, 0) / epochMs.length / n : (stamps[0] - t0) / n;
  const latency = (): { p50: number; p99: number } => {
    const lat: number[] = [];
    for (let i = 0; i < 200; i++) model.predictOne(x.subarray((i % n) * T * F, ((i % n) + 1) * T * F));
    for (let i = 0; i < PREDICTS; i++) {
      const s = performance.now();
      model.predictOne(x.subarray((i % n) * T * F, ((i % n) + 1) * T * F));
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
  };
  const one = latency(); // the calling thread alone
  await model.startForecastThread(); // what byner infer does: the window pipelined over two threads
  const two = latency();
  const stats = model.forecastThreadStats;
  await model.closeForecastThread();
  return { train, ...two, oneThread: one, stats };
}

async function tfjsWasm(x: Float32Array, y: Float32Array) {
  await tf.setBackend('wasm');
  tf.env().set('PROD', true);
  const model = tfModel(cfg); // the same network the oracle tests build
  model.compile({ optimizer: tf.train.adam(0.001, 0.9, 0.999, 1e-7), loss: 'meanSquaredError' });
  const n = y.length / N;
  const xs = tf.tensor3d(x, [n, T, F]);
  const ys = tf.tensor2d(y, [n, N]);
  await model.fit(xs.slice(0, 64), ys.slice(0, 64), { epochs: 1, batchSize: 32, verbose: 0 }); // warm-up
  const t0 = performance.now();
  await model.fit(xs, ys, { epochs: 1, batchSize: 32, shuffle: true, verbose: 0 });
  const train = (performance.now() - t0) / n;
  const lat: number[] = [];
  for (let i = 0; i < TFJS_PREDICTS + 20; i++) {
    const one = tf.tensor3d(x.subarray((i % n) * T * F, ((i % n) + 1) * T * F), [1, T, F]);
    const s = performance.now();
    const out = model.predict(one) as tf.Tensor;
    out.dataSync();
    const dt = performance.now() - s;
    tf.dispose([one, out]);
    if (i >= 20) lat.push(dt);
  }
  lat.sort((a, b) => a - b);
  return { train, p50: percentile(lat, 50), simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') };
}

const data = windows(Math.max(OURS_SAMPLES, TFJS_SAMPLES), 2026);
log(`byner engine benchmark — ${availableParallelism()} cores, node ${process.version}`);
log(
  `network: ${T}×${F} → ${cfg.layers.map((l) => `LSTM ${l.units} ${l.activation}`).join(' → ')} → Dense ${N}, ` +
    `dropout ${cfg.dropout}, batch 32`,
);
const a = await ours(data.x.subarray(0, OURS_SAMPLES * T * F), data.y.subarray(0, OURS_SAMPLES * N));
log(
  `ours:       train ${a.train.toFixed(3)} ms/sample/epoch (${OURS_SAMPLES} windows, 2 threads); ` +
    `forecast p50 ${a.p50.toFixed(3)} ms, p99 ${a.p99.toFixed(3)} ms (2 threads, pipelined; ` +
    `one thread: p50 ${a.oneThread.p50.toFixed(3)} ms, p99 ${a.oneThread.p99.toFixed(3)} ms)`,
);
if (a.stats)
  log(`            forecasts the helper thread joined: ${a.stats.one}, taken back: ${a.stats.cancelled}`);
if (a.stats?.failure) {
  // its two-thread figures are then partly one-thread figures
  console.error(`the forecast thread failed during the benchmark: ${a.stats.failure.message}`);
}
const b = await tfjsWasm(data.x.subarray(0, TFJS_SAMPLES * T * F), data.y.subarray(0, TFJS_SAMPLES * N));
log(
  `tfjs-wasm:  train ${b.train.toFixed(3)} ms/sample/epoch (${TFJS_SAMPLES} windows, SIMD ${b.simd}); ` +
    `forecast p50 ${b.p50.toFixed(3)} ms`,
);
log(`speed-up:   train ${(b.train / a.train).toFixed(1)}×, forecast p50 ${(b.p50 / a.p50).toFixed(1)}×`);
if (json) {
  console.log(
    JSON.stringify({
      ours_train_ms_per_sample: a.train,
      tfjs_wasm_train_ms_per_sample: b.train,
      train_speedup: b.train / a.train,
      ours_predict_p50_ms: a.p50,
      ours_predict_p99_ms: a.p99,
      ours_predict_one_thread_p50_ms: a.oneThread.p50,
      ours_predict_one_thread_p99_ms: a.oneThread.p99,
      tfjs_wasm_predict_p50_ms: b.p50,
    }),
  );
}
