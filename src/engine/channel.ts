// One job at a time between two threads, over a small shared block and Atomics (no messages, no event loop): the
// caller posts a job, the helper claims it and answers done, or failed with its error's text. The caller may take
// back a job the helper has not claimed, and gives a job up when its answer is not there by the job's deadline; a
// late or repeated answer is then ignored. Leaves what a job means (its arguments, the data in other shared buffers)
// and what to do about a failed helper to the two users: pool.ts (training) and forecast-thread.ts (forecasts).
import { BynerError } from '../errors.js';

/** States of the control word. Only the caller posts, cancels and abandons; only the helper claims and answers. */
export const STATE = {
  IDLE: 0,
  POSTED: 1,
  CLAIMED: 2,
  DONE: 3,
  FAILED: 4,
  CANCELLED: 5,
  ABANDONED: 6,
} as const;
/** Slots of the control block (Int32Array at the start of the buffer). */
export const SLOT = { STATE: 0, ID: 1, ANSWER: 2, PROGRESS: 3, ERROR_BYTES: 4 } as const;
const HEADER = 8;
/** Integer and float arguments a job can carry (and a float result); their meaning is the user's. */
const ARG_SLOTS = 8;
const NUM_SLOTS = 4;
const ERROR_CAPACITY = 1024;
const ARGS_AT = HEADER * 4;
const NUMS_AT = ARGS_AT + ARG_SLOTS * 4;
const TEXT_AT = NUMS_AT + NUM_SLOTS * 8;

/** How long an idle helper sleeps on the control word before looking again. */
const IDLE_WAIT_MS = 1000;
/** A pipelined job whose caller publishes no new step for this long fails (the caller died or hangs). */
const PROGRESS_DEADLINE_MS = 2000;

/** A fresh control block, to hand to both threads. */
export function channelBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(TEXT_AT + ERROR_CAPACITY);
}

export type Answer = 'done' | 'failed';

/** The caller's side: posts jobs and collects their answers. */
export class JobPoster {
  /** The job's arguments: write them before `post`. `nums` also carries a float result back. */
  readonly args: Int32Array;
  readonly nums: Float64Array;
  private readonly ctl: Int32Array;
  private readonly text: Uint8Array;
  private id = 0;
  private dueMs = 0;
  private deadlineMs = 0;
  private failed: BynerError | null = null;

  /** `helper` names the other thread in errors (e.g. "the forecast helper thread"). */
  constructor(
    buffer: SharedArrayBuffer,
    private readonly helper: string,
  ) {
    this.ctl = new Int32Array(buffer, 0, HEADER);
    this.args = new Int32Array(buffer, ARGS_AT, ARG_SLOTS);
    this.nums = new Float64Array(buffer, NUMS_AT, NUM_SLOTS);
    this.text = new Uint8Array(buffer, TEXT_AT, ERROR_CAPACITY);
  }

  /** Why the helper is not to be used any more (its error, its exit, a missed deadline); null while it is fine. */
  get failure(): BynerError | null {
    return this.failed;
  }

  /** Posts the job whose arguments are in args / nums; its answer is due within `deadlineMs`. */
  post(deadlineMs: number): void {
    if (this.failed) throw this.failed;
    const now = Atomics.load(this.ctl, SLOT.STATE);
    if (now === STATE.POSTED || now === STATE.CLAIMED) {
      throw new BynerError('BYNER_STATE', `a job for ${this.helper} is still outstanding`, {
        expected: 'its answer, its cancel or its abandon before the next post',
        received: `job ${this.id} ${now === STATE.POSTED ? 'posted' : 'claimed'}`,
      });
    }
    this.id = (this.id % 0x7ffffffe) + 1;
    this.deadlineMs = deadlineMs;
    this.dueMs = performance.now() + deadlineMs;
    const c = this.ctl;
    Atomics.store(c, SLOT.PROGRESS, 0);
    Atomics.store(c, SLOT.ID, this.id);
    Atomics.store(c, SLOT.STATE, STATE.POSTED);
    Atomics.notify(c, SLOT.STATE);
  }

  /** For a helper working along: `steps` steps of the job's input are ready. */
  progress(steps: number): void {
    Atomics.store(this.ctl, SLOT.PROGRESS, steps);
  }

  /** True while the helper has not claimed the posted job. */
  get unclaimed(): boolean {
    return Atomics.load(this.ctl, SLOT.STATE) === STATE.POSTED;
  }

  /** True once the helper answered (done or failed). */
  get answered(): boolean {
    const s = Atomics.load(this.ctl, SLOT.STATE);
    return s === STATE.DONE || s === STATE.FAILED;
  }

  /** Takes the job back if the helper has not claimed it: true when cancelled (the helper will never run it). */
  cancel(): boolean {
    return Atomics.compareExchange(this.ctl, SLOT.STATE, STATE.POSTED, STATE.CANCELLED) === STATE.POSTED;
  }

  /** Gives the job up, claimed or not: whatever the helper answers for it later is ignored. */
  abandon(): void {
    if (!this.cancel()) Atomics.compareExchange(this.ctl, SLOT.STATE, STATE.CLAIMED, STATE.ABANDONED);
  }

  /** The owner saw the helper thread go (its exit or error event): waits end, and `failure` says why. */
  helperGone(reason: string): void {
    this.fail(`${this.helper} stopped`, reason);
  }

  /** The answer if it is there, null while the helper works; a missed deadline gives the job up ('failed'). */
  poll(): Answer | null {
    if (this.failed) return 'failed';
    const c = this.ctl;
    const s = Atomics.load(c, SLOT.STATE);
    if (s === STATE.DONE || s === STATE.FAILED) {
      const answered = Atomics.load(c, SLOT.ANSWER);
      if (answered !== this.id) {
        return this.fail(
          `${this.helper} broke the job protocol`,
          `an answer to job ${answered} during job ${this.id}`,
        );
      }
      if (s === STATE.DONE) return 'done';
      const length = Math.min(Atomics.load(c, SLOT.ERROR_BYTES), ERROR_CAPACITY);
      return this.fail(`${this.helper} failed`, new TextDecoder().decode(this.text.slice(0, length)));
    }
    if (s !== STATE.POSTED && s !== STATE.CLAIMED) {
      return this.fail(
        `${this.helper} broke the job protocol`,
        `state ${s} while job ${this.id} was outstanding`,
      );
    }
    if (performance.now() > this.dueMs) {
      this.abandon();
      return this.fail(
        `${this.helper} did not answer`,
        `no answer within ${this.deadlineMs} ms (the thread hangs, died or is starved)`,
      );
    }
    return null;
  }

  /** Spins until the answer is there or the deadline passed. */
  waitSync(): Answer {
    for (let spins = 1; ; spins++) {
      const s = Atomics.load(this.ctl, SLOT.STATE);
      if ((s !== STATE.POSTED && s !== STATE.CLAIMED) || (spins & 1023) === 0) {
        const answer = this.poll();
        if (answer) return answer;
      }
    }
  }

  /** Like waitSync, but lets the event loop run every `sliceMs` (so that the helper's exit is noticed at once). */
  async waitAsync(sliceMs: number): Promise<Answer> {
    for (;;) {
      const until = performance.now() + sliceMs;
      let s = Atomics.load(this.ctl, SLOT.STATE);
      while ((s === STATE.POSTED || s === STATE.CLAIMED) && performance.now() < until) {
        s = Atomics.load(this.ctl, SLOT.STATE);
      }
      const answer = this.poll();
      if (answer) return answer;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private fail(message: string, received: string): 'failed' {
    this.failed ??= new BynerError('BYNER_MODEL', message, {
      expected: 'an answer to every job before its deadline',
      received,
    });
    return 'failed';
  }
}

/** A job as the helper sees it. */
export interface Job {
  readonly id: number;
  readonly args: Int32Array;
  readonly nums: Float64Array;
  /**
   * Waits until the caller has published more than `have` steps of input and returns how many; throws when the
   * caller gave the job up (nothing will be answered) or published nothing for a while.
   */
  progress(have: number): number;
}

/** Thrown inside a job the caller gave up: serveJobs then answers nothing. */
class GivenUp extends Error {}

/**
 * The helper's side, forever: sleeps on the control word, claims each posted job, runs it and answers (an
 * exception thrown by `run` becomes a failed answer with its text). After a job it spins for `spinMs` before
 * sleeping, so back-to-back jobs find it awake.
 */
export function serveJobs(buffer: SharedArrayBuffer, run: (job: Job) => void, spinMs: number): never {
  const ctl = new Int32Array(buffer, 0, HEADER);
  const args = new Int32Array(buffer, ARGS_AT, ARG_SLOTS);
  const nums = new Float64Array(buffer, NUMS_AT, NUM_SLOTS);
  const text = new Uint8Array(buffer, TEXT_AT, ERROR_CAPACITY);
  let id = 0;
  const job: Job = {
    get id() {
      return id;
    },
    args,
    nums,
    progress(have) {
      const due = performance.now() + PROGRESS_DEADLINE_MS;
      for (let spins = 1; ; spins++) {
        const ready = Atomics.load(ctl, SLOT.PROGRESS);
        if (Atomics.load(ctl, SLOT.STATE) !== STATE.CLAIMED || Atomics.load(ctl, SLOT.ID) !== id) {
          throw new GivenUp();
        }
        if (ready > have) return ready;
        if ((spins & 1023) === 0 && performance.now() > due) {
          throw new Error(`the caller published no input step for ${PROGRESS_DEADLINE_MS} ms`);
        }
      }
    },
  };
  const answer = (state: number): void => {
    Atomics.store(ctl, SLOT.ANSWER, id);
    // only a job still claimed is answered: one the caller gave up stays given up
    if (Atomics.compareExchange(ctl, SLOT.STATE, STATE.CLAIMED, state) === STATE.CLAIMED) {
      Atomics.notify(ctl, SLOT.STATE);
    }
  };
  let spinUntil = 0;
  for (;;) {
    const state = Atomics.load(ctl, SLOT.STATE);
    if (state !== STATE.POSTED) {
      if (performance.now() >= spinUntil) Atomics.wait(ctl, SLOT.STATE, state, IDLE_WAIT_MS);
      continue;
    }
    if (Atomics.compareExchange(ctl, SLOT.STATE, STATE.POSTED, STATE.CLAIMED) !== STATE.POSTED) continue;
    id = Atomics.load(ctl, SLOT.ID);
    try {
      run(job);
      answer(STATE.DONE);
    } catch (e) {
      if (!(e instanceof GivenUp)) {
        const why = e instanceof Error ? (e.stack ?? e.message) : String(e);
        const { written } = new TextEncoder().encodeInto(why, text);
        Atomics.store(ctl, SLOT.ERROR_BYTES, written);
        answer(STATE.FAILED);
      }
    }
    spinUntil = performance.now() + spinMs;
  }
}
