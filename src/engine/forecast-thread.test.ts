// The forecast thread when its helper fails: it throws, exits in a job, hangs, or dies while idle. Every forecast
// still equals the one-thread forecast, the failure is reported once (stats and onFailure), and forecasts go on
// on the calling thread. Leaves the bit-for-bit agreement of a working helper to model.test.ts, the protocol to
// channel.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { randomFloats } from '../../test/engine-tfjs.js';
import type { HelperData } from '../../test/helpers/engine-helpers.js';
import type { BynerError } from '../errors.js';
import { ForecastThread } from './forecast-thread.js';
import { createModel } from './model.js';
import { startWorker } from './threads.js';

const HELPERS = new URL('../../test/helpers/engine-helpers.ts', import.meta.url);
const T = 10;
const F = 3;
const N = 2;

/** A model, its one-thread forecasts of 300 windows, and a forecast thread whose helper has `fault`. */
async function faulty(fault: 'throw' | 'exit' | 'hang' | 'none', okJobs: number) {
  const model = createModel({
    window: T,
    features: F,
    layers: [{ units: 8 }, { units: 6 }],
    horizon: N,
    seed: 3,
  });
  const x = randomFloats(300 * T * F, 4, 0, 1);
  const ref = model.predict(x);
  const failures: BynerError[] = [];
  let worker: Worker | null = null;
  const thread = await ForecastThread.start(
    model.net,
    { claimGraceMs: 60_000, onFailure: (e) => failures.push(e) }, // the helper takes every job it can
    (init) => {
      const data: HelperData = {
        ...init,
        mode: 'forecast',
        fault: fault === 'none' ? 'throw' : fault,
        okJobs,
      };
      worker = startWorker(HELPERS, fault === 'none' ? { ...data, okJobs: Number.MAX_SAFE_INTEGER } : data);
      return worker;
    },
  );
  /** The thread's forecasts of windows [from, from + n), checked against the one-thread ones. */
  const check = (from: number, n: number, what: string): void => {
    const out = new Float32Array(n * N);
    thread.predict(x.subarray(from * T * F, (from + n) * T * F), n, out);
    assert.deepEqual(out, ref.subarray(from * N, (from + n) * N), what);
  };
  return { thread, failures, check, worker: () => worker!, x, ref };
}

const settled = () => new Promise((r) => setTimeout(r, 10));

describe('engine forecast thread: a failing helper', () => {
  for (const [fault, symptom] of [
    ['throw', /the forecast helper thread failed[\s\S]*injected fault in the forecast helper/],
    ['exit', /the forecast helper thread did not answer[\s\S]*no answer within 20\d\d ms/],
    ['hang', /the forecast helper thread did not answer[\s\S]*no answer within 20\d\d ms/],
  ] as const) {
    it(`the helper ${fault === 'throw' ? 'throws' : fault === 'exit' ? 'exits' : 'hangs'} in a job: right forecasts, reported once, then one thread`, async () => {
      const { thread, failures, check, x } = await faulty(fault, 2);
      try {
        check(0, 1, 'a pipelined window the helper did');
        check(1, 40, 'a batch the helper shared');
        const before = thread.stats;
        assert.equal(before.failure, null);
        check(41, 1, 'the window whose job fails');
        const failure = thread.stats.failure;
        assert.ok(failure, 'the failure is in the stats');
        assert.equal(failure.code, 'BYNER_MODEL');
        assert.match(failure.message, symptom);
        assert.equal(thread.usable, false);
        check(42, 100, 'a batch after the failure');
        check(142, 1, 'a window after the failure');
        assert.equal(
          thread.start(x.subarray(0, 2 * T * F), 2).threaded,
          false,
          'nothing is handed out any more',
        );
        await settled();
        assert.deepEqual(
          failures.map((e) => e.message),
          [failure.message],
          'onFailure once',
        );
        assert.equal(thread.stats.one + thread.stats.batch, 2, 'the two jobs before the fault');
      } finally {
        await thread.close();
      }
    });
  }

  it('the helper fails in the part of a started batch: finish() still returns every forecast', async () => {
    const { thread, failures, x, ref } = await faulty('throw', 0);
    try {
      const job = thread.start(x.subarray(0, 50 * T * F), 50);
      assert.equal(job.threaded, true);
      job.work();
      assert.deepEqual(job.finish(), ref.subarray(0, 50 * N));
      assert.match(thread.stats.failure!.message, /injected fault/);
      await settled();
      assert.equal(failures.length, 1);
    } finally {
      await thread.close();
    }
  });

  it('the helper dies while idle: the exit is reported and the next forecasts run on this thread', async () => {
    const { thread, failures, check, worker } = await faulty('none', 0);
    try {
      check(0, 1, 'with the helper');
      check(1, 30, 'with the helper');
      assert.equal(thread.stats.one + thread.stats.batch, 2);
      await worker().terminate(); // as if the thread had crashed: not closed by the owner
      await settled();
      assert.match(thread.stats.failure!.message, /stopped[\s\S]*exited with code 1/);
      assert.equal(failures.length, 1);
      check(31, 1, 'alone');
      check(32, 30, 'alone');
      assert.equal(thread.stats.one + thread.stats.batch, 2, 'no job posted to a dead helper');
    } finally {
      await thread.close();
    }
    await settled();
    assert.equal(failures.length, 1, 'closing is no failure');
  });

  it('closing a working helper reports nothing', async () => {
    const { thread, failures, check } = await faulty('none', 0);
    check(0, 1, 'with the helper');
    await thread.close();
    await settled();
    assert.deepEqual(failures, []);
    assert.equal(thread.stats.failure, null);
    check(1, 20, 'after close');
  });
});
