// The job channel between two threads, with a real helper thread that answers, fails, dies, hangs, arrives late
// or answers twice (test/helpers/engine-helpers.ts). Leaves what the engine does about a failed helper to
// forecast-thread.test.ts and model.test.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { ACT, type HelperData } from '../../test/helpers/engine-helpers.js';
import { channelBuffer, JobPoster, SLOT, STATE } from './channel.js';
import { startWorker } from './threads.js';

const HELPERS = new URL('../../test/helpers/engine-helpers.ts', import.meta.url);
/** Long enough for a helper thread to start under tsx on a busy machine: a test never waits for it. */
const GENEROUS_MS = 60_000;

const workers: Worker[] = [];
after(() => Promise.all(workers.map((w) => w.terminate())));

/** A channel, its caller side, and a scripted helper thread started now (or later, with start()). */
function setup(mode: 'scripted' | 'answers-twice' = 'scripted', startNow = true) {
  const channel = channelBuffer();
  const runs = new Int32Array(new SharedArrayBuffer(4));
  const jobs = new JobPoster(channel, 'the test helper');
  let worker: Worker | null = null;
  const start = (): Worker => {
    const data: HelperData =
      mode === 'scripted' ? { mode, channel, runs: runs.buffer as SharedArrayBuffer } : { mode, channel };
    worker = startWorker(HELPERS, data);
    workers.push(worker);
    worker.on('exit', (code) => jobs.helperGone(`the thread exited with code ${code}`));
    return worker;
  };
  if (startNow) start();
  const post = (value: number, act: number, extra = 0, deadlineMs = GENEROUS_MS): void => {
    jobs.args.set([value, act, extra]);
    jobs.post(deadlineMs);
  };
  const ctl = new Int32Array(channel, 0, 8);
  return { jobs, runs, post, start, ctl };
}

describe('engine job channel', () => {
  it('a job is answered, synchronously and asynchronously, job after job', async () => {
    const { jobs, post } = setup();
    for (let i = 1; i <= 3; i++) {
      post(i, ACT.DOUBLE);
      assert.equal(i % 2 ? jobs.waitSync() : await jobs.waitAsync(5), 'done');
      assert.equal(jobs.nums[1], 2 * i);
    }
    assert.equal(jobs.failure, null);
  });

  it("the helper throws: the job fails at once with the helper's error, and no job is posted after that", async () => {
    const { jobs, post } = setup();
    post(1, ACT.DOUBLE);
    assert.equal(await jobs.waitAsync(5), 'done');
    post(2, ACT.THROW);
    assert.equal(jobs.waitSync(), 'failed'); // the deadline is a minute away: the answer said so
    assert.match(jobs.failure!.message, /the test helper failed[\s\S]*boom in job 2/);
    assert.equal(jobs.failure!.code, 'BYNER_MODEL');
    assert.throws(() => post(3, ACT.DOUBLE), /the test helper failed/);
  });

  it('the helper dies in a job: an asynchronous wait ends with its exit, a synchronous one at its deadline', async () => {
    const a = setup();
    a.post(1, ACT.EXIT);
    assert.equal(await a.jobs.waitAsync(5), 'failed');
    assert.match(a.jobs.failure!.message, /stopped[\s\S]*exited with code 7/);

    const b = setup();
    b.post(1, ACT.DOUBLE);
    assert.equal(await b.jobs.waitAsync(5), 'done'); // the helper is up
    b.post(2, ACT.EXIT, 0, 500);
    // the exit event cannot run while this thread spins: the deadline ends the wait
    assert.equal(b.jobs.waitSync(), 'failed');
    assert.match(b.jobs.failure!.message, /did not answer[\s\S]*no answer within 500 ms/);
  });

  it('the helper hangs: the wait ends at the deadline, the job is abandoned, and its late answer is ignored', async () => {
    const { jobs, post, runs, ctl } = setup();
    post(1, ACT.DOUBLE);
    assert.equal(await jobs.waitAsync(5), 'done'); // the helper is up
    post(2, ACT.SLEEP, 300, 50);
    assert.equal(jobs.waitSync(), 'failed');
    assert.match(jobs.failure!.message, /no answer within 50 ms/);
    assert.equal(ctl[SLOT.STATE], STATE.ABANDONED);
    // the helper wakes up and answers job 2 (its answer slot says so): the state and the verdict stay as they are
    const until = Date.now() + GENEROUS_MS;
    while (Atomics.load(ctl, SLOT.ANSWER) !== 2 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(Atomics.load(ctl, SLOT.ANSWER), 2, 'the late answer came');
    assert.equal(runs[0], 2);
    assert.equal(Atomics.load(ctl, SLOT.STATE), STATE.ABANDONED);
    assert.equal(jobs.poll(), 'failed');
  });

  it('a job taken back before the helper claimed it is never run, even by a helper that arrives late', async () => {
    const { jobs, post, runs, start } = setup('scripted', false);
    post(1, ACT.DOUBLE);
    assert.equal(jobs.cancel(), true);
    assert.equal(jobs.cancel(), false, 'only once');
    start(); // the helper arrives after the cancel
    post(5, ACT.DOUBLE);
    assert.equal(await jobs.waitAsync(5), 'done');
    assert.equal(jobs.nums[1], 10);
    assert.equal(runs[0], 1, 'only the second job ran');
  });

  it('a helper that answers an old job again is caught, not believed', async () => {
    const { jobs, post } = setup('answers-twice');
    post(1, ACT.DOUBLE);
    assert.equal(await jobs.waitAsync(5), 'done');
    post(2, ACT.DOUBLE);
    assert.equal(await jobs.waitAsync(5), 'failed');
    assert.match(jobs.failure!.message, /broke the job protocol[\s\S]*an answer to job 1 during job 2/);
  });

  it('a pipelined job follows the published steps; an abandoned one stops unanswered, a silent caller fails it', async () => {
    const { jobs, post, runs } = setup();
    post(0, ACT.FOLLOW, 5);
    for (let t = 1; t <= 5; t++) jobs.progress(t);
    assert.equal(await jobs.waitAsync(5), 'done');
    assert.equal(jobs.nums[1], 5);

    post(0, ACT.FOLLOW, 5);
    jobs.progress(2);
    while (jobs.unclaimed) await new Promise((r) => setImmediate(r));
    jobs.abandon(); // e.g. the caller's own part threw
    post(7, ACT.DOUBLE); // the helper drops the abandoned job and takes this one
    assert.equal(await jobs.waitAsync(5), 'done');
    assert.equal(jobs.nums[1], 14);
    assert.equal(runs[0], 3);

    post(0, ACT.FOLLOW, 5); // and never publish a step: the helper gives up after its own deadline
    assert.equal(await jobs.waitAsync(5), 'failed');
    assert.match(jobs.failure!.message, /published no input step for 2000 ms/);
  });

  it('posting while a job is outstanding is refused', () => {
    const { jobs, post } = setup('scripted', false);
    post(1, ACT.DOUBLE);
    assert.throws(
      () => post(2, ACT.DOUBLE),
      (e: Error & { code?: string }) => e.code === 'BYNER_STATE',
    );
    assert.equal(jobs.cancel(), true);
  });
});
