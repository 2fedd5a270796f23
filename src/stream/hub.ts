// SSE connections of the live stream: each client has a cursor (the next seq it needs) and is fed from the replay
// ring, or from the store beyond it, only as fast as its socket drains. Making ticks is source.ts's job.
import type { ServerResponse } from 'node:http';
import type { Store, StoreLogger } from '../store/types.js';
import type { LiveTickSource } from './source.js';
import { tickFrame } from './source.js';
import { sseFrame } from './sse.js';

export interface HubOptions {
  /** `retry:` hint sent first on every stream (ms). */
  retryMs: number;
  /** A comment heartbeat is sent this often (ms). */
  heartbeatMs: number;
  /**
   * A client that has been live and falls this many ticks behind the head is disconnected (its socket buffer
   * stays bounded meanwhile: nothing is written past the socket's high-water mark). It may reconnect with
   * Last-Event-ID and replay from the store.
   */
  maxLagTicks: number;
  logger?: StoreLogger;
}

/** Counters for /healthz, logs and tests. */
export interface HubStats {
  clients: number;
  connected: number;
  disconnectedSlow: number;
  replayedFromStore: number;
  eventsSent: number;
}

const HEARTBEAT = Buffer.from(sseFrame({ comment: 'heartbeat' }));
const STORE_PAGE = 1000;

class Client {
  /** Next seq to send. */
  next: number;
  live = false;
  closed = false;
  private pumping = false;
  private again = false;

  constructor(
    readonly hub: SseHub,
    readonly res: ServerResponse,
    next: number,
  ) {
    this.next = next;
  }

  /** Writes what the client still needs, until caught up or its socket is full. */
  pump(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    const source = this.hub.source;
    const ring = source.ring;
    while (!this.closed) {
      if (this.next > source.headSeq) {
        this.live = true;
        this.pumping = false;
        source.demand();
        return;
      }
      if (this.res.writableNeedDrain) {
        this.pumping = false;
        const lag = source.headSeq - this.next + 1;
        if (this.live && lag > this.hub.options.maxLagTicks) this.hub.dropSlow(this, lag);
        return; // 'drain' calls pump again
      }
      if (this.next < ring.firstSeq) {
        if (this.live) {
          this.pumping = false;
          this.hub.dropSlow(this, source.headSeq - this.next + 1);
          return;
        }
        void this.replayFromStore();
        return;
      }
      const entry = ring.get(this.next);
      if (entry === undefined) break;
      this.res.write(entry.frame);
      this.hub.stats.eventsSent += 1;
      this.next += 1;
    }
    this.pumping = false;
    if (this.again) {
      this.again = false;
      this.pump();
    }
  }

  /** One page of ticks older than the ring, read from the store and written with backpressure. */
  private async replayFromStore(): Promise<void> {
    const source = this.hub.source;
    try {
      const page = await this.hub.store.ticksAfter(
        'historical_data',
        source.stream,
        this.next - 1,
        Math.min(STORE_PAGE, source.ring.firstSeq - this.next),
      );
      for (const tick of page) {
        if (this.closed) return;
        if (tick.seq >= source.ring.firstSeq) break;
        this.res.write(tickFrame(tick));
        this.hub.stats.eventsSent += 1;
        this.hub.stats.replayedFromStore += 1;
        this.next = tick.seq + 1;
      }
      // Seqs missing from the store (never stored) cannot be replayed: skip to what exists.
      if (page.length === 0) this.next = source.ring.firstSeq;
    } catch (error) {
      this.hub.logger.warn(
        { err: error },
        'replay from the store failed; closing the stream (client will resume)',
      );
      this.hub.detach(this, true);
      return;
    } finally {
      this.pumping = false;
    }
    if (this.res.writableNeedDrain) return;
    this.pump();
  }
}

export class SseHub {
  readonly stats: HubStats = {
    clients: 0,
    connected: 0,
    disconnectedSlow: 0,
    replayedFromStore: 0,
    eventsSent: 0,
  };
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  readonly logger: StoreLogger;
  private closing = false;

  constructor(
    readonly source: LiveTickSource,
    readonly store: Store,
    readonly options: HubOptions,
  ) {
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
    this.unsubscribe = source.onPublish(() => {
      for (const c of this.clients) c.pump();
    });
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) if (!c.res.writableNeedDrain) c.res.write(HEARTBEAT);
    }, options.heartbeatMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Starts an event stream on `res`: headers, the `retry:` hint, then every tick after `lastSeq` (the client's
   * Last-Event-ID, validated by the caller) or, without one, the ticks made from now on.
   */
  attach(res: ServerResponse, lastSeq: number | null): void {
    if (this.closing) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"shutting down"}');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    res.write(sseFrame({ retry: this.options.retryMs }));
    const client = new Client(this, res, lastSeq === null ? this.source.headSeq + 1 : lastSeq + 1);
    this.clients.add(client);
    this.stats.connected += 1;
    this.stats.clients = this.clients.size;
    const onDrain = () => client.pump();
    const onClose = () => {
      res.off('drain', onDrain);
      this.detach(client, false);
    };
    res.on('drain', onDrain);
    res.once('close', onClose);
    this.source.setActive(true);
    client.pump();
  }

  /** A client that fell too far behind: ends its stream (it may resume with Last-Event-ID). */
  dropSlow(client: Client, lag: number): void {
    this.stats.disconnectedSlow += 1;
    this.logger.warn({ lag, next: client.next }, 'disconnecting a slow SSE client');
    this.detach(client, true);
  }

  detach(client: Client, end: boolean): void {
    if (client.closed) return;
    client.closed = true;
    this.clients.delete(client);
    this.stats.clients = this.clients.size;
    if (end) client.res.destroy();
    if (this.clients.size === 0) this.source.setActive(false);
  }

  /** Ends every stream cleanly (what was written is flushed, then the chunked body ends); no new ones start. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    this.unsubscribe();
    const ended = [...this.clients].map(
      (c) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            c.res.destroy();
            resolve();
          }, 2000);
          c.res.end(() => {
            clearTimeout(timer);
            resolve();
          });
          c.closed = true;
        }),
    );
    this.clients.clear();
    this.stats.clients = 0;
    this.source.setActive(false);
    await Promise.all(ended);
  }
}
