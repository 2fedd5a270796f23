// The JSON the dashboard reads from `byner serve` (src/stream/server.ts, src/dashboard/routes.ts), checked at
// the boundary: the page draws only finite numbers. Fetching and drawing are app.ts's business.

export interface LiveTick {
  seq: number;
  price: number;
  timestamp: string;
  stream: string;
}

export interface LiveForecast {
  seq: number;
  forecast: number[];
  model_version: string;
  timestamp: string;
}

export type PerHorizon = (number | null)[];

/** The drift watch of the stream's serving model (`drift` of inf_metrics, src/infer/drift.ts). */
export interface LiveDrift {
  model_version: string;
  active: boolean;
  since_seq: number | null;
  window: number;
  windows_needed: number;
  worse_windows: number;
  /** The last closed window: MSE pooled over its forecasts and horizons. */
  model_mse: number | null;
  baseline_mse: number | null;
  /** The baseline forecasting instead of the model (--fallback), or null. */
  fallback: string | null;
}

export interface LiveMetrics {
  timestamp: string;
  model_version: string;
  last_seq: number | null;
  window: number | null;
  scored: number[];
  metrics: Record<string, PerHorizon>;
  /** Forecasts the run skipped as not finite (null in documents written before the count existed). */
  non_finite_forecasts: number | null;
  /** Null when the stream's forecaster is a baseline (not watched) or the document predates the watch. */
  drift: LiveDrift | null;
}

export interface TripleJson {
  mse?: number[];
  mae?: number[];
  accuracy?: number[];
}

export interface ModelInfo {
  version: string | null;
  kind: 'baseline' | 'registry' | 'unknown' | 'none';
  model: PublicModelJson | null;
  serving: PublicModelJson | null;
}

export interface PublicModelJson {
  version: string;
  created_at: string;
  serving: boolean;
  data_range?: { stream: string; from_seq: number; to_seq: number };
  metrics: { test?: TripleJson; baselines?: { naive?: TripleJson; seasonal_naive?: TripleJson } };
}

/** One entry of `/api/streams`: what the stream selector lists. */
export interface StreamEntry {
  name: string;
  source: string;
  default: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** One tick of `/realtime_data` or `/api/ticks`, or null when unusable. */
export function parseTick(value: unknown): LiveTick | null {
  if (!isRecord(value) || !isSeq(value.seq) || !isFiniteNumber(value.price)) return null;
  return {
    seq: value.seq,
    price: value.price,
    timestamp: typeof value.timestamp === 'string' ? value.timestamp : '',
    stream: typeof value.stream === 'string' ? value.stream : '',
  };
}

export function parseStreamEntry(value: unknown): StreamEntry | null {
  if (!isRecord(value) || typeof value.name !== 'string' || value.name === '') return null;
  return {
    name: value.name,
    source: typeof value.source === 'string' ? value.source : '',
    default: value.default === true,
  };
}

export function parseForecast(value: unknown): LiveForecast | null {
  if (!isRecord(value) || !isSeq(value.seq) || !Array.isArray(value.forecast)) return null;
  if (value.forecast.length === 0 || !value.forecast.every(isFiniteNumber)) return null;
  return {
    seq: value.seq,
    forecast: value.forecast,
    model_version: typeof value.model_version === 'string' ? value.model_version : '',
    timestamp: typeof value.timestamp === 'string' ? value.timestamp : '',
  };
}

export function parseMetrics(value: unknown): LiveMetrics | null {
  if (!isRecord(value) || !isRecord(value.metrics) || typeof value.timestamp !== 'string') return null;
  const metrics: Record<string, PerHorizon> = {};
  for (const [name, xs] of Object.entries(value.metrics)) {
    if (Array.isArray(xs)) metrics[name] = xs.map((x) => (isFiniteNumber(x) ? x : null));
  }
  return {
    timestamp: value.timestamp,
    model_version: typeof value.model_version === 'string' ? value.model_version : '',
    last_seq: isSeq(value.last_seq) ? value.last_seq : null,
    window: isSeq(value.window) ? value.window : null,
    scored: Array.isArray(value.scored) ? value.scored.map((x) => (isFiniteNumber(x) ? x : 0)) : [],
    metrics,
    non_finite_forecasts: isSeq(value.non_finite_forecasts) ? value.non_finite_forecasts : null,
    drift: parseDrift(value.drift),
  };
}

export function parseDrift(value: unknown): LiveDrift | null {
  if (!isRecord(value) || typeof value.model_version !== 'string' || typeof value.active !== 'boolean')
    return null;
  const mse = (x: unknown) => (isFiniteNumber(x) ? x : null);
  return {
    model_version: value.model_version,
    active: value.active,
    since_seq: isSeq(value.since_seq) ? value.since_seq : null,
    window: isSeq(value.window) ? value.window : 0,
    windows_needed: isSeq(value.windows_needed) ? value.windows_needed : 0,
    worse_windows: isSeq(value.worse_windows) ? value.worse_windows : 0,
    model_mse: mse(value.model_mse),
    baseline_mse: mse(value.baseline_mse),
    fallback: typeof value.fallback === 'string' ? value.fallback : null,
  };
}

/** GETs JSON from the page's own server; throws with the status on anything but 200. */
export async function getJson(path: string, signal?: AbortSignal): Promise<unknown> {
  const res = await fetch(path, { headers: { accept: 'application/json' }, signal });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/** A list field of a REST answer (`{ticks: [...]}`) parsed item by item; unusable items are dropped. */
export function listOf<T>(body: unknown, field: string, parse: (v: unknown) => T | null): T[] {
  const xs = isRecord(body) ? body[field] : undefined;
  if (!Array.isArray(xs)) return [];
  const out: T[] = [];
  for (const x of xs) {
    const v = parse(x);
    if (v !== null) out.push(v);
  }
  return out;
}
