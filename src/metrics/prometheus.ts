// Prometheus metrics of this process: ONE prom-client Registry and every byner metric's definition (name, type,
// help, labels), so names live in one place. Updating them is the instrumented code's job (store, stream, infer,
// bus); serving the text is the HTTP servers' (src/stream). Imports nothing of byner: every folder may use it.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The process's registry: what `GET /metrics` renders. */
export const registry = new Registry();

/** `text/plain; version=0.0.4; charset=utf-8`: the Prometheus text format. */
export const METRICS_CONTENT_TYPE = registry.contentType;

/** Bucket bounds (seconds) of a storage write (one SQLite transaction, one MongoDB insert batch, one Redis call). */
const WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Bucket bounds (seconds) from a tick's timestamp to its forecast stored: live at 1 tick/s to a catch-up. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
  new Counter<L>({ name, help, labelNames, registers: [registry] });
const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
  new Gauge<L>({ name, help, labelNames, registers: [registry] });
const histogram = <L extends string = never>(
  name: string,
  help: string,
  buckets: number[],
  labelNames: readonly L[] = [],
) => new Histogram<L>({ name, help, buckets, labelNames, registers: [registry] });

/**
 * Every byner metric. Label values are only stream names the operator configured (and only of streams this process
 * serves, produces or forecasts), model versions of the registry, and the small fixed enums named in each help
 * text; never anything a client sends. README "Metrics and health" documents each one; a test keeps the two equal.
 * Adding one is one line here and a call where it happens (`metrics.x.inc({ stream })`).
 */
export const metrics = {
  // --- serve: the producers and the SSE hubs (src/stream) ---
  ticksProduced: counter(
    'byner_ticks_produced_total',
    'Ticks made, stored and published by this process, per stream',
    ['stream'],
  ),
  ticksSent: counter(
    'byner_ticks_sent_total',
    'Tick events written to SSE clients (live and replayed), per stream: N ticks to K clients count N×K',
    ['stream'],
  ),
  sseClients: gauge('byner_sse_clients', 'Open SSE event streams, per stream', ['stream']),
  sseDisconnects: counter(
    'byner_sse_disconnects_total',
    'SSE event streams ended, per stream and reason: client (it went away), too_far_behind, out_of_ring, ' +
      'over_budget, stopped_reading (slow clients disconnected), replay_failed (a store read failed), shutdown',
    ['stream', 'reason'],
  ),
  sseRefused: counter(
    'byner_sse_refused_total',
    'SSE event streams refused, per stream and reason: max_clients (all --max-clients slots taken), closing',
    ['stream', 'reason'],
  ),
  replayReads: counter(
    'byner_replay_reads_total',
    'Ticks sent to clients catching up (resuming with Last-Event-ID), by where they were read: ring (memory), ' +
      'redis (the bus tick log), store',
    ['source'],
  ),

  // --- infer: the pipeline and its writer (src/infer) ---
  inferTicks: counter(
    'byner_infer_ticks_total',
    'Ticks accepted by inference (in order, not duplicates), per stream',
    ['stream'],
  ),
  forecasts: counter(
    'byner_forecasts_total',
    'Forecasts stored (or found stored already), per stream and model version, counted on the store receipt',
    ['stream', 'model'],
  ),
  forecastsSkipped: counter(
    'byner_forecasts_skipped_total',
    'Ticks left without a forecast, per stream and reason: non_finite (NaN or Infinity), error (threw, wrong shape)',
    ['stream', 'reason'],
  ),
  forecastLatency: histogram(
    'byner_forecast_latency_seconds',
    "From a tick's timestamp to its forecast's store receipt, for ticks of the live input (not re-forecasts at start)",
    LATENCY_BUCKETS,
  ),
  scored: counter(
    'byner_scored_total',
    '(forecast, horizon) pairs scored against the actual values, per stream',
    ['stream'],
  ),

  // --- the store's write path (src/store) ---
  storeWriteSeconds: histogram(
    'byner_store_write_seconds',
    'One write of a batch into the store (an SQLite transaction, a MongoDB insert), per collection',
    WRITE_BUCKETS,
    ['collection'],
  ),
  storeWriteErrors: counter(
    'byner_store_write_errors_total',
    'Store write failures, per collection and kind: retry (a MongoDB write attempt failed on a connection error and ' +
      'is retried), refused (documents refused for good, not retried), error (an embedded-store write call failed ' +
      'and was rejected to its caller), lost (documents given up at a timed close while the store was unreachable)',
    ['collection', 'kind'],
  ),
  storeBacklogBytes: gauge(
    'byner_store_backlog_bytes',
    "Estimated bytes of documents accepted by the store's write queue and not stored yet (0 for the embedded store)",
  ),

  // --- the bus (src/bus, with --bus): absent or 0 without it ---
  busWriteSeconds: histogram(
    'byner_bus_write_seconds',
    'One write to the bus (a pipelined XADD of a batch of ticks)',
    WRITE_BUCKETS,
  ),
  busErrors: counter(
    'byner_bus_errors_total',
    'Bus failures, by kind: write (a tick-log append, retried), read (a tick-log read, retried), lease (a lease ' +
      'round that could not reach Redis), connect (the connection to Redis was lost; it reconnects)',
    ['kind'],
  ),
  busOutages: counter(
    'byner_bus_outages_total',
    'Interruptions of live delivery: the tick logs could not be read from the bus (counted when reading resumes)',
  ),
  busOutageSeconds: counter(
    'byner_bus_outage_seconds_total',
    'Total length of those interruptions (seconds; added when reading resumes)',
  ),
  leaseOwned: gauge(
    'byner_lease_owned',
    'Leases this process holds (1, else 0) per role (produce, infer:<group>) and stream',
    ['role', 'stream'],
  ),
  leaseEvents: counter(
    'byner_lease_events_total',
    'Lease changes of this process, per role and kind: acquired, released (given back), lost (taken by another, ' +
      'or not renewed in time), retaken (run out during a bus outage and taken again)',
    ['role', 'kind'],
  ),
};

let processMetrics = false;

/**
 * Adds prom-client's process metrics under their standard names (process_cpu_seconds_total,
 * process_resident_memory_bytes, nodejs_eventloop_lag_seconds, nodejs_heap_size_used_bytes …). Called by the
 * servers that expose /metrics, so that commands without an endpoint do not sample the event loop.
 */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry });
}

/** The registry in the Prometheus text format (METRICS_CONTENT_TYPE). */
export function metricsText(): Promise<string> {
  return registry.metrics();
}

/**
 * The value of one sample of the registry (`byner_x_total`, or a histogram's `byner_x_seconds_count`) with exactly
 * these labels; 0 when it has none yet. For tests and checks in code; scrapers read metricsText().
 */
export async function sampleValue(sample: string, labels: Record<string, string> = {}): Promise<number> {
  const wanted = Object.entries(labels);
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values) {
      const own = Object.entries(v.labels);
      if (
        ((v as { metricName?: string }).metricName ?? metric.name) !== sample ||
        own.length !== wanted.length
      )
        continue;
      if (wanted.every(([k, value]) => v.labels[k] === value)) return v.value;
    }
  }
  return 0;
}
