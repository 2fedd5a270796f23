// Turns an ordered run of ticks into model windows: (N, window, 7) raw features, the next `horizon` prices as
// targets, and a chronological train/validation/test split. Scaling is scaler.ts; training is src/train.
import { BynerError } from '../errors.js';
import { INDICATOR_NAMES, type Tick } from '../ticks/types.js';
import { FEATURES } from './forecaster.js';

/** Every window of a run of ticks: the raw feature rows once, windows as offsets into them (buildWindows). */
export interface WindowSet {
  /** Rows of the 7 raw features from the first fully-defined tick: (R, 7), row-major. */
  rows: Float64Array;
  /** Seq of each row. */
  seqs: number[];
  /** Rows per window. */
  window: number;
  /** Prices forecast after each window (the targets). */
  horizon: number;
  /** Number of windows: window i covers rows i .. i+window−1 and targets rows i+window .. i+window+horizon−1. */
  count: number;
}

/** Shares of the windows for each part, in time order; they sum to 1. */
export interface SplitFractions {
  /** First part, fitted on (> 0). */
  train: number;
  /** Middle part, for early stopping and tuning (≥ 0). */
  validation: number;
  /** Last part, forecast and scored (> 0). */
  test: number;
}

/** DESIGN §5: 70% train, 10% validation, 20% test. */
export const DEFAULT_SPLIT: SplitFractions = { train: 0.7, validation: 0.1, test: 0.2 };

/** Window ranges of a chronological split (splitWindows). */
export interface Split {
  /** Window index ranges [from, to) of each part, in time order. */
  train: [number, number];
  /** Windows that pick the best epoch (early stopping), after the training ones. */
  validation: [number, number];
  /** Windows scored at the end, the last ones. */
  test: [number, number];
}

/** Builds windows from ticks in ascending, consecutive seq order, starting at the first fully-defined tick. */
export function buildWindows(ticks: readonly Tick[], window: number, horizon: number): WindowSet {
  for (let i = 1; i < ticks.length; i++) {
    if (ticks[i].seq !== ticks[i - 1].seq + 1) {
      throw new BynerError(
        'BYNER_INPUT',
        `ticks are not consecutive at seq ${ticks[i - 1].seq} → ${ticks[i].seq}`,
        {
          expected: 'one stream in ascending seq order without gaps',
          received: `a jump of ${ticks[i].seq - ticks[i - 1].seq}`,
          hint: 'regenerate the stream (byner generate) or train on a range without gaps',
        },
      );
    }
  }
  const first = ticks.findIndex((t) => INDICATOR_NAMES.every((n) => t.indicators[n] !== null));
  const usable = first < 0 ? [] : ticks.slice(first);
  const count = Math.max(0, usable.length - window - horizon + 1);
  const rows = new Float64Array(usable.length * FEATURES);
  usable.forEach((t, r) => {
    rows[r * FEATURES] = t.price;
    INDICATOR_NAMES.forEach((n, k) => {
      const v = t.indicators[n];
      if (v === null) {
        throw new BynerError('BYNER_INPUT', `tick ${t.seq} has no ${n} after the warm-up`, {
          expected: 'all six indicators defined after the first fully-defined tick',
          received: 'null',
        });
      }
      rows[r * FEATURES + 1 + k] = v;
    });
  });
  return { rows, seqs: usable.map((t) => t.seq), window, horizon, count };
}

/** Chronological split of `count` windows: train first, then validation, then test. */
export function splitWindows(count: number, f: SplitFractions = DEFAULT_SPLIT): Split {
  const sum = f.train + f.validation + f.test;
  if (!(f.train > 0 && f.validation >= 0 && f.test > 0 && Math.abs(sum - 1) < 1e-9)) {
    throw new BynerError('BYNER_CONFIG', 'invalid split', {
      expected: 'train > 0, validation >= 0, test > 0, summing to 1',
      received: `${f.train}/${f.validation}/${f.test}`,
    });
  }
  const nTrain = Math.floor(count * f.train);
  const nVal = Math.floor(count * f.validation);
  const split: Split = {
    train: [0, nTrain],
    validation: [nTrain, nTrain + nVal],
    test: [nTrain + nVal, count],
  };
  const minimum = (n: number) => n >= 1;
  if (!minimum(nTrain) || !minimum(count - nTrain - nVal) || (f.validation > 0 && nVal < 1)) {
    throw new BynerError('BYNER_INPUT', `too few windows to split (${count})`, {
      expected: 'enough ticks for at least one window in each part',
      received: `${count} windows → train ${nTrain}, validation ${nVal}, test ${count - nTrain - nVal}`,
      hint: 'generate more ticks (--ticks) or use a shorter --window',
    });
  }
  return split;
}

/** Rows used as inputs by windows [from, to): the rows a scaler may be fitted on for that part. */
export function inputRows(set: WindowSet, [from, to]: [number, number]): Float64Array {
  return set.rows.subarray(from * FEATURES, (to - 1 + set.window) * FEATURES);
}

/** Windows [from, to) as engine input (N, window, 7) scaled by `scale`, and targets (N, horizon) raw. */
export function tensors(
  set: WindowSet,
  [from, to]: [number, number],
  scale: (rows: ArrayLike<number>, out: Float32Array, offset: number) => Float32Array,
): { x: Float32Array; y: Float32Array; n: number } {
  const n = to - from;
  const per = set.window * FEATURES;
  const x = new Float32Array(n * per);
  const y = new Float32Array(n * set.horizon);
  for (let i = 0; i < n; i++) {
    const w = from + i;
    scale(set.rows.subarray(w * FEATURES, w * FEATURES + per), x, i * per);
    for (let h = 0; h < set.horizon; h++) y[i * set.horizon + h] = set.rows[(w + set.window + h) * FEATURES];
  }
  return { x, y, n };
}

/** Window w as raw rows (window, 7), for forecasters and for storing `input_sequence`. */
export function rawWindow(set: WindowSet, w: number): number[][] {
  const out: number[][] = [];
  for (let r = w; r < w + set.window; r++)
    out.push(Array.from(set.rows.subarray(r * FEATURES, (r + 1) * FEATURES)));
  return out;
}

/** The true next `horizon` prices after window w. */
export function targets(set: WindowSet, w: number): number[] {
  const out: number[] = [];
  for (let h = 0; h < set.horizon; h++) out.push(set.rows[(w + set.window + h) * FEATURES]);
  return out;
}
