// `serve --bus`: one of many serve processes sharing the streams over Redis. A stream is produced by the process
// holding its lease (store, then tick log) and served by every process from a ring fed by the tick logs, resumed
// from the ring, the log, then the store. Leases and logs are src/bus's; SSE clients are hub.ts's.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LogAppender } from '../bus/appender.js';
import { LogFollower } from '../bus/follow.js';
import { loggedTicks, TickHistory } from '../bus/history.js';
import { leaseTtlMs } from '../bus/lease.js';
import { ROSTER_KEYS, Roster } from '../bus/members.js';
import { LeasePool, type StopReason } from '../bus/pool.js';
import type { Bus, BusStatus } from '../bus/redis.js';
import { type LogEntry, TickLog } from '../bus/ticks.js';
import { BynerError } from '../errors.js';
import type { IndicatorParams } from '../indicators/params.js';
import type { PriceSource } from '../sources/types.js';
import type { Store, StoreLogger, WriteOutcome } from '../store/types.js';
import { tickToJson } from '../ticks/json.js';
import type { Tick } from '../ticks/types.js';
import type { ReplaySource, TickFeed } from './hub.js';
import { type ProducerState, RateWindow, StreamProducer } from './producer.js';
import { type RingEntry, TickRing } from './ring.js';
import { sseFrame } from './sse.js';

/** The Redis key of a stream's producer lease. */
export const produceLeaseKey = (stream: string) => `byner:lease:produce:{${stream}}`;

/** How long a stream stays in the registry of streams (`byner:streams`) after the last serve process named it. */
const REGISTRY_TTL_MS = 30_000;

export interface SharedStreamsOptions {
  bus: Bus;
  store: Store;
  /** Every serve process of the cluster is configured with the same streams. */
  streams: readonly { name: string; source: PriceSource }[];
  /** Ticks per stream in the ring, and about as many in each tick log. */
  ringCapacity: number;
  /** Points made and stored at once. */
  batchSize: number;
  /** A dead process's streams are produced by another within about this long (`--lease-ms`; see leaseTtlMs). */
  leaseMs: number;
  /** This process's name among the members (default host:pid:random). */
  owner?: string;
  /** Bytes of ticks held per stream while Redis is unreachable (stored already); beyond it production waits. */
  maxHeldBytes?: number;
  indicatorParams?: IndicatorParams;
  logger?: StoreLogger;
  now?: () => number;
}

/** What /healthz says about the bus. */
export interface SharedStatus {
  bus: string;
  state: BusStatus['state'];
  owner: string;
  /** The streams this process produces now. */
  producing: string[];
  /** Live serve processes at the last lease round. */
  members: number;
  /** Interruptions of live delivery (the tick logs could not be read) and their total length. */
  outages: number;
  outage_s: number;
  /** Ticks stored but not appended to the tick logs yet (Redis unreachable). */
  held_bytes: number;
}

/**
 * One stream as this process serves it: a ring filled from the stream's tick log, whoever produces it. Also the
 * producer's stand-in for the server (source, state), since the producer may run in another process.
 */
export class SharedFeed implements TickFeed {
  readonly ring: TickRing;
  /** The producer while this process holds the stream's lease. */
  producer: StreamProducer | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly rate = new RateWindow();

  constructor(
    readonly stream: string,
    readonly source: PriceSource,
    capacity: number,
    private readonly history: TickHistory,
  ) {
    this.ring = new TickRing(capacity);
  }

  get headSeq(): number {
    return this.ring.nextSeq - 1;
  }

  get state(): ProducerState {
    return { state: this.producer?.state.state ?? 'running', ticksPerSecond: this.rate.perSecond() };
  }

  onPublish(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sources run whether or not anyone reads (the stream is read in other processes too). */
  setActive(): void {}
  demand(): void {}

  /** The process's producers are stopped by SharedStreams.close(), which counts what they could not store. */
  async stop(_options: { timeoutMs?: number } = {}): Promise<{ unconfirmedTicks: number }> {
    return { unconfirmedTicks: 0 };
  }

  /** Consecutive entries of the tick log; a seq past a hole restarts the ring there. */
  deliver(entries: readonly LogEntry[]): void {
    let added = 0;
    for (const e of entries) {
      if (e.seq < this.ring.nextSeq) continue;
      if (e.seq > this.ring.nextSeq) this.ring.reset(e.seq);
      this.ring.push({ seq: e.seq, frame: frameOf(e) });
      added += 1;
    }
    if (added === 0) return;
    this.rate.add(added);
    for (const listener of this.listeners) listener();
  }

  /** Older ticks than the ring: from the tick log while it reaches back, then from the store. */
  async older(afterSeq: number, limit: number): Promise<{ entries: RingEntry[]; source: ReplaySource }> {
    const { entries, source } = await this.history.after(this.stream, afterSeq, limit);
    return {
      entries: entries.map((e) => ({ seq: e.seq, frame: frameOf(e) })),
      source: source === 'log' ? 'redis' : 'store',
    };
  }

  async reach(seq: number, ms: number): Promise<void> {
    if (this.headSeq >= seq) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, ms);
      const off = this.onPublish(() => {
        if (this.headSeq >= seq) done();
      });
    });
  }
}

const frameOf = (e: LogEntry) => Buffer.from(sseFrame({ id: e.seq, data: e.data }), 'utf8');

const entryOf = (t: Tick): LogEntry => ({ seq: t.seq, data: JSON.stringify(tickToJson(t)) });

export class SharedStreams {
  readonly owner: string;
  private readonly feeds = new Map<string, SharedFeed>();
  private readonly appenders = new Map<string, LogAppender>();
  private readonly log: TickLog;
  private readonly history: TickHistory;
  private readonly follower: LogFollower;
  private readonly pool: LeasePool;
  private readonly registry: Roster;
  /** The streams this process has produced (their ticks may be in its write backlog). */
  private readonly produced = new Set<string>();
  private readonly logger: StoreLogger;
  private readonly watch: NodeJS.Timeout;
  /** Set by close(): the producers' stop deadline and what they could not store by it. */
  private closing: { timeoutMs: number | undefined; unconfirmedTicks: number } | null = null;

  private constructor(private readonly options: SharedStreamsOptions) {
    const { bus, store, ringCapacity } = options;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
    this.log = new TickLog(bus.redis, ringCapacity);
    this.history = new TickHistory(this.log, store);
    this.follower = new LogFollower({ bus, history: this.history, logger: this.logger });
    this.registry = new Roster(bus.redis, ROSTER_KEYS.streams);
    const names = options.streams.map((s) => s.name);
    for (const { name, source } of options.streams) {
      this.feeds.set(name, new SharedFeed(name, source, ringCapacity, this.history));
      this.appenders.set(
        name,
        new LogAppender(this.log, name, { maxHeldBytes: options.maxHeldBytes, logger: this.logger }),
      );
    }
    this.pool = new LeasePool({
      redis: bus.redis,
      role: 'serve',
      leaseRole: 'produce',
      owner: this.owner,
      ttlMs: leaseTtlMs(options.leaseMs),
      keyOf: produceLeaseKey,
      names: async () => {
        await this.registry.touch(names, REGISTRY_TTL_MS);
        return names;
      },
      start: (name, owned) => this.startProducing(name, owned),
      stop: (name, why) => this.stopProducing(name, why),
      logger: this.logger,
    });
    // A producer whose stream failed (its source, or another process storing its ticks) gives its lease back.
    this.watch = setInterval(
      () => {
        for (const name of this.pool.held()) {
          if (this.feeds.get(name)?.producer?.state.state === 'failed') void this.pool.giveBack(name);
        }
      },
      Math.max(50, Math.floor(options.leaseMs / 5)),
    );
    this.watch.unref();
  }

  /**
   * Starts serving the streams: each feed from the stream's current end (the tick log's or the store's, the
   * later), read from the tick logs, and the lease rounds that decide which streams this process produces.
   */
  static async open(options: SharedStreamsOptions): Promise<SharedStreams> {
    const shared = new SharedStreams(options);
    const stored = new Map(
      (await options.store.listStreams('historical_data')).map((s) => [s.stream, s.last_seq]),
    );
    for (const [name, feed] of shared.feeds) {
      const logged = await shared.log.lastSeq(name);
      feed.ring.reset(Math.max(logged ?? -1, stored.get(name) ?? -1) + 1);
      shared.follower.add(name, {
        cursor: () => feed.ring.nextSeq - 1,
        deliver: async (entries) => feed.deliver(entries),
      });
    }
    shared.pool.start();
    return shared;
  }

  feed(name: string): SharedFeed {
    const feed = this.feeds.get(name);
    if (feed === undefined) throw new Error(`stream ${name} is not configured`);
    return feed;
  }

  status(): SharedStatus {
    const bus = this.options.bus.status();
    const f = this.follower.stats;
    const down = f.downSince === null ? 0 : Date.now() - f.downSince;
    let held = 0;
    for (const a of this.appenders.values()) held += a.stats.heldBytes;
    return {
      bus: this.options.bus.url,
      state: bus.state,
      owner: this.owner,
      producing: this.pool.held(),
      members: this.pool.stats.members,
      outages: f.outages + (f.downSince === null ? 0 : 1),
      outage_s: Math.round((f.outageMs + down) / 100) / 10,
      held_bytes: held,
    };
  }

  /**
   * Stops producing (leases released, so that others take over at once), then stops reading the logs. Each producer
   * gets `timeoutMs` to store what it holds (even while the store is unreachable); returns the ticks it could not.
   */
  async close(timeoutMs?: number): Promise<{ unconfirmedTicks: number }> {
    this.closing = { timeoutMs, unconfirmedTicks: 0 };
    clearInterval(this.watch);
    await this.pool.close();
    await this.follower.close();
    for (const a of this.appenders.values()) a.close();
    return { unconfirmedTicks: this.closing.unconfirmedTicks };
  }

  private async startProducing(name: string, owned: () => boolean): Promise<void> {
    const feed = this.feed(name);
    const appender = this.appenders.get(name) as LogAppender;
    const started = Date.now();
    const { store } = this.options;
    feed.producer = await StreamProducer.open({
      store,
      stream: name,
      source: feed.source,
      // The hub reads the shared feed; the producer's own ring only needs the batch being published.
      ringCapacity: this.options.batchSize,
      fillRing: false, // its open reads only the ticks after the stream's saved state
      // Those are in the tick log (the previous producer's, stored already): the store is read past its end only.
      held: async (afterSeq) => {
        try {
          return loggedTicks(name, await this.log.after(name, afterSeq, 2 * this.log.maxLen)) ?? [];
        } catch {
          return []; // Redis unreachable: the store has them
        }
      },
      // A stream this process has not produced before has no ticks in its write backlog: its reads do not wait
      // for the backlog (the other streams' ticks, ≈ 0.5 s on a busy FerretDB).
      ownWrites: this.produced.has(name),
      batchSize: this.options.batchSize,
      alwaysOn: true,
      indicatorParams: this.options.indicatorParams,
      logger: this.logger,
      now: this.options.now,
      onStored: async (ticks, outcome) => {
        if (outcome.duplicates > 0) await this.checkOurs(name, ticks, outcome);
        await appender.append(ticks.map(entryOf));
        if (!owned() && this.closing === null) {
          throw new BynerError('BYNER_BUS', `lost the producer lease of stream ${name}`, {
            expected: `the lease ${produceLeaseKey(name)} renewed within ${leaseTtlMs(this.options.leaseMs)} ms`,
            received: 'another process holds it, or it ran out',
          });
        }
      },
    });
    this.produced.add(name);
    this.logger.info(
      {
        stream: name,
        owner: this.owner,
        headSeq: feed.producer.headSeq,
        openMs: Date.now() - started,
      },
      `producing stream ${name} from seq ${feed.producer.headSeq + 1}`,
    );
  }

  private async stopProducing(name: string, why: StopReason): Promise<void> {
    const feed = this.feed(name);
    const producer = feed.producer;
    feed.producer = null;
    const stopped = await producer?.stop({ timeoutMs: this.closing?.timeoutMs });
    if (this.closing !== null) this.closing.unconfirmedTicks += stopped?.unconfirmedTicks ?? 0;
    // Handing over: the stored ticks reach the tick log before the next producer appends its own (else readers
    // read them from the store).
    if (why !== 'lost') await this.appenders.get(name)?.settled(Math.max(500, this.options.leaseMs / 2));
    this.logger.info({ stream: name, why }, `stopped producing stream ${name} (${why})`);
  }

  /**
   * A write that found ticks already stored: a retry of this process's own write (same ticks), or another process
   * producing the stream, which then owns it (BYNER_BUS: this process stops producing it).
   */
  private async checkOurs(name: string, ticks: readonly Tick[], outcome: WriteOutcome): Promise<void> {
    const first = ticks[0].seq;
    const stored = await this.options.store.ticksRange(
      'historical_data',
      name,
      first,
      ticks[ticks.length - 1].seq,
    );
    const bySeq = new Map(stored.map((t) => [t.seq, t]));
    for (const t of ticks) {
      const s = bySeq.get(t.seq);
      if (s !== undefined && s.price === t.price && s.timestamp.getTime() === t.timestamp.getTime()) continue;
      throw new BynerError('BYNER_BUS', `another process has stored ticks of stream ${name}`, {
        expected: `seq ${t.seq} stored by this process (${outcome.duplicates} of ${ticks.length} were there already)`,
        received:
          s === undefined ? 'no such tick' : `a tick with price ${s.price} at ${s.timestamp.toISOString()}`,
      });
    }
  }
}
