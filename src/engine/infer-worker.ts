// The forecast helper thread (see infer-pool.ts): sleeps on the control word, claims a posted job, and either runs
// the layers above the first for a pipelined window (as fast as the caller publishes the first layer's outputs) or
// forecasts its half of a batch. Leaves the protocol's caller side and every decision to infer-pool.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { CTL, type InferInit, KIND, STATE } from './infer-pool.js';
import { Net } from './net.js';

const init = workerData as InferInit;
const cfg = init.config;
const net = new Net(cfg);
const ctl = new Int32Array(init.ctl);
const params = new Float32Array(init.params);
const hs = new Float32Array(init.hs);
const xs = new Float32Array(init.xs);
const ys = new Float32Array(init.ys);
const { window: T, layers, horizon: N } = cfg;
const H0 = layers[0].units;
let paramsSeen = -1;

function pipe(): void {
  net.beginInference(null, 0, 1);
  let t = 0;
  while (t < T) {
    const ready = Atomics.load(ctl, CTL.STEPS);
    if (ready <= t) continue; // the caller is one step ahead at most a few microseconds: spin
    net.layerOutput(0, 1, t, ready).set(hs.subarray(t * H0, ready * H0));
    for (let i = 1; i < layers.length; i++) net.inferSteps(i, 1, t, ready, false);
    t = ready;
  }
  ys.set(net.inferDense(1));
}

/**
 * After a job the helper stays awake this long before sleeping on the control word: back-to-back forecasts (a
 * replay, a benchmark) then find it running instead of paying a wake-up (tens of microseconds on a virtual
 * machine, more than a pipelined forecast saves); at one forecast a second it costs 0.2% of a core.
 */
const SPIN_MS = 2;
let spinUntil = 0;

parentPort!.postMessage('ready');
for (;;) {
  const state = Atomics.load(ctl, CTL.STATE);
  if (state !== STATE.POSTED) {
    if (performance.now() < spinUntil) continue;
    Atomics.wait(ctl, CTL.STATE, state);
    continue;
  }
  if (Atomics.compareExchange(ctl, CTL.STATE, STATE.POSTED, STATE.CLAIMED) !== STATE.POSTED) continue;
  const version = Atomics.load(ctl, CTL.PARAMS);
  if (version !== paramsSeen) {
    net.regionView('params').set(params);
    paramsSeen = version;
  }
  if (Atomics.load(ctl, CTL.KIND) === KIND.PIPE) pipe();
  else {
    const count = Atomics.load(ctl, CTL.COUNT);
    const out = new Float32Array(count * N);
    net.predictInto(out, xs, count);
    ys.set(out);
  }
  Atomics.store(ctl, CTL.STATE, STATE.DONE);
  spinUntil = performance.now() + SPIN_MS;
}
