// The model API: build the LSTM stack from a typed config, fit (batches, shuffling, validation, early stopping,
// callbacks, both cores), predict, weights. Leaves the kernels to assembly/, files to io.ts, data prep to features.
import { availableParallelism } from 'node:os';
import { BynerError, describe } from '../errors.js';
import { type ModelConfig, type NamedWeight, type ResolvedConfig, resolveConfig } from './config.js';
import {
  ForecastThread,
  type ForecastThreadOptions,
  type ForecastThreadStats,
  type PredictJob,
} from './forecast-thread.js';
import { hashSeed, initParams, mulberry32 } from './init.js';
import { readModelFiles, writeModelFiles } from './io.js';
import { type AdamSettings, Net } from './net.js';
import { shareFloats, WorkerPool } from './pool.js';
import { checkTargets, checkWindows, type Tensor2, type Tensor3 } from './validate.js';

/** What FitOptions.onBatchEnd receives after each batch. */
export interface BatchEndInfo {
  /** Epoch, 0-based. */
  epoch: number;
  /** Batch within the epoch, 0-based. */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** MSE of this batch (with dropout, like Keras' running loss). */
  loss: number;
}

/** What FitOptions.onEpochEnd receives after each epoch (fit waits for a returned promise). */
export interface EpochEndInfo {
  /** Epoch, 0-based. */
  epoch: number;
  /** Epochs in the run (FitOptions.epochs). */
  epochs: number;
  /** Mean training MSE over the epoch's batches. */
  loss: number;
  /** Validation MSE (no dropout), when a validation set is given. */
  valLoss?: number;
  /** The monitored loss improved on the best so far. */
  improved: boolean;
  /** 0-based epoch with the best monitored loss so far. */
  bestEpoch: number;
  /** The model being fitted, e.g. to write a checkpoint. */
  model: LstmModel;
}

/**
 * Training settings of LstmModel.fit, all optional: epochs, batches, early stopping, callbacks, threads, and Adam's
 * `learningRate` (0.001), `beta1` (0.9), `beta2` (0.999) and `epsilon` (1e-7).
 */
export interface FitOptions extends Partial<AdamSettings> {
  /** Maximum epochs (default 50). */
  epochs?: number;
  /** Windows per batch (default 32). */
  batchSize?: number;
  /** Monitored by early stopping when present (else the training loss is). */
  validation?: { x: Tensor3; y: Tensor2 };
  /** Epochs without improvement before stopping (default 5; Infinity disables). */
  patience?: number;
  /** Put the best epoch's weights back at the end (default true). */
  restoreBestWeights?: boolean;
  /** Reshuffle the training windows every epoch (default true), with this seed (default: config seed). */
  shuffle?: boolean;
  /** Seed of the per-epoch shuffles (default: the config's seed). */
  shuffleSeed?: number;
  /** Called after each batch. */
  onBatchEnd?: (info: BatchEndInfo) => void;
  /** Called after each epoch; fit waits for a returned promise (e.g. a checkpoint being written). */
  onEpochEnd?: (info: EpochEndInfo) => void | Promise<void>;
  /** Aborting stops after the current batch and keeps the best weights. */
  signal?: AbortSignal;
  /** Threads computing each batch, main thread included (default min(2, cores)); 1 = no worker threads. */
  workers?: number;
  /**
   * Keras' `initial_epoch`: continue an interrupted run at this epoch (0-based; `epochs` stays the total). The
   * shuffle order and dropout masks are those the uninterrupted run would use. Default 0.
   */
  initialEpoch?: number;
  /** Early-stopping state of the interrupted run: its best monitored loss and the epochs since it. */
  resumeEarlyStopping?: { bestLoss: number; wait: number };
}

/** Adam's state: what a checkpoint needs besides the weights to continue training exactly. */
export interface OptimizerState {
  /** Adam steps taken. */
  step: number;
  /** First moments, laid out like the parameters. */
  m: Float32Array;
  /** Second moments, laid out like the parameters. */
  v: Float32Array;
}

/** Why fit stopped: all epochs done, early stopping, `signal` aborted, or a non-finite loss or gradient. */
export type StopReason = 'completed' | 'early-stopping' | 'aborted' | 'non-finite-loss';

/** What LstmModel.fit resolves with. */
export interface FitHistory {
  /** Mean training MSE of each epoch run. */
  loss: number[];
  /** Validation MSE of each epoch run (empty without a validation set). */
  valLoss: number[];
  /** 0-based epoch with the best monitored loss (−1 if none completed); its weights are restored by default. */
  bestEpoch: number;
  /** The best monitored loss (Infinity when no epoch completed). */
  bestLoss: number;
  /** The loss early stopping watched: validation when a validation set was given. */
  monitor: 'val_loss' | 'loss';
  /** Why training stopped. */
  stoppedReason: StopReason;
  /** Epochs run by this call (from `initialEpoch`). */
  epochs: number;
}

export type { NamedWeight };

const ADAM_DEFAULTS: AdamSettings = { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

function option(
  name: string,
  v: number | undefined,
  fallback: number,
  ok: (n: number) => boolean,
  want: string,
): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !ok(v)) {
    throw new BynerError('BYNER_CONFIG', `fit option ${name} is invalid`, {
      expected: want,
      received: describe(v),
    });
  }
  return v;
}

/**
 * The LSTM network of DESIGN §5 in WebAssembly: create it with createModel or loadModel, then fit, predict and save.
 * Inputs are windows (N, window, features) of float32 in a Tensor3 ({data, shape}); targets (N, horizon).
 * Validation happens here: wrong shapes throw BYNER_SHAPE and NaN or ±Infinity BYNER_NOT_FINITE, saying what was
 * expected and received. `fit` trains on min(2, cores) threads; a model holds no thread between calls unless
 * startForecastThread was called.
 */
export class LstmModel {
  /** The network's shape and seed. */
  readonly config: ResolvedConfig;
  /** @internal the main thread's kernels and memory */
  readonly net: Net;
  private fitting = false;
  private thread: ForecastThread | null = null;
  private threadStarting: Promise<void> | null = null;

  /** Use createModel or loadModel; `init` false leaves the weights at zero for setWeights. */
  constructor(config: ResolvedConfig, init = true) {
    this.config = config;
    this.net = new Net(config);
    if (init) initParams(this.net.regionView('params'), config, this.net.layout);
  }

  /** Number of trainable parameters. */
  get paramCount(): number {
    return this.net.layout.count;
  }

  /** Forecasts for N windows x (N, T, F) → (N, horizon) row-major. */
  predict(x: Tensor3 | Float32Array): Float32Array {
    const t = checkWindows('predict input', x, this.config.window, this.config.features);
    const n = t.shape[0];
    const out = new Float32Array(n * this.config.horizon);
    if (this.thread && !this.fitting) this.thread.predict(t.data, n, out);
    else this.net.predictInto(out, t.data, n);
    return out;
  }

  /**
   * `predict` in parts, for callers with other work to overlap: with the forecast thread (`threaded`), a share of
   * the windows goes to it now, `work()` forecasts the rest here (optional), and `finish()` does what is left and
   * returns all (the same values as `predict`). The share adapts so that both threads finish together (it grows
   * when the helper was done first). Without the thread, or for one window, everything happens at once. With it,
   * x must stay unchanged until `finish()`; other forecasts in between run on this thread alone.
   */
  predictStart(x: Tensor3 | Float32Array): PredictJob {
    const t = checkWindows('predict input', x, this.config.window, this.config.features);
    if (this.thread && !this.fitting) return this.thread.start(t.data, t.shape[0]);
    const now = this.predict(t); // at once: the caller may reuse x before finish()
    return { threaded: false, work() {}, finish: () => now };
  }

  /** The forecast thread's share of a started batch (predictStart), adapted as batches finish; 0.5 without one. */
  get forecastThreadShare(): number {
    return this.thread?.share ?? 0.5;
  }

  /**
   * Starts a second thread for forecasts (idempotent; a no-op on a one-core machine): `predict` then pipelines a
   * single window over the two threads (first layer here, the layers above there, overlapping) and splits a batch
   * in halves. Same results bit for bit. The thread never keeps the process alive; `closeForecastThread` stops it.
   * If it fails later, forecasts go on on the calling thread and `forecastThreadStats.failure` (and
   * `options.onFailure`) says why.
   */
  startForecastThread(options: ForecastThreadOptions = {}): Promise<void> {
    if (this.thread || availableParallelism() < 2) return Promise.resolve();
    this.threadStarting ??= ForecastThread.start(this.net, options).then((thread) => {
      this.thread = thread;
    });
    return this.threadStarting;
  }

  /** Stops the forecast thread (if any); `predict` runs on the calling thread again. */
  async closeForecastThread(): Promise<void> {
    const starting = this.threadStarting;
    this.threadStarting = null;
    await starting?.catch(() => {});
    const thread = this.thread;
    this.thread = null;
    await thread?.close();
  }

  /**
   * Forecasts the helper thread did, the ones this thread took back (the helper was busy), and why the helper was
   * dropped if it failed; null without a forecast thread.
   */
  get forecastThreadStats(): ForecastThreadStats | null {
    return this.thread?.stats ?? null;
  }

  /** Forecast for one window (T·F values, time-major rows of F features) → horizon values. */
  predictOne(window: Float32Array): Float32Array {
    const { window: T, features: F } = this.config;
    if (!(window instanceof Float32Array) || window.length !== T * F) {
      throw new BynerError('BYNER_SHAPE', 'predictOne input: wrong shape', {
        expected: `Float32Array of ${T}·${F} = ${T * F} values (${T}, ${F})`,
        received: window instanceof Float32Array ? `${window.length} values` : describe(window),
      });
    }
    return this.predict({ data: window, shape: [1, T, F] });
  }

  /** Mean squared error over all windows and horizons (no dropout). */
  evaluate(x: Tensor3, y: Tensor2): number {
    const t = checkWindows('evaluate input', x, this.config.window, this.config.features);
    const n = t.shape[0];
    const yt = checkTargets('evaluate targets', y, n, this.config.horizon);
    const out = new Float32Array(n * this.config.horizon);
    return this.net.predictInto(out, t.data, n, yt.data) / (n * this.config.horizon);
  }

  /** Writes dir/model.json + dir/weights.bin in the TF.js layers format (see io.ts). */
  save(dir: string): Promise<void> {
    return writeModelFiles(dir, this.config, this.getWeights());
  }

  /** Copies of every weight tensor, Keras names and shapes, in TF.js `model.getWeights()` order. */
  getWeights(): NamedWeight[] {
    const p = this.net.regionView('params');
    return this.net.layout.tensors.map((t) => ({
      name: t.name,
      shape: [...t.shape],
      data: p.slice(t.offset, t.offset + t.size),
    }));
  }

  /** Replaces the weights (same order, or matched by name); validates shapes and finiteness. */
  setWeights(weights: readonly { name?: string; shape?: readonly number[]; data: Float32Array }[]): void {
    const tensors = this.net.layout.tensors;
    if (!Array.isArray(weights) || weights.length !== tensors.length) {
      throw new BynerError('BYNER_SHAPE', 'setWeights: wrong number of tensors', {
        expected: `${tensors.length} tensors (${tensors.map((t) => t.name).join(', ')})`,
        received: Array.isArray(weights) ? `${weights.length} tensors` : describe(weights),
      });
    }
    const byName = weights.every((w) => typeof w.name === 'string')
      ? new Map(weights.map((w) => [w.name, w]))
      : null;
    const ordered = tensors.map((t, i) => {
      const w = byName?.get(t.name) ?? weights[i];
      if (
        !(w?.data instanceof Float32Array) ||
        w.data.length !== t.size ||
        (w.shape && w.shape.join(',') !== t.shape.join(','))
      ) {
        throw new BynerError('BYNER_SHAPE', `setWeights: tensor ${t.name} has the wrong shape`, {
          expected: `(${t.shape.join(', ')}) = ${t.size} values`,
          received:
            w?.data instanceof Float32Array
              ? `(${w.shape?.join(', ') ?? '?'}) = ${w.data.length} values`
              : describe(w?.data),
        });
      }
      for (let k = 0; k < w.data.length; k++) {
        if (!Number.isFinite(w.data[k])) {
          throw new BynerError(
            'BYNER_NOT_FINITE',
            `setWeights: tensor ${t.name} contains a non-finite value`,
            {
              expected: 'finite numbers',
              received: `${describe(w.data[k])} at flat index ${k}`,
            },
          );
        }
      }
      return w.data;
    });
    const p = this.net.regionView('params');
    tensors.forEach((t, i) => {
      p.set(ordered[i], t.offset);
    });
    this.thread?.paramsChanged();
  }

  /** A copy of Adam's state (for checkpoints). */
  getOptimizerState(): OptimizerState {
    return {
      step: this.net.optimizerSteps,
      m: this.net.regionView('m').slice(),
      v: this.net.regionView('v').slice(),
    };
  }

  /** Puts back a state from getOptimizerState (same architecture), so training continues exactly. */
  setOptimizerState(state: OptimizerState): void {
    const size = this.net.regionView('m').length;
    const ok =
      state !== null &&
      typeof state === 'object' &&
      Number.isInteger(state.step) &&
      state.step >= 0 &&
      state.m instanceof Float32Array &&
      state.v instanceof Float32Array &&
      state.m.length === size &&
      state.v.length === size;
    if (!ok) {
      throw new BynerError('BYNER_SHAPE', 'setOptimizerState: not the state of this architecture', {
        expected: `{step: integer ≥ 0, m, v: Float32Array(${size})}`,
        received: `step ${describe(state?.step)}, m ${describe(state?.m)}, v ${describe(state?.v)}`,
      });
    }
    this.net.regionView('m').set(state.m);
    this.net.regionView('v').set(state.v);
    this.net.setOptimizerSteps(state.step);
  }

  /** Trains with Adam on MSE. Resolves with the history; the model then holds the best weights. */
  async fit(x: Tensor3, y: Tensor2, options: FitOptions = {}): Promise<FitHistory> {
    if (this.fitting) throw new BynerError('BYNER_STATE', 'fit is already running on this model');
    const { window: T, features: F, horizon: H } = this.config;
    const xt = checkWindows('fit input', x, T, F);
    const n = xt.shape[0];
    const yt = checkTargets('fit targets', y, n, H);
    const vt = options.validation ? checkWindows('validation input', options.validation.x, T, F) : null;
    const vyt =
      vt && options.validation
        ? checkTargets('validation targets', options.validation.y, vt.shape[0], H)
        : null;
    const int = (v: number): boolean => Number.isInteger(v) && v >= 1;
    const epochs = option('epochs', options.epochs, 50, int, 'an integer ≥ 1');
    const batchSize = option('batchSize', options.batchSize, 32, int, 'an integer ≥ 1');
    const patience = option(
      'patience',
      options.patience,
      5,
      (v) => v === Infinity || int(v),
      'an integer ≥ 1',
    );
    const threads = option(
      'workers',
      options.workers,
      Math.min(2, availableParallelism()),
      (v) => int(v) && v <= 64,
      'an integer in [1, 64]',
    );
    const pos = (v: number): boolean => Number.isFinite(v) && v > 0;
    const unit = (v: number): boolean => v >= 0 && v < 1;
    const adam: AdamSettings = {
      learningRate: option(
        'learningRate',
        options.learningRate,
        ADAM_DEFAULTS.learningRate,
        pos,
        'a number > 0',
      ),
      beta1: option('beta1', options.beta1, ADAM_DEFAULTS.beta1, unit, 'a number in [0, 1)'),
      beta2: option('beta2', options.beta2, ADAM_DEFAULTS.beta2, unit, 'a number in [0, 1)'),
      epsilon: option('epsilon', options.epsilon, ADAM_DEFAULTS.epsilon, pos, 'a number > 0'),
    };
    const initialEpoch = option(
      'initialEpoch',
      options.initialEpoch,
      0,
      (v) => Number.isInteger(v) && v >= 0,
      'an integer ≥ 0',
    );
    const resumed = options.resumeEarlyStopping;
    if (
      resumed &&
      !(Number.isInteger(resumed.wait) && resumed.wait >= 0 && !Number.isNaN(resumed.bestLoss))
    ) {
      throw new BynerError('BYNER_CONFIG', 'fit option resumeEarlyStopping is invalid', {
        expected: '{bestLoss: a number, wait: an integer ≥ 0}',
        received: JSON.stringify(resumed),
      });
    }
    const restoreBest = options.restoreBestWeights ?? true;
    const shuffle = options.shuffle ?? true;
    const rand = mulberry32(hashSeed(options.shuffleSeed ?? this.config.seed, 0x5f1e));

    this.fitting = true;
    const shards = Math.max(1, Math.min(threads, batchSize));
    const X = shards > 1 ? shareFloats(xt.data) : { buffer: null, view: xt.data };
    const Y = shards > 1 ? shareFloats(yt.data) : { buffer: null, view: yt.data };
    const VX =
      vt && shards > 1 ? shareFloats(vt.data) : { buffer: null, view: vt?.data ?? new Float32Array(0) };
    const VY =
      vyt && shards > 1 ? shareFloats(vyt.data) : { buffer: null, view: vyt?.data ?? new Float32Array(0) };
    const pool =
      shards > 1
        ? WorkerPool.start(
            shards - 1,
            {
              config: this.config,
              x: X.buffer as SharedArrayBuffer,
              y: Y.buffer as SharedArrayBuffer,
              vx: (VX.buffer ?? new SharedArrayBuffer(0)) as SharedArrayBuffer,
              vy: (VY.buffer ?? new SharedArrayBuffer(0)) as SharedArrayBuffer,
            },
            this.net.layout.regionSize,
            batchSize,
          )
        : null;

    const history: FitHistory = {
      loss: [],
      valLoss: [],
      bestEpoch: -1,
      bestLoss: resumed?.bestLoss ?? Number.POSITIVE_INFINITY,
      monitor: vt ? 'val_loss' : 'loss',
      stoppedReason: 'completed',
      epochs: 0,
    };
    const params = this.net.regionView('params');
    let best = params.slice(); // the weights we fall back to (initial ones until an epoch completes)
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const batches = Math.ceil(n / batchSize);
    let wait = resumed?.wait ?? 0;

    /** Splits [0, count) into `shards` contiguous ranges. */
    const split = (count: number): [number, number][] => {
      const k = Math.min(shards, count);
      return Array.from({ length: k }, (_, s) => {
        const a = Math.floor((s * count) / k);
        return [a, Math.floor(((s + 1) * count) / k) - a];
      });
    };

    const evaluate = async (): Promise<number> => {
      if (!vt) return Number.NaN;
      const nv = vt.shape[0];
      const parts = split(nv);
      if (pool) pool.params.set(this.net.regionView('params'));
      const remote = parts
        .slice(1)
        .map(([from, count], s) => pool!.workers[s].request({ type: 'eval', from, count }));
      const [from0, count0] = parts[0];
      const out = new Float32Array(count0 * H);
      let sse = this.net.predictInto(
        out,
        VX.view.subarray(from0 * T * F, (from0 + count0) * T * F),
        count0,
        VY.view.subarray(from0 * H, (from0 + count0) * H),
      );
      for (const r of await Promise.all(remote)) sse += r;
      return sse / (nv * H);
    };

    const reshuffle = () => {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    };
    // A resumed run replays the shuffles of the epochs already done, so its order is the uninterrupted one's.
    if (shuffle) for (let e = 0; e < Math.min(initialEpoch, epochs); e++) reshuffle();

    try {
      for (let epoch = initialEpoch; epoch < epochs; epoch++) {
        if (shuffle) reshuffle();
        let epochSse = 0;
        let stop: StopReason | null = null;
        for (let b = 0; b < batches; b++) {
          const idx = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
          const B = idx.length;
          const scale = 1 / (B * H);
          const parts = split(B);
          if (pool) pool.params.set(this.net.regionView('params'));
          const remote = parts.slice(1).map(([from, count], s) =>
            pool!.workers[s].request({
              type: 'train',
              idx: idx.slice(from, from + count),
              epoch,
              scale,
              dropout: true,
            }),
          );
          this.net.zeroGrads();
          let sse = this.net.trainShard(X.view, Y.view, idx, parts[0][0], parts[0][1], epoch, scale);
          const sums = await Promise.all(remote);
          for (let s = 0; s < sums.length; s++) {
            sse += sums[s];
            this.net.addGrads(pool!.workers[s].grads);
          }
          const loss = sse / (B * H);
          if (!Number.isFinite(loss) || !this.net.gradsFinite()) {
            stop = 'non-finite-loss';
            break;
          }
          this.net.adamStep(adam);
          epochSse += sse;
          options.onBatchEnd?.({ epoch, batch: b, batches, loss });
          if (options.signal?.aborted) {
            stop = 'aborted';
            break;
          }
        }
        if (stop) {
          history.stoppedReason = stop;
          break;
        }
        const loss = epochSse / (n * H);
        const valLoss = await evaluate();
        history.loss.push(loss);
        if (vt) history.valLoss.push(valLoss);
        history.epochs = epoch + 1 - initialEpoch;
        const monitored = vt ? valLoss : loss;
        if (!Number.isFinite(monitored)) {
          history.stoppedReason = 'non-finite-loss';
          break;
        }
        const improved = monitored < history.bestLoss;
        if (improved) {
          history.bestLoss = monitored;
          history.bestEpoch = epoch;
          best = this.net.regionView('params').slice();
          wait = 0;
        } else wait++;
        await options.onEpochEnd?.({
          epoch,
          epochs,
          loss,
          ...(vt ? { valLoss } : {}),
          improved,
          bestEpoch: history.bestEpoch,
          model: this,
        });
        if (wait >= patience) {
          history.stoppedReason = 'early-stopping';
          break;
        }
        if (options.signal?.aborted) {
          history.stoppedReason = 'aborted';
          break;
        }
      }
      const broken = history.stoppedReason === 'non-finite-loss' || history.stoppedReason === 'aborted';
      if (restoreBest || broken) {
        // A non-finite or aborted run always falls back to the best (or initial) weights.
        if (history.bestEpoch >= 0 || broken) this.net.regionView('params').set(best);
      }
      return history;
    } finally {
      this.fitting = false;
      this.thread?.paramsChanged();
      await pool?.close();
    }
  }
}

/** Builds a freshly initialised model (Glorot-uniform kernels, orthogonal recurrent kernels, forget bias 1). */
export function createModel(config: Partial<ModelConfig> = {}): LstmModel {
  return new LstmModel(resolveConfig(config));
}

/** Loads a model saved by `save`, or by TF.js (`model.save`) for the same architecture. */
export async function loadModel(dir: string): Promise<LstmModel> {
  const { config, weights } = await readModelFiles(dir);
  const model = new LstmModel(config, false);
  model.setWeights(weights);
  return model;
}

/** Writes dir/model.json + dir/weights.bin: the same as `model.save(dir)`. */
export function saveModel(model: LstmModel, dir: string): Promise<void> {
  return model.save(dir);
}
