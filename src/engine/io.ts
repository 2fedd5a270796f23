// The TensorFlow.js layers format (model.json + weights.bin) for a config and its weights, with byte lengths and a
// SHA-256 of the weights in the manifest so truncation and corruption are detected. Leaves building the model from
// them to model.ts (loadModel), registries and storage to others.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BynerError, describe } from '../errors.js';
import {
  DENSE_LAYER_NAME,
  dropoutLayerName,
  lstmLayerName,
  type NamedWeight,
  paramLayout,
  type ResolvedConfig,
  resolveConfig,
} from './config.js';

/** File name of a saved model's topology and weights manifest (TF.js layers format). */
export const MODEL_JSON = 'model.json';
/** File name of a saved model's float32 weights, in `getWeights()` order. */
export const WEIGHTS_BIN = 'weights.bin';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

interface ModelJson {
  modelTopology: { class_name: string; config: { name?: string; layers: KerasLayer[] } | KerasLayer[] };
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  userDefinedMetadata?: { byner?: BynerMetadata };
}

interface KerasLayer {
  class_name: string;
  config: Record<string, unknown>;
}

/** What we add to model.json (TF.js keeps it as the model's user-defined metadata). */
interface BynerMetadata {
  formatVersion: 1;
  config: ResolvedConfig;
  weightsBytes: number;
  weightsSha256: string;
  savedAt: string;
}

const initializer = (class_name: string, config: Record<string, unknown> = {}) => ({ class_name, config });

/** The Keras Sequential topology TF.js writes for this architecture (layer names match our weight names). */
function kerasTopology(cfg: ResolvedConfig): ModelJson['modelTopology'] {
  const layers: KerasLayer[] = [];
  cfg.layers.forEach((l, i) => {
    layers.push({
      class_name: 'LSTM',
      config: {
        name: lstmLayerName(i),
        trainable: true,
        ...(i === 0 ? { batch_input_shape: [null, cfg.window, cfg.features] } : {}),
        dtype: 'float32',
        units: l.units,
        activation: l.activation,
        recurrent_activation: 'sigmoid',
        use_bias: true,
        kernel_initializer: initializer('VarianceScaling', {
          scale: 1,
          mode: 'fan_avg',
          distribution: 'uniform',
          seed: null,
        }),
        recurrent_initializer: initializer('Orthogonal', { gain: 1, seed: null }),
        bias_initializer: initializer('Zeros'),
        unit_forget_bias: true,
        kernel_regularizer: null,
        recurrent_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: null,
        kernel_constraint: null,
        recurrent_constraint: null,
        bias_constraint: null,
        dropout: 0,
        recurrent_dropout: 0,
        implementation: null,
        return_sequences: i < cfg.layers.length - 1,
        return_state: false,
        go_backwards: false,
        stateful: false,
        unroll: false,
      },
    });
    layers.push({
      class_name: 'Dropout',
      config: {
        rate: cfg.dropout,
        noise_shape: null,
        seed: null,
        name: dropoutLayerName(i),
        trainable: true,
      },
    });
  });
  layers.push({
    class_name: 'Dense',
    config: {
      units: cfg.horizon,
      activation: 'linear',
      use_bias: true,
      kernel_initializer: initializer('VarianceScaling', {
        scale: 1,
        mode: 'fan_avg',
        distribution: 'uniform',
        seed: null,
      }),
      bias_initializer: initializer('Zeros'),
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
      name: DENSE_LAYER_NAME,
      trainable: true,
    },
  });
  return { class_name: 'Sequential', config: { name: 'byner_lstm', layers } };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The two artifacts of a model (its config and its weights in getWeights order), as writeModelFiles writes them. */
function modelArtifacts(
  config: ResolvedConfig,
  w: readonly NamedWeight[],
): { json: ModelJson; weights: Uint8Array } {
  const total = w.reduce((a, t) => a + t.data.length, 0);
  const flat = new Float32Array(total);
  let at = 0;
  for (const t of w) {
    flat.set(t.data, at);
    at += t.data.length;
  }
  const weights = new Uint8Array(flat.buffer);
  const json: ModelJson = {
    modelTopology: kerasTopology(config),
    format: 'layers-model',
    generatedBy: 'byner engine',
    convertedBy: null,
    weightsManifest: [
      { paths: [WEIGHTS_BIN], weights: w.map((t) => ({ name: t.name, shape: t.shape, dtype: 'float32' })) },
    ],
    userDefinedMetadata: {
      byner: {
        formatVersion: 1,
        config,
        weightsBytes: weights.byteLength,
        weightsSha256: sha256(weights),
        savedAt: new Date().toISOString(),
      },
    },
  };
  return { json, weights };
}

/** Writes dir/model.json and dir/weights.bin (each through a temporary file and a rename). */
export async function writeModelFiles(
  dir: string,
  config: ResolvedConfig,
  weights: readonly NamedWeight[],
): Promise<void> {
  const artifacts = modelArtifacts(config, weights);
  await mkdir(dir, { recursive: true });
  const put = async (name: string, data: Uint8Array | string): Promise<void> => {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, data);
    await rename(tmp, join(dir, name));
  };
  await put(WEIGHTS_BIN, artifacts.weights);
  await put(MODEL_JSON, `${JSON.stringify(artifacts.json, null, 1)}\n`);
}

function fileError(
  dir: string,
  message: string,
  expected: string,
  received: string,
  cause?: unknown,
): BynerError {
  return new BynerError('BYNER_MODEL_FILE', `${message} (${dir})`, {
    expected,
    received,
    hint: 'save the model again, or point to a directory holding model.json and weights.bin from the same save',
    cause,
  });
}

/** Reads our config back out of a Keras/TF.js topology (ours or TF.js's own saves of the same architecture). */
function configFromTopology(json: ModelJson, dir: string): { config: ResolvedConfig; weightNames: string[] } {
  const topo = json.modelTopology;
  const layers = Array.isArray(topo?.config) ? topo.config : topo?.config?.layers;
  if (topo?.class_name !== 'Sequential' || !Array.isArray(layers)) {
    throw fileError(
      dir,
      'model.json is not a Sequential layers model',
      'modelTopology.class_name "Sequential"',
      describe(topo?.class_name),
    );
  }
  const lstm: { units: number; activation: 'relu' | 'tanh' }[] = [];
  const weightNames: string[] = [];
  const rates: number[] = [];
  let window = 0;
  let features = 0;
  let horizon = 0;
  const unsupported = (what: string, got: unknown): BynerError =>
    new BynerError('BYNER_MODEL', `model.json: unsupported architecture: ${what}`, {
      expected: 'LSTM (relu|tanh, sigmoid recurrent, bias) [→ Dropout] … → Dense(linear)',
      received: describe(got),
    });
  layers.forEach((layer, i) => {
    const c = layer.config ?? {};
    const name = String(c.name);
    if (layer.class_name === 'LSTM') {
      if (horizon) throw unsupported('LSTM after Dense', layer.class_name);
      if (lstm.length === 0) {
        const shape = (c.batch_input_shape ?? c.batchInputShape) as number[] | undefined;
        if (!Array.isArray(shape) || shape.length !== 3) throw unsupported('input shape', shape);
        window = shape[1];
        features = shape[2];
      }
      if (c.recurrent_activation !== 'sigmoid')
        throw unsupported('recurrent_activation', c.recurrent_activation);
      if (c.activation !== 'relu' && c.activation !== 'tanh') throw unsupported('activation', c.activation);
      if (c.use_bias === false) throw unsupported('LSTM without bias', c.use_bias);
      if (c.go_backwards || c.stateful || c.return_state) throw unsupported('LSTM option', name);
      if (Number(c.dropout ?? 0) !== 0 || Number(c.recurrent_dropout ?? 0) !== 0) {
        throw unsupported('LSTM input/recurrent dropout', c.dropout);
      }
      const last = !layers.slice(i + 1).some((l) => l.class_name === 'LSTM');
      if (Boolean(c.return_sequences) === last) throw unsupported('return_sequences', c.return_sequences);
      lstm.push({ units: Number(c.units), activation: c.activation });
      weightNames.push(`${name}/kernel`, `${name}/recurrent_kernel`, `${name}/bias`);
    } else if (layer.class_name === 'Dropout') {
      rates.push(Number(c.rate));
    } else if (layer.class_name === 'Dense') {
      if (horizon || lstm.length === 0) throw unsupported('Dense position', name);
      if ((c.activation ?? 'linear') !== 'linear' || c.use_bias === false)
        throw unsupported('Dense', c.activation);
      horizon = Number(c.units);
      weightNames.push(`${name}/kernel`, `${name}/bias`);
    } else throw unsupported('layer', layer.class_name);
  });
  if (!horizon) throw unsupported('no final Dense layer', undefined);
  if (rates.some((r) => r !== rates[0])) throw unsupported('different dropout rates', rates.join(', '));
  const saved = json.userDefinedMetadata?.byner?.config;
  const config = resolveConfig({
    window,
    features,
    layers: lstm,
    horizon,
    dropout: rates[0] ?? 0,
    seed: saved?.seed ?? 42,
  });
  return { config, weightNames };
}

/**
 * Reads a model saved by writeModelFiles, or by TF.js (`model.save`) for the same architecture: its config and its
 * weight tensors in getWeights order (shapes not yet checked against the config: setWeights does that).
 */
export async function readModelFiles(
  dir: string,
): Promise<{ config: ResolvedConfig; weights: { shape: readonly number[]; data: Float32Array }[] }> {
  let text: string;
  try {
    text = await readFile(join(dir, MODEL_JSON), 'utf8');
  } catch (cause) {
    throw fileError(dir, 'cannot read model.json', 'a readable model.json', String(cause), cause);
  }
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (cause) {
    throw fileError(
      dir,
      'model.json is not valid JSON (truncated?)',
      'JSON',
      `${text.length} characters`,
      cause,
    );
  }
  const { config, weightNames } = configFromTopology(json, dir);
  const groups = json.weightsManifest;
  if (!Array.isArray(groups) || groups.length === 0) {
    throw fileError(
      dir,
      'model.json has no weightsManifest',
      'weightsManifest: [{paths, weights}]',
      describe(groups),
    );
  }
  const specs = groups.flatMap((g) => g.weights);
  const chunks: Buffer[] = [];
  for (const path of groups.flatMap((g) => g.paths)) {
    try {
      chunks.push(await readFile(join(dir, path)));
    } catch (cause) {
      throw fileError(dir, `cannot read ${path}`, `the weights file ${path}`, String(cause), cause);
    }
  }
  const bytes = Buffer.concat(chunks);
  const sizes = specs.map((s) => s.shape.reduce((a, b) => a * b, 1));
  const expectedBytes = sizes.reduce((a, b) => a + b, 0) * 4;
  const meta = json.userDefinedMetadata?.byner;
  if (bytes.byteLength !== expectedBytes || (meta && meta.weightsBytes !== bytes.byteLength)) {
    throw fileError(
      dir,
      'weights file has the wrong length (truncated or from another save)',
      `${meta?.weightsBytes ?? expectedBytes} bytes`,
      `${bytes.byteLength} bytes`,
    );
  }
  if (meta && sha256(bytes) !== meta.weightsSha256) {
    throw fileError(
      dir,
      'weights file is corrupted (SHA-256 mismatch)',
      `sha256 ${meta.weightsSha256}`,
      `sha256 ${sha256(bytes)}`,
    );
  }
  const byName = new Map<string, Float32Array>();
  let at = 0;
  specs.forEach((s, i) => {
    if (s.dtype !== 'float32')
      throw fileError(dir, `weight ${s.name} has dtype ${s.dtype}`, 'float32', s.dtype);
    const data = new Float32Array(sizes[i]);
    new Uint8Array(data.buffer).set(bytes.subarray(at, at + sizes[i] * 4));
    at += sizes[i] * 4;
    byName.set(s.name, data);
  });
  const weights = paramLayout(config).tensors.map((t, i) => {
    const data = byName.get(weightNames[i]);
    if (!data) {
      throw fileError(
        dir,
        `weight ${weightNames[i]} missing from the manifest`,
        weightNames.join(', '),
        specs.map((s) => s.name).join(', '),
      );
    }
    return { shape: t.shape, data };
  });
  return { config, weights };
}
