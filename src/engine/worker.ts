// Worker thread of the data-parallel trainer: its own kernel instance computes the gradients (or the loss) of its
// shard of a batch. Leaves the optimizer step, shuffling and the schedule to model.ts (through pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { Net } from './net.js';
import type { PoolInit, PoolRequest, PoolResponse } from './pool.js';

const init = workerData as PoolInit;
const net = new Net(init.config);
const x = new Float32Array(init.x);
const y = new Float32Array(init.y);
const vx = new Float32Array(init.vx);
const vy = new Float32Array(init.vy);
const params = new Float32Array(init.params);
const grads = new Float32Array(init.grads);
const port = parentPort!;

port.on('message', (req: PoolRequest) => {
  let res: PoolResponse;
  try {
    net.regionView('params').set(params);
    if (req.type === 'train') {
      net.zeroGrads();
      const sse = net.trainShard(x, y, req.idx, 0, req.idx.length, req.epoch, req.scale, req.dropout);
      grads.set(net.regionView('grads'));
      res = { ok: true, sse };
    } else {
      const T = init.config.window;
      const F = init.config.features;
      const N = init.config.horizon;
      const out = new Float32Array(req.count * N);
      const xs = vx.subarray(req.from * T * F, (req.from + req.count) * T * F);
      const ys = vy.subarray(req.from * N, (req.from + req.count) * N);
      res = { ok: true, sse: net.predictInto(out, xs, req.count, ys) };
    }
  } catch (e) {
    res = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(res);
});
