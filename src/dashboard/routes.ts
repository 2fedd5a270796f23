// The live dashboard on the `byner serve` server: the page at `/` (`/?stream=NAME` for one stream), its bundled assets (built by
// scripts/build-dashboard.mjs into dist/dashboard-assets/) and the one extra read the page needs
// (`/api/dashboard/model?stream=&version=`: a model and the stream's serving one). The page itself lives in ./web;
// ticks, forecasts and metrics come from src/stream's routes.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, RawServerDefault } from 'fastify';
// kinds.ts holds only names: the server loads no model code.
import { isBaselineKind } from '../models/kinds.js';
import { readWithin } from '../store/deadline.js';
import type { ModelSummary, Store } from '../store/types.js';
import { DEFAULT_STREAM, STREAM_NAME } from '../ticks/types.js';

/** The bundled page. Same path from src/dashboard (tests through tsx) and dist/dashboard (production). */
export const ASSETS_DIR = fileURLToPath(new URL('../../dist/dashboard-assets/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Hashed asset names only (`app-3F2A9C1B.js`): anything else is a 404, never a path outside the folder. */
const ASSET_NAME = /^[A-Za-z0-9_-]+-[A-Z0-9]{8}\.(js|css)(\.map)?$/;
const VERSION = /^[A-Za-z0-9._-]{1,64}$/;

/** No inline scripts, nothing from elsewhere: the page works offline and injected markup cannot run. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export interface DashboardOptions {
  store: Store;
  /** Folder of the built page; default ASSETS_DIR. */
  assetsDir?: string;
  /** Deadline of the page's store read (then 503, by the server's error handler). Default 10,000 ms. */
  readTimeoutMs?: number;
  /** The stream `/api/dashboard/model` answers for without `stream=`; default `synthetic`. */
  defaultStream?: string;
}

/** What `/api/dashboard/model` answers: the model behind a version, and the stream's serving model. */
export interface DashboardModel {
  /** The stream asked about. */
  stream: string;
  version: string | null;
  /** `baseline`: a forecaster that needs no training; `registry`: a trained model; `unknown`: neither. */
  kind: 'baseline' | 'registry' | 'unknown' | 'none';
  /** The registry entry of `version` (metrics against the baselines included), without scaler and files. */
  model: PublicModel | null;
  /** The stream's serving model, when it is not `version`. */
  serving: PublicModel | null;
}

/**
 * `serving`: whether it serves the stream asked about; `serving_streams`: every stream it serves; `metrics`: a
 * global model's figures on the stream asked about (its pooled ones elsewhere); `model_kind`: its kind (`lstm` for
 * entries without `config.kind`).
 */
export type PublicModel = Pick<
  ModelSummary,
  'version' | 'created_at' | 'metrics' | 'data_range' | 'serving' | 'streams' | 'serving_streams'
> & { model_kind: string };

/** A global model's entry holds its figures per stream (metrics.per_stream): those of `stream` when there. */
function streamMetrics(metrics: ModelSummary['metrics'], stream: string): ModelSummary['metrics'] {
  const own = (metrics.per_stream as Record<string, unknown> | undefined)?.[stream];
  return own !== null && typeof own === 'object' && !Array.isArray(own)
    ? { ...metrics, ...(own as ModelSummary['metrics']) }
    : metrics;
}

const publicModel = (m: ModelSummary, stream: string): PublicModel => ({
  version: m.version,
  model_kind: typeof m.config.kind === 'string' ? m.config.kind : 'lstm',
  created_at: m.created_at,
  metrics: streamMetrics(m.metrics, stream),
  data_range: m.data_range,
  serving: m.serving_streams.includes(stream),
  streams: m.streams,
  serving_streams: m.serving_streams,
});

function badRequest(reply: FastifyReply, error: string, expected: string, received: string) {
  return reply.status(400).send({ error, expected, received });
}

/** Adds `/`, `/assets/<hashed name>` and `/api/dashboard/model` to the server's routes. */
export function registerDashboard<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>,
  options: DashboardOptions,
): void {
  const dir = options.assetsDir ?? ASSETS_DIR;
  const cache = new Map<string, Buffer>();
  const load = async (name: string): Promise<Buffer | null> => {
    const hit = cache.get(name);
    if (hit !== undefined) return hit;
    try {
      const bytes = await readFile(`${dir}${dir.endsWith('/') ? '' : '/'}${name}`);
      cache.set(name, bytes);
      return bytes;
    } catch {
      return null;
    }
  };

  app.get('/', async (request, reply) => {
    // `?stream=NAME` picks the stream shown (the page reads it); nothing else is a parameter of the page.
    const query = (request.query ?? {}) as Record<string, unknown>;
    const extra = Object.keys(query).filter((k) => k !== 'stream');
    if (extra.length > 0) {
      return badRequest(
        reply,
        'the dashboard takes only a stream',
        'GET / or GET /?stream=NAME',
        request.url,
      );
    }
    if (query.stream !== undefined && (typeof query.stream !== 'string' || !VERSION.test(query.stream))) {
      return badRequest(
        reply,
        'invalid query parameter stream',
        'letters, digits, dot, dash or underscore (1-64)',
        JSON.stringify(query.stream),
      );
    }
    // Not cached in memory: a rebuild (new hashed names) shows on the next reload.
    const html = await readFile(`${dir}/index.html`).catch(() => null);
    if (html === null) {
      return reply.status(503).send({
        error: 'the dashboard is not built',
        expected: `${dir}/index.html`,
        hint: 'run `npm run build` (npm install does it)',
      });
    }
    return reply
      .type(CONTENT_TYPES['.html'])
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(html);
  });

  app.get('/assets/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const bytes = ASSET_NAME.test(name) ? await load(name) : null;
    const type = name.endsWith('.map') ? CONTENT_TYPES['.map'] : CONTENT_TYPES[extname(name)];
    if (bytes === null) {
      return reply
        .status(404)
        .send({ error: `no dashboard asset ${name}`, expected: 'a name from the page' });
    }
    return reply
      .type(type ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(bytes);
  });

  app.get('/api/dashboard/model', async (request, reply): Promise<DashboardModel | undefined> => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const extra = Object.keys(query).filter((k) => k !== 'version' && k !== 'stream');
    if (extra.length > 0) {
      return badRequest(
        reply,
        'invalid query parameter',
        '`version` and `stream` only',
        `unknown parameter(s) ${extra}`,
      );
    }
    const stream = query.stream ?? options.defaultStream ?? DEFAULT_STREAM;
    if (typeof stream !== 'string' || !STREAM_NAME.test(stream)) {
      return badRequest(
        reply,
        'invalid query parameter stream',
        'letters, digits, dot, dash or underscore (1-64)',
        JSON.stringify(stream),
      );
    }
    const version = query.version;
    if (version !== undefined && (typeof version !== 'string' || !VERSION.test(version))) {
      return badRequest(
        reply,
        'invalid query parameter version',
        'letters, digits, dot, dash or underscore (1-64)',
        JSON.stringify(version),
      );
    }
    const models = await readWithin(options.readTimeoutMs ?? 10_000, 'reading the model registry', (signal) =>
      options.store.listModels({}, { signal }),
    );
    const serving = models.find((m) => m.serving_streams.includes(stream)) ?? null;
    const entry = version === undefined ? serving : (models.find((m) => m.version === version) ?? null);
    const kind =
      version === undefined
        ? entry === null
          ? 'none'
          : 'registry'
        : isBaselineKind(version)
          ? 'baseline'
          : entry === null
            ? 'unknown'
            : 'registry';
    return {
      stream,
      version: version ?? entry?.version ?? null,
      kind,
      model: entry === null ? null : publicModel(entry, stream),
      serving: serving === null || serving === entry ? null : publicModel(serving, stream),
    };
  });
}
