// The training job of DESIGN §5-6 (the original's training.py, done right): seed ticks if the stream is empty,
// leak-free windows and scaler, fit with checkpoints, evaluation against baselines, stored results, registry
// entry, plots. Progress display and exit codes are the CLI's; the network itself is src/engine.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createModel, type EpochEndInfo, type FitHistory, type ModelConfig } from '../engine/index.js';
import { BynerError } from '../errors.js';
import {
  type FeatureWindow,
  type Forecaster,
  NaiveForecaster,
  SeasonalNaiveForecaster,
} from '../features/forecaster.js';
import { type HorizonMetrics, mean, scoreForecasts } from '../features/metrics.js';
import { MinMaxScaler } from '../features/scaler.js';
import {
  buildWindows,
  inputRows,
  rawWindow,
  type SplitFractions,
  splitWindows,
  targets,
  tensors,
  type WindowSet,
} from '../features/windows.js';
import { warmup } from '../indicators/params.js';
import { syntheticTicks } from '../indicators/ticks.js';
import type { Logger } from '../log/logger.js';
import {
  allStored,
  type JsonObject,
  type Store,
  seedTicks,
  type TrainingPrediction,
  type WriteReceipt,
} from '../store/index.js';
import { DEFAULT_SOURCE, SinePriceSource, type SineSource, TICK_MS } from '../ticks/generator.js';
import type { Tick } from '../ticks/types.js';
import { type CheckpointState, type CheckpointStore, diskCheckpoints } from './checkpoint.js';
import { LstmForecaster } from './load.js';
import { type RunOutcome, registerModel, type ServingDecision, servingDecision } from './serving.js';

/** DESIGN §2: the best possible average MSE / accuracy on the default synthetic source. */
export const BAYES_LIMIT = { mse: 2.253, mae: 1.19, accuracy: 0.256 } as const;

export interface FitSettings {
  epochs: number;
  batchSize: number;
  patience: number;
  learningRate: number;
  workers?: number;
}

export interface TrainOptions {
  /** The stream of `historical_data` to train on: any stored stream, or an empty one seeded from `source`. */
  stream: string;
  /** Ticks generated when the stream is empty, and the number of latest ticks trained on. */
  ticks: number;
  /** The synthetic source that seeds an empty stream (and that the config records when the ticks are its). */
  source: SineSource;
  model: Partial<ModelConfig>;
  fit: FitSettings;
  split: SplitFractions;
  /** Season of the seasonal-naive baseline (ticks). */
  season: number;
  /** Folder for the PNG plots (train_output). Null: no plots. */
  outputDir: string | null;
  /** Folder for checkpoints (resume) and saved model files. */
  workDir: string;
  /** Continue the interrupted run whose checkpoint is in workDir. */
  resume: boolean;
  /** Serve the new model even when it is worse than the seasonal-naive baseline on validation. */
  force: boolean;
  signal?: AbortSignal;
  /** Where the run's checkpoints live. Default: `<workDir>/checkpoints/<stream>/` on disk. */
  checkpoints?: CheckpointStore;
  /** The run's model version, fixed by the caller (a queued job, whose retries must register the same one). */
  version?: string;
}

export const DEFAULT_FIT: FitSettings = { epochs: 50, batchSize: 32, patience: 5, learningRate: 0.001 };

export interface TrainHooks {
  logger: Logger;
  onSeedProgress?: (done: number, total: number) => void;
  onBatch?: (info: { epoch: number; batch: number; batches: number; loss: number }) => void;
  onEpoch?: (info: {
    epoch: number;
    epochs: number;
    loss: number;
    valLoss?: number;
    improved: boolean;
  }) => void;
  /** Called after each step of writing the checkpoint of `epoch` (0-based); tests throw here to simulate a crash. */
  onCheckpointStep?: (step: string, epoch: number) => void | Promise<void>;
}

export interface MetricTriple {
  mse: number[];
  mae: number[];
  accuracy: number[];
}

export interface TrainSummary {
  model_version: string;
  epochs: number;
  seconds: number;
  test: MetricTriple;
  test_rounded: { mse: number[]; mae: number[] };
  baselines: {
    naive: MetricTriple & { mse_rounded: number[] };
    seasonal_naive: MetricTriple & { mse_rounded: number[] };
  };
  validation: { model_mse: number; seasonal_naive_mse: number };
  serving: boolean;
  /** Why it serves or not (also recorded in its registry entry as metrics.serving_decision). */
  serving_decision: ServingDecision;
  stopped_reason: FitHistory['stoppedReason'];
  windows: { train: number; validation: number; test: number };
  data_range: { stream: string; from_seq: number; to_seq: number };
  plots: string[];
}

/**
 * What `byner train --json` prints, and what a queued job returns: the summary without the plots, windows, data
 * range and validation MSEs, with `serving_reason` (metrics.serving_decision.reason) and `stopped_reason` last.
 */
export function summaryJson(summary: TrainSummary) {
  const {
    plots: _p,
    windows: _w,
    data_range: _d,
    validation: _v,
    stopped_reason: _s,
    serving: _sv,
    serving_decision: _sd,
    ...json
  } = summary;
  return {
    ...json,
    serving: summary.serving,
    serving_reason: summary.serving_decision.reason,
    stopped_reason: summary.stopped_reason,
  };
}

const triple = (m: HorizonMetrics): MetricTriple => ({ mse: m.mse, mae: m.mae, accuracy: m.accuracy });

/**
 * Version names sort by creation time, to the millisecond (two runs started in the same second do not collide):
 * lstm-20261127T180512.345Z, with a suffix in the rare same-millisecond case.
 */
export function newVersion(now = new Date()): string {
  return `lstm-${now.toISOString().replace(/[-:]/g, '')}`;
}

function isDefaultSource(s: SineSource): boolean {
  return (
    s.amplitude === DEFAULT_SOURCE.amplitude &&
    s.frequency === DEFAULT_SOURCE.frequency &&
    s.noise === DEFAULT_SOURCE.noise &&
    s.bound === DEFAULT_SOURCE.bound
  );
}

/** Forecasts of `f` for windows [from, to) of the set, from raw rows. */
function forecastRange(f: Forecaster, set: WindowSet, [from, to]: [number, number]): number[][] {
  const ws: FeatureWindow[] = [];
  for (let w = from; w < to; w++) ws.push(rawWindow(set, w));
  return f.forecast(ws);
}

function actualRange(set: WindowSet, [from, to]: [number, number]): number[][] {
  const out: number[][] = [];
  for (let w = from; w < to; w++) out.push(targets(set, w));
  return out;
}

export async function train(store: Store, opts: TrainOptions, hooks: TrainHooks): Promise<TrainSummary> {
  const started = performance.now();
  const { logger } = hooks;

  // A run to resume needs its checkpoint: checked (whole, parts consistent) before anything is done.
  const checkpoints = opts.checkpoints ?? diskCheckpoints(join(opts.workDir, 'checkpoints', opts.stream));
  const ckpt = opts.resume ? await checkpoints.read() : null;
  if (opts.resume && ckpt === null) {
    throw new BynerError('BYNER_STATE', `no checkpoint to resume in ${checkpoints.where}`, {
      expected: 'an interrupted `byner train` run of this stream',
      received: 'no complete checkpoint (the run was not interrupted after an epoch, or it finished)',
      hint: 'run `byner train` without --resume',
    });
  }

  // 1. Ticks: seed the stream like the original when it is empty (never under a name that holds other data).
  if ((await store.countTicks('historical_data', opts.stream)) === 0) await refuseForeignName(store, opts);
  const seeded = await seedTicks(store, {
    stream: opts.stream,
    count: opts.ticks,
    makeTicks: (start, count) =>
      syntheticTicks(opts.source, {
        start,
        count,
        stream: opts.stream,
        origin: new Date(Math.floor(Date.now() / 1000) * 1000 - (count - 1) * TICK_MS),
      }),
    onProgress: hooks.onSeedProgress,
  });
  if (seeded.seeded)
    logger.info(`stored ${seeded.written} synthetic ticks in historical_data (stream "${opts.stream}")`);
  else logger.info(`using stored ticks: ${seeded.reason.replace(/ \(use --append.*\)$/, '')}`);

  const ticks = await store.lastTicks('historical_data', opts.stream, opts.ticks);
  const modelConfig = { ...opts.model };
  const window = modelConfig.window ?? 60;
  const horizon = modelConfig.horizon ?? 5;
  const set = buildWindows(ticks, window, horizon);
  const split = splitOrExplain(set, ticks, opts);
  // The config names the synthetic source only when the ticks are its output (an imported series is not).
  const synthetic = madeBySource(ticks, opts.source);
  if (!synthetic) logger.info(`stream "${opts.stream}" holds stored data not made by the synthetic source`);
  const dataRange = {
    stream: opts.stream,
    from_seq: ticks[0]?.seq ?? 0,
    to_seq: ticks[ticks.length - 1]?.seq ?? 0,
  };
  logger.info(
    `${ticks.length} ticks (seq ${dataRange.from_seq}..${dataRange.to_seq}) → ${set.count} windows of ${window}×7: ` +
      `train ${split.train[1] - split.train[0]}, validation ${split.validation[1] - split.validation[0]}, ` +
      `test ${split.test[1] - split.test[0]}`,
  );

  // 2. Scaler on the training part only; tensors for the three parts.
  const scaler = MinMaxScaler.fit(inputRows(set, split.train), 7);
  const scale = (r: ArrayLike<number>, out: Float32Array, off: number) => scaler.transform(r, out, off);
  const tr = tensors(set, split.train, scale);
  const va = tensors(set, split.validation, scale);
  const T3 = (t: { x: Float32Array; n: number }) => ({ data: t.x, shape: [t.n, window, 7] as const });
  const T2 = (t: { y: Float32Array; n: number }) => ({ data: t.y, shape: [t.n, horizon] as const });

  // 3. Model, resumed from the checkpoint when asked.
  const model = createModel({ ...modelConfig, features: 7 });
  const runConfig: JsonObject = JSON.parse(
    JSON.stringify({
      model: model.config,
      fit: opts.fit,
      split: opts.split,
      season: opts.season,
      source: synthetic ? opts.source : null,
    }),
  );
  if (ckpt !== null) {
    const { state } = ckpt;
    if (
      JSON.stringify(state.config) !== JSON.stringify(runConfig) ||
      JSON.stringify(state.data_range) !== JSON.stringify(dataRange)
    ) {
      throw new BynerError('BYNER_STATE', 'the checkpoint was made with other options or data', {
        expected: `the options and data range of the interrupted run (${JSON.stringify(state.data_range)})`,
        received: `options ${JSON.stringify(runConfig)}, data ${JSON.stringify(dataRange)}`,
        hint: 'rerun with the same options, or start afresh without --resume',
      });
    }
    model.setWeights(ckpt.weights);
    model.setOptimizerState(ckpt.optimizer);
    logger.info(
      `resuming ${state.version} after epoch ${state.epochsDone} (best so far: epoch ${state.bestEpoch + 1})`,
    );
  }
  const runVersion = ckpt?.state.version ?? opts.version ?? (await uniqueVersion(store));
  const before: CheckpointState = ckpt?.state ?? {
    version: runVersion,
    config: runConfig,
    data_range: dataRange,
    epochsDone: 0,
    loss: [],
    valLoss: [],
    bestEpoch: -1,
    bestLoss: Number.POSITIVE_INFINITY,
  };
  // The weights of the best epoch so far: what the run registers in the end.
  let bestWeights = ckpt?.best ?? null;
  const sinceBest = before.bestEpoch < 0 ? 0 : before.epochsDone - 1 - before.bestEpoch;

  const state = { ...before, loss: [...before.loss], valLoss: [...before.valLoss] };
  let stoppedReason: FitHistory['stoppedReason'];
  if (opts.signal?.aborted) stoppedReason = 'aborted';
  else if (before.epochsDone >= opts.fit.epochs) stoppedReason = 'completed';
  else if (sinceBest >= opts.fit.patience) stoppedReason = 'early-stopping';
  else {
    const history = await model.fit(
      { data: tr.x, shape: [tr.n, window, 7] },
      { data: tr.y, shape: [tr.n, horizon] },
      {
        // A resumed run continues exactly: same epoch numbers (shuffles, dropout masks), Adam state and
        // early-stopping state as the uninterrupted run would have had.
        epochs: opts.fit.epochs,
        initialEpoch: before.epochsDone,
        resumeEarlyStopping:
          before.bestEpoch < 0 ? undefined : { bestLoss: before.bestLoss, wait: sinceBest },
        batchSize: opts.fit.batchSize,
        patience: opts.fit.patience,
        learningRate: opts.fit.learningRate,
        validation: { x: T3(va), y: T2(va) },
        workers: opts.fit.workers,
        signal: opts.signal,
        onBatchEnd: (b) => hooks.onBatch?.(b),
        onEpochEnd: async (e: EpochEndInfo) => {
          const epoch = e.epoch;
          state.loss.push(e.loss);
          state.valLoss.push(e.valLoss ?? Number.NaN);
          state.epochsDone = epoch + 1;
          const monitored = e.valLoss ?? e.loss;
          const improved = Number.isFinite(monitored) && monitored < state.bestLoss;
          const weights = e.model.getWeights();
          if (improved) {
            state.bestLoss = monitored;
            state.bestEpoch = epoch;
            bestWeights = weights;
          }
          await checkpoints.write(
            { state, weights, best: bestWeights ?? weights, optimizer: e.model.getOptimizerState() },
            (step) => hooks.onCheckpointStep?.(step, epoch),
          );
          hooks.onEpoch?.({ epoch, epochs: opts.fit.epochs, loss: e.loss, valLoss: e.valLoss, improved });
        },
      },
    );
    stoppedReason = history.stoppedReason;
  }
  // The best epoch over the whole run (before and after a resume) is the model we keep.
  const { loss, valLoss, bestEpoch } = state;
  if (bestEpoch < 0 || bestWeights === null) {
    throw new BynerError('BYNER_MODEL', 'training produced no usable epoch', {
      expected: 'at least one epoch with a finite loss',
      received: `stopped: ${stoppedReason}`,
      hint: 'lower --learning-rate, or check the data',
    });
  }
  model.setWeights(bestWeights);
  if (stoppedReason === 'non-finite-loss')
    logger.warn('training stopped on a NaN/Infinity loss; keeping the best epoch');
  // An interrupted run registers its best epoch under a version of its own; --resume later finishes `version`.
  const version = stoppedReason === 'aborted' ? `${runVersion}-partial-e${loss.length}` : runVersion;

  // 4. Evaluation on test windows, with the baselines.
  const lstm = new LstmForecaster(version, model, scaler);
  const naive = new NaiveForecaster(horizon);
  const seasonal = new SeasonalNaiveForecaster(horizon, opts.season);
  const actualTest = actualRange(set, split.test);
  const predTest = forecastRange(lstm, set, split.test);
  const mTest = scoreForecasts(predTest, actualTest);
  const mNaive = scoreForecasts(forecastRange(naive, set, split.test), actualTest);
  const mSeasonal = scoreForecasts(forecastRange(seasonal, set, split.test), actualTest);
  const actualVal = actualRange(set, split.validation);
  const valModel = mean(scoreForecasts(forecastRange(lstm, set, split.validation), actualVal).mse);
  const valSeasonal = mean(scoreForecasts(forecastRange(seasonal, set, split.validation), actualVal).mse);

  // 5. Registry entry with the TF.js files, then predictions and metrics. Each write is skipped when an earlier
  // attempt at this version stored it already: a run that crashed while registering is completed by --resume (its
  // checkpoint is deleted only at the end), and nothing is stored twice.
  const modelDir = join(opts.workDir, 'models', version);
  await model.save(modelDir);
  const artifact: Record<string, Uint8Array> = {};
  for (const name of await readdir(modelDir))
    artifact[name] = new Uint8Array(await readFile(join(modelDir, name)));
  const seconds = (performance.now() - started) / 1000;
  const baselineJson = (m: HorizonMetrics) => ({
    ...triple(m),
    mse_rounded: m.mse_rounded,
    mae_rounded: m.mae_rounded,
  });
  const metricsJson = {
    test: triple(mTest),
    test_rounded: { mse: mTest.mse_rounded, mae: mTest.mae_rounded },
    baselines: { naive: baselineJson(mNaive), seasonal_naive: baselineJson(mSeasonal) },
    validation: { model_mse: valModel, seasonal_naive_mse: valSeasonal },
    history: { loss, val_loss: valLoss, best_epoch: bestEpoch, stopped_reason: stoppedReason },
  };
  const run: RunOutcome = { stoppedReason, validation: metricsJson.validation, force: opts.force };
  const registered = (await store.getModel(version)) !== null;
  if (registered) logger.info(`${version} is registered already: completing its stored results`);
  const decision = registered
    ? servingDecision(run)
    : await registerModel(
        store,
        {
          version,
          created_at: new Date(),
          config: runConfig,
          scaler: scaler.toJSON() as unknown as JsonObject,
          metrics: JSON.parse(JSON.stringify(metricsJson)),
          data_range: dataRange,
          artifact,
        },
        run,
      );
  const { serving } = decision;
  if (decision.reason === 'beats-baseline') logger.info(`${version} ${decision.detail}`);
  else logger.warn(`${version} ${decision.detail}`);
  const windowTick = (w: number) => ticks[ticks.length - set.seqs.length + w + window - 1];
  const preds: TrainingPrediction[] = predTest.map((p, i) => ({
    timestamp: windowTick(split.test[0] + i).timestamp,
    input_sequence: rawWindow(set, split.test[0] + i),
    true_next_sequence: actualTest[i],
    predicted_next_sequence: p,
    model_version: version,
  }));
  // Predictions are written in order, so what an earlier attempt stored is a prefix of them.
  const storedPreds = registered ? (await store.trainingPredictions(version)).length : 0;
  const receipts: WriteReceipt[] = [];
  for (let i = storedPreds; i < preds.length; i += 500) {
    receipts.push(await store.writeTrainingPredictions(preds.slice(i, i + 500)));
  }
  const counts = {
    train: split.train[1] - split.train[0],
    validation: split.validation[1] - split.validation[0],
    test: split.test[1] - split.test[0],
  };
  const storedMetrics = registered && (await store.recentMetrics('tr_metrics', 1, version)).length > 0;
  if (!storedMetrics) {
    receipts.push(
      await store.writeMetrics('tr_metrics', [
        {
          timestamp: new Date(),
          metrics: {
            mse: mTest.mse,
            mae: mTest.mae,
            accuracy: mTest.accuracy,
            mse_rounded: mTest.mse_rounded,
            mae_rounded: mTest.mae_rounded,
          },
          forecast_horizon: horizon,
          model_version: version,
          baselines: JSON.parse(JSON.stringify(metricsJson.baselines)),
          counts,
          epochs: loss.length,
          best_epoch: bestEpoch + 1,
          seconds,
          serving,
        },
      ]),
    );
  }
  await allStored(receipts); // this job's writes stored, or their failure reported here

  // 6. Plots.
  const plots: string[] = [];
  if (opts.outputDir !== null) {
    const { plotForecasts, plotLossCurve, plotHorizonErrors } = await import('./plots.js');
    const picks = [0, 1, 2, 3, 4].map((k) => Math.floor((k * (counts.test - 1)) / 4));
    plots.push(
      await plotForecasts(
        join(opts.outputDir, 'multi_step_forecasts.png'),
        picks.map((i) => ({
          history: rawWindow(set, split.test[0] + i)
            .slice(-20)
            .map((r) => r[0]),
          actual: actualTest[i],
          predicted: predTest[i],
          label: `test window ${i + 1} (seq ${windowTick(split.test[0] + i).seq})`,
        })),
      ),
      await plotLossCurve(join(opts.outputDir, 'loss_curve.png'), {
        loss,
        val_loss: valLoss,
        bestEpoch: bestEpoch + 1,
      }),
      await plotHorizonErrors(
        join(opts.outputDir, 'horizon_errors.png'),
        [
          { model: `LSTM ${version}`, mse: mTest.mse },
          { model: 'naive (last value)', mse: mNaive.mse },
          { model: `seasonal naive (season ${opts.season})`, mse: mSeasonal.mse },
        ],
        isDefaultSource(opts.source) ? BAYES_LIMIT.mse : undefined,
      ),
    );
  }
  if (stoppedReason !== 'aborted') await checkpoints.clear();

  return {
    model_version: version,
    epochs: loss.length,
    seconds: (performance.now() - started) / 1000,
    test: triple(mTest),
    test_rounded: { mse: mTest.mse_rounded, mae: mTest.mae_rounded },
    baselines: metricsJson.baselines,
    validation: metricsJson.validation,
    serving,
    serving_decision: decision,
    stopped_reason: stoppedReason,
    windows: counts,
    data_range: dataRange,
    plots,
  };
}

/** Whether every tick's price is the one `source` makes at its seq: a stream seeded by byner with these options. */
function madeBySource(ticks: readonly Tick[], source: SineSource): boolean {
  const sine = new SinePriceSource(source);
  return ticks.every((t) => t.price === sine.at(t.seq));
}

/**
 * Seeding is for new names: an empty stream whose name already carries other data (ticks received live for it,
 * in inf_historical_db, that the synthetic source did not make) is refused rather than filled with sine ticks.
 */
async function refuseForeignName(store: Store, opts: TrainOptions): Promise<void> {
  const received = await store.lastTicks('inf_historical_db', opts.stream, 100);
  if (received.length === 0 || madeBySource(received, opts.source)) return;
  const count = await store.countTicks('inf_historical_db', opts.stream);
  throw new BynerError('BYNER_INPUT', `stream "${opts.stream}" has no ticks to train on in historical_data`, {
    expected: `the stream's stored ticks in historical_data (or a new stream name, which is seeded with synthetic ticks)`,
    received: `no ticks in historical_data, but ${count} ticks of other data received live for "${opts.stream}" (inf_historical_db): synthetic ticks are not stored under its name`,
    hint: 'train on the store the stream is served from (the --data-dir / --mongo-uri of `byner serve`), or pick another --stream name for synthetic data',
  });
}

/** The fewest windows `splitWindows` accepts for `f`: at least one in train and test, and in validation when asked. */
function minimumWindows(f: SplitFractions): number {
  for (let n = 1; n < 1_000_000; n++) {
    const train = Math.floor(n * f.train);
    const validation = Math.floor(n * f.validation);
    if (train >= 1 && n - train - validation >= 1 && (f.validation === 0 || validation >= 1)) return n;
  }
  return Number.POSITIVE_INFINITY;
}

/** The split, or an error saying how many ticks the window, horizon, warm-up and split need. */
function splitOrExplain(set: WindowSet, ticks: readonly Tick[], opts: TrainOptions) {
  const windows = minimumWindows(opts.split);
  if (set.count >= windows) return splitWindows(set.count, opts.split);
  const { window, horizon } = set;
  // Ticks read before the first one with all six indicators (the warm-up of a stream stored from its start).
  const warm = set.seqs.length > 0 ? ticks.length - set.seqs.length : warmup();
  const need = warm + window + horizon - 1 + windows;
  const { train, validation, test } = opts.split;
  throw new BynerError('BYNER_INPUT', `too few ticks to train on stream "${opts.stream}": ${ticks.length}`, {
    expected:
      `at least ${need} ticks: ${warm} before all six indicators are defined, then ${window + horizon} for ` +
      `the first window of ${window} and its ${horizon} targets, and ${windows - 1} more so that the split ` +
      `${train}/${validation}/${test} has a window in each part (${windows} windows)`,
    received: `${ticks.length} ticks (${set.count} windows)`,
    hint: 'store more ticks in the stream, raise --ticks (how many of the latest ticks are read), or use a shorter --window / --horizon',
  });
}

async function uniqueVersion(store: Store): Promise<string> {
  const taken = new Set((await store.listModels()).map((m) => m.version));
  const base = newVersion();
  let v = base;
  for (let k = 2; taken.has(v); k++) v = `${base}-${k}`;
  return v;
}
