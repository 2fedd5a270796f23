// The LSTM rung of the ladder: src/engine's LstmModel behind the model interface (Float64 scaled windows in, the
// Float32 network inside), saved as its TF.js files. The engine's forecast thread is started and stopped here only.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BatchEndInfo,
  createModel,
  type EpochEndInfo,
  type LstmModel,
  loadModel,
  type ModelConfig,
} from '../engine/index.js';
import { BynerError } from '../errors.js';
import {
  checkWindows,
  FEATURES,
  type FeatureWindow,
  type Forecaster,
  type ForecastJob,
} from '../features/forecaster.js';
import type { MinMaxScaler } from '../features/scaler.js';
import type { JsonObject } from '../store/types.js';
import { type FitData, type ScaledWindows, scaleRawWindows } from './data.js';
import { BaseModel, type ModelShape } from './model.js';

/** The training settings of DESIGN §5 that are not the network's shape; unset ones take the engine's defaults. */
export interface LstmFitSettings {
  /** Maximum epochs (default 50). */
  epochs: number;
  /** Windows per batch (default 32). */
  batchSize: number;
  /** Epochs without improvement (of the validation loss, when there is one) before stopping (default 5). */
  patience: number;
  /** Adam's learning rate (default 0.001). */
  learningRate: number;
  /** Threads per batch (default min(2, cores)). */
  workers: number;
}

/** Options of the `lstm` kind: the engine's network and training settings, and progress callbacks. */
export interface LstmOptions {
  /** Layers, dropout and seed (default DESIGN §5: 100 and 50 relu units, dropout 0.2, seed 42). */
  network?: Partial<Pick<ModelConfig, 'layers' | 'dropout' | 'seed'>>;
  /** Training settings; unset ones take the engine's defaults. */
  fit?: Partial<LstmFitSettings>;
  /** Called after each epoch (fit waits for a returned promise). */
  onEpoch?: (info: EpochEndInfo) => void | Promise<void>;
  /** Called after each batch. */
  onBatch?: (info: BatchEndInfo) => void;
}

/** Writes `files` into a temporary folder for `use`, then removes the folder. */
async function inTempDir<T>(files: Record<string, Uint8Array>, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'byner-model-'));
  try {
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export class LstmKindModel extends BaseModel {
  readonly network: LstmModel;

  constructor(
    shape: ModelShape,
    private readonly options: LstmOptions = {},
    network?: LstmModel,
  ) {
    super('lstm', shape);
    this.network =
      network ??
      createModel({ ...options.network, window: shape.window, horizon: shape.horizon, features: FEATURES });
  }

  protected async fitChecked({ train, validation, signal }: FitData): Promise<JsonObject> {
    const f32 = (x: ScaledWindows) => ({
      data: Float32Array.from(x.x),
      shape: [x.n, x.window, x.features] as const,
    });
    const y32 = (y: Float64Array, n: number) => ({
      data: Float32Array.from(y),
      shape: [n, this.horizon] as const,
    });
    const history = await this.network.fit(f32(train.x), y32(train.y, train.x.n), {
      ...this.options.fit,
      validation: validation ? { x: f32(validation.x), y: y32(validation.y, validation.x.n) } : undefined,
      signal,
      onEpochEnd: async (info) => {
        await this.options.onEpoch?.(info);
        // A task that aborts the fit (a Ctrl-C handler, a timer) runs only when the event loop turns, which a fit
        // on one worker never does by itself: turn it once an epoch.
        if (signal) await new Promise<void>((resolve) => setImmediate(resolve));
      },
      onBatchEnd: this.options.onBatch,
    });
    if (history.bestEpoch < 0) {
      throw new BynerError('BYNER_MODEL', 'lstm: training produced no usable epoch', {
        expected: 'at least one epoch with a finite loss',
        received: `stopped: ${history.stoppedReason}`,
        hint: 'lower the learning rate, or check the data',
      });
    }
    return {
      epochs: history.loss.length,
      best_epoch: history.bestEpoch,
      stopped_reason: history.stoppedReason,
      loss: history.loss,
      val_loss: history.valLoss,
    };
  }

  protected predictChecked(x: ScaledWindows): Float64Array {
    return Float64Array.from(
      this.network.predict({ data: Float32Array.from(x.x), shape: [x.n, x.window, x.features] }),
    );
  }

  protected async saveChecked() {
    return inTempDir({}, async (dir) => {
      await this.network.save(dir);
      const files: Record<string, Uint8Array> = {};
      for (const name of (await readdir(dir)).sort())
        files[name] = new Uint8Array(await readFile(join(dir, name)));
      return { config: { network: JSON.parse(JSON.stringify(this.network.config)) as JsonObject }, files };
    });
  }

  /** Live forecasts use both cores: one window pipelined over two threads, a batch split in halves. */
  override async forecaster(version: string): Promise<LstmForecaster> {
    const scaler = this.requireFitted('forecast');
    await this.network.startForecastThread();
    return new LstmForecaster(version, this.network, scaler);
  }

  override async dispose(): Promise<void> {
    await this.network.closeForecastThread();
  }

  /** A network fitted elsewhere (the training job's checkpointed fit) on windows scaled by `scaler`. */
  static fitted(network: LstmModel, scaler: MinMaxScaler): LstmKindModel {
    const { window, horizon } = network.config;
    return new LstmKindModel({ window, horizon }, {}, network).restore(scaler);
  }

  /** A saved LSTM from its TF.js files (model.json + weights.bin) and its training scaler. */
  static async fromFiles(files: Record<string, Uint8Array>, scaler: MinMaxScaler): Promise<LstmKindModel> {
    return LstmKindModel.fitted(await inTempDir(files, (dir) => loadModel(dir)), scaler);
  }
}

/** The LSTM behind the live Forecaster interface: scales raw windows with its training scaler, then predicts. */
export class LstmForecaster implements Forecaster {
  readonly window: number;
  readonly horizon: number;
  private readonly buf: Float32Array;

  constructor(
    readonly version: string,
    readonly model: LstmModel,
    readonly scaler: MinMaxScaler,
  ) {
    this.window = model.config.window;
    this.horizon = model.config.horizon;
    if (model.config.features !== FEATURES || scaler.features !== FEATURES) {
      throw new BynerError('BYNER_MODEL', `model ${version} does not take the 7 tick features`, {
        expected: `${FEATURES} features in the model and its scaler`,
        received: `model ${model.config.features}, scaler ${scaler.features}`,
      });
    }
    this.buf = new Float32Array(this.window * FEATURES);
  }

  forecast(windows: readonly FeatureWindow[]): number[][] {
    return this.forecastStart(windows).finish();
  }

  forecastStart(windows: readonly FeatureWindow[]): ForecastJob {
    checkWindows(windows, this.window, this.version);
    const T = this.window;
    const x = scaleRawWindows(
      windows,
      T,
      this.scaler,
      windows.length === 1 ? this.buf : new Float32Array(windows.length * T * FEATURES),
    );
    const job = this.model.predictStart({ data: x, shape: [windows.length, T, FEATURES] });
    return {
      threaded: job.threaded,
      work: () => job.work(),
      finish: () => {
        const out = job.finish();
        return windows.map((_, i) => Array.from(out.subarray(i * this.horizon, (i + 1) * this.horizon)));
      },
    };
  }
}
