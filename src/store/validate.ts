// Checks every document before it reaches a store and throws BYNER_INVALID_DOCUMENT naming the first bad
// field. A batch is all-or-nothing: the stores validate the whole batch first. Shapes only, no semantics.

import { BynerError, describe, isBynerError } from '../errors.js';
import { IndicatorStream } from '../indicators/streaming.js';
import { INDICATOR_NAMES, STREAM_NAME, type Tick } from '../ticks/types.js';
import type { Forecast, MetricsDoc, ModelEntry, StreamState, TrainingPrediction } from './types.js';

type Doc = Record<string, unknown>;

class Invalid extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(field);
  }
}

const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

function field(doc: Doc, name: string, path: string): unknown {
  if (!(name in doc) || doc[name] === undefined) throw new Invalid(path + name, 'a value', undefined);
  return doc[name];
}

function finite(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(path, 'a finite number', v);
  return v;
}

function date(v: unknown, path: string): void {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new Invalid(path, 'a valid Date', v);
}

function text(v: unknown, path: string): void {
  if (typeof v !== 'string' || v.length === 0) throw new Invalid(path, 'a non-empty string', v);
}

function seqNumber(v: unknown, path: string): void {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Invalid(path, 'an integer ≥ 0', v);
}

function numbers(v: unknown, path: string, length?: number, nullable = false): void {
  if (!Array.isArray(v)) throw new Invalid(path, 'a plain array of numbers (use Array.from)', v);
  if (length !== undefined && v.length !== length) throw new Invalid(path, `${length} numbers`, v);
  if (v.length === 0) throw new Invalid(path, 'at least one number', v);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    // the path is built only for a bad value: forecasts carry 420 input numbers each
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      if (!(nullable && x === null)) finite(x, `${path}[${i}]`);
    }
  }
}

function matrix(v: unknown, path: string, columns: number): void {
  if (!Array.isArray(v) || v.length === 0) throw new Invalid(path, `(rows, ${columns}) nested arrays`, v);
  for (let i = 0; i < v.length; i++) {
    const row = v[i];
    // the path is built only for a bad row: a forecast's window has 60
    if (!Array.isArray(row) || row.length !== columns || !row.every(Number.isFinite))
      numbers(row, `${path}[${i}]`, columns);
  }
}

/** JSON-compatible: plain objects, arrays, strings, booleans, null, finite numbers. */
function json(v: unknown, path: string): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    finite(v, path);
    return;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) json(v[i], `${path}[${i}]`);
    return;
  }
  if (isObject(v) && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) json(x, `${path}.${k}`);
    return;
  }
  throw new Invalid(path, 'a JSON value (object, array, string, boolean, null, finite number)', v);
}

function jsonObject(v: unknown, path: string): void {
  if (!isObject(v)) throw new Invalid(path, 'a plain object', v);
  json(v, path);
}

const FEATURES = 1 + INDICATOR_NAMES.length;

function checkTick(t: Doc): void {
  text(field(t, 'stream', ''), 'stream');
  seqNumber(field(t, 'seq', ''), 'seq');
  date(field(t, 'timestamp', ''), 'timestamp');
  finite(field(t, 'price', ''), 'price');
  const ind = field(t, 'indicators', '');
  if (!isObject(ind)) throw new Invalid('indicators', 'an object of the six indicators', ind);
  for (const name of INDICATOR_NAMES) {
    const v = field(ind, name, 'indicators.');
    if (v !== null) finite(v, `indicators.${name}`);
  }
  for (const k of Object.keys(ind)) {
    if (!(INDICATOR_NAMES as readonly string[]).includes(k)) {
      throw new Invalid(`indicators.${k}`, `only ${INDICATOR_NAMES.join(', ')}`, ind[k]);
    }
  }
}

function checkTrainingPrediction(p: Doc): void {
  date(field(p, 'timestamp', ''), 'timestamp');
  matrix(field(p, 'input_sequence', ''), 'input_sequence', FEATURES);
  numbers(field(p, 'true_next_sequence', ''), 'true_next_sequence');
  const n = (p.true_next_sequence as unknown[]).length;
  numbers(field(p, 'predicted_next_sequence', ''), 'predicted_next_sequence', n);
  text(field(p, 'model_version', ''), 'model_version');
}

function checkForecast(f: Doc): void {
  date(field(f, 'timestamp', ''), 'timestamp');
  matrix(field(f, 'input_sequence', ''), 'input_sequence', FEATURES);
  numbers(field(f, 'forecast', ''), 'forecast');
  text(field(f, 'model_version', ''), 'model_version');
  seqNumber(field(f, 'seq', ''), 'seq');
  text(field(f, 'stream', ''), 'stream');
}

function checkMetrics(m: Doc): void {
  date(field(m, 'timestamp', ''), 'timestamp');
  const h = field(m, 'forecast_horizon', '');
  if (!Number.isSafeInteger(h) || (h as number) < 1)
    throw new Invalid('forecast_horizon', 'an integer ≥ 1', h);
  text(field(m, 'model_version', ''), 'model_version');
  const metrics = field(m, 'metrics', '');
  if (!isObject(metrics)) throw new Invalid('metrics', 'an object {mse, mae, accuracy}', metrics);
  for (const name of ['mse', 'mae', 'accuracy']) field(metrics, name, 'metrics.');
  for (const [name, v] of Object.entries(metrics)) numbers(v, `metrics.${name}`, h as number, true);
  for (const [k, v] of Object.entries(m)) {
    if (k === '_id') throw new Invalid('_id', 'no _id (the store assigns it)', v);
    if (!['timestamp', 'metrics', 'forecast_horizon', 'model_version'].includes(k)) json(v, k);
  }
}

const FILE_NAME = /^[A-Za-z0-9._-]+$/;

function checkModel(e: Doc): void {
  text(field(e, 'version', ''), 'version');
  if (!FILE_NAME.test(e.version as string)) throw new Invalid('version', 'only [A-Za-z0-9._-]', e.version);
  date(field(e, 'created_at', ''), 'created_at');
  for (const k of ['config', 'scaler', 'metrics']) jsonObject(field(e, k, ''), k);
  const range = field(e, 'data_range', '');
  if (!isObject(range)) throw new Invalid('data_range', '{stream, from_seq, to_seq}', range);
  text(field(range, 'stream', 'data_range.'), 'data_range.stream');
  seqNumber(field(range, 'from_seq', 'data_range.'), 'data_range.from_seq');
  seqNumber(field(range, 'to_seq', 'data_range.'), 'data_range.to_seq');
  if (e.streams !== undefined) {
    const streams = e.streams;
    const names = 'stream names of [A-Za-z0-9._-] (1-64), at least one, each once';
    if (!Array.isArray(streams) || streams.length === 0) throw new Invalid('streams', names, streams);
    streams.forEach((name, i) => {
      if (typeof name !== 'string' || !STREAM_NAME.test(name) || streams.indexOf(name) !== i)
        throw new Invalid(`streams[${i}]`, names, name);
    });
  }
  if (e.serving !== undefined && typeof e.serving !== 'boolean')
    throw new Invalid('serving', 'a boolean', e.serving);
  const files = field(e, 'artifact', '');
  if (!isObject(files) || Object.keys(files).length === 0) {
    throw new Invalid('artifact', 'an object of file name → Uint8Array, at least one file', files);
  }
  for (const [name, bytes] of Object.entries(files)) {
    if (!FILE_NAME.test(name)) throw new Invalid(`artifact.${name}`, 'a file name of [A-Za-z0-9._-]', name);
    if (!(bytes instanceof Uint8Array)) throw new Invalid(`artifact.${name}`, 'a Uint8Array', bytes);
  }
}

const CHECKS = {
  tick: checkTick,
  'training prediction': checkTrainingPrediction,
  forecast: checkForecast,
  metrics: checkMetrics,
  model: checkModel,
} as const;
type DocKind = keyof typeof CHECKS;

/**
 * Validates a whole batch; throws BYNER_INVALID_DOCUMENT for the first invalid document (its index, field,
 * expected and received value) and how many of the batch are invalid. Nothing of a rejected batch is stored.
 */
function validateBatch(kind: DocKind, docs: readonly unknown[], where: string): void {
  if (!Array.isArray(docs)) {
    throw new BynerError('BYNER_INVALID_DOCUMENT', `${where}: expected an array of ${kind} documents`, {
      received: describe(docs),
    });
  }
  let first: { index: number; error: Invalid } | undefined;
  let bad = 0;
  docs.forEach((doc, index) => {
    try {
      if (!isObject(doc)) throw new Invalid('(document)', `a ${kind} object`, doc);
      CHECKS[kind](doc);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      bad += 1;
      first ??= { index, error: e };
    }
  });
  if (first === undefined) return;
  const { index, error } = first;
  const others = bad > 1 ? ` (${bad} of ${docs.length} documents are invalid)` : '';
  throw new BynerError(
    'BYNER_INVALID_DOCUMENT',
    `${where}: invalid ${kind} at index ${index}, field ${error.field}${others}; nothing of this batch was stored`,
    { expected: error.expected, received: describe(error.received) },
  );
}

export const validateTicks = (ticks: readonly Tick[], where: string) => validateBatch('tick', ticks, where);
export const validateForecasts = (docs: readonly Forecast[], where: string) =>
  validateBatch('forecast', docs, where);
export const validateTrainingPredictions = (docs: readonly TrainingPrediction[], where: string) =>
  validateBatch('training prediction', docs, where);
export const validateMetrics = (docs: readonly MetricsDoc[], where: string) =>
  validateBatch('metrics', docs, where);
export const validateModel = (entry: ModelEntry, where: string) => validateBatch('model', [entry], where);

/**
 * Checks a stream state and returns it as it is stored: its own fields only, the indicator state as
 * IndicatorStream.getState() writes it. BYNER_INVALID_DOCUMENT naming the first bad field.
 */
export function validateStreamState(state: StreamState, where: string): StreamState {
  let indicators: StreamState['indicators'];
  try {
    if (!isObject(state)) throw new Invalid('(document)', 'a stream state object', state);
    text(field(state, 'stream', ''), 'stream');
    seqNumber(field(state, 'seq', ''), 'seq');
    finite(field(state, 'time', ''), 'time');
    seqNumber(field(state, 'gaps', ''), 'gaps');
    const given = field(state, 'indicators', '');
    try {
      indicators = IndicatorStream.fromState(given as StreamState['indicators']).getState();
    } catch (e) {
      if (!isBynerError(e)) throw e;
      throw new Invalid('indicators', 'an IndicatorStream.getState() object', e.message);
    }
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    throw new BynerError('BYNER_INVALID_DOCUMENT', `${where}: invalid stream state, field ${e.field}`, {
      expected: e.expected,
      received: describe(e.received),
    });
  }
  return { stream: state.stream, seq: state.seq, time: state.time, gaps: state.gaps, indicators };
}

/** Read arguments: a count or limit must be an integer ≥ 0, a seq an integer (≥ -1 for "from the start"). */
export function checkReadArgs(where: string, args: Record<string, number>): void {
  for (const [name, v] of Object.entries(args)) {
    if (!Number.isSafeInteger(v) || v < (name === 'afterSeq' ? -1 : 0)) {
      throw new BynerError(
        'BYNER_INPUT',
        `${where}: ${name} must be an integer ≥ ${name === 'afterSeq' ? -1 : 0}`,
        {
          received: describe(v),
        },
      );
    }
  }
}

/** setServing of a version the registry does not hold. */
export const unknownVersion = (version: string) =>
  new BynerError('BYNER_STORE', `no model version ${version} in the registry`, {
    hint: 'list the versions with listModels() / `byner models`',
  });

/** setServing for a stream the model is not registered for. */
export const notRegisteredFor = (version: string, stream: string, streams: readonly string[]) =>
  new BynerError('BYNER_STORE', `model ${version} is not registered for stream ${stream}`, {
    expected: `one of its streams: ${streams.join(', ')}`,
    received: stream,
    hint: 'serve a model trained for that stream (byner models --stream NAME lists them)',
  });
