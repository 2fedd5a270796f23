// What an inference run says about itself on /healthz (the streams it forecasts: model, last seq, counts) and the
// `--metrics-port` endpoint of `byner infer` that serves it with /metrics. The HTTP side is src/stream's
// (status-server.ts, health.ts); the run's counters are the pipeline's.
import type { Store, StoreLogger } from '../store/types.js';
import { type HealthCheck, HealthChecks, healthStatus, storeCheck } from '../stream/health.js';
import { type StatusServer, startStatusServer } from '../stream/status-server.js';
import type { PipelineRun } from './pipeline.js';

/** One stream an inference run forecasts, as /healthz shows it. */
export interface ForecastingInfo {
  stream: string;
  /** The model version forecasting it now (null while its forecaster loads). */
  model: string | null;
  /** Seq of its last accepted (or resumed) tick, or null before any. */
  last_seq: number | null;
  /** Ticks accepted and forecasts made by this run. */
  ticks: number;
  forecasts: number;
}

/** The /healthz fields of an inference run: the names of the streams it forecasts, and each one's state. */
export function inferHealthFields(run: PipelineRun): { forecasts: string[]; forecasting: ForecastingInfo[] } {
  const forecasting = [...run.stats.streams].map(([stream, st]): ForecastingInfo => {
    let model: string | null = null;
    try {
      model = run.forecaster(stream).version;
    } catch {
      // added a moment ago: its forecaster is still being chosen
    }
    return { stream, model, last_seq: run.lastSeq(stream), ticks: st.accepted, forecasts: st.forecasts };
  });
  return { forecasts: forecasting.map((f) => f.stream), forecasting };
}

export interface InferStatusOptions {
  host?: string;
  port: number;
  allowedHosts?: readonly string[];
  store: Store;
  run: PipelineRun;
  /** Probes besides the store's (e.g. `bus`), each run with a short deadline. */
  checks?: Readonly<Record<string, HealthCheck>>;
  /** Fields added to /healthz (e.g. the bus worker's group and owner). */
  fields?: () => Record<string, unknown>;
  logger?: StoreLogger;
}

/** Serves /metrics and /healthz of an inference run (`byner infer --metrics-port`). */
export function startInferStatus(options: InferStatusOptions): Promise<StatusServer> {
  const { store, run } = options;
  const checks = new HealthChecks({ store: storeCheck(store), ...options.checks });
  const startedAt = Date.now();
  return startStatusServer({
    host: options.host,
    port: options.port,
    allowedHosts: options.allowedHosts,
    logger: options.logger,
    health: async () => {
      const results = await checks.run();
      return {
        status: healthStatus(results),
        role: 'infer',
        store: store.description,
        ...inferHealthFields(run),
        uptime_s: Math.round((Date.now() - startedAt) / 100) / 10,
        checks: results,
        ...options.fields?.(),
      };
    },
  });
}
