// Example 1: train byner's LSTM engine on windows you build yourself (Float32Array, shape (N, T, F)) and save it in
// the TensorFlow.js layers format. Usage: node train-and-save.js [DIR] (default ./example-model).
import { createModel, type Tensor2, type Tensor3 } from 'byner';
import { FEATURES, HORIZON, nextValues, WINDOW, writeWindow } from './wave.js';

const dir = process.argv[2] ?? 'example-model';

/** Windows starting at t = from … from + n − 1, and the next HORIZON values of each as targets. */
function windows(from: number, n: number): { x: Tensor3; y: Tensor2 } {
  const x = new Float32Array(n * WINDOW * FEATURES);
  const y = new Float32Array(n * HORIZON);
  for (let i = 0; i < n; i++) {
    writeWindow(x, i * WINDOW * FEATURES, from + i);
    y.set(nextValues(from + i), i * HORIZON);
  }
  return { x: { data: x, shape: [n, WINDOW, FEATURES] }, y: { data: y, shape: [n, HORIZON] } };
}

const train = windows(0, 800);
const validation = windows(900, 200); // later in time than every training window

const model = createModel({
  window: WINDOW,
  features: FEATURES,
  layers: [{ units: 32, activation: 'tanh' }],
  dropout: 0,
  horizon: HORIZON,
  seed: 7,
});
console.log(`model: 1 LSTM layer of 32 units, ${model.paramCount} parameters`);

const history = await model.fit(train.x, train.y, {
  epochs: 20,
  batchSize: 32,
  learningRate: 0.01,
  validation,
  patience: 5,
  onEpochEnd: (e) =>
    console.log(`epoch ${e.epoch + 1}: loss ${e.loss.toFixed(5)}, val ${e.valLoss?.toFixed(5)}`),
});
console.log(
  `stopped: ${history.stoppedReason} after ${history.epochs} epochs, best epoch ${history.bestEpoch + 1}, ` +
    `validation MSE ${model.evaluate(validation.x, validation.y).toFixed(5)}`,
);

await model.save(dir);
console.log(`saved to ${dir}/ (model.json + weights.bin)`);
