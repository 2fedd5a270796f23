// Walk-forward backtest of model kinds (after darts' historical_forecasts / backtest): forecast every window of
// each fold with models fitted only on what came before it (`historicalForecasts`; several streams side by side,
// with global models fitted on all of them, `streamForecasts`), then score those forecasts (`scoreBacktest`).
// Fold layout is folds.ts; the models are src/models; progress display is the caller's.
import { BynerError } from '../errors.js';
import { ErrorAccumulator, naiveScale } from '../features/metrics.js';
import { buildWindows, type WindowSet } from '../features/windows.js';
import { fitData, integerPrices, type ScaledWindows, scaledWindows, targetValues } from '../models/data.js';
import { GlobalModel } from '../models/global.js';
import { FITTED_KINDS, type FittedKind, globalName, isFittedKind, type ModelKind } from '../models/kinds.js';
import type { FitReport, ForecastModel, ModelShape } from '../models/model.js';
import { type ModelSpec, newModel } from '../models/registry.js';
import type { Tick } from '../ticks/types.js';
import { type Fold, type FoldOptions, planFolds, trainingPrices } from './folds.js';

/**
 * A registry kind (named by its kind unless `name` is given), or any model factory under a name. `global: true`
 * (fitted kinds only, several streams): one model fitted per fold on every stream's training part, each stream
 * scaled by its own scaler (src/models/global.ts), named `global:<kind>` unless `name` is given.
 */
export type BacktestModel =
  | (ModelSpec & { name?: string; global?: boolean })
  | { name: string; kind?: undefined; global?: undefined; create: (shape: ModelShape) => ForecastModel };

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
  /** The stream forecast (or fitted on); null for a global model's fit (on every stream). */
  stream: string | null;
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
  /**
   * Per model (in BacktestOptions order): its name, its registry kind (null for a factory), whether it is a global
   * model, and its forecasts.
   */
  models: { name: string; kind: ModelKind | null; global: boolean; folds: FoldForecasts[] }[];
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
  /** True for a global model (fitted on every stream of the backtest). */
  global: boolean;
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

const nameOf = (m: BacktestModel): string =>
  m.name ?? (m.global ? globalName(m.kind as FittedKind) : (m.kind as string));

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
  const baseline = models.find((m) => m.global && !isFittedKind(m.kind));
  if (baseline) {
    throw new BynerError('BYNER_CONFIG', `backtest: a global model cannot be of kind ${baseline.kind}`, {
      expected: `global models of a fitted kind: ${FITTED_KINDS.join(', ')}`,
      received: `{kind: "${baseline.kind}", global: true}`,
      hint: 'baselines forecast each window from its own prices: backtest them per stream',
    });
  }
}

function create(m: BacktestModel, shape: ModelShape): ForecastModel {
  return m.kind === undefined ? m.create(shape) : newModel(m.kind, shape, m.options as never);
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** One stream of a backtest of several: its name and windows. */
export interface StreamWindows {
  stream: string;
  set: WindowSet;
}

/**
 * Step one: for every fold, fit each model on the windows before the fold (the scaler on the training part only),
 * then forecast every window of the fold. Models are disposed when done.
 */
export async function historicalForecasts(
  set: WindowSet,
  options: BacktestOptions,
): Promise<HistoricalForecasts> {
  return (await streamForecasts([{ stream: '', set }], options))[0];
}

/**
 * Step one over several streams, fold by fold with the same fold options in each: a per-stream model is fitted on
 * each stream's training part and forecasts that stream; a global model is fitted once per fold on every stream's
 * training part (each stream scaled by its own scaler, fitted on its part alone) and forecasts each stream. Returns
 * each stream's forecasts, in the order given. Models are disposed when done.
 */
export async function streamForecasts(
  streams: readonly StreamWindows[],
  options: BacktestOptions,
): Promise<HistoricalForecasts[]> {
  checkModels(options.models);
  const refit = options.refit ?? 'every';
  if (refit !== 'every' && refit !== 'once') {
    throw new BynerError('BYNER_CONFIG', 'backtest: invalid refit', {
      expected: '"every" or "once"',
      received: JSON.stringify(refit),
    });
  }
  const plans = streams.map((s) => planFolds(s.set, options));
  const K = plans[0]?.length ?? 0;
  const out: HistoricalForecasts[] = streams.map((s, j) => ({
    window: s.set.window,
    horizon: s.set.horizon,
    refit,
    folds: plans[j],
    models: options.models.map((m) => ({
      name: nameOf(m),
      kind: m.kind ?? null,
      global: m.global === true,
      folds: [],
    })),
  }));
  // Per model: its fitted model of each stream (a global model's view of each stream, the global model itself).
  const fitted: (Map<string, ForecastModel> | null)[] = options.models.map(() => null);
  const globals: (GlobalModel | null)[] = options.models.map(() => null);
  const dispose = async (i: number) => {
    for (const m of fitted[i]?.values() ?? []) await m.dispose();
    await globals[i]?.dispose();
    fitted[i] = null;
    globals[i] = null;
  };
  const step = (i: number, fold: number, stream: string | null, kind: 'fit' | 'forecast', took: number) =>
    options.onStep?.({ model: out[0].models[i].name, stream, fold, folds: K, step: kind, seconds: took });
  const checkpoint = async (fold: number) => {
    // Fits and forecasts may run without turning the event loop: turn it, so that a task that aborts (a
    // Ctrl-C handler, a timer) runs before the next step.
    if (options.signal) await new Promise<void>((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) {
      throw new BynerError('BYNER_STATE', `backtest aborted at fold ${fold} of ${K}`, {
        expected: 'a backtest left to finish',
        received: 'an aborted signal',
      });
    }
  };
  try {
    for (let k = 0; k < K; k++) {
      const fitting = refit === 'every' || k === 0;
      // Fit data of each stream for this fold (shared by its per-stream models), and their scaled forecast windows.
      const data = streams.map((s, j) =>
        fitting
          ? fitData(
              s.set,
              { train: plans[j][k].train.windows, validation: plans[j][k].validation?.windows },
              options.signal,
            )
          : null,
      );
      const scaled = streams.map(() => new Map<unknown, ScaledWindows>());
      const forecast = (
        i: number,
        j: number,
        model: ForecastModel,
        fit: FitReport | null,
        fitSeconds: number,
      ) => {
        const { set, stream } = streams[j];
        const scaler = model.scaler!;
        let x = scaled[j].get(scaler);
        if (!x) scaled[j].set(scaler, (x = scaledWindows(set, plans[j][k].test.windows, scaler)));
        const t0 = performance.now();
        const predicted = model.predict(x);
        const took = seconds(t0);
        step(i, k, stream, 'forecast', took);
        out[j].models[i].folds.push({
          fold: k,
          predicted,
          fit,
          fit_seconds: fitSeconds,
          forecast_seconds: took,
        });
      };
      for (const [i, spec] of options.models.entries()) {
        if (spec.global) {
          await checkpoint(k);
          let fit: FitReport | null = null;
          let fitSeconds = 0;
          if (fitting) {
            await dispose(i);
            const parts = streams.map((s, j) => ({
              stream: s.stream,
              set: s.set,
              train: plans[j][k].train.windows,
              validation: plans[j][k].validation?.windows,
            }));
            const t0 = performance.now();
            const g = await GlobalModel.fit(create(spec, shapeOf(streams)), parts, options.signal);
            fitSeconds = seconds(t0);
            fit = g.report;
            globals[i] = g.model;
            const views = new Map<string, ForecastModel>();
            for (const s of streams) views.set(s.stream, await g.model.forStream(s.stream));
            fitted[i] = views;
            step(i, k, null, 'fit', fitSeconds);
          }
          // Each stream's result holds the global fit (its report and time: one fit for all streams).
          streams.forEach((s, j) => {
            forecast(i, j, fitted[i]!.get(s.stream)!, fit, fitSeconds);
          });
          continue;
        }
        for (const [j, s] of streams.entries()) {
          await checkpoint(k);
          let fit: FitReport | null = null;
          let fitSeconds = 0;
          if (fitting) {
            await fitted[i]?.get(s.stream)?.dispose();
            const model = create(spec, { window: s.set.window, horizon: s.set.horizon });
            const t0 = performance.now();
            fit = await model.fit(data[j]!);
            fitSeconds = seconds(t0);
            fitted[i] ??= new Map();
            fitted[i]!.set(s.stream, model);
            step(i, k, s.stream, 'fit', fitSeconds);
          }
          forecast(i, j, fitted[i]!.get(s.stream)!, fit, fitSeconds);
        }
      }
    }
  } finally {
    for (let i = 0; i < fitted.length; i++) await dispose(i);
  }
  return out;
}

/** The window and horizon every stream shares. */
function shapeOf(streams: readonly StreamWindows[]): ModelShape {
  const [first] = streams;
  if (streams.some((s) => s.set.window !== first.set.window || s.set.horizon !== first.set.horizon)) {
    throw new BynerError('BYNER_INPUT', 'backtest: the streams have different window shapes', {
      expected: `window ${first.set.window} and horizon ${first.set.horizon} in every stream`,
      received: streams.map((s) => `${s.stream}: ${s.set.window}×${s.set.horizon}`).join(', '),
    });
  }
  return { window: first.set.window, horizon: first.set.horizon };
}

/** Step two: per model, per horizon, per fold and over all folds: MSE, MAE, MASE, accuracy and timings. */
export function scoreBacktest(set: WindowSet, forecasts: HistoricalForecasts): BacktestResult {
  const H = forecasts.horizon;
  const integers = integerPrices(set);
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
      global: m.global,
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
