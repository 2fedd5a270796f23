// The scaler a registry entry holds: one min-max scaler (a model of one stream, the form every entry had before
// global models), or one per stream (a global model: each stream's windows scaled by its own training-range scaler).
// Picking the scaler of the stream a forecast is for is here; fitting scalers is data.ts's and global.ts's.
import { BynerError, describe } from '../errors.js';
import { MinMaxScaler, type ScalerJson } from '../features/scaler.js';

/** A global model's scalers in registry form: stream → its scaler. */
export interface PerStreamScalerJson {
  kind: 'per_stream';
  streams: Record<string, ScalerJson>;
}

/** What a registry entry's `scaler` holds. */
export type StoredScalerJson = ScalerJson | PerStreamScalerJson;

/** True when an entry's scaler is a global model's (one per stream). */
export function isPerStream(json: unknown): json is PerStreamScalerJson {
  return (
    json !== null &&
    typeof json === 'object' &&
    (json as { kind?: unknown }).kind === 'per_stream' &&
    typeof (json as { streams?: unknown }).streams === 'object' &&
    (json as { streams?: unknown }).streams !== null
  );
}

/** The registry form of one scaler per stream (the streams in the order given). */
export function perStreamScalerJson(scalers: ReadonlyMap<string, MinMaxScaler>): PerStreamScalerJson {
  return { kind: 'per_stream', streams: Object.fromEntries([...scalers].map(([s, m]) => [s, m.toJSON()])) };
}

/**
 * The scaler that forecasts for `stream` use: an entry's single scaler whatever the stream, or a global model's
 * scaler of that stream. BYNER_MODEL when a global model is asked without a stream or for a stream it was not
 * fitted on, or when the stored scaler is invalid.
 */
export function scalerForStream(json: unknown, stream: string | undefined, version: string): MinMaxScaler {
  if (!isPerStream(json)) return MinMaxScaler.fromJSON(json);
  const streams = Object.keys(json.streams);
  if (stream === undefined || !Object.hasOwn(json.streams, stream)) {
    throw new BynerError(
      'BYNER_MODEL',
      stream === undefined
        ? `model ${version} is a global model: its forecasts need the stream they are for`
        : `model ${version} has no scaler for stream ${stream}`,
      {
        expected: `one of its streams: ${streams.join(', ')}`,
        received: stream === undefined ? 'no stream' : describe(stream),
        hint:
          stream === undefined
            ? 'load it for one stream (loadRegistered(store, version, stream), or byner infer --stream NAME)'
            : `use a model registered for ${stream} (byner models --stream ${stream}), or train one`,
      },
    );
  }
  return MinMaxScaler.fromJSON(json.streams[stream]);
}
