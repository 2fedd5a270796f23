// Test helper: a small many-streams SSE server on 127.0.0.1 in the wire format of `byner serve` —
// `GET /realtime_data?stream=NAME` (id: seq, data: the tick's JSON; Last-Event-ID replays what follows it),
// `GET /api/streams` ({streams: [{name, …}]}) — fed from ticks given per stream, so that the inference tests do not
// depend on the real server's many-streams mode. Each stream makes its next tick every `intervalMs` (0: all at once).
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sseFrame } from '../../src/stream/sse.js';
import { tickToJson } from '../../src/ticks/json.js';
import type { Tick } from '../../src/ticks/types.js';

export interface TestStream {
  name: string;
  /** The stream's ticks, seq 0, 1, 2, …: made one by one every `intervalMs` (0: all there at once). */
  ticks: readonly Tick[];
  intervalMs: number;
  /** Ticks there from the start. Default 0 (all of them when intervalMs is 0). */
  initial?: number;
}

export interface StreamsServer {
  /** `http://127.0.0.1:<port>/realtime_data` */
  url: string;
  /** Ticks made so far per stream. */
  head(stream: string): number;
  /** Last-Event-ID of each connection, per stream (undefined: none sent). */
  lastEventIds: Map<string, (string | undefined)[]>;
  /** Adds a stream (it shows in /api/streams from now on). */
  add(stream: TestStream): void;
  close(): Promise<void>;
}

export async function startStreamsServer(streams: readonly TestStream[]): Promise<StreamsServer> {
  const state = new Map<string, { s: TestStream; made: number; clients: Set<ServerResponse> }>();
  const timers: NodeJS.Timeout[] = [];
  const lastEventIds = new Map<string, (string | undefined)[]>();
  const add = (s: TestStream) => {
    const st = {
      s,
      made: s.initial ?? (s.intervalMs === 0 ? s.ticks.length : 0),
      clients: new Set<ServerResponse>(),
    };
    state.set(s.name, st);
    lastEventIds.set(s.name, []);
    if (s.intervalMs > 0) {
      const timer = setInterval(() => {
        if (st.made >= s.ticks.length) return;
        const t = s.ticks[st.made++];
        const frame = sseFrame({ id: t.seq, data: JSON.stringify(tickToJson(t)) });
        for (const c of st.clients) c.write(frame);
      }, s.intervalMs);
      timers.push(timer);
    }
  };
  for (const s of streams) add(s);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/api/streams') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          streams: [...state.values()].map((st, i) => ({
            name: st.s.name,
            source: 'test',
            head_seq: st.made - 1,
            clients: st.clients.size,
            default: i === 0,
          })),
        }),
      );
      return;
    }
    const name = url.searchParams.get('stream') ?? [...state.keys()][0];
    const st = state.get(name);
    if (url.pathname !== '/realtime_data' || st === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: `no stream ${name}`, expected: `one of: ${[...state.keys()].join(', ')}` }),
      );
      return;
    }
    const last = req.headers['last-event-id'] as string | undefined;
    lastEventIds.get(name)?.push(last);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let body = '';
    for (let seq = last === undefined ? 0 : Number(last) + 1; seq < st.made; seq++) {
      body += sseFrame({ id: seq, data: JSON.stringify(tickToJson(st.s.ticks[seq])) });
    }
    if (body !== '') res.write(body);
    st.clients.add(res);
    res.on('close', () => st.clients.delete(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/realtime_data`,
    head: (stream) => state.get(stream)?.made ?? 0,
    lastEventIds,
    add,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
