// `byner serve`: the Fastify server of SPEC §7 — the SSE tick stream and the REST reads the dashboard and tools
// use. Opening the store and handling signals is the caller's job (src/cli/commands/serve.ts, or `byner demo`).
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { BynerError, describe } from '../errors.js';
import { readWithin } from '../store/deadline.js';
import { openStore, type StoreOptions } from '../store/index.js';
import type { Store } from '../store/types.js';
import { DEFAULT_SOURCE, type SineSource } from '../ticks/generator.js';
import { tickToJson } from '../ticks/json.js';
import { DEFAULT_STREAM } from '../ticks/types.js';
import { type HubStats, SseHub } from './hub.js';
import { LiveTickSource } from './source.js';

export interface ServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 5000; 0 picks a free port. */
  port?: number;
  /** An open store to use (left open on close), or options to open one (closed on close). */
  store?: Store;
  storeOptions?: StoreOptions;
  stream?: string;
  source?: SineSource;
  /** Milliseconds between ticks, default 1000; 0 = as fast as the fastest client reads. */
  intervalMs?: number;
  /** Comment heartbeat period, default 15,000 ms. */
  heartbeatMs?: number;
  /** `retry:` hint, default 1000 ms. */
  retryMs?: number;
  /** Ticks kept in memory for replay, default 10,000. */
  ringCapacity?: number;
  /** A live client this far behind is disconnected; default (and at most) the ring capacity. */
  maxLagTicks?: number;
  /**
   * Deadline of a REST read, default 10,000 ms: it covers waiting for the store's write backlog too; then 503
   * with a message, and the store read is given up (nothing of it is kept).
   */
  readTimeoutMs?: number;
  logger?: Logger;
  /** More routes on the same server, e.g. the dashboard's `registerDashboard`. */
  routes?: ((app: FastifyInstance, context: RouteContext) => void | Promise<void>)[];
  /** Clock for tick timestamps (tests). */
  now?: () => number;
}

/** What extra routes get: the store, and the deadline their reads must keep (`readWithin`). */
export interface RouteContext {
  store: Store;
  readTimeoutMs: number;
}

export interface RunningServer {
  /** `http://host:port` */
  url: string;
  port: number;
  /** Seq of the last tick made (and stored); −1 for an empty stream. */
  headSeq(): number;
  stats(): HubStats;
  /** Open TCP connections (event streams and REST keep-alives). */
  connections(): Promise<number>;
  /** Stops accepting, ends every stream cleanly, waits for the tick being stored, closes an owned store. */
  close(): Promise<void>;
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
  metrics: z
    .object({
      limit: limitParam(1000).optional(),
      model_version: nameParam.optional(),
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

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const stream = options.stream ?? DEFAULT_STREAM;
  const ringCapacity = options.ringCapacity ?? 10_000;
  const maxLagTicks = Math.min(options.maxLagTicks ?? ringCapacity, ringCapacity);
  const readTimeoutMs = options.readTimeoutMs ?? 10_000;
  const logger = options.logger;
  const ownStore = options.store === undefined;
  const store = options.store ?? (await openStore({ ...options.storeOptions, logger }));
  let source: LiveTickSource;
  try {
    source = await LiveTickSource.open({
      store,
      stream,
      source: options.source ?? DEFAULT_SOURCE,
      intervalMs: options.intervalMs ?? 1000,
      ringCapacity,
      // A live client at the head must never fall out of the ring because of one batch.
      batchSize: Math.max(1, Math.min(256, Math.floor(ringCapacity / 4))),
      logger,
      now: options.now,
    });
  } catch (error) {
    if (ownStore) await store.close();
    throw error;
  }
  const hub = new SseHub(source, store, {
    retryMs: options.retryMs ?? 1000,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    maxLagTicks,
    logger,
  });

  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : {}),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
    connectionTimeout: 0, // event streams are long-lived; heartbeats keep them busy
    requestTimeout: 10_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
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
        'GET /realtime_data, /api/ticks, /api/forecasts/latest, /api/metrics/latest, /api/models, /healthz',
    });
  });

  app.get('/realtime_data', (request, reply) => {
    parseQuery(QUERIES.none, request.query);
    const last = parseLastEventId(request.headers['last-event-id'], source.headSeq);
    if ('error' in last) {
      return reply.status(400).send({ error: last.error, expected: last.expected, received: last.received });
    }
    reply.hijack();
    hub.attach(reply.raw, last.seq);
  });

  app.get('/api/ticks', async (request) => {
    const q = parseQuery(QUERIES.ticks, request.query);
    const collection = q.collection ?? 'historical_data';
    const name = q.stream ?? stream;
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
      store.recentForecasts(q.stream ?? stream, q.limit ?? 1, q.model_version, { signal }),
    );
    return {
      forecasts: docs.map(({ input_sequence, ...d }) => (withInput ? { ...d, input_sequence } : d)),
    };
  });

  app.get('/api/metrics/latest', async (request) => {
    const q = parseQuery(QUERIES.metrics, request.query);
    const docs = await readWithin(readTimeoutMs, 'reading metrics', (signal) =>
      store.recentMetrics(q.collection ?? 'inf_metrics', q.limit ?? 1, q.model_version, { signal }),
    );
    return { metrics: docs };
  });

  app.get('/api/models', async (request) => {
    parseQuery(QUERIES.none, request.query);
    return {
      models: await readWithin(readTimeoutMs, 'listing models', (signal) => store.listModels({ signal })),
    };
  });

  app.get('/healthz', async () => ({
    status: 'ok',
    stream,
    head_seq: source.headSeq,
    interval_ms: source.intervalMs,
    clients: hub.clientCount,
    store: store.description,
  }));
  // Extra routes (the dashboard) are registered by the caller: the stream knows nothing of the page.
  // (The cast only widens the logger type: route adders need no pino-specific logger methods.)
  for (const addRoutes of options.routes ?? [])
    await addRoutes(app as unknown as FastifyInstance, { store, readTimeoutMs });

  try {
    await app.listen({ host, port: options.port ?? 5000 });
  } catch (error) {
    await source.stop();
    await hub.close();
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
  logger?.info({ url, stream, headSeq: source.headSeq, store: store.description }, `serving on ${url}`);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    headSeq: () => source.headSeq,
    stats: () => ({ ...hub.stats }),
    connections: () =>
      new Promise<number>((resolve, reject) =>
        app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      ),
    close() {
      closing ??= (async () => {
        await source.stop();
        await hub.close();
        await app.close();
        if (ownStore) await store.close({ timeoutMs: 10_000 });
        else await store.flush();
      })();
      return closing;
    },
  };
}
