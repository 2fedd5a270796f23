// The six indicators one tick at a time, for the live server and client. Its state is a plain JSON object
// (getState / IndicatorStream.fromState), so a server can resume mid-stream. Agrees with batch.ts exactly:
// same formulas (params.ts) and the same summation order.
import { BynerError, describe } from '../errors.js';
import type { Indicators } from '../ticks/types.js';
import {
  checkParams,
  DEFAULT_INDICATOR_PARAMS,
  emaK,
  type IndicatorParams,
  meanSd,
  rsiFrom,
} from './params.js';

/** An IndicatorStream's state as plain JSON (getState / fromState): where a server resumes a stream. */
export interface IndicatorState {
  /** The state's format version. */
  version: 1;
  /** The periods the state was computed with. */
  params: IndicatorParams;
  /** Prices pushed so far. */
  count: number;
  /** The last max(maPeriod, macdSlow) prices, oldest first. */
  recent: number[];
  /** Previous price, and RSI gain/loss: raw sums during warm-up, Wilder averages after. */
  rsi: { gain: number; loss: number };
  /** MACD's EMAs once seeded (null before). */
  macd: { fast: number; slow: number } | null;
  /** Signal: the running sum of MACD values during its warm-up, then its EMA. */
  signal: { value: number };
}

const NULLS: Indicators = { ma: null, rsi: null, upper_bb: null, lower_bb: null, macd: null, signal: null };

/**
 * The six indicators one price at a time (`push`), the same values as computeIndicators over the same prices (to
 * 1e-9). Its state is plain JSON (`getState`, `IndicatorStream.fromState`), so a stream can resume mid-way.
 */
export class IndicatorStream {
  private readonly p: IndicatorParams;
  private readonly keep: number;
  /** Prices in a buffer of twice the window, compacted when full: the window is always contiguous. */
  private buf: Float64Array;
  private pos = 0;
  private count = 0;
  private gain = 0;
  private loss = 0;
  private fast = Number.NaN;
  private slow = Number.NaN;
  private signal = 0;

  /** Throws BYNER_CONFIG for invalid periods. */
  constructor(params: IndicatorParams = DEFAULT_INDICATOR_PARAMS) {
    checkParams(params);
    this.p = { ...params };
    this.keep = Math.max(params.maPeriod, params.macdSlow);
    this.buf = new Float64Array(2 * this.keep);
  }

  /** Number of prices pushed so far (the index the next price will have). */
  get length(): number {
    return this.count;
  }

  /** Adds one price and returns the indicators at its index (null where not yet defined). */
  push(price: number): Indicators {
    if (!Number.isFinite(price)) {
      throw new BynerError('BYNER_NOT_FINITE', `price at index ${this.count} is not a finite number`, {
        expected: 'a finite number',
        received: describe(price),
      });
    }
    const { maPeriod: P, rsiPeriod: R, macdFast: F, macdSlow: S, macdSignal: G } = this.p;
    if (this.pos === this.buf.length) {
      this.buf.copyWithin(0, this.pos - this.keep, this.pos);
      this.pos = this.keep;
    }
    const prev = this.count > 0 ? this.buf[this.pos - 1] : Number.NaN;
    this.buf[this.pos++] = price;
    const i = this.count++;
    const out: Indicators = { ...NULLS };

    if (i >= P - 1) {
      const [mean, sd] = meanSd(this.buf, this.pos - P, P);
      out.ma = mean;
      out.upper_bb = mean + this.p.bbDeviations * sd;
      out.lower_bb = mean - this.p.bbDeviations * sd;
    }

    if (i >= 1) {
      const d = price - prev;
      if (i > R) {
        this.gain *= R - 1;
        this.loss *= R - 1;
      }
      if (d < 0) this.loss -= d;
      else this.gain += d;
      if (i >= R) {
        this.gain /= R;
        this.loss /= R;
        out.rsi = rsiFrom(this.gain, this.loss);
      }
    }

    if (i === S - 1) {
      let slow = 0;
      for (let j = this.pos - S; j < this.pos; j++) slow += this.buf[j];
      let fast = 0;
      for (let j = this.pos - F; j < this.pos; j++) fast += this.buf[j];
      this.slow = slow / S;
      this.fast = fast / F;
    } else if (i >= S) {
      this.slow = (price - this.slow) * emaK(S) + this.slow;
      this.fast = (price - this.fast) * emaK(F) + this.fast;
    }
    if (i >= S - 1) {
      const macd = this.fast - this.slow;
      out.macd = macd;
      const first = S - 1 + G - 1;
      if (i < first) this.signal += macd;
      else if (i === first) this.signal = (this.signal + macd) / G;
      else this.signal = (macd - this.signal) * emaK(G) + this.signal;
      if (i >= first) out.signal = this.signal;
    }
    return out;
  }

  /** A JSON-safe snapshot; `IndicatorStream.fromState(s)` continues exactly where this one is. */
  getState(): IndicatorState {
    const n = Math.min(this.count, this.keep);
    return {
      version: 1,
      params: { ...this.p },
      count: this.count,
      recent: Array.from(this.buf.subarray(this.pos - n, this.pos)),
      rsi: { gain: this.gain, loss: this.loss },
      macd: Number.isNaN(this.slow) ? null : { fast: this.fast, slow: this.slow },
      signal: { value: this.signal },
    };
  }

  /** A stream that continues where `state` (getState's) left off; BYNER_STATE for an invalid state. */
  static fromState(state: IndicatorState): IndicatorStream {
    const bad = (what: string, got: unknown) =>
      new BynerError('BYNER_STATE', `invalid indicator state: ${what}`, {
        expected: 'an object returned by IndicatorStream.getState()',
        received: describe(got),
      });
    if (state === null || typeof state !== 'object' || state.version !== 1)
      throw bad('version', state?.version);
    const s = new IndicatorStream(state.params);
    if (!Number.isSafeInteger(state.count) || state.count < 0) throw bad('count', state.count);
    const n = Math.min(state.count, s.keep);
    if (!Array.isArray(state.recent) || state.recent.length !== n || !state.recent.every(Number.isFinite)) {
      throw bad(`recent (${n} finite prices)`, state.recent);
    }
    const finite = [state.rsi?.gain, state.rsi?.loss, state.signal?.value];
    if (!finite.every(Number.isFinite)) throw bad('rsi/signal', finite);
    const seeded = state.count >= s.p.macdSlow;
    if (
      seeded !== (state.macd !== null) ||
      (state.macd && !Number.isFinite(state.macd.fast + state.macd.slow))
    ) {
      throw bad('macd', state.macd);
    }
    s.buf.set(state.recent, 0);
    s.pos = n;
    s.count = state.count;
    s.gain = state.rsi.gain;
    s.loss = state.rsi.loss;
    s.fast = state.macd?.fast ?? Number.NaN;
    s.slow = state.macd?.slow ?? Number.NaN;
    s.signal = state.signal.value;
    return s;
  }
}
