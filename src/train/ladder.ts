// Training runs of the model ladder: `byner train --model linear|all` on one stream, and `--streams` for one global
// model of several streams. Every kind asked for is fitted on the same split of each stream, scored on validation
// and test beside the baselines, registered with why it serves or not (serving.ts), and its test forecasts and
// scores stored. The LSTM is fitted with checkpoints as in train.ts (lstm-run.ts); the models are src/models';
// display is the CLI's.
import { join } from 'node:path';
import type { StopReason } from '../engine/index.js';
import { BynerError } from '../errors.js';
import { FEATURES } from '../features/forecaster.js';
import { ErrorAccumulator, mean, naiveScale, type ScaledHorizonMetrics } from '../features/metrics.js';
import { MinMaxScaler } from '../features/scaler.js';
import { inputRows, rawWindow, tensors } from '../features/windows.js';
import {
  fitData,
  integerPrices,
  partPrices,
  scaledWindows,
  targetValues,
  type WindowRange,
} from '../models/data.js';
import { GlobalModel, IDENTITY_SCALER } from '../models/global.js';
import {
  BASELINE_KINDS,
  KIND_NAMES,
  type ModelKind,
  TRAIN_CHOICES,
  type TrainChoice,
} from '../models/kinds.js';
import { LstmKindModel } from '../models/lstm.js';
import type { ForecastModel } from '../models/model.js';
import { type EntryForm, entryFromSaved, type KindOptions, newModel } from '../models/registry.js';
import type {
  DataRange,
  JsonObject,
  MetricsDoc,
  ModelEntry,
  Store,
  TrainingPrediction,
} from '../store/index.js';
import { type Checkpoint, type CheckpointStore, diskCheckpoints } from './checkpoint.js';
import { isDefaultSource, prepareStream, type StreamData, splitCounts } from './data.js';
import {
  checkpointDir,
  type LstmRun,
  openCheckpoint,
  runLstm,
  type Tensors,
  uniqueVersion,
} from './lstm-run.js';
import { storeTestResults } from './results.js';
import {
  LADDER_RULE,
  ladderDecisions,
  registerDecided,
  registerGlobal,
  type ServingDecision,
  SINGLE_RULE,
  servingDecision,
} from './serving.js';
import { BAYES_LIMIT, type TrainHooks, type TrainOptions } from './train.js';

export interface LadderOptions extends Omit<TrainOptions, 'stream' | 'version'> {
  /** One stream: `choice` fitted on it. Several (each stored): one global model of `choice` (lstm or linear). */
  streams: string[];
  choice: TrainChoice;
  /**
   * The versions' common part, fixed by the caller (a queued job, whose retries must register the same versions):
   * each kind registers `<kind>[-global]-<stamp>`. Default: the LSTM run's time stamp, or the time of the run.
   */
  stamp?: string;
}

/** A model's scores on one stream. */
export interface StreamScores {
  /** Per horizon, on the stream's validation windows. */
  validation_mse: number[];
  /** Per horizon, on the stream's test windows. */
  test: {
    mse: number[];
    mae: number[];
    /** MAE over the in-sample MAE of the one-step naive forecast on the stream's training prices (null if 0). */
    mase: (number | null)[];
    /** Exact match of the rounded forecast; null unless every price of the stream is an integer. */
    accuracy: number[] | null;
    mse_rounded: number[];
    mae_rounded: number[];
  };
  /** Seconds `predict` took over the stream's test windows. */
  forecast_seconds: number;
  /** Whether it serves the stream now; null for a baseline shown for comparison only. */
  serving: boolean | null;
  serving_decision: ServingDecision | null;
}

/** One model of a ladder run. */
export interface LadderModel {
  kind: ModelKind;
  /** True for a global model (one model for every stream of the run). */
  global: boolean;
  /** Its registry version; null for a baseline shown for comparison only (not registered by this run). */
  version: string | null;
  fit_seconds: number;
  /** What the fit chose: λ; epochs, best epoch. */
  details: JsonObject;
  stopped_reason: StopReason;
  /** Stream → its scores there. */
  streams: Record<string, StreamScores>;
}

export interface LadderSummary {
  choice: TrainChoice;
  streams: string[];
  global: boolean;
  /** The serving rule that decided (LADDER_RULE for `all`, SINGLE_RULE otherwise). */
  rule: string;
  seconds: number;
  windows: Record<string, { train: number; validation: number; test: number }>;
  data_ranges: DataRange[];
  /** The models fitted, in ladder order (baselines for comparison included). */
  models: LadderModel[];
  /** Stream → the version this run made its serving model (null: the stream keeps its previous one). */
  serving: Record<string, string | null>;
  /** The LSTM was interrupted (Ctrl-C): only its best epoch was registered (`…-partial-e<N>`). */
  interrupted: boolean;
  plots: string[];
}

/** A fitted kind, however it was fitted: per stream (one model each) or globally (one model for all). */
interface Fitted {
  kind: ModelKind;
  global: boolean;
  /** Registered by this run (otherwise a baseline for comparison). */
  register: boolean;
  fitSeconds: number;
  details: JsonObject;
  stoppedReason: StopReason;
  lstm: LstmRun | null;
  forStream(stream: string): Promise<ForecastModel>;
  /** The registry form (config, scaler, files) of the model of the run's streams. */
  entry(): Promise<EntryForm>;
  dispose(): Promise<void>;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Version prefix of a run's models: the kind, and `-global` for a global model (lstm-global-<UTC time>). */
const versionPrefix = (kind: ModelKind, global: boolean) => `${kind}${global ? '-global' : ''}`;
const lstmPrefix = (global: boolean) => versionPrefix('lstm', global);

/** The version a ladder run with `stamp` registers for `kind`: `<kind>[-global]-<stamp>`. */
export const ladderVersion = (kind: ModelKind, global: boolean, stamp: string): string =>
  `${versionPrefix(kind, global)}-${stamp}`;

function refuse(what: string, expected: string, received: string, hint?: string): BynerError {
  return new BynerError('BYNER_CONFIG', what, { expected, received, hint });
}

/** The combinations a ladder run refuses (the CLI checks them first, with flags named). */
function checkOptions(opts: LadderOptions): void {
  const streams = opts.streams ?? [];
  if (streams.length === 0 || new Set(streams).size !== streams.length) {
    throw refuse('train: invalid streams', 'one stream, or several distinct ones', JSON.stringify(streams));
  }
  if (!TRAIN_CHOICES.includes(opts.choice)) {
    throw refuse('train: invalid model choice', `one of ${TRAIN_CHOICES.join(', ')}`, String(opts.choice));
  }
  if (opts.choice === 'all' && streams.length > 1) {
    throw refuse(
      'train: --model all fits the ladder on one stream',
      '--model lstm or linear with several --streams (one global model), or one stream with --model all',
      `--model all with ${streams.length} streams`,
    );
  }
  if (opts.choice === 'all' && opts.force) {
    throw refuse(
      'train: --force does not apply to --model all',
      '--model all without --force (the ladder serves its best model on validation, a baseline included)',
      '--model all --force',
      'use --force with --model lstm or linear',
    );
  }
  if (opts.resume && opts.choice === 'linear') {
    throw refuse(
      'train: --resume continues an interrupted LSTM run',
      '--resume with --model lstm or all',
      '--model linear --resume',
      'a linear fit takes seconds: run it again without --resume',
    );
  }
}

/** Scores of `model` on windows `range` of one stream: per horizon, with MASE's scale of that stream. */
function score(
  model: ForecastModel,
  d: StreamData,
  range: WindowRange,
  scale: number,
): { predicted: Float64Array; metrics: ScaledHorizonMetrics; seconds: number } {
  const x = scaledWindows(d.set, range, model.scaler!);
  const t0 = performance.now();
  const predicted = model.predict(x);
  const took = seconds(t0);
  const metrics = new ErrorAccumulator(d.set.horizon)
    .add(predicted, targetValues(d.set, range), x.n, scale)
    .result();
  return { predicted, metrics, seconds: took };
}

/** Each kind's options from the run's settings. */
function kindOptions<K extends ModelKind>(kind: K, opts: LadderOptions): KindOptions[K] {
  const options: { [Q in ModelKind]: KindOptions[Q] } = {
    naive: {},
    seasonal_naive: { season: opts.season },
    linear: {},
    lstm: {},
  };
  return options[kind];
}

/** A kind fitted per stream (baselines; any kind on one stream), each on its own stream's split. */
async function fitPerStream(kind: ModelKind, data: StreamData[], opts: LadderOptions, register: boolean) {
  const models = new Map<string, ForecastModel>();
  const t0 = performance.now();
  let details: JsonObject = {};
  for (const d of data) {
    const model = newModel(kind, { window: d.set.window, horizon: d.set.horizon }, kindOptions(kind, opts));
    details = (await model.fit(fitData(d.set, d.split))).details;
    models.set(d.stream, model);
  }
  const fitted: Fitted = {
    kind,
    global: false,
    register,
    fitSeconds: seconds(t0),
    details,
    stoppedReason: 'completed',
    lstm: null,
    forStream: async (s) => models.get(s)!,
    entry: async () => entryFromSaved(await models.get(data[0].stream)!.save()),
    dispose: async () => {
      for (const m of models.values()) await m.dispose();
    },
  };
  return fitted;
}

/** A fitted kind other than the LSTM as one global model of every stream. */
async function fitGlobal(kind: ModelKind, data: StreamData[], opts: LadderOptions): Promise<Fitted> {
  const t0 = performance.now();
  const { model, report } = await GlobalModel.fit(
    newModel(kind, { window: data[0].set.window, horizon: data[0].set.horizon }, kindOptions(kind, opts)),
    data.map((d) => ({ stream: d.stream, set: d.set, train: d.split.train, validation: d.split.validation })),
    opts.signal,
  );
  return globalFitted(kind, model, seconds(t0), report.details, 'completed', null);
}

function globalFitted(
  kind: ModelKind,
  model: GlobalModel,
  fitSeconds: number,
  details: JsonObject,
  stoppedReason: StopReason,
  lstm: LstmRun | null,
): Fitted {
  const views = new Map<string, Promise<ForecastModel>>();
  return {
    kind,
    global: true,
    register: true,
    fitSeconds,
    details,
    stoppedReason,
    lstm,
    forStream: (s) => {
      if (!views.has(s)) views.set(s, model.forStream(s));
      return views.get(s)!;
    },
    entry: () => model.save(),
    dispose: async () => {
      for (const v of views.values()) await (await v).dispose();
      await model.dispose();
    },
  };
}

/**
 * Engine tensors of every stream's `part`, each scaled by its own stream's scaler, stacked in stream order. One
 * stream: raw targets (the training job's); several (a global model): targets scaled like each stream's prices.
 */
function stackedTensors(
  data: StreamData[],
  scalers: ReadonlyMap<string, MinMaxScaler>,
  part: 'train' | 'validation',
): Tensors {
  const each = data.map((d) => {
    const scaler = scalers.get(d.stream)!;
    const t = tensors(d.set, d.split[part], (r, out, off) => scaler.transform(r, out, off));
    if (data.length > 1) for (let i = 0; i < t.y.length; i++) t.y[i] = scaler.scale(t.y[i], 0);
    return t;
  });
  if (each.length === 1) return each[0];
  const n = each.reduce((a, t) => a + t.n, 0);
  const x = new Float32Array(each.reduce((a, t) => a + t.x.length, 0));
  const y = new Float32Array(each.reduce((a, t) => a + t.y.length, 0));
  let xi = 0;
  let yi = 0;
  for (const t of each) {
    x.set(t.x, xi);
    y.set(t.y, yi);
    xi += t.x.length;
    yi += t.y.length;
  }
  return { x, y, n };
}

/** The LSTM, fitted with checkpoints on the stacked windows of every stream (train.ts's fit for one stream). */
async function fitLstm(
  store: Store,
  data: StreamData[],
  opts: LadderOptions,
  hooks: TrainHooks,
  runExtras: JsonObject,
  checkpoints: CheckpointStore,
  checkpoint: Checkpoint | null,
): Promise<Fitted> {
  const global = data.length > 1;
  const scalers = new Map(
    data.map((d) => [d.stream, MinMaxScaler.fit(inputRows(d.set, d.split.train), FEATURES)] as const),
  );
  const t0 = performance.now();
  const run = await runLstm(
    store,
    stackedTensors(data, scalers, 'train'),
    stackedTensors(data, scalers, 'validation'),
    {
      model: opts.model,
      fit: opts.fit,
      config: { fit: opts.fit, ...runExtras },
      dataRange: data[0].dataRange,
      checkpoints,
      checkpoint,
      versionPrefix: lstmPrefix(global),
      version: opts.stamp === undefined ? undefined : ladderVersion('lstm', global, opts.stamp),
      signal: opts.signal,
    },
    hooks,
  );
  const fitSeconds = seconds(t0);
  const details: JsonObject = {
    epochs: run.loss.length,
    best_epoch: run.bestEpoch + 1,
    stopped_reason: run.stoppedReason,
  };
  const { window, horizon } = run.model.config;
  // The entry's config: the training job's (kind, window, horizon, then the run's config).
  const config = (form: EntryForm): EntryForm => ({
    ...form,
    config: {
      kind: 'lstm',
      window,
      horizon,
      ...(global ? { global: true, streams: opts.streams } : {}),
      ...run.runConfig,
    },
  });
  if (global) {
    const model = GlobalModel.of(LstmKindModel.fitted(run.model, IDENTITY_SCALER), scalers);
    const fitted = globalFitted('lstm', model, fitSeconds, details, run.stoppedReason, run);
    return { ...fitted, entry: async () => config(await fitted.entry()) };
  }
  const model = LstmKindModel.fitted(run.model, scalers.get(data[0].stream)!);
  return {
    kind: 'lstm',
    global: false,
    register: true,
    fitSeconds,
    details,
    stoppedReason: run.stoppedReason,
    lstm: run,
    forStream: async () => model,
    entry: async () => config(entryFromSaved(await model.save())),
    dispose: () => model.dispose(),
  };
}

/** What an entry's metrics hold for one stream (and the pooled figures of a global model, with per_stream). */
function streamMetricsJson(
  own: StreamScores,
  baselines: Record<'naive' | 'seasonal_naive', StreamScores>,
): JsonObject {
  const triple = (s: StreamScores) => ({
    mse: s.test.mse,
    mae: s.test.mae,
    accuracy: s.test.accuracy,
    mse_rounded: s.test.mse_rounded,
    mase: s.test.mase,
  });
  return JSON.parse(
    JSON.stringify({
      test: { mse: own.test.mse, mae: own.test.mae, accuracy: own.test.accuracy },
      test_rounded: { mse: own.test.mse_rounded, mae: own.test.mae_rounded },
      mase: own.test.mase,
      baselines: { naive: triple(baselines.naive), seasonal_naive: triple(baselines.seasonal_naive) },
      validation: {
        model_mse: mean(own.validation_mse),
        seasonal_naive_mse: mean(baselines.seasonal_naive.validation_mse),
      },
      forecast_seconds: own.forecast_seconds,
    }),
  );
}

/**
 * Fits `opts.choice` on `opts.streams` (one global model when there are several), scores it beside the baselines,
 * registers what the run registers with its serving decision per stream, stores test forecasts and scores, draws
 * the plots.
 */
export async function trainLadder(
  store: Store,
  opts: LadderOptions,
  hooks: TrainHooks,
): Promise<LadderSummary> {
  const started = performance.now();
  const { logger } = hooks;
  checkOptions(opts);
  const global = opts.streams.length > 1;
  const window = opts.model.window ?? 60;
  const horizon = opts.model.horizon ?? 5;
  // A run to resume needs its checkpoint: checked (whole, parts consistent) before anything is done.
  const checkpoints = opts.checkpoints ?? diskCheckpoints(checkpointDir(opts.workDir, opts.streams));
  const checkpoint = await openCheckpoint(checkpoints, opts.resume);

  // 1. Each stream's ticks, windows and split (a global model's streams must hold ticks: none is seeded).
  const data: StreamData[] = [];
  for (const stream of opts.streams) {
    data.push(
      await prepareStream(
        store,
        { ...opts, stream, window, horizon, seed: !global, onSeedProgress: hooks.onSeedProgress },
        logger,
      ),
    );
  }
  const synthetic = data.every((d) => d.synthetic);
  const runExtras: JsonObject = JSON.parse(
    JSON.stringify({
      split: opts.split,
      season: opts.season,
      source: synthetic ? opts.source : null,
      ...(global ? { data_ranges: data.map((d) => d.dataRange) } : {}),
    }),
  );

  // 2. Fits: the kinds asked for, and the baselines beside them (registered only by `all`).
  const kinds: ModelKind[] = opts.choice === 'all' ? [...KIND_NAMES] : [...BASELINE_KINDS, opts.choice];
  const fitted: Fitted[] = [];
  try {
    for (const kind of kinds) {
      const register = opts.choice === 'all' || kind === opts.choice;
      logger.info(
        `fitting ${global && register ? `one global ${kind} model on ${data.length} streams` : kind}`,
      );
      if (kind === 'lstm')
        fitted.push(await fitLstm(store, data, opts, hooks, runExtras, checkpoints, checkpoint));
      else if (global && register) fitted.push(await fitGlobal(kind, data, opts));
      else fitted.push(await fitPerStream(kind, data, opts, register));
    }
    const lstm = fitted.find((f) => f.lstm !== null)?.lstm ?? null;
    // An interrupted LSTM registers its best epoch alone, under the one-model rule; --resume finishes the run.
    const interrupted = lstm?.stoppedReason === 'aborted';
    if (interrupted) for (const f of fitted) f.register = f.kind === 'lstm';

    // 3. Scores per stream: validation (the serving rule) and test, with MASE's scale of each stream.
    const scores = new Map<Fitted, Map<string, StreamScores>>();
    const predictions = new Map<Fitted, Map<string, Float64Array>>();
    for (const f of fitted) {
      const byStream = new Map<string, StreamScores>();
      const preds = new Map<string, Float64Array>();
      for (const d of data) {
        const model = await f.forStream(d.stream);
        const scale = naiveScale(partPrices(d.set, d.split.train));
        const v = score(model, d, d.split.validation, scale);
        const t = score(model, d, d.split.test, scale);
        const integers = integerPrices(d.set);
        byStream.set(d.stream, {
          validation_mse: v.metrics.mse,
          test: {
            mse: t.metrics.mse,
            mae: t.metrics.mae,
            mase: t.metrics.mase,
            accuracy: integers ? t.metrics.accuracy : null,
            mse_rounded: t.metrics.mse_rounded,
            mae_rounded: t.metrics.mae_rounded,
          },
          forecast_seconds: t.seconds,
          serving: null,
          serving_decision: null,
        });
        preds.set(d.stream, t.predicted);
      }
      scores.set(f, byStream);
      predictions.set(f, preds);
    }
    const of = (kind: ModelKind, stream: string) =>
      scores.get(fitted.find((f) => f.kind === kind)!)!.get(stream)!;

    // 4. Serving decisions per stream.
    const registered = fitted.filter((f) => f.register);
    const ladder = opts.choice === 'all' && !interrupted;
    for (const d of data) {
      const decisions = ladder
        ? ladderDecisions(
            registered.map((f) => ({
              kind: f.kind,
              validation_mse: mean(of(f.kind, d.stream).validation_mse),
              stoppedReason: f.stoppedReason,
            })),
          )
        : registered.map((f) =>
            servingDecision({
              kind: f.kind,
              stoppedReason: f.stoppedReason,
              validation: {
                model_mse: mean(of(f.kind, d.stream).validation_mse),
                seasonal_naive_mse: mean(of('seasonal_naive', d.stream).validation_mse),
              },
              force: opts.force,
            }),
          );
      registered.forEach((f, i) => {
        const s = of(f.kind, d.stream);
        s.serving_decision = decisions[i];
        s.serving = decisions[i].serving;
      });
    }

    // 5. Versions, registry entries, stored test results.
    const versions = new Map<Fitted, string>();
    // The run's models share the LSTM run's time stamp: lstm-<t>, linear-<t>, … (a resumed run keeps its own).
    const stamp = lstm ? lstm.runVersion.slice(`${lstmPrefix(global)}-`.length) : (opts.stamp ?? null);
    for (const f of registered) {
      versions.set(
        f,
        f.lstm
          ? f.lstm.version
          : stamp !== null
            ? ladderVersion(f.kind, global, stamp)
            : await uniqueVersion(store, versionPrefix(f.kind, global)),
      );
    }
    for (const f of registered) {
      const version = versions.get(f)!;
      const completing = (await store.getModel(version)) !== null;
      if (completing) logger.info(`${version} is registered already: completing its stored results`);
      const form = await f.entry();
      const perStream = (stream: string) =>
        streamMetricsJson(of(f.kind, stream), {
          naive: of('naive', stream),
          seasonal_naive: of('seasonal_naive', stream),
        });
      const history = f.lstm
        ? {
            history: {
              loss: f.lstm.loss,
              val_loss: f.lstm.valLoss,
              best_epoch: f.lstm.bestEpoch,
              stopped_reason: f.lstm.stoppedReason,
            },
          }
        : {};
      const fitJson = { fit: { seconds: f.fitSeconds, details: f.details } };
      const entry: Omit<ModelEntry, 'serving' | 'streams'> = {
        version,
        created_at: new Date(),
        config: { ...form.config, ...(f.kind === 'lstm' ? {} : runExtras) },
        scaler: form.scaler,
        artifact: form.artifact,
        data_range: data[0].dataRange,
        metrics: JSON.parse(
          JSON.stringify({
            ...(global ? pooledMetricsJson(f, data, predictions.get(f)!, of) : perStream(data[0].stream)),
            ...(global ? { per_stream: Object.fromEntries(opts.streams.map((s) => [s, perStream(s)])) } : {}),
            ...fitJson,
            ...history,
          }),
        ),
      };
      if (global) {
        const decisions = new Map(opts.streams.map((s) => [s, of(f.kind, s).serving_decision!]));
        await registerGlobal(store, entry, decisions, completing);
      } else if (!completing) {
        await registerDecided(store, entry, of(f.kind, data[0].stream).serving_decision!);
      }
      for (const d of data) {
        const decision = of(f.kind, d.stream).serving_decision!;
        const line = `${version}${global ? ` on ${d.stream}` : ''} ${decision.detail}`;
        if (decision.serving) logger.info(line);
        else logger.warn(line);
      }
      await storeTestResults(store, testResults(f, version, data, predictions.get(f)!, of), completing);
    }

    // 6. Plots, then the checkpoint of a finished LSTM run is no longer needed.
    const plots = opts.outputDir === null ? [] : await drawPlots(opts, data, fitted, versions, of);
    if (lstm && !interrupted) await checkpoints.clear();

    const serving: Record<string, string | null> = {};
    for (const d of data) {
      const winner = registered.find((f) => of(f.kind, d.stream).serving);
      serving[d.stream] = winner ? versions.get(winner)! : null;
    }
    return {
      choice: opts.choice,
      streams: opts.streams,
      global,
      rule: ladder ? LADDER_RULE : SINGLE_RULE,
      seconds: seconds(started),
      windows: Object.fromEntries(data.map((d) => [d.stream, splitCounts(d.split)])),
      data_ranges: data.map((d) => d.dataRange),
      models: fitted.map((f) => ({
        kind: f.kind,
        global: f.global,
        version: versions.get(f) ?? null,
        fit_seconds: f.fitSeconds,
        details: f.details,
        stopped_reason: f.stoppedReason,
        streams: Object.fromEntries(data.map((d) => [d.stream, of(f.kind, d.stream)])),
      })),
      serving,
      interrupted,
      plots,
    };
  } finally {
    for (const f of fitted) await f.dispose();
  }
}

type ScoresOf = (kind: ModelKind, stream: string) => StreamScores;

/** A global model's pooled figures over every stream's test windows (MASE with each stream's own scale). */
function pooledMetricsJson(
  f: Fitted,
  data: StreamData[],
  predicted: ReadonlyMap<string, Float64Array>,
  of: ScoresOf,
): JsonObject {
  const H = data[0].set.horizon;
  const acc = new ErrorAccumulator(H);
  for (const d of data) {
    const n = d.split.test[1] - d.split.test[0];
    acc.add(
      predicted.get(d.stream)!,
      targetValues(d.set, d.split.test),
      n,
      naiveScale(partPrices(d.set, d.split.train)),
    );
  }
  const m = acc.result();
  const integers = data.every((d) => integerPrices(d.set));
  return {
    test: { mse: m.mse, mae: m.mae, accuracy: integers ? m.accuracy : null },
    test_rounded: { mse: m.mse_rounded, mae: m.mae_rounded },
    mase: m.mase,
    validation: {
      model_mse: mean(data.map((d) => mean(of(f.kind, d.stream).validation_mse))),
      seasonal_naive_mse: mean(data.map((d) => mean(of('seasonal_naive', d.stream).validation_mse))),
    },
  } as unknown as JsonObject;
}

/** Every test window's forecast and one tr_metrics document per stream. */
function testResults(
  f: Fitted,
  version: string,
  data: StreamData[],
  predicted: ReadonlyMap<string, Float64Array>,
  of: ScoresOf,
) {
  const predictions: TrainingPrediction[] = [];
  const metrics: MetricsDoc[] = [];
  for (const d of data) {
    const { set, split, ticks } = d;
    const H = set.horizon;
    const p = predicted.get(d.stream)!;
    const actual = targetValues(set, split.test);
    for (let i = 0; i < split.test[1] - split.test[0]; i++) {
      const w = split.test[0] + i;
      predictions.push({
        timestamp: ticks[ticks.length - set.seqs.length + w + set.window - 1].timestamp,
        input_sequence: rawWindow(set, w),
        true_next_sequence: Array.from(actual.subarray(i * H, (i + 1) * H)),
        predicted_next_sequence: Array.from(p.subarray(i * H, (i + 1) * H)),
        model_version: version,
      });
    }
    const s = of(f.kind, d.stream);
    metrics.push({
      timestamp: new Date(),
      metrics: {
        mse: s.test.mse,
        mae: s.test.mae,
        accuracy: s.test.accuracy ?? Array(H).fill(null),
        mse_rounded: s.test.mse_rounded,
        mae_rounded: s.test.mae_rounded,
        mase: s.test.mase,
      },
      forecast_horizon: H,
      model_version: version,
      stream: d.stream,
      kind: f.kind,
      counts: splitCounts(split),
      seconds: f.fitSeconds,
      serving: s.serving === true,
      ...(f.lstm ? { epochs: f.lstm.loss.length, best_epoch: f.lstm.bestEpoch + 1 } : {}),
    });
  }
  return { version, predictions, metrics };
}

/** Test MSE per horizon of every model (one plot per stream of a global model), and the LSTM's loss curve. */
async function drawPlots(
  opts: LadderOptions,
  data: StreamData[],
  fitted: Fitted[],
  versions: ReadonlyMap<Fitted, string>,
  of: ScoresOf,
): Promise<string[]> {
  const { plotHorizonErrors, plotLossCurve } = await import('./plots.js');
  const dir = opts.outputDir as string;
  const plots: string[] = [];
  for (const d of data) {
    const file = data.length > 1 ? `horizon_errors_${d.stream}.png` : 'horizon_errors.png';
    plots.push(
      await plotHorizonErrors(
        join(dir, file),
        fitted.map((f) => ({
          model: `${f.kind} ${versions.get(f) ?? '(baseline)'}`,
          mse: of(f.kind, d.stream).test.mse,
        })),
        d.synthetic && isDefaultSource(opts.source) ? BAYES_LIMIT.mse : undefined,
      ),
    );
  }
  const lstm = fitted.find((f) => f.lstm !== null)?.lstm;
  if (lstm) {
    plots.push(
      await plotLossCurve(join(dir, 'loss_curve.png'), {
        loss: lstm.loss,
        val_loss: lstm.valLoss,
        bestEpoch: lstm.bestEpoch + 1,
      }),
    );
  }
  return plots;
}
