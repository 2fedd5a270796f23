// `byner serve`: the Fastify server of DESIGN §7 — one or many live SSE tick streams and the REST reads the dashboard
// and tools use. Where prices come from is src/sources'; opening the store and handling signals is the caller's job
// (src/cli/commands/serve.ts, or `byner demo`).
import type { OutgoingHttpHeaders } from 'node:http';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Bus } from '../bus/redis.js';
import { BynerError, describe } from '../errors.js';
import { collectProcessMetrics, METRICS_CONTENT_TYPE, metricsText } from '../metrics/prometheus.js';
import { SyntheticSource } from '../sources/synthetic.js';
import type { PriceSource } from '../sources/types.js';
import { readWithin } from '../store/deadline.js';
import { openStore, type StoreOptions } from '../store/index.js';
import type { Store } from '../store/types.js';
import { DEFAULT_SOURCE, type SineSource } from '../ticks/generator.js';
import { tickToJson } from '../ticks/json.js';
import { DEFAULT_STREAM, STREAM_NAME } from '../ticks/types.js';
import { withDeadline } from '../util/backoff.js';
import { type SharedStatus, SharedStreams } from './bus-streams.js';
import { busCheck, type HealthCheck, HealthChecks, healthStatus, storeCheck } from './health.js';
import type { TickFeed } from './hub.js';
import { ClientSlots, type HubStats, SOCKET_HIGH_WATER_MARK, SseHub } from './hub.js';
import { corsHeaders, OriginPolicy, type Refusal } from './origin.js';
import { StreamProducer } from './producer.js';

/** One live stream of the server: its name and where its prices come from. */
export interface StreamConfig {
  /** `[A-Za-z0-9._-]{1,64}`, unique within the server. */
  name: string;
  source: PriceSource;
}

/** What `GET /api/streams` says about one stream. */
export interface StreamInfo {
  name: string;
  /** The source's kind: synthetic, replay, feed. */
  source: string;
  /** The stream `/realtime_data` serves without `?stream=`. */
  default: boolean;
  /** `running`, `ended` (the source is exhausted; the stream stays readable) or `failed` (logged). */
  state: 'running' | 'ended' | 'failed';
  /** Seq of the last tick made (and stored); −1 for an empty stream. */
  head_seq: number;
  clients: number;
  /** Ticks made per second over the last 10 s. */
  ticks_per_s: number;
  /** Input lines of a feed skipped as malformed. */
  malformed: number;
  /** Connections to an HTTP feed made again. */
  reconnects: number;
}

/** Ticks kept in memory per stream: 10,000 for up to 10 streams, then 100,000 shared out (at least 1,000 each). */
export function defaultRingCapacity(streams: number): number {
  return Math.max(1000, Math.min(10_000, Math.floor(100_000 / Math.max(1, streams))));
}

/** Options of `startServer`: where it listens, its store, its streams and its limits. All optional. */
export interface ServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 5000; 0 picks a free port. */
  port?: number;
  /** An open store to use (left open on close), or options to open one (closed on close). */
  store?: Store;
  /** How to open the server's own store when `store` is not given (default: the embedded store in `./data`). */
  storeOptions?: StoreOptions;
  /**
   * The live streams; the first is the default one (`/realtime_data` without `?stream=`). Without it, one
   * synthetic stream from `stream`, `source` and `intervalMs` (which may then not be combined with `streams`).
   */
  streams?: readonly StreamConfig[];
  /** Name of the single synthetic stream (default `synthetic`), when `streams` is not given. */
  stream?: string;
  /** Its sine, when `streams` is not given. */
  source?: SineSource;
  /** Its milliseconds between ticks, default 1000; 0 = as fast as the fastest client reads. */
  intervalMs?: number;
  /** Sources that make ticks only for readers (synthetic, replay) make them without readers too. */
  produceAlways?: boolean;
  /** Comment heartbeat period, default 15,000 ms. */
  heartbeatMs?: number;
  /** `retry:` hint, default 1000 ms. */
  retryMs?: number;
  /** Ticks kept in memory for replay per stream; default `defaultRingCapacity(number of streams)`. */
  ringCapacity?: number;
  /** A live client this far behind is disconnected; default (and at most) the ring capacity. */
  maxLagTicks?: number;
  /**
   * Deadline of a REST read, default 10,000 ms: it covers waiting for the store's write backlog too; then 503
   * with a message, and the store read is given up (nothing of it is kept).
   */
  readTimeoutMs?: number;
  /**
   * Event streams at once over all streams, default 1000; one more gets a 503 with `Retry-After`. REST reads are
   * not counted.
   */
  maxClients?: number;
  /**
   * Bytes held in memory for one event stream (its socket's queue and the rest of its replay page), default
   * 256 KiB, at least 64 KiB. A client that would need more is disconnected.
   */
  maxClientBytes?: number;
  /**
   * A connection with no traffic either way for this long is closed, default 60,000 ms: an event stream whose
   * client stopped reading (its socket stays full) counts as a slow client. Must exceed `heartbeatMs`.
   */
  connectionTimeoutMs?: number;
  /** A connection must have sent its request headers this long after it opened, default 10,000 ms (then 408). */
  headersTimeoutMs?: number;
  /**
   * The most `close()` waits for the ticks being stored (and an owned store's backlog), default 10,000 ms: during a
   * store outage, the ticks still unconfirmed then are given up (never sent) and counted in its report.
   */
  stopTimeoutMs?: number;
  /**
   * Host names answered besides 127.0.0.1, localhost, [::1], the listen address and the address a connection
   * arrived at; any other Host gets a 421 (DNS-rebinding protection).
   */
  allowedHosts?: readonly string[];
  /**
   * Origins (`http://app.example:8080`) of other sites whose pages may call /api/*, /healthz and /realtime_data
   * (CORS). Cross-site requests from any other origin get a 403.
   */
  corsOrigins?: readonly string[];
  /** A pino logger for the server's and the store's lines (default: none). */
  logger?: Logger;
  /**
   * More of /healthz: probes besides the store's (e.g. `bus`), each run with a short deadline, and fields added to
   * the answer (e.g. what an inference run in the same process forecasts).
   */
  health?: { checks?: Readonly<Record<string, HealthCheck>>; fields?: () => Record<string, unknown> };
  /** More routes on the same server, e.g. the dashboard's `registerDashboard`. */
  routes?: ((app: FastifyInstance, context: RouteContext) => void | Promise<void>)[];
  /** Clock for tick timestamps (tests). */
  now?: () => number;
  /**
   * One of many serve processes sharing the streams over the bus (src/stream/bus-streams.ts): each stream is
   * produced by the one process holding its lease (taken over within `leaseMs`), and served by every one. Needs a MongoDB store.
   */
  bus?: { bus: Bus; leaseMs: number; owner?: string };
}

/** What extra routes get: the store, the deadline their reads must keep (`readWithin`), the default stream. */
export interface RouteContext {
  store: Store;
  readTimeoutMs: number;
  /** The stream a request without `stream=` is about (the first configured one). */
  defaultStream: string;
}

/** A listening server (`startServer`): where it is, what it streams, and `close()`. */
export interface RunningServer {
  /** `http://host:port` */
  url: string;
  /** The port it listens on (the one picked for `port: 0`). */
  port: number;
  /** The stream `/realtime_data` serves without `?stream=`. */
  defaultStream: string;
  /** Seq of the last tick made (and stored) of a stream (default: the default one); −1 for an empty stream. */
  headSeq(stream?: string): number;
  /** The hubs' counters, summed over the streams (`clients`: open event streams of all of them). */
  stats(): HubStats;
  /** Per stream, as `GET /api/streams` answers. */
  streams(): StreamInfo[];
  /** The replay ring's capacity per stream. */
  ringCapacity: number;
  /** The limits in force, defaults filled in. */
  limits: Readonly<ServerLimits>;
  /** Open TCP connections (event streams and REST keep-alives). */
  connections(): Promise<number>;
  /** With a bus: the streams this process produces, the bus's state and outages; null without one. */
  bus(): SharedStatus | null;
  /**
   * Stops accepting, ends every stream cleanly, waits for the ticks being stored, closes an owned store; within
   * `stopTimeoutMs` (plus the moments closing sockets takes), even while the store is unreachable.
   */
  close(): Promise<ServerStopReport>;
}

/** What `close()` could not finish by its deadline. */
export interface ServerStopReport {
  /** Ticks handed to the store but not confirmed stored by the stop deadline (never sent to clients). */
  unconfirmedTicks: number;
}

/** Defaults of the server's limits (README, `byner serve`). */
export const SERVER_DEFAULTS = {
  heartbeatMs: 15_000,
  retryMs: 1000,
  maxClients: 1000,
  maxClientBytes: 256 * 1024,
  connectionTimeoutMs: 60_000,
  headersTimeoutMs: 10_000,
  stopTimeoutMs: 10_000,
} as const;

/** The smallest per-client byte bound: the socket's 16 KiB high-water mark and room for replay pages. */
export const MIN_CLIENT_BYTES = 64 * 1024;

export type ServerLimits = { -readonly [K in keyof typeof SERVER_DEFAULTS]: number };

/** The server's limits with defaults filled in; a BYNER_CONFIG error naming the flag for a bad combination. */
export function resolveLimits(options: ServerOptions): ServerLimits {
  const limits: ServerLimits = { ...SERVER_DEFAULTS };
  for (const key of Object.keys(SERVER_DEFAULTS) as (keyof ServerLimits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new BynerError('BYNER_CONFIG', `invalid server option ${key}`, {
        expected: 'an integer >= 1',
        received: describe(value),
      });
    }
    limits[key] = value;
  }
  if (limits.maxClientBytes < MIN_CLIENT_BYTES) {
    throw new BynerError('BYNER_CONFIG', 'the per-client byte bound is too small', {
      expected: `--client-buffer of at least ${MIN_CLIENT_BYTES} bytes`,
      received: String(limits.maxClientBytes),
    });
  }
  if (limits.heartbeatMs >= limits.connectionTimeoutMs) {
    throw new BynerError('BYNER_CONFIG', 'the heartbeat period must be shorter than the connection timeout', {
      expected: `--heartbeat below --connection-timeout (${limits.connectionTimeoutMs} ms)`,
      received: `--heartbeat ${limits.heartbeatMs} ms`,
      hint: 'an event stream waiting for its heartbeat would be closed as idle: lower --heartbeat or raise --connection-timeout',
    });
  }
  return limits;
}

const seqParam = z
  .string()
  .regex(/^(0|[1-9]\d{0,14})$/, 'an integer between 0 and 10^15')
  .transform(Number);
const limitParam = (max: number) =>
  z
    .string()
    .regex(/^[1-9]\d{0,5}$/, `an integer between 1 and ${max}`)
    .transform(Number)
    .pipe(z.number().max(max, `an integer between 1 and ${max}`));
const nameParam = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash or underscore (1-64)');

const QUERIES = {
  ticks: z
    .object({
      after: seqParam.optional(),
      limit: limitParam(1000).optional(),
      stream: nameParam.optional(),
      collection: z.enum(['historical_data', 'inf_historical_db']).optional(),
    })
    .strict(),
  forecasts: z
    .object({
      limit: limitParam(1000).optional(),
      stream: nameParam.optional(),
      model_version: nameParam.optional(),
      include_input: z.enum(['0', '1', 'true', 'false']).optional(),
    })
    .strict(),
  realtime: z.object({ stream: nameParam.optional() }).strict(),
  metrics: z
    .object({
      limit: limitParam(1000).optional(),
      model_version: nameParam.optional(),
      stream: nameParam.optional(),
      collection: z.enum(['inf_metrics', 'tr_metrics']).optional(),
    })
    .strict(),
  none: z.object({}).strict(),
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: { expected?: string; received?: string } = {},
  ) {
    super(message);
  }
}

function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const r = schema.safeParse(query ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue.path.join('.') || '(query)';
  const received =
    issue.code === 'unrecognized_keys'
      ? `unknown parameter(s) ${issue.keys.join(', ')}`
      : describe((query as Record<string, unknown>)?.[String(issue.path[0])]);
  throw new HttpError(400, `invalid query parameter ${where}`, { expected: issue.message, received });
}

function refuse(reply: FastifyReply, refusal: Refusal): FastifyReply {
  const { status, ...body } = refusal;
  return reply.status(status).send(body);
}

/**
 * The Last-Event-ID header as the last seq the client has: null when absent or empty (start live), an error
 * message for anything but a decimal seq between 0 and the stream's head.
 */
export function parseLastEventId(
  header: string | string[] | undefined,
  headSeq: number,
): { seq: number | null } | { error: string; expected: string; received: string } {
  if (header === undefined || header === '') return { seq: null };
  const expected =
    headSeq < 0
      ? 'no Last-Event-ID: this stream has no ticks yet'
      : `a tick seq between 0 and ${headSeq} (the last one this stream has made)`;
  if (Array.isArray(header))
    return { error: 'several Last-Event-ID headers', expected, received: describe(header) };
  if (!/^\d{1,16}$/.test(header)) {
    return { error: 'Last-Event-ID is not a tick seq', expected, received: describe(header) };
  }
  const seq = Number(header);
  if (!Number.isSafeInteger(seq) || seq > headSeq) {
    return { error: 'Last-Event-ID is ahead of the stream', expected, received: describe(header) };
  }
  return { seq };
}

/** The streams to serve: `options.streams`, or the one synthetic stream of `stream`, `source` and `intervalMs`. */
function streamsOf(options: ServerOptions): readonly StreamConfig[] {
  if (options.streams === undefined) {
    return [
      {
        name: options.stream ?? DEFAULT_STREAM,
        source: new SyntheticSource({
          ...(options.source ?? DEFAULT_SOURCE),
          intervalMs: options.intervalMs ?? 1000,
        }),
      },
    ];
  }
  const single = (['stream', 'source', 'intervalMs'] as const).filter((k) => options[k] !== undefined);
  if (single.length > 0) {
    throw new BynerError('BYNER_CONFIG', "server options: `streams` and a single stream's options together", {
      expected: '`streams` alone (each stream with its own source)',
      received: `streams and ${single.join(', ')}`,
    });
  }
  if (options.streams.length === 0) {
    throw new BynerError('BYNER_CONFIG', 'no stream to serve', {
      expected: 'at least one stream',
      received: '[]',
    });
  }
  const names = new Set<string>();
  for (const { name } of options.streams) {
    if (!STREAM_NAME.test(name) || names.has(name)) {
      throw new BynerError('BYNER_CONFIG', `bad or repeated stream name ${describe(name)}`, {
        expected: 'unique names of letters, digits, dot, dash or underscore (1-64)',
        received: options.streams.map((st) => st.name).join(', '),
      });
    }
    names.add(name);
  }
  return options.streams;
}

interface LiveStream {
  name: string;
  /** This process's producer, or (with a bus) the stream's shared feed, whoever produces it. */
  producer: TickFeed & Pick<StreamProducer, 'source' | 'state' | 'stop'>;
  hub: SseHub;
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const configs = streamsOf(options);
  const ringCapacity = options.ringCapacity ?? defaultRingCapacity(configs.length);
  const maxLagTicks = Math.min(options.maxLagTicks ?? ringCapacity, ringCapacity);
  const readTimeoutMs = options.readTimeoutMs ?? 10_000;
  const limits = resolveLimits(options);
  const policy = new OriginPolicy({
    listenHost: host,
    allowedHosts: options.allowedHosts,
    corsOrigins: options.corsOrigins,
  });
  const logger = options.logger;
  const startedAt = Date.now();
  const ownStore = options.store === undefined;
  const store = options.store ?? (await openStore({ ...options.storeOptions, logger }));
  const slots = new ClientSlots(limits.maxClients);
  const live: LiveStream[] = [];
  // A live client at the head must never fall out of the ring because of one batch.
  const batchSize = Math.max(1, Math.min(256, Math.floor(ringCapacity / 4)));
  let shared: SharedStreams | null = null;
  /** Stops every stream (within `timeoutMs` when given); the ticks not confirmed stored by then. */
  const stopAll = async (timeoutMs?: number) => {
    const stopped = await Promise.all(live.map((l) => l.producer.stop({ timeoutMs })));
    const sharedStop = (await shared?.close(timeoutMs)) ?? { unconfirmedTicks: 0 };
    stopped.push(sharedStop);
    await Promise.all(live.map((l) => l.hub.close()));
    return stopped.reduce((sum, r) => sum + r.unconfirmedTicks, 0);
  };
  try {
    if (options.bus !== undefined) {
      shared = await SharedStreams.open({
        ...options.bus,
        store,
        streams: configs,
        ringCapacity,
        batchSize,
        logger,
        now: options.now,
      });
    }
    for (const config of configs) {
      const producer =
        shared?.feed(config.name) ??
        (await StreamProducer.open({
          store,
          stream: config.name,
          source: config.source,
          ringCapacity,
          batchSize,
          alwaysOn: options.produceAlways,
          logger,
          now: options.now,
        }));
      const hub = new SseHub(producer, store, {
        retryMs: limits.retryMs,
        heartbeatMs: limits.heartbeatMs,
        maxLagTicks,
        maxClientBytes: limits.maxClientBytes,
        maxClients: limits.maxClients,
        slots,
        logger,
      });
      live.push({ name: config.name, producer, hub });
    }
  } catch (error) {
    await stopAll();
    if (ownStore) await store.close();
    throw error;
  }
  const byName = new Map(live.map((l) => [l.name, l]));
  const checks = new HealthChecks({
    store: storeCheck(store),
    ...(options.bus === undefined ? {} : { bus: busCheck(options.bus.bus) }),
    ...options.health?.checks,
  });
  collectProcessMetrics();
  const defaultStream = live[0].name;
  const known = () => `one of: ${live.map((l) => l.name).join(', ')}`;
  const streamInfo = (l: LiveStream): StreamInfo => {
    const state = l.producer.state;
    const stats = l.producer.source.stats;
    return {
      name: l.name,
      source: l.producer.source.kind,
      default: l.name === defaultStream,
      state: state.state,
      head_seq: l.producer.headSeq,
      clients: l.hub.clientCount,
      ticks_per_s: Math.round(state.ticksPerSecond * 10) / 10,
      malformed: stats.malformed,
      reconnects: stats.reconnects,
    };
  };

  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : {}),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
    // Idle sockets close; event streams stay busy with ticks and heartbeats while their client reads.
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: Math.max(10_000, limits.headersTimeoutMs),
    keepAliveTimeout: 5_000,
    http: {
      // Fixed, not Node's default (which Node 22 raised): the per-client byte budget is counted above it.
      highWaterMark: SOCKET_HIGH_WATER_MARK,
      headersTimeout: limits.headersTimeoutMs,
      // Node checks header and request deadlines on this period (its default, 30 s, would stretch them).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4))),
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  // Before any route: the Host of every request, and who may call the API and the stream (origin.ts decides).
  app.addHook('onRequest', async (request, reply) => {
    const wrongHost = policy.checkHost(request.headers.host, request.socket.localAddress);
    if (wrongHost !== null) return refuse(reply, wrongHost);
    const route = request.routeOptions.url;
    const preflight =
      request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    const guarded =
      preflight ||
      route === '/realtime_data' ||
      route === '/healthz' ||
      route === '/metrics' ||
      route?.startsWith('/api/') === true;
    if (!guarded) return;
    const site = policy.checkSite(request.headers);
    if (!site.allowed) return refuse(reply, site.refusal);
    if (site.corsOrigin === undefined) return;
    if (preflight) return reply.status(204).headers(policy.preflightHeaders(site.corsOrigin)).send();
    reply.headers(corsHeaders(site.corsOrigin));
  });

  app.setErrorHandler((error: unknown, _request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof HttpError) {
      return reply.status(error.status).send({ error: error.message, ...error.details });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return reply.status(status).send({ error: (error as Error).message });
    }
    if (error instanceof BynerError && error.code === 'BYNER_STORE_TIMEOUT') {
      return reply
        .status(503)
        .send({ error: error.message.split('\n')[0], ...(error.hint ? { hint: error.hint } : {}) });
    }
    const unreachable = error instanceof BynerError && error.code === 'BYNER_STORE_UNREACHABLE';
    logger?.error({ err: error }, 'request failed');
    return reply
      .status(unreachable ? 503 : 500)
      .send({ error: unreachable ? 'the store is unreachable; retry later' : 'internal error' });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      error: `no route ${request.method} ${request.url.split('?')[0]}`,
      expected:
        'GET /realtime_data, /api/streams, /api/ticks, /api/forecasts/latest, /api/metrics/latest, /api/models, ' +
        '/healthz, /metrics',
    });
  });

  app.get('/realtime_data', async (request, reply) => {
    const q = parseQuery(QUERIES.realtime, request.query);
    const target = byName.get(q.stream ?? defaultStream);
    if (target === undefined) {
      return reply
        .status(404)
        .send({ error: `no live stream ${q.stream}`, expected: known(), received: describe(q.stream) });
    }
    const resumeAt = request.headers['last-event-id'];
    if (target.producer.reach && typeof resumeAt === 'string' && /^\d{1,16}$/.test(resumeAt)) {
      await target.producer.reach(Number(resumeAt), 2000);
    }
    const last = parseLastEventId(request.headers['last-event-id'], target.producer.headSeq);
    if ('error' in last) {
      return reply.status(400).send({ error: last.error, expected: last.expected, received: last.received });
    }
    reply.hijack();
    // The headers set so far (CORS ones) go out with the stream's head; Fastify's type is wider than Node's.
    target.hub.attach(reply.raw, last.seq, reply.getHeaders() as OutgoingHttpHeaders);
  });

  app.get('/api/streams', async (request) => {
    parseQuery(QUERIES.none, request.query);
    return { streams: live.map(streamInfo) };
  });

  app.get('/api/ticks', async (request) => {
    const q = parseQuery(QUERIES.ticks, request.query);
    const collection = q.collection ?? 'historical_data';
    const name = q.stream ?? defaultStream;
    const limit = q.limit ?? 100;
    const ticks = await readWithin(readTimeoutMs, 'reading ticks', (signal) =>
      q.after === undefined
        ? store.lastTicks(collection, name, limit, { signal })
        : store.ticksAfter(collection, name, q.after, limit, { signal }),
    );
    return { ticks: ticks.map(tickToJson) };
  });

  app.get('/api/forecasts/latest', async (request) => {
    const q = parseQuery(QUERIES.forecasts, request.query);
    const withInput = q.include_input === '1' || q.include_input === 'true';
    const docs = await readWithin(readTimeoutMs, 'reading forecasts', (signal) =>
      store.recentForecasts(q.stream ?? defaultStream, q.limit ?? 1, q.model_version, { signal }),
    );
    return {
      forecasts: docs.map(({ input_sequence, ...d }) => (withInput ? { ...d, input_sequence } : d)),
    };
  });

  app.get('/api/metrics/latest', async (request) => {
    const q = parseQuery(QUERIES.metrics, request.query);
    const collection = q.collection ?? 'inf_metrics';
    // Live metrics documents carry their stream; training ones are filtered only when a stream is asked for.
    const stream = q.stream ?? (collection === 'inf_metrics' ? defaultStream : undefined);
    const docs = await readWithin(readTimeoutMs, 'reading metrics', (signal) =>
      store.recentMetrics(collection, q.limit ?? 1, { modelVersion: q.model_version, stream }, { signal }),
    );
    return { metrics: docs };
  });

  app.get('/api/models', async (request) => {
    parseQuery(QUERIES.none, request.query);
    return {
      models: await readWithin(readTimeoutMs, 'listing models', (signal) => store.listModels({}, { signal })),
    };
  });

  app.get('/healthz', async () => {
    const main = byName.get(defaultStream)!;
    const results = await checks.run();
    const busStatus = shared?.status() ?? null;
    return {
      status: healthStatus(results),
      role: 'serve',
      stream: defaultStream,
      head_seq: main.producer.headSeq,
      interval_ms: main.producer.source.intervalMs ?? null,
      clients: slots.open,
      store: store.description,
      streams: live.map((l) => ({
        name: l.name,
        source: l.producer.source.kind,
        head_seq: l.producer.headSeq,
      })),
      // With a bus, the streams whose lease this process holds; alone, every stream.
      produces: busStatus?.producing ?? live.map((l) => l.name),
      uptime_s: Math.round((Date.now() - startedAt) / 100) / 10,
      checks: results,
      ...(busStatus === null ? {} : { bus: busStatus }),
      ...options.health?.fields?.(),
    };
  });

  app.get('/metrics', async (request, reply) => {
    parseQuery(QUERIES.none, request.query);
    const text = await metricsText();
    return reply.header('content-type', METRICS_CONTENT_TYPE).send(text);
  });
  // Extra routes (the dashboard) are registered by the caller: the stream knows nothing of the page.
  // (The cast only widens the logger type: route adders need no pino-specific logger methods.)
  for (const addRoutes of options.routes ?? [])
    await addRoutes(app as unknown as FastifyInstance, { store, readTimeoutMs, defaultStream });

  try {
    await app.listen({ host, port: options.port ?? 5000 });
  } catch (error) {
    await stopAll();
    if (ownStore) await store.close();
    const code = (error as { code?: string }).code;
    throw new BynerError('BYNER_CONFIG', `cannot listen on ${host}:${options.port ?? 5000}`, {
      received: code ?? String(error),
      hint: code === 'EADDRINUSE' ? 'another process uses this port: pick another with --port' : undefined,
    });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 5000);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger?.info(
    { url, streams: live.map((l) => `${l.name} (${l.producer.source.kind})`), store: store.description },
    `serving on ${url}`,
  );

  let closing: Promise<ServerStopReport> | undefined;
  return {
    url,
    port,
    defaultStream,
    headSeq: (name = defaultStream) => {
      const l = byName.get(name);
      if (l === undefined)
        throw new BynerError('BYNER_CONFIG', `no live stream ${name}`, { expected: known() });
      return l.producer.headSeq;
    },
    stats: () => {
      const sum = { ...live[0].hub.stats };
      for (const l of live.slice(1)) {
        for (const key of Object.keys(sum) as (keyof HubStats)[]) {
          sum[key] =
            key === 'peakClientBytes' ? Math.max(sum[key], l.hub.stats[key]) : sum[key] + l.hub.stats[key];
        }
      }
      return sum;
    },
    streams: () => live.map(streamInfo),
    ringCapacity,
    limits,
    connections: () =>
      new Promise<number>((resolve, reject) =>
        app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      ),
    bus: () => shared?.status() ?? null,
    close() {
      closing ??= (async () => {
        const end = Date.now() + limits.stopTimeoutMs;
        const unconfirmedTicks = await stopAll(limits.stopTimeoutMs);
        await app.close();
        const left = Math.max(0, end - Date.now());
        // What the store could not take by now is counted already (the given-up batches): it is logged, not thrown.
        const stored = ownStore
          ? store.close({ timeoutMs: left })
          : withDeadline(store.flush(), left, 'storing');
        await stored.catch((error: unknown) =>
          logger?.error({ err: error, unconfirmedTicks }, 'stopped with live ticks not confirmed stored'),
        );
        return { unconfirmedTicks };
      })();
      return closing;
    },
  };
}
