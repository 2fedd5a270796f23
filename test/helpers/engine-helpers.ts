// Helper threads that misbehave on purpose, for the failure-path tests of the engine's job channel
// (src/engine/channel.test.ts) and forecast thread (src/engine/forecast-thread.test.ts). Started as a worker with
// one of the workerData shapes below (imported by the tests for ACT and the types alone); deciding what to expect
// is the tests' job.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { type Job, SLOT, STATE, serveJobs } from '../../src/engine/channel.js';
import { type ForecastInit, forecastJobs, HELPER_SPIN_MS } from '../../src/engine/forecast-thread.js';

/** Per-job behaviour of the 'scripted' helper (the job's args[1]). */
export const ACT = { DOUBLE: 0, THROW: 1, EXIT: 2, SLEEP: 3, FOLLOW: 4 } as const;

export type HelperData =
  /** Serves jobs as args[1] says: nums[1] = 2·args[0]; throw; process.exit(7); sleep args[2] ms, then answer;
   * follow the caller's progress up to args[2] steps. Counts the jobs it runs in `runs`. */
  | { mode: 'scripted'; channel: SharedArrayBuffer; runs: SharedArrayBuffer }
  /** Answers its first job properly, then answers job 1 again (no claim) once the next job is posted. */
  | { mode: 'answers-twice'; channel: SharedArrayBuffer }
  /** The real forecast helper, which after `okJobs` good jobs throws, exits or hangs in every job. */
  | (ForecastInit & { mode: 'forecast'; fault: 'throw' | 'exit' | 'hang'; okJobs: number });

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function serve(data: HelperData): void {
  if (data.mode === 'scripted') {
    const runs = new Int32Array(data.runs);
    serveJobs(
      data.channel,
      (job: Job) => {
        Atomics.add(runs, 0, 1);
        const [value, act, extra] = job.args;
        if (act === ACT.THROW) throw new Error(`boom in job ${job.id}`);
        if (act === ACT.EXIT) process.exit(7);
        if (act === ACT.SLEEP) sleep(extra);
        if (act === ACT.FOLLOW) {
          let t = 0;
          while (t < extra) t = job.progress(t);
          job.nums[1] = t;
          return;
        }
        job.nums[1] = 2 * value;
      },
      0,
    );
  } else if (data.mode === 'answers-twice') {
    const ctl = new Int32Array(data.channel, 0, 8);
    const next = (): void => {
      while (Atomics.load(ctl, SLOT.STATE) !== STATE.POSTED)
        Atomics.wait(ctl, SLOT.STATE, Atomics.load(ctl, 0), 100);
    };
    next();
    Atomics.compareExchange(ctl, SLOT.STATE, STATE.POSTED, STATE.CLAIMED);
    const first = Atomics.load(ctl, SLOT.ID);
    Atomics.store(ctl, SLOT.ANSWER, first);
    Atomics.store(ctl, SLOT.STATE, STATE.DONE);
    sleep(10); // the caller collects the answer, then posts the next job
    next();
    Atomics.store(ctl, SLOT.ANSWER, first);
    Atomics.store(ctl, SLOT.STATE, STATE.DONE);
    sleep(60_000);
  } else {
    const real = forecastJobs(data);
    let jobs = 0;
    parentPort!.postMessage('ready');
    serveJobs(
      data.channel,
      (job) => {
        if (++jobs > data.okJobs) {
          if (data.fault === 'throw') throw new Error('injected fault in the forecast helper');
          if (data.fault === 'exit') process.exit(3);
          sleep(60_000);
        }
        real(job);
      },
      HELPER_SPIN_MS,
    );
  }
}

if (!isMainThread) serve(workerData as HelperData);
