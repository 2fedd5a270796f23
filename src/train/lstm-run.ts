// The LSTM's fit in a training run, checkpointed after every epoch and resumable exactly (DESIGN §5): the network,
// the run's version, early stopping across a resume, and the best epoch's weights restored at the end. Windows and
// scaling are the caller's; evaluation and registration too (train.ts, ladder.ts).
import { join } from 'node:path';
import {
  createModel,
  type EpochEndInfo,
  type FitHistory,
  type LstmModel,
  type ModelConfig,
  type NamedWeight,
} from '../engine/index.js';
import { BynerError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { DataRange, JsonObject, Store } from '../store/index.js';
import type { Checkpoint, CheckpointState, CheckpointStore } from './checkpoint.js';

export interface FitSettings {
  epochs: number;
  batchSize: number;
  patience: number;
  learningRate: number;
  workers?: number;
}

export const DEFAULT_FIT: FitSettings = { epochs: 50, batchSize: 32, patience: 5, learningRate: 0.001 };

/** Scaled windows in the engine's layout: x (n, window, 7), y (n, horizon). */
export interface Tensors {
  x: Float32Array;
  y: Float32Array;
  n: number;
}

/** Progress and test hooks of an LSTM run. */
export interface LstmRunHooks {
  logger: Logger;
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

export interface LstmRunOptions {
  /** The network (window and horizon included); `features` is 7. */
  model: Partial<ModelConfig>;
  fit: FitSettings;
  /** The rest of the run's config after `model` (fit, split, season, source…; JSON): a resume must match it all. */
  config: Record<string, unknown>;
  /** The ticks fitted on: a resume must match them. */
  dataRange: DataRange;
  /** Where the run's checkpoints live (a folder on disk: diskCheckpoints(checkpointDir(…)); GridFS for a queued job). */
  checkpoints: CheckpointStore;
  /** The checkpoint to continue from (openCheckpoint), or null for a fresh run. */
  checkpoint: Checkpoint | null;
  /** Version prefix of a fresh run: `lstm` → lstm-<UTC time>. */
  versionPrefix: string;
  /** The version of a fresh run, fixed by the caller (a queued job, whose retries must register the same one). */
  version?: string;
  signal?: AbortSignal;
}

/** A finished (or interrupted) LSTM run: the network holds the best epoch's weights. */
export interface LstmRun {
  model: LstmModel;
  /** `{model: <resolved network config>, ...options.config}`: what the checkpoint and the registry record. */
  runConfig: JsonObject;
  /** The run's version (`lstm-<UTC time>`), and the version it registers (with `-partial-e<N>` when interrupted). */
  runVersion: string;
  version: string;
  loss: number[];
  valLoss: number[];
  /** 0-based. */
  bestEpoch: number;
  stoppedReason: FitHistory['stoppedReason'];
}

/** The checkpoint folder of a run on `streams`: one folder per stream, or per set of streams of a global model. */
export const checkpointDir = (workDir: string, streams: readonly string[]): string =>
  join(workDir, 'checkpoints', streams.join('+'));

/**
 * The checkpoint to resume, read and checked before anything else is done; null when not resuming. BYNER_STATE
 * when `resume` finds none.
 */
export async function openCheckpoint(
  checkpoints: CheckpointStore,
  resume: boolean,
): Promise<Checkpoint | null> {
  if (!resume) return null;
  const ckpt = await checkpoints.read();
  if (ckpt === null) {
    throw new BynerError('BYNER_STATE', `no checkpoint to resume in ${checkpoints.where}`, {
      expected: 'an interrupted `byner train` run of this stream',
      received: 'no complete checkpoint (the run was not interrupted after an epoch, or it finished)',
      hint: 'run `byner train` without --resume',
    });
  }
  return ckpt;
}

/**
 * Version names sort by creation time, to the millisecond (two runs started in the same second do not collide):
 * lstm-20261127T180512.345Z, with a suffix in the rare same-millisecond case.
 */
export function newVersion(now = new Date(), prefix = 'lstm'): string {
  return `${prefix}-${now.toISOString().replace(/[-:]/g, '')}`;
}

/** A version `<prefix>-<UTC time>` that the registry does not hold yet. */
export async function uniqueVersion(store: Store, prefix = 'lstm'): Promise<string> {
  const taken = new Set((await store.listModels()).map((m) => m.version));
  const base = newVersion(new Date(), prefix);
  let v = base;
  for (let k = 2; taken.has(v); k++) v = `${base}-${k}`;
  return v;
}

/** Fits the LSTM on `train` with early stopping on `validation`, checkpointing every epoch, resuming when asked. */
export async function runLstm(
  store: Store,
  train: Tensors,
  validation: Tensors,
  opts: LstmRunOptions,
  hooks: LstmRunHooks,
): Promise<LstmRun> {
  const { logger } = hooks;
  const model = createModel({ ...opts.model, features: 7 });
  const { window, horizon } = model.config;
  const runConfig: JsonObject = JSON.parse(JSON.stringify({ model: model.config, ...opts.config }));
  const ckpt = opts.checkpoint;
  const dataRange = opts.dataRange;
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
  const runVersion = ckpt?.state.version ?? opts.version ?? (await uniqueVersion(store, opts.versionPrefix));
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
  let bestWeights: NamedWeight[] | null = ckpt?.best ?? null;
  const sinceBest = before.bestEpoch < 0 ? 0 : before.epochsDone - 1 - before.bestEpoch;

  const state = { ...before, loss: [...before.loss], valLoss: [...before.valLoss] };
  const { fit } = opts;
  let stoppedReason: FitHistory['stoppedReason'];
  if (opts.signal?.aborted) stoppedReason = 'aborted';
  else if (before.epochsDone >= fit.epochs) stoppedReason = 'completed';
  else if (sinceBest >= fit.patience) stoppedReason = 'early-stopping';
  else {
    const history = await model.fit(
      { data: train.x, shape: [train.n, window, 7] },
      { data: train.y, shape: [train.n, horizon] },
      {
        // A resumed run continues exactly: same epoch numbers (shuffles, dropout masks), Adam state and
        // early-stopping state as the uninterrupted run would have had.
        epochs: fit.epochs,
        initialEpoch: before.epochsDone,
        resumeEarlyStopping:
          before.bestEpoch < 0 ? undefined : { bestLoss: before.bestLoss, wait: sinceBest },
        batchSize: fit.batchSize,
        patience: fit.patience,
        learningRate: fit.learningRate,
        validation: {
          x: { data: validation.x, shape: [validation.n, window, 7] },
          y: { data: validation.y, shape: [validation.n, horizon] },
        },
        workers: fit.workers,
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
          await opts.checkpoints.write(
            { state, weights, best: bestWeights ?? weights, optimizer: e.model.getOptimizerState() },
            (step) => hooks.onCheckpointStep?.(step, epoch),
          );
          hooks.onEpoch?.({ epoch, epochs: fit.epochs, loss: e.loss, valLoss: e.valLoss, improved });
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
  return { model, runConfig, runVersion, version, loss, valLoss, bestEpoch, stoppedReason };
}
