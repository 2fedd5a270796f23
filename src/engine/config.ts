// Model configuration (DESIGN §5 defaults), its validation, and the one offset table that lays out parameters,
// gradients and Adam moments. Leaves the numbers themselves (init.ts) and the memory (net.ts) to others.
import { BynerError, describe } from '../errors.js';

/** Cell and candidate activation of an LSTM layer (Keras `activation`); the gates always use the sigmoid. */
export type Activation = 'relu' | 'tanh';

/** One LSTM layer of a ModelConfig. */
export interface LayerConfig {
  /** Hidden units H of this LSTM layer. */
  units: number;
  /** Cell/candidate activation (Keras `activation`); the recurrent activation is always sigmoid. */
  activation?: Activation;
}

/**
 * The network's shape and seed (DESIGN §5): `layers` stacked LSTM layers over windows of `window` time steps ×
 * `features` values, then Dense(`horizon`). createModel takes any part of it; the rest comes from DEFAULT_MODEL_CONFIG.
 */
export interface ModelConfig {
  /** Time steps T per input window. */
  window: number;
  /** Features F per time step. */
  features: number;
  /** Stacked LSTM layers; all but the last return sequences. */
  layers: readonly LayerConfig[];
  /** Rate of the Dropout applied to each LSTM layer's output (training only, inverted). */
  dropout: number;
  /** Outputs of the final Dense layer (values forecast). */
  horizon: number;
  /** Seed of the weight initialisation and of the dropout masks. */
  seed: number;
}

/** A LayerConfig with its activation filled in. */
export interface ResolvedLayer {
  /** Hidden units H of this LSTM layer. */
  readonly units: number;
  /** Cell/candidate activation; the recurrent activation is always sigmoid. */
  readonly activation: Activation;
}

/** A complete, validated, frozen ModelConfig (resolveConfig; a model's `config`). */
export interface ResolvedConfig {
  /** Time steps T per input window. */
  readonly window: number;
  /** Features F per time step. */
  readonly features: number;
  /** Stacked LSTM layers, activations filled in. */
  readonly layers: readonly ResolvedLayer[];
  /** Rate of the Dropout after each LSTM layer (training only). */
  readonly dropout: number;
  /** Outputs of the final Dense layer (values forecast). */
  readonly horizon: number;
  /** Seed of the weight initialisation and of the dropout masks. */
  readonly seed: number;
}

/**
 * DESIGN §5's network: windows of 60 steps × 7 features, LSTM(100, relu) → LSTM(50, relu), dropout 0.2, Dense(5),
 * seed 42.
 */
export const DEFAULT_MODEL_CONFIG: ResolvedConfig = Object.freeze({
  window: 60,
  features: 7,
  layers: Object.freeze([
    Object.freeze({ units: 100, activation: 'relu' as const }),
    Object.freeze({ units: 50, activation: 'relu' as const }),
  ]),
  dropout: 0.2,
  horizon: 5,
  seed: 42,
});

function positiveInt(name: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new BynerError('BYNER_CONFIG', `model config: ${name} is invalid`, {
      expected: `an integer in [1, ${max}]`,
      received: describe(v),
    });
  }
  return v;
}

/** Fills defaults from DEFAULT_MODEL_CONFIG and validates; throws BYNER_CONFIG naming the bad field. */
export function resolveConfig(config: Partial<ModelConfig> = {}): ResolvedConfig {
  const c = { ...DEFAULT_MODEL_CONFIG, ...config };
  const window = positiveInt('window', c.window, 100_000);
  const features = positiveInt('features', c.features, 100_000);
  const horizon = positiveInt('horizon', c.horizon, 100_000);
  if (!Array.isArray(c.layers) || c.layers.length === 0) {
    throw new BynerError('BYNER_CONFIG', 'model config: layers is invalid', {
      expected: 'a non-empty array of {units, activation}',
      received: describe(c.layers),
    });
  }
  const layers = c.layers.map((l: LayerConfig, i: number) => {
    const units = positiveInt(`layers[${i}].units`, l?.units, 4096);
    const activation = l.activation ?? 'relu';
    if (activation !== 'relu' && activation !== 'tanh') {
      throw new BynerError('BYNER_CONFIG', `model config: layers[${i}].activation is invalid`, {
        expected: "'relu' or 'tanh'",
        received: describe(activation),
      });
    }
    return Object.freeze({ units, activation });
  });
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout < 1)) {
    throw new BynerError('BYNER_CONFIG', 'model config: dropout is invalid', {
      expected: 'a number in [0, 1)',
      received: describe(c.dropout),
    });
  }
  if (typeof c.seed !== 'number' || !Number.isInteger(c.seed)) {
    throw new BynerError('BYNER_CONFIG', 'model config: seed is invalid', {
      expected: 'an integer',
      received: describe(c.seed),
    });
  }
  return Object.freeze({
    window,
    features,
    layers: Object.freeze(layers),
    dropout: c.dropout,
    horizon,
    seed: c.seed,
  });
}

/** One parameter tensor in the offset table. Offsets are in floats from the start of a region. */
export interface TensorSlot {
  /** Keras weight name, e.g. `lstm/kernel`, `lstm_1/recurrent_kernel`, `dense/bias`. */
  readonly name: string;
  readonly layer: string;
  readonly kind: 'kernel' | 'recurrent_kernel' | 'bias';
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

/** A copy of one weight tensor: Keras name, shape, values (row-major). */
export interface NamedWeight {
  /** Keras-style name: `<layer>/<kind>`, e.g. `lstm/kernel`, `lstm_1/recurrent_kernel`, `dense/bias`. */
  name: string;
  /** e.g. `[C, 4H]` for an LSTM kernel. */
  shape: number[];
  /** The values, row-major. */
  data: Float32Array;
}

export interface ParamLayout {
  readonly tensors: readonly TensorSlot[];
  /** Floats per region (parameters, gradients, m and v each), padded so every tensor starts 64-byte aligned. */
  readonly regionSize: number;
  /** Sum of the tensor sizes (the parameter count). */
  readonly count: number;
}

export const lstmLayerName = (i: number): string => (i === 0 ? 'lstm' : `lstm_${i}`);
export const dropoutLayerName = (i: number): string => (i === 0 ? 'dropout' : `dropout_${i}`);
export const DENSE_LAYER_NAME = 'dense';

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/** The offset table: per LSTM layer W (C, 4H), U (H, 4H), b (4H); then Dense W (H_last, horizon), b (horizon). */
export function paramLayout(cfg: ResolvedConfig): ParamLayout {
  const tensors: TensorSlot[] = [];
  let offset = 0;
  let count = 0;
  const add = (layer: string, kind: TensorSlot['kind'], shape: number[]): void => {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name: `${layer}/${kind}`, layer, kind, shape, offset, size });
    offset += align16(size);
    count += size;
  };
  let inputs = cfg.features;
  cfg.layers.forEach((l, i) => {
    add(lstmLayerName(i), 'kernel', [inputs, 4 * l.units]);
    add(lstmLayerName(i), 'recurrent_kernel', [l.units, 4 * l.units]);
    add(lstmLayerName(i), 'bias', [4 * l.units]);
    inputs = l.units;
  });
  add(DENSE_LAYER_NAME, 'kernel', [inputs, cfg.horizon]);
  add(DENSE_LAYER_NAME, 'bias', [cfg.horizon]);
  return { tensors, regionSize: offset, count };
}

/** FLOPs of one window's forward pass: per LSTM step 2·(C + H)·4H for the two products, then the dense layer. */
export function windowFlops(cfg: ResolvedConfig): number {
  let flops = 0;
  let inputs = cfg.features;
  for (const l of cfg.layers) {
    flops += cfg.window * 2 * (inputs + l.units) * 4 * l.units;
    inputs = l.units;
  }
  return flops + 2 * inputs * cfg.horizon;
}
