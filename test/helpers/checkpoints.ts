// Test helper: small training checkpoints whose every number depends on the run and epoch, for the suites of the
// checkpoint protocols (on disk: src/train/checkpoint.test.ts; in GridFS: test/queue-checkpoints.test.ts).
import type { Checkpoint } from '../../src/train/checkpoint.js';

/** A small checkpoint whose every number depends on the run and epoch, so a mixed-up part is visible. */
export function makeCheckpoint(epoch: number, run = 'lstm-run'): Checkpoint {
  const fill = (n: number, k: number) =>
    Float32Array.from({ length: n }, (_, i) => epoch * 100 + k * 10 + i / 8);
  const tensors = (k: number) => [
    { name: 'lstm/kernel', shape: [2, 3], data: fill(6, k) },
    { name: 'dense/bias', shape: [3], data: fill(3, k + 1) },
  ];
  return {
    state: {
      version: run,
      config: { seed: 1 },
      data_range: { stream: 'synthetic', from_seq: 0, to_seq: 99 },
      epochsDone: epoch,
      loss: Array.from({ length: epoch }, (_, e) => 1 / (e + 1)),
      valLoss: Array.from({ length: epoch }, (_, e) => 2 / (e + 1)),
      bestEpoch: epoch - 1,
      bestLoss: 2 / epoch,
    },
    weights: tensors(1),
    best: tensors(3),
    // The moments cover the engine's whole parameter region, padding included: longer than the weights.
    optimizer: { step: epoch * 7, m: fill(12, 5), v: fill(12, 6) },
  };
}
