// Walk-forward fold layout (after statsforecast's cross_validation): K consecutive folds over the latest windows,
// each with an expanding training part and a validation part carved from the end of the data before it. Pure
// arithmetic on window indices; fitting and forecasting are backtest.ts's.
import { BynerError, describe } from '../errors.js';
import type { WindowSet } from '../features/windows.js';
import { partPrices } from '../models/data.js';

/** How many folds, and how much of the data they forecast and validate on. */
export interface FoldOptions {
  /** Number of folds K (≥ 1). */
  folds: number;
  /** Share of all windows forecast over the K folds: the latest ones, in K equal folds (default 0.2). */
  testShare?: number;
  /**
   * Share of each fold's usable earlier windows held out at their end for validation (early stopping, λ choice);
   * default 0.125, DESIGN §5's 10 of 70 + 10. 0: no validation windows.
   */
  validationShare?: number;
}

/** One part (training, validation or forecast) of a fold. */
export interface FoldPart {
  /** Window indices [from, to). */
  windows: [number, number];
  /** Seqs of the first tick read and the last tick forecast by these windows (inclusive). */
  seqs: [number, number];
}

/** One fold of a walk-forward backtest: the windows fitted on, validated on, and forecast. */
export interface Fold {
  /** Fold, 0-based. */
  fold: number;
  /** Windows the fold's models are fitted on: from the first window (expanding). */
  train: FoldPart;
  /** Windows for early stopping and tuning, between training and the fold; null with validationShare 0. */
  validation: FoldPart | null;
  /** Windows forecast and scored. */
  test: FoldPart;
}

/**
 * The folds of a walk-forward backtest over `set`. The fold's first forecast is made once its first window's last
 * tick is known; every training and validation window's targets lie at or before that tick, so nothing a fold
 * forecasts reaches the fit: the H − 1 windows before the fold (and before the validation part) whose targets
 * would cross that line are left out.
 */
export function planFolds(set: WindowSet, options: FoldOptions): Fold[] {
  const { folds: K, testShare = 0.2, validationShare = 0.125 } = options;
  checkFoldOptions(K, testShare, validationShare);
  const layout = foldLayout(set.count, set.horizon, K, testShare, validationShare);
  if (!Array.isArray(layout)) {
    throw new BynerError('BYNER_INPUT', `backtest: too few windows for ${layout.what}`, {
      expected: `enough windows for ${K} folds of at least one window, each after ≥ 1 training window`,
      received: layout.received,
      hint: 'use more ticks, fewer folds or a larger testShare',
    });
  }
  const part = ([from, to]: [number, number]): FoldPart => ({
    windows: [from, to],
    seqs: [set.seqs[from], set.seqs[to - 1 + set.window + set.horizon - 1]],
  });
  return layout.map((f, k) => ({
    fold: k,
    train: part(f.train),
    validation: f.validation ? part(f.validation) : null,
    test: part(f.test),
  }));
}

/**
 * The fewest windows, `from` or more, for which `planFolds` finds room for these folds with this horizon (what a
 * caller reports as needed when it has fewer). Throws BYNER_CONFIG for invalid options.
 */
export function minimumWindows(options: FoldOptions, horizon: number, from = 1): number {
  const { folds: K, testShare = 0.2, validationShare = 0.125 } = options;
  checkFoldOptions(K, testShare, validationShare);
  // Fewer than K / testShare windows leave a fold empty; start just below that (floating-point slack).
  for (let n = Math.max(from, Math.floor(K / testShare) - 1); ; n++) {
    if (Array.isArray(foldLayout(n, horizon, K, testShare, validationShare))) return n;
  }
}

function checkFoldOptions(K: number, testShare: number, validationShare: number): void {
  if (!Number.isInteger(K) || K < 1) {
    throw new BynerError('BYNER_CONFIG', 'backtest: invalid number of folds', {
      expected: 'an integer ≥ 1',
      received: describe(K),
    });
  }
  for (const [name, v, lo] of [
    ['testShare', testShare, 0],
    ['validationShare', validationShare, -1e-12],
  ] as const) {
    if (typeof v !== 'number' || !(v > lo && v < 1)) {
      throw new BynerError('BYNER_CONFIG', `backtest: invalid ${name}`, {
        expected: name === 'testShare' ? 'a number in (0, 1)' : 'a number in [0, 1)',
        received: describe(v),
      });
    }
  }
}

type Range = [number, number];

/** The window ranges of K folds over N windows, or which part has no room (and the counts that say so). */
function foldLayout(
  N: number,
  H: number,
  K: number,
  testShare: number,
  validationShare: number,
): { train: Range; validation: Range | null; test: Range }[] | { what: string; received: string } {
  const size = Math.floor(Math.floor(N * testShare) / K);
  if (size < 1) {
    return {
      what: 'the folds',
      received: `${N} windows × testShare ${testShare} / ${K} folds = ${size} per fold`,
    };
  }
  const out: { train: Range; validation: Range | null; test: Range }[] = [];
  for (let k = 0; k < K; k++) {
    const start = N - (K - k) * size;
    const usable = start - H + 1;
    const nVal = Math.floor(Math.max(0, usable) * validationShare);
    const trainEnd = nVal > 0 ? usable - nVal - H + 1 : usable;
    if (trainEnd < 1 || (validationShare > 0 && nVal < 1)) {
      return {
        what: `fold ${k}'s training and validation parts`,
        received: `${Math.max(0, usable)} usable windows before the fold → train ${Math.max(0, trainEnd)}, validation ${nVal}`,
      };
    }
    out.push({
      train: [0, trainEnd],
      validation: nVal > 0 ? [usable - nVal, usable] : null,
      test: [start, start + size],
    });
  }
  return out;
}

/** Prices of every tick the fold's training windows read or forecast (the in-sample series of MASE's scale). */
export function trainingPrices(set: WindowSet, fold: Fold): Float64Array {
  return partPrices(set, fold.train.windows);
}
