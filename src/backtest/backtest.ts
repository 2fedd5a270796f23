// Walk-forward backtest of model kinds (after darts' historical_forecasts / backtest): forecast every window of
// each fold with models fitted only on what came before it (`historicalForecasts`), then score those forecasts
// (`scoreBacktest`). Fold layout is folds.ts; the models are src/models; progress display is the caller's.
import { BynerError } from '../errors.js';
import { FEATURES } from '../features/forecaster.js';
import { ErrorAccumulator, naiveScale } from '../features/metrics.js';
import { buildWindows, type WindowSet } from '../features/windows.js';
import { fitData, type ScaledWindows, scaledWindows, targetValues } from '../models/data.js';
import type { ModelKind } from '../models/kinds.js';
import type { FitReport, ForecastModel, ModelShape } from '../models/model.js';
import { type ModelSpec, newModel } from '../models/registry.js';
import type { Tick } from '../ticks/types.js';
import { type Fold, type FoldOptions, planFolds, trainingPrices } from './folds.js';

/** A registry kind (named by its kind unless `name` is given), or any model factory under a name. */
export type BacktestModel =
  | (ModelSpec & { name?: string })
  | { name: string; kind?: undefined; create: (shape: ModelShape) => ForecastModel };

/** What to backtest and how: the models, the folds (FoldOptions), refitting, abort and progress. */
export interface BacktestOptions extends FoldOptions {
  /** The models to compare, each under a distinct name. */
  models: readonly BacktestModel[];
  /** `every`: a new fit for each fold on everything before it; `once`: one fit on the data before the first fold. */
  refit?: 'every' | 'once';
  /** Aborting stops a running LSTM fit early (keeping its best epoch) and the backtest before its next step. */
  signal?: AbortSignal;
  /** Called after each fit and each fold's forecasts. */
  onStep?: (step: BacktestStep) => void;
}

/** Progress: one fit or one fold's forecasts of one model done (BacktestOptions.onStep). */
export interface BacktestStep {
  /** The model's name. */
  model: string;
  /** Fold, 0-based. */
  fold: number;
  /** Number of folds. */
  folds: number;
  /** What was done: the model's fit for the fold, or its forecasts of the fold's windows. */
  step: 'fit' | 'forecast';
  /** How long the step took. */
  seconds: number;
}

/** One model's forecasts of one fold. */
export interface FoldForecasts {
  /** Fold, 0-based. */
  fold: number;
  /** (n, horizon) forecasts of the fold's windows in window order. */
  predicted: Float64Array;
  /** What the fit chose; null for a fold that reused an earlier fit (refit `once`). */
  fit: FitReport | null;
  /** Seconds the fit took (0 when reused). */
  fit_seconds: number;
  /** Seconds `predict` took over all the fold's windows (scaling them excluded). */
  forecast_seconds: number;
}

/** Step one's result (historicalForecasts): every model's forecasts of every fold, not yet scored. */
export interface HistoricalForecasts {
  /** Rows per window. */
  window: number;
  /** Prices forecast after each window. */
  horizon: number;
  /** `every`: a new fit per fold on everything before it; `once`: one fit on the data before the first fold. */
  refit: 'every' | 'once';
  /** The fold layout. */
  folds: Fold[];
  /** Per model (in BacktestOptions order): its name, its registry kind (null for a factory) and its forecasts. */
  models: { name: string; kind: ModelKind | null; folds: FoldForecasts[] }[];
}

/** A model's scores over one fold or over all folds, per horizon 1..H (index 0 is horizon 1). */
export interface Scores {
  /** Windows scored. */
  count: number;
  /** Mean squared error per horizon. */
  mse: number[];
  /** Mean absolute error per horizon. */
  mae: number[];
  /**
   * MAE divided by the in-sample MAE of the one-step naive forecast on the fold's training part; over all folds,
   * each error is divided by its own fold's scale. Null where a scale is 0 (a flat training series).
   */
  mase: (number | null)[];
  /** Exact-match accuracy of the rounded forecast; null unless every price of the series is an integer. */
  accuracy: number[] | null;
  /** Seconds spent fitting. */
  fit_seconds: number;
  /** Seconds spent forecasting. */
  forecast_seconds: number;
}

/** One model's backtest: its scores over all folds and per fold, and its fits. */
export interface ModelBacktest {
  /** The model's name (its kind unless named). */
  name: string;
  /** Its registry kind; null for a model factory. */
  kind: ModelKind | null;
  /** Scores over all folds' windows. */
  overall: Scores;
  /** Scores per fold. */
  folds: Scores[];
  /** Each fold's fit report (null where refit `once` reused the first fit). */
  fits: (FitReport | null)[];
}

/** A scored backtest (backtest, scoreBacktest): plain JSON. */
export interface BacktestResult {
  /** Rows per window. */
  window: number;
  /** Prices forecast after each window. */
  horizon: number;
  /** `every`: a new fit per fold on everything before it; `once`: one fit on the data before the first fold. */
  refit: 'every' | 'once';
  /** Fold boundaries, with the MASE scale of each fold (null when 0). */
  folds: (Fold & { mase_scale: number | null })[];
  /** Per model, in BacktestOptions order. */
  models: ModelBacktest[];
}

const nameOf = (m: BacktestModel): string => m.name ?? (m.kind as string);

function checkModels(models: readonly BacktestModel[]): void {
  const names = Array.isArray(models) ? models.map(nameOf) : [];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (names.length === 0 || dup !== undefined || names.some((n) => typeof n !== 'string' || n === '')) {
    throw new BynerError('BYNER_CONFIG', 'backtest: invalid model list', {
      expected: 'at least one model, each with a distinct name (kinds name themselves)',
      received: dup !== undefined ? `"${dup}" twice` : JSON.stringify(names),
      hint: 'give repeated kinds a name: {kind: "linear", name: "linear-small", options: …}',
    });
  }
}

function create(m: BacktestModel, shape: ModelShape): ForecastModel {
  return m.kind === undefined ? m.create(shape) : newModel(m.kind, shape, m.options as never);
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/**
 * Step one: for every fold, fit each model on the windows before the fold (the scaler on the training part only),
 * then forecast every window of the fold. Models are disposed when done.
 */
export async function historicalForecasts(
  set: WindowSet,
  options: BacktestOptions,
): Promise<HistoricalForecasts> {
  checkModels(options.models);
  const refit = options.refit ?? 'every';
  if (refit !== 'every' && refit !== 'once') {
    throw new BynerError('BYNER_CONFIG', 'backtest: invalid refit', {
      expected: '"every" or "once"',
      received: JSON.stringify(refit),
    });
  }
  const folds = planFolds(set, options);
  const shape = { window: set.window, horizon: set.horizon };
  const out: HistoricalForecasts = {
    window: set.window,
    horizon: set.horizon,
    refit,
    folds,
    models: options.models.map((m) => ({ name: nameOf(m), kind: m.kind ?? null, folds: [] })),
  };
  const fitted: (ForecastModel | null)[] = options.models.map(() => null);
  try {
    for (const fold of folds) {
      const fitting = refit === 'every' || fold.fold === 0;
      const data = fitting
        ? fitData(set, { train: fold.train.windows, validation: fold.validation?.windows }, options.signal)
        : null;
      // Each model forecasts the fold scaled by its own (training) scaler; models fitted together share one.
      const scaled = new Map<unknown, ScaledWindows>();
      for (const [i, spec] of options.models.entries()) {
        // Fits and forecasts may run without turning the event loop: turn it, so that a task that aborts (a
        // Ctrl-C handler, a timer) runs before the next step.
        if (options.signal) await new Promise<void>((resolve) => setImmediate(resolve));
        if (options.signal?.aborted) {
          throw new BynerError('BYNER_STATE', `backtest aborted at fold ${fold.fold} of ${folds.length}`, {
            expected: 'a backtest left to finish',
            received: 'an aborted signal',
          });
        }
        let fit: FitReport | null = null;
        let fitSeconds = 0;
        if (data) {
          await fitted[i]?.dispose();
          fitted[i] = null;
          const model = create(spec, shape);
          const t0 = performance.now();
          fit = await model.fit(data);
          fitSeconds = seconds(t0);
          fitted[i] = model;
          options.onStep?.({
            model: out.models[i].name,
            fold: fold.fold,
            folds: folds.length,
            step: 'fit',
            seconds: fitSeconds,
          });
        }
        const model = fitted[i]!;
        const scaler = model.scaler!;
        let x = scaled.get(scaler);
        if (!x) scaled.set(scaler, (x = scaledWindows(set, fold.test.windows, scaler)));
        const t0 = performance.now();
        const predicted = model.predict(x);
        const forecastSeconds = seconds(t0);
        options.onStep?.({
          model: out.models[i].name,
          fold: fold.fold,
          folds: folds.length,
          step: 'forecast',
          seconds: forecastSeconds,
        });
        out.models[i].folds.push({
          fold: fold.fold,
          predicted,
          fit,
          fit_seconds: fitSeconds,
          forecast_seconds: forecastSeconds,
        });
      }
    }
  } finally {
    for (const m of fitted) await m?.dispose();
  }
  return out;
}

function allIntegers(set: WindowSet): boolean {
  for (let r = 0; r < set.rows.length; r += FEATURES) if (!Number.isInteger(set.rows[r])) return false;
  return true;
}

/** Step two: per model, per horizon, per fold and over all folds: MSE, MAE, MASE, accuracy and timings. */
export function scoreBacktest(set: WindowSet, forecasts: HistoricalForecasts): BacktestResult {
  const H = forecasts.horizon;
  const integers = allIntegers(set);
  const folds = forecasts.folds.map((f) => {
    const s = naiveScale(trainingPrices(set, f));
    return { ...f, mase_scale: s > 0 ? s : null };
  });
  const actual = folds.map((f) => targetValues(set, f.test.windows));
  const scores = (acc: ErrorAccumulator, fit: number, forecast: number): Scores => {
    const m = acc.result();
    return {
      count: m.count,
      mse: m.mse,
      mae: m.mae,
      mase: m.mase,
      accuracy: integers ? m.accuracy : null,
      fit_seconds: fit,
      forecast_seconds: forecast,
    };
  };
  const models = forecasts.models.map((m): ModelBacktest => {
    const all = new ErrorAccumulator(H);
    const perFold = m.folds.map((ff, k) => {
      const n = actual[k].length / H;
      const scale = folds[k].mase_scale ?? Number.NaN;
      all.add(ff.predicted, actual[k], n, scale);
      return scores(
        new ErrorAccumulator(H).add(ff.predicted, actual[k], n, scale),
        ff.fit_seconds,
        ff.forecast_seconds,
      );
    });
    const sum = (k: 'fit_seconds' | 'forecast_seconds') => m.folds.reduce((a, f) => a + f[k], 0);
    return {
      name: m.name,
      kind: m.kind,
      overall: scores(all, sum('fit_seconds'), sum('forecast_seconds')),
      folds: perFold,
      fits: m.folds.map((f) => f.fit),
    };
  });
  return { window: forecasts.window, horizon: forecasts.horizon, refit: forecasts.refit, folds, models };
}

/** Both steps on a run of ticks: windows of `window` ticks (default 60) forecasting `horizon` prices (default 5). */
export async function backtest(
  ticks: readonly Tick[],
  options: BacktestOptions & { window?: number; horizon?: number },
): Promise<BacktestResult> {
  const set = buildWindows(ticks, options.window ?? 60, options.horizon ?? 5);
  return scoreBacktest(set, await historicalForecasts(set, options));
}
