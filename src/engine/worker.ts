// Worker thread of the data-parallel trainer: its own kernel instance computes the gradients (or the loss) of its
// shard of a batch, as requested through its job channel (pool.ts, channel.ts). Between requests it spins a little
// before sleeping, so that the next batch finds it awake. Leaves the optimizer step, shuffling and the schedule to
// model.ts.
import { workerData } from 'node:worker_threads';
import { serveJobs } from './channel.js';
import { Net } from './net.js';
import { ARG, KIND, NUM, type PoolInit } from './pool.js';

const init = workerData as PoolInit;
const net = new Net(init.config);
const x = new Float32Array(init.x);
const y = new Float32Array(init.y);
const vx = new Float32Array(init.vx);
const vy = new Float32Array(init.vy);
const params = new Float32Array(init.params);
const grads = new Float32Array(init.grads);
const idx = new Int32Array(init.idx);
const { window: T, features: F, horizon: N } = init.config;
/** Batches follow each other within a millisecond; an epoch's end (validation, checkpoint) takes longer. */
const SPIN_MS = 20;

serveJobs(
  init.channel,
  ({ args, nums }) => {
    net.regionView('params').set(params);
    const count = args[ARG.COUNT];
    if (args[ARG.KIND] === KIND.TRAIN) {
      net.zeroGrads();
      nums[NUM.SSE] = net.trainShard(
        x,
        y,
        idx,
        0,
        count,
        args[ARG.EPOCH],
        nums[NUM.SCALE],
        args[ARG.DROPOUT] === 1,
      );
      grads.set(net.regionView('grads'));
      return;
    }
    const from = args[ARG.FROM];
    const out = new Float32Array(count * N);
    const xs = vx.subarray(from * T * F, (from + count) * T * F);
    const ys = vy.subarray(from * N, (from + count) * N);
    nums[NUM.SSE] = net.predictInto(out, xs, count, ys);
  },
  SPIN_MS,
);
