// SSE connections of one live stream: each client has a cursor (the next seq it needs) and is fed from the replay
// ring, or from the store beyond it, only as fast as its socket drains and within a byte budget; clients that stop
// reading are dropped. Making ticks is producer.ts's job; who may connect is server.ts's (origin.ts, timeouts).
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { metrics } from '../metrics/prometheus.js';
import type { Store, StoreLogger } from '../store/types.js';
import { tickFrame } from './producer.js';
import type { RingEntry, TickRing } from './ring.js';
import { sseFrame } from './sse.js';

/**
 * Where a hub reads the ticks of its stream: the in-process producer, or (later) a feed of ticks another process
 * produces. The hub sends what the ring holds and reads older ticks from the store.
 */
/** Where ticks older than the ring are read: the bus's tick log (Redis) or the store. */
export type ReplaySource = 'redis' | 'store';

export interface TickFeed {
  readonly stream: string;
  /** Seq of the last published (and stored) tick; −1 for an empty stream. */
  readonly headSeq: number;
  /** The recent ticks with their frames. */
  readonly ring: TickRing;
  /** Called after each published batch. Returns an unsubscribe function. */
  onPublish(listener: () => void): () => void;
  /** The stream has clients (or none any more). */
  setActive(active: boolean): void;
  /** A client has read everything. */
  demand(): void;
  /**
   * Up to `limit` consecutive ticks after `afterSeq` that are older than the ring, with their frames, and where they
   * were read (the bus's tick log, or the store). Without it, the hub reads them from the store (historical_data).
   */
  older?(afterSeq: number, limit: number): Promise<{ entries: RingEntry[]; source: ReplaySource }>;
  /**
   * Waits (at most `ms`) until the feed has `seq`: a client that resumes here after reading another process's
   * feed of the same stream may be a little ahead of this one.
   */
  reach?(seq: number, ms: number): Promise<void>;
}

/** The event streams of every hub of a server, counted together against one limit (`--max-clients`). */
export class ClientSlots {
  private used = 0;
  constructor(readonly max: number) {}

  get open(): number {
    return this.used;
  }

  /** Takes a slot; false when all are taken. */
  take(): boolean {
    if (this.used >= this.max) return false;
    this.used += 1;
    return true;
  }

  release(): void {
    this.used = Math.max(0, this.used - 1);
  }
}

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
  /**
   * The most bytes held in memory for one client: what its socket has queued and the rest of the replay page
   * read for it. Replay pages are sized to fit; a client that would need more is disconnected.
   */
  maxClientBytes: number;
  /** Event streams at once; one more gets a 503 with Retry-After. */
  maxClients: number;
  /** Slots shared with the other streams' hubs (the limit counts them all); default: this hub's own. */
  slots?: ClientSlots;
  logger?: StoreLogger;
}

/** Counters for /healthz, logs and tests. */
export interface HubStats {
  clients: number;
  connected: number;
  /** Clients disconnected because they stopped reading (too far behind, a stalled socket, too many bytes). */
  disconnectedSlow: number;
  /** Event streams refused because `maxClients` were open. */
  refusedFull: number;
  /** Tick events of replay pages sent (read from the store, or with a bus from its tick log). */
  replayedFromStore: number;
  eventsSent: number;
  heartbeatsSent: number;
  /** The most bytes the hub has held for one client at once (its socket's queue and its replay page). */
  peakClientBytes: number;
}

const HEARTBEAT = Buffer.from(sseFrame({ comment: 'heartbeat' }));
const STORE_PAGE = 1000;
/** Seconds a client refused for `maxClients` is told to wait. */
export const FULL_RETRY_AFTER_S = 5;
/**
 * The write high-water mark of every connection's socket (server.ts sets it): frames are written while the
 * socket's queue is below it, so the queue holds at most this plus one frame and a heartbeat.
 */
export const SOCKET_HIGH_WATER_MARK = 16 * 1024;
/** Why a slow client is disconnected: its `reason` label (byner_sse_disconnects_total) and the logged words. */
const SLOW = {
  too_far_behind: 'too far behind',
  out_of_ring: 'fell out of the replay ring',
  over_budget: 'over its byte budget',
  stopped_reading: 'stopped reading',
} as const;
type SlowReason = keyof typeof SLOW;
/** Why an event stream ended. */
type EndReason = SlowReason | 'client' | 'replay_failed' | 'shutdown';

/** Room kept in a client's byte budget above the socket's mark, for that last frame and a heartbeat. */
const FRAME_ROOM = 2048;
/** A frame's size for sizing replay pages before they are read (a synthetic tick's frame is ≈ 250 bytes). */
const FRAME_GUESS = 256;

class Client {
  /** Next seq to queue: every seq before it has been written, or waits in `pending`. */
  next: number;
  live = false;
  closed = false;
  private pumping = false;
  private again = false;
  /** A replay page is being read from the store. */
  private reading = false;
  /** Frames of a replay page read from the store; those from `pendingAt` on are not written yet. */
  private pending: Buffer[] = [];
  /** Where the replay page was read. */
  private pendingSource: ReplaySource = 'store';
  private pendingAt = 0;
  private pendingBytes = 0;

  constructor(
    readonly hub: SseHub,
    readonly res: ServerResponse,
    next: number,
  ) {
    this.next = next;
  }

  /** Bytes held for this client: its socket's queue and the unwritten rest of its replay page. */
  get heldBytes(): number {
    return this.res.writableLength + this.pendingBytes;
  }

  /** Writes what the client still needs, until caught up or its socket is full. */
  pump(): void {
    if (this.closed || this.reading) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    const sent = this.hub.stats.eventsSent;
    try {
      this.fill();
    } finally {
      this.pumping = false;
      this.hub.countSent(this.hub.stats.eventsSent - sent);
    }
    if (this.again) {
      this.again = false;
      this.pump();
    }
  }

  private fill(): void {
    const source = this.hub.feed;
    const ring = source.ring;
    while (!this.closed) {
      if (this.res.writableNeedDrain) {
        const lag = source.headSeq - this.next + 1;
        if (this.live && lag > this.hub.options.maxLagTicks) this.hub.dropSlow(this, 'too_far_behind', lag);
        return; // 'drain' calls pump again
      }
      if (this.pendingAt < this.pending.length) {
        const frame = this.pending[this.pendingAt++];
        this.pendingBytes -= frame.length;
        this.send(frame);
        this.hub.stats.replayedFromStore += 1;
        this.hub.replayed[this.pendingSource].inc();
        continue;
      }
      if (this.next > source.headSeq) {
        this.live = true;
        source.demand();
        return;
      }
      if (this.next < ring.firstSeq) {
        if (this.live) {
          this.hub.dropSlow(this, 'out_of_ring', source.headSeq - this.next + 1);
          return;
        }
        void this.readPage();
        return;
      }
      const entry = ring.get(this.next);
      if (entry === undefined) return;
      this.send(entry.frame);
      if (!this.live) this.hub.replayed.ring.inc();
      this.next += 1;
    }
  }

  /** Writes one frame and checks the client's byte budget. */
  send(frame: Buffer): void {
    this.res.write(frame);
    this.hub.stats.eventsSent += 1;
    this.checkBudget();
  }

  checkBudget(): void {
    const held = this.heldBytes;
    if (held > this.hub.stats.peakClientBytes) this.hub.stats.peakClientBytes = held;
    if (held > this.hub.options.maxClientBytes) this.hub.dropSlow(this, 'over_budget', held);
  }

  /**
   * Reads the next page of ticks older than the ring from the store. The page is as large as the client's byte
   * budget allows (beyond its socket's high-water mark); frames that would not fit are left for the next page.
   */
  private async readPage(): Promise<void> {
    const source = this.hub.feed;
    const budget = this.hub.options.maxClientBytes - SOCKET_HIGH_WATER_MARK - FRAME_ROOM;
    const limit = Math.max(
      1,
      Math.min(STORE_PAGE, Math.floor(budget / FRAME_GUESS), source.ring.firstSeq - this.next),
    );
    this.reading = true;
    let page: RingEntry[];
    let from: ReplaySource = 'store';
    try {
      if (source.older) {
        const older = await source.older(this.next - 1, limit);
        page = older.entries;
        from = older.source;
      } else {
        page = (await this.hub.store.ticksAfter('historical_data', source.stream, this.next - 1, limit)).map(
          (tick) => ({ seq: tick.seq, frame: tickFrame(tick) }),
        );
      }
    } catch (error) {
      this.hub.logger.warn(
        { err: error },
        'replay from the store failed; closing the stream (client will resume)',
      );
      this.reading = false;
      this.hub.detach(this, 'replay_failed');
      return;
    }
    this.reading = false;
    if (this.closed) return;
    const frames: Buffer[] = [];
    let bytes = 0;
    for (const { seq, frame } of page) {
      if (seq >= source.ring.firstSeq) break;
      // Always at least one frame, so that a replay makes progress.
      if (frames.length > 0 && bytes + frame.length > budget) break;
      frames.push(frame);
      bytes += frame.length;
      this.next = seq + 1;
    }
    // Seqs missing from the store (never stored) cannot be replayed: skip to what exists.
    if (frames.length === 0) this.next = Math.max(this.next, source.ring.firstSeq);
    this.pending = frames;
    this.pendingSource = from;
    this.pendingAt = 0;
    this.pendingBytes = bytes;
    this.pump();
  }
}

export class SseHub {
  readonly stats: HubStats = {
    clients: 0,
    connected: 0,
    disconnectedSlow: 0,
    refusedFull: 0,
    replayedFromStore: 0,
    eventsSent: 0,
    heartbeatsSent: 0,
    peakClientBytes: 0,
  };
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  readonly logger: StoreLogger;
  private closing = false;
  private readonly slots: ClientSlots;
  private readonly sent;
  private readonly clientsGauge;
  /** Ticks sent to clients catching up, by where they were read. */
  readonly replayed = {
    ring: metrics.replayReads.labels({ source: 'ring' }),
    redis: metrics.replayReads.labels({ source: 'redis' }),
    store: metrics.replayReads.labels({ source: 'store' }),
  };

  constructor(
    readonly feed: TickFeed,
    readonly store: Store,
    readonly options: HubOptions,
  ) {
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
    this.slots = options.slots ?? new ClientSlots(options.maxClients);
    const stream = feed.stream;
    this.sent = metrics.ticksSent.labels({ stream });
    this.sent.inc(0);
    this.clientsGauge = metrics.sseClients.labels({ stream });
    this.clientsGauge.inc(0);
    this.unsubscribe = feed.onPublish(() => {
      for (const c of this.clients) c.pump();
    });
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) {
        if (c.res.writableNeedDrain) continue;
        c.res.write(HEARTBEAT);
        this.stats.heartbeatsSent += 1;
        c.checkBudget();
      }
    }, options.heartbeatMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** `n` tick events were written to clients. */
  countSent(n: number): void {
    if (n > 0) this.sent.inc(n);
  }

  /**
   * Starts an event stream on `res`: headers (and `headers`, e.g. CORS ones), the `retry:` hint, then every tick
   * after `lastSeq` (the client's Last-Event-ID, validated by the caller) or, without one, the ticks made from
   * now on. Answers 503 instead while closing, or when `maxClients` streams are open.
   */
  attach(res: ServerResponse, lastSeq: number | null, headers: OutgoingHttpHeaders = {}): void {
    if (this.closing) {
      metrics.sseRefused.inc({ stream: this.feed.stream, reason: 'closing' });
      res.writeHead(503, { ...headers, 'content-type': 'application/json' }).end('{"error":"shutting down"}');
      return;
    }
    if (!this.slots.take()) {
      this.stats.refusedFull += 1;
      metrics.sseRefused.inc({ stream: this.feed.stream, reason: 'max_clients' });
      const body = {
        error: 'too many event streams; retry later',
        expected: `at most ${this.slots.max} event streams at once`,
        received: `a new one while ${this.slots.open} are open`,
        hint: 'the server was started with --max-clients; raise it if the machine can take more',
      };
      res
        .writeHead(503, {
          ...headers,
          'content-type': 'application/json',
          'retry-after': String(FULL_RETRY_AFTER_S),
        })
        .end(JSON.stringify(body));
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    res.write(sseFrame({ retry: this.options.retryMs }));
    const client = new Client(this, res, lastSeq === null ? this.feed.headSeq + 1 : lastSeq + 1);
    this.clients.add(client);
    this.stats.connected += 1;
    this.stats.clients = this.clients.size;
    this.clientsGauge.inc();
    const onDrain = () => client.pump();
    // The socket saw no traffic for the server's connection timeout: the client stopped reading (heartbeats keep
    // a reading client's socket busy).
    const onTimeout = () => this.dropSlow(client, 'stopped_reading', client.heldBytes);
    const onClose = () => {
      res.off('drain', onDrain);
      res.off('timeout', onTimeout);
      this.detach(client, 'client');
    };
    res.on('drain', onDrain);
    res.on('timeout', onTimeout);
    res.once('close', onClose);
    this.feed.setActive(true);
    client.pump();
  }

  /** A client that stopped reading or fell too far behind: ends its stream (it may resume with Last-Event-ID). */
  dropSlow(client: Client, reason: SlowReason, amount: number): void {
    if (client.closed) return;
    this.stats.disconnectedSlow += 1;
    const why = SLOW[reason];
    this.logger.warn({ why, amount, next: client.next }, `disconnecting an SSE client: ${why}`);
    this.detach(client, reason);
  }

  /** Forgets a client whose stream ended; ends it (destroys its socket) unless the client went away itself. */
  detach(client: Client, reason: EndReason): void {
    if (client.closed) return;
    client.closed = true;
    this.clients.delete(client);
    this.slots.release();
    this.stats.clients = this.clients.size;
    this.clientsGauge.dec();
    metrics.sseDisconnects.inc({ stream: this.feed.stream, reason });
    if (reason !== 'client') client.res.destroy();
    if (this.clients.size === 0) this.feed.setActive(false);
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
          this.slots.release();
          this.clientsGauge.dec();
          metrics.sseDisconnects.inc({ stream: this.feed.stream, reason: 'shutdown' });
        }),
    );
    this.clients.clear();
    this.stats.clients = 0;
    this.feed.setActive(false);
    await Promise.all(ended);
  }
}
