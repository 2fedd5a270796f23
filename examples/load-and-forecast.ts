// Example 2: load a model saved by example 1 (or by TF.js, same architecture) and forecast: one window, a batch,
// then the same on two threads. Usage: node load-and-forecast.js [DIR] (default ./example-model).
import { isBynerError, type LstmModel, loadModel } from 'byner';
import { FEATURES, nextValues, WINDOW, writeWindow } from './wave.js';

const dir = process.argv[2] ?? 'example-model';

let model: LstmModel;
try {
  model = await loadModel(dir);
} catch (error) {
  // Every error byner throws has a stable code and says what it expected and received.
  if (isBynerError(error, 'BYNER_MODEL_FILE')) {
    console.error(`cannot load ${dir}: ${error.message}\n(run train-and-save.js first)`);
    process.exit(1);
  }
  throw error;
}
const { window, features, horizon } = model.config;
console.log(`loaded ${dir}: window ${window}, features ${features}, horizon ${horizon}`);

const fmt = (xs: ArrayLike<number>) => Array.from(xs, (v) => v.toFixed(3)).join(' ');

// One window: WINDOW rows of FEATURES values, time-major.
const t0 = 2000;
const one = new Float32Array(WINDOW * FEATURES);
writeWindow(one, 0, t0);
const forecast = model.predictOne(one);
console.log(`forecast ${fmt(forecast)}\nactual   ${fmt(nextValues(t0))}`);

// A batch of windows, shape (N, T, F) → (N, horizon) row-major.
const n = 100;
const batch = new Float32Array(n * WINDOW * FEATURES);
for (let i = 0; i < n; i++) writeWindow(batch, i * WINDOW * FEATURES, 3000 + i);
const all = model.predict({ data: batch, shape: [n, WINDOW, FEATURES] });
let se = 0;
for (let i = 0; i < n; i++) {
  nextValues(3000 + i).forEach((v, h) => {
    se += (all[i * horizon + h] - v) ** 2;
  });
}
console.log(`batch of ${n}: MSE ${(se / (n * horizon)).toFixed(5)}`);

// The forecast thread: the same numbers, bit for bit, with part of the work on a second thread.
await model.startForecastThread();
const threaded = model.predictOne(one);
await model.closeForecastThread();
console.log(
  `two threads: ${threaded.every((v, h) => v === forecast[h]) ? 'same forecast' : 'DIFFERENT forecast'}`,
);
