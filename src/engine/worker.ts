// Worker thread of the data-parallel trainer: its own kernel instance computes the gradients (or the loss) of its
// shard of a batch, as posted in the control block (pool.ts). Between requests it spins a little before sleeping,
// so that the next batch finds it awake. Leaves the optimizer step, shuffling and the schedule to model.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { Net } from './net.js';
import { CTL, KIND, type PoolInit, STATE } from './pool.js';

const init = workerData as PoolInit;
const net = new Net(init.config);
const x = new Float32Array(init.x);
const y = new Float32Array(init.y);
const vx = new Float32Array(init.vx);
const vy = new Float32Array(init.vy);
const params = new Float32Array(init.params);
const grads = new Float32Array(init.grads);
const ctl = new Int32Array(init.ctl);
const idx = new Int32Array(init.idx);
const nums = new Float64Array(init.nums);
const { window: T, features: F, horizon: N } = init.config;
/** Batches follow each other within a millisecond; an epoch's end (validation, checkpoint) takes longer. */
const SPIN_MS = 20;
let spinUntil = 0;

function serve(): number {
  net.regionView('params').set(params);
  if (Atomics.load(ctl, CTL.KIND) === KIND.TRAIN) {
    const count = Atomics.load(ctl, CTL.COUNT);
    const epoch = Atomics.load(ctl, CTL.EPOCH);
    const dropout = Atomics.load(ctl, CTL.DROPOUT) === 1;
    net.zeroGrads();
    const sse = net.trainShard(x, y, idx, 0, count, epoch, nums[0], dropout);
    grads.set(net.regionView('grads'));
    return sse;
  }
  const from = Atomics.load(ctl, CTL.FROM);
  const count = Atomics.load(ctl, CTL.COUNT);
  const out = new Float32Array(count * N);
  const xs = vx.subarray(from * T * F, (from + count) * T * F);
  const ys = vy.subarray(from * N, (from + count) * N);
  return net.predictInto(out, xs, count, ys);
}

for (;;) {
  const state = Atomics.load(ctl, CTL.STATE);
  if (state !== STATE.POSTED) {
    if (performance.now() < spinUntil) continue;
    Atomics.wait(ctl, CTL.STATE, state);
    continue;
  }
  Atomics.store(ctl, CTL.STATE, STATE.CLAIMED);
  try {
    nums[1] = serve();
    Atomics.store(ctl, CTL.STATE, STATE.DONE);
  } catch (e) {
    parentPort!.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    Atomics.store(ctl, CTL.STATE, STATE.FAILED);
  }
  spinUntil = performance.now() + SPIN_MS;
}
