// What a finished backtest leaves behind: the best model, the `tr_metrics` document (DESIGN §4's metrics shape for
// the best model, every model's scores and the fold boundaries beside it), and the series its plots draw.
// Drawing the plots is src/train/plots.ts's; writing the document is the caller's.
import { BynerError } from '../errors.js';
import { mean } from '../features/metrics.js';
import type { WindowSet } from '../features/windows.js';
import { targetValues } from '../models/data.js';
import type { JsonObject, JsonValue, MetricsDoc } from '../store/types.js';
import type { BacktestResult, HistoricalForecasts, ModelBacktest } from './backtest.js';
import type { FoldOptions } from './folds.js';

/** `kind` of a backtest's `tr_metrics` document (training documents have none). */
export const BACKTEST_KIND = 'backtest';

const meanMse = (m: ModelBacktest): number => {
  const v = mean(m.overall.mse);
  return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
};

/** The model with the lowest mean MSE over all folds and horizons (the first of equals). */
export function bestModel(result: BacktestResult): ModelBacktest {
  return result.models.reduce((best, m) => (meanMse(m) < meanMse(best) ? m : best));
}

/** Each model's fits: one per fold with `refit: every`, one in all with `once`. */
export const fitCount = (m: ModelBacktest): number => m.fits.filter((f) => f !== null).length;

/** `model_version` of a backtest's document: `backtest:<best model>`. */
export const backtestVersion = (best: ModelBacktest): string => `backtest:${best.name}`;

export interface BacktestRecordMeta {
  /** Unique id of this run (the document's key for readers; the stores assign no id they return). */
  backtest_id: string;
  timestamp: Date;
  stream: string;
  /** Seqs of the first and last tick read. */
  data_range: { from_seq: number; to_seq: number; ticks: number };
  fold_options: Required<FoldOptions>;
  /** Every stream of a backtest of several side by side (each stream has its own document). */
  streams?: string[];
}

/** JSON as both stores keep it: a non-finite number (a diverged model's score) becomes null. */
const asJson = <T>(v: T): JsonValue => JSON.parse(JSON.stringify(v)) as JsonValue;

/**
 * The `tr_metrics` document of a backtest: `metrics` holds the best model's per-horizon mse, mae, accuracy (null
 * unless prices are integers) and mase, so it reads like a training document; `models` every model's overall and
 * per-fold scores and fit reports; `folds` the window and seq boundaries of each fold.
 */
export function backtestDocument(result: BacktestResult, meta: BacktestRecordMeta): MetricsDoc {
  const best = bestModel(result);
  const H = result.horizon;
  const nulls = (v: (number | null)[] | null) => (v ?? Array(H).fill(null)) as (number | null)[];
  const finiteOrNull = (v: (number | null)[]) => v.map((x) => (x !== null && Number.isFinite(x) ? x : null));
  return {
    timestamp: meta.timestamp,
    kind: BACKTEST_KIND,
    backtest_id: meta.backtest_id,
    stream: meta.stream,
    model_version: backtestVersion(best),
    forecast_horizon: H,
    metrics: {
      mse: finiteOrNull(best.overall.mse),
      mae: finiteOrNull(best.overall.mae),
      accuracy: nulls(best.overall.accuracy),
      mase: finiteOrNull(best.overall.mase),
    },
    best: best.name,
    refit: result.refit,
    window: result.window,
    data_range: { stream: meta.stream, ...meta.data_range },
    fold_options: asJson(meta.fold_options),
    ...(meta.streams ? { streams: meta.streams } : {}),
    folds: asJson(result.folds),
    models: result.models.map(
      (m): JsonObject => ({
        name: m.name,
        kind: m.kind,
        global: m.global,
        fit_count: fitCount(m),
        overall: asJson(m.overall),
        folds: asJson(m.folds),
        fits: asJson(m.fits),
      }),
    ),
  };
}

/** One line of the folds plot: a model's mean MSE (over the horizons) in each fold. */
export interface FoldErrorRow {
  model: string;
  mse: number[];
}

export function foldErrorRows(result: BacktestResult): FoldErrorRow[] {
  return result.models.map((m) => ({ model: m.name, mse: m.folds.map((f) => mean(f.mse)) }));
}

/** A model's forecasts over one fold at some horizons, and the actual prices they forecast. */
export interface FoldSeries {
  model: string;
  fold: number;
  /** Every tick forecast at any horizon: its seq and price. */
  actual: { seqs: number[]; prices: number[] };
  /** Per horizon: the seq each forecast is for, and the forecast. */
  forecasts: { horizon: number; seqs: number[]; prices: number[] }[];
}

/** The forecasts of model `name` over fold `fold` at horizon 1 and the last horizon. */
export function foldSeries(
  set: WindowSet,
  forecasts: HistoricalForecasts,
  name: string,
  fold = forecasts.folds.length - 1,
): FoldSeries {
  const f = forecasts.folds[fold];
  const predicted = forecasts.models.find((m) => m.name === name)?.folds[fold]?.predicted;
  if (!f || !predicted) {
    throw new BynerError('BYNER_INPUT', 'backtest: no such forecasts', {
      expected: `a model of ${forecasts.models.map((m) => m.name).join(', ')} and a fold in 0..${forecasts.folds.length - 1}`,
      received: `model ${JSON.stringify(name)}, fold ${fold}`,
    });
  }
  const H = forecasts.horizon;
  const [from, to] = f.test.windows;
  const actual = targetValues(set, f.test.windows);
  // Window w forecasts rows w + window .. w + window + H − 1; the actual price of row r is set.rows[r·7].
  const firstRow = from + set.window;
  const rows = to - from + H - 1;
  const actualSeries = { seqs: [] as number[], prices: [] as number[] };
  for (let i = 0; i < rows; i++) {
    actualSeries.seqs.push(set.seqs[firstRow + i]);
    // Row firstRow + i is target h of window (i − h + 1): read it from the targets.
    const w = Math.min(i, to - from - 1);
    actualSeries.prices.push(actual[w * H + (i - w)]);
  }
  const horizons = H > 1 ? [1, H] : [1];
  return {
    model: name,
    fold,
    actual: actualSeries,
    forecasts: horizons.map((h) => ({
      horizon: h,
      seqs: Array.from({ length: to - from }, (_, i) => set.seqs[firstRow + i + h - 1]),
      prices: Array.from({ length: to - from }, (_, i) => predicted[i * H + h - 1]),
    })),
  };
}
