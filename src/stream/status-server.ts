// A tiny HTTP server answering `GET /metrics` (the process's Prometheus metrics) and `GET /healthz`, for processes
// without the streams server (`byner infer --metrics-port`). Same Host rules as that server (origin.ts); what
// /healthz says is the caller's `health()`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BynerError } from '../errors.js';
import { collectProcessMetrics, METRICS_CONTENT_TYPE, metricsText } from '../metrics/prometheus.js';
import type { StoreLogger } from '../store/types.js';
import { OriginPolicy, type Refusal } from './origin.js';

export interface StatusServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Host names answered besides the loopback names, the listen address and the address a connection arrived at. */
  allowedHosts?: readonly string[];
  /** The body of /healthz. */
  health: () => Promise<object>;
  logger?: StoreLogger;
}

export interface StatusServer {
  /** `http://host:port` */
  url: string;
  port: number;
  close(): Promise<void>;
}

const ROUTES = 'GET /metrics, GET /healthz';

function sendJson(
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
  res.end(text);
}

const refuse = (res: ServerResponse, { status, ...body }: Refusal) => sendJson(res, status, body);

/** Starts the server; resolves once it listens (BYNER_CONFIG when it cannot). */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const host = options.host ?? '127.0.0.1';
  const policy = new OriginPolicy({ listenHost: host, allowedHosts: options.allowedHosts });
  collectProcessMetrics();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const wrongHost = policy.checkHost(req.headers.host, req.socket.localAddress);
    if (wrongHost !== null) return refuse(res, wrongHost);
    const [path, query = ''] = (req.url ?? '/').split('?', 2);
    if (path !== '/metrics' && path !== '/healthz') {
      return sendJson(res, 404, { error: `no route ${req.method} ${path}`, expected: ROUTES });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(
        res,
        405,
        { error: `${req.method} ${path} is not allowed`, expected: ROUTES },
        { allow: 'GET, HEAD' },
      );
    }
    if (query !== '') {
      return sendJson(res, 400, {
        error: `${path} takes no query parameters`,
        expected: path,
        received: `?${query}`,
      });
    }
    // Like the streams server's /healthz: a page of another site may not read it.
    const site = policy.checkSite(req.headers);
    if (!site.allowed) return refuse(res, site.refusal);
    if (path === '/metrics') {
      const text = await metricsText();
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    sendJson(res, 200, await options.health());
  };

  const server = createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        options.logger?.error({ err: error }, 'status request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new BynerError('BYNER_CONFIG', `cannot listen on ${host}:${options.port} for /metrics`, {
      received: code ?? String(error),
      hint:
        code === 'EADDRINUSE'
          ? 'another process uses this port: pick another with --metrics-port'
          : undefined,
    });
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
