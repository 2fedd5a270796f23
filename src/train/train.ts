// The training job of DESIGN §5-6: seed ticks if the stream is empty, leak-free windows and scaler, the LSTM fitted
// with checkpoints, evaluation against baselines, stored results, registry entry, plots. Progress display and exit
// codes are the CLI's; the network itself is src/engine; other kinds and several streams are ladder.ts.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FitHistory, ModelConfig } from '../engine/index.js';
import {
  type FeatureWindow,
  type Forecaster,
  NaiveForecaster,
  SeasonalNaiveForecaster,
} from '../features/forecaster.js';
import { type HorizonMetrics, mean, scoreForecasts } from '../features/metrics.js';
import { MinMaxScaler } from '../features/scaler.js';
import {
  inputRows,
  rawWindow,
  type SplitFractions,
  targets,
  tensors,
  type WindowSet,
} from '../features/windows.js';
import type { JsonObject, Store, TrainingPrediction } from '../store/index.js';
import type { SineSource } from '../ticks/generator.js';
import { type CheckpointStore, diskCheckpoints } from './checkpoint.js';
import { isDefaultSource, prepareStream, splitCounts } from './data.js';
import { LstmForecaster } from './load.js';
import { checkpointDir, type FitSettings, type LstmRunHooks, openCheckpoint, runLstm } from './lstm-run.js';
import { storeTestResults } from './results.js';
import { type RunOutcome, registerModel, type ServingDecision, servingDecision } from './serving.js';

export { DEFAULT_FIT, type FitSettings, newVersion } from './lstm-run.js';

/** DESIGN §2: the best possible average MSE / accuracy on the default synthetic source. */
export const BAYES_LIMIT = { mse: 2.253, mae: 1.19, accuracy: 0.256 } as const;

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

export interface TrainHooks extends LstmRunHooks {
  onSeedProgress?: (done: number, total: number) => void;
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
  const checkpoints = opts.checkpoints ?? diskCheckpoints(checkpointDir(opts.workDir, [opts.stream]));
  const ckpt = await openCheckpoint(checkpoints, opts.resume);

  // 1. Ticks (the synthetic series seeded into the stream when it is empty), windows, split.
  const window = opts.model.window ?? 60;
  const horizon = opts.model.horizon ?? 5;
  const { ticks, set, split, dataRange, synthetic } = await prepareStream(
    store,
    { ...opts, window, horizon, onSeedProgress: hooks.onSeedProgress },
    logger,
  );

  // 2. Scaler on the training part only; tensors for the fitted parts.
  const scaler = MinMaxScaler.fit(inputRows(set, split.train), 7);
  const scale = (r: ArrayLike<number>, out: Float32Array, off: number) => scaler.transform(r, out, off);

  // 3. The LSTM, resumed from the checkpoint when asked.
  const run = await runLstm(
    store,
    tensors(set, split.train, scale),
    tensors(set, split.validation, scale),
    {
      model: opts.model,
      fit: opts.fit,
      // The config names the synthetic source only when the ticks are its output (an imported series is not).
      config: {
        fit: opts.fit,
        split: opts.split,
        season: opts.season,
        source: synthetic ? opts.source : null,
      },
      dataRange,
      checkpoints,
      checkpoint: ckpt,
      versionPrefix: 'lstm',
      version: opts.version,
      signal: opts.signal,
    },
    hooks,
  );
  const { model, runConfig, version, loss, valLoss, bestEpoch, stoppedReason } = run;

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
  const outcome: RunOutcome = { stoppedReason, validation: metricsJson.validation, force: opts.force };
  const registered = (await store.getModel(version)) !== null;
  if (registered) logger.info(`${version} is registered already: completing its stored results`);
  const decision = registered
    ? servingDecision(outcome)
    : await registerModel(
        store,
        {
          version,
          created_at: new Date(),
          // `kind`, `window` and `horizon` as every model kind's entry has them; the run's config after them.
          config: { kind: 'lstm', window, horizon, ...runConfig },
          scaler: scaler.toJSON() as unknown as JsonObject,
          metrics: JSON.parse(JSON.stringify(metricsJson)),
          data_range: dataRange,
          artifact,
        },
        outcome,
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
  const counts = splitCounts(split);
  await storeTestResults(
    store,
    {
      version,
      predictions: preds,
      metrics: [
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
      ],
    },
    registered,
  );

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
