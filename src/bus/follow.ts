// Live reading of many streams' tick logs in one process: one XREAD BLOCK loop over all of them on a connection of
// its own, each stream's entries handed on consecutive (a hole in the log, e.g. after Redis lost its data, is
// filled from the store), and Redis outages waited out, logged and counted. What the entries are for (an SSE ring,
// inference) is the targets'.
import type { Redis } from 'ioredis';
import { metrics } from '../metrics/prometheus.js';
import type { StoreLogger } from '../store/types.js';
import type { TickHistory } from './history.js';
import type { Bus } from './redis.js';
import type { LogEntry } from './ticks.js';

/** A reader of one stream. */
export interface FollowTarget {
  /** The seq after which entries are wanted, asked before every read (−1: from the start of the log). */
  cursor(): number;
  /** Takes consecutive entries after the cursor; the loop waits for it (backpressure). */
  deliver(entries: LogEntry[]): Promise<void>;
}

export interface FollowerStats {
  /** Entries handed on. */
  entries: number;
  /** Of those, entries read from the store to fill holes of the log. */
  fromStore: number;
  /** Holes the store could not fill either (seqs never stored): the targets saw a gap. */
  unfilled: number;
  /** Outages of the bus during which nothing could be read, and their total length. */
  outages: number;
  outageMs: number;
  /** When the current outage began, or null. */
  downSince: number | null;
}

export interface FollowerOptions {
  bus: Bus;
  history: TickHistory;
  /** Longest wait of one read for new entries. Default 500 ms (a stream added meanwhile waits this long at most). */
  blockMs?: number;
  /** Entries per stream per read. Default 500. */
  count?: number;
  /** Most ticks read from the store for one hole per read. Default 2000. */
  fillLimit?: number;
  logger?: StoreLogger;
}

export class LogFollower {
  readonly stats: FollowerStats = {
    entries: 0,
    fromStore: 0,
    unfilled: 0,
    outages: 0,
    outageMs: 0,
    downSince: null,
  };
  private readonly targets = new Map<string, FollowTarget>();
  private readonly connection: Redis;
  private readonly logger: StoreLogger;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: FollowerOptions) {
    this.connection = options.bus.blockingConnection(this.blockMs);
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
  }

  private get blockMs(): number {
    return this.options.blockMs ?? 500;
  }

  /** Starts (or replaces) the reading of `stream`; read from the next round on. */
  add(stream: string, target: FollowTarget): void {
    this.targets.set(stream, target);
    this.loop ??= this.run();
    this.wake?.();
  }

  /** Stops reading `stream` (an entry being delivered is delivered). */
  remove(stream: string): void {
    this.targets.delete(stream);
  }

  get streams(): string[] {
    return [...this.targets.keys()];
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.connection.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    // The connection is still being made at the first read: that is no outage.
    if (this.connection.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.options.bus.timings.connectTimeoutMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.connection.once('ready', done);
      });
    }
    let failures = 0;
    while (!this.closed) {
      if (this.targets.size === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      const cursors = new Map([...this.targets].map(([s, t]) => [s, t.cursor()]));
      let read: Map<string, LogEntry[]>;
      try {
        read = await this.options.history.log.read(
          this.connection,
          cursors,
          this.blockMs,
          this.options.count ?? 500,
        );
      } catch (error) {
        if (this.closed) break;
        metrics.busErrors.inc({ kind: 'read' });
        if (this.stats.downSince === null) {
          this.stats.downSince = Date.now();
          this.logger.warn(
            { err: error instanceof Error ? error.message : String(error) },
            'cannot read the tick logs from the bus; live delivery paused (retrying)',
          );
        }
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** Math.min(failures, 5), 1000)));
        continue;
      }
      failures = 0;
      if (this.stats.downSince !== null) {
        const gapMs = Date.now() - this.stats.downSince;
        this.stats.outages += 1;
        this.stats.outageMs += gapMs;
        this.stats.downSince = null;
        metrics.busOutages.inc();
        metrics.busOutageSeconds.inc(gapMs / 1000);
        this.logger.warn(
          { gapMs },
          `reading the tick logs again: live delivery was interrupted for ${(gapMs / 1000).toFixed(1)} s`,
        );
      }
      for (const [stream, entries] of read) {
        const cursor = cursors.get(stream) as number;
        try {
          const out = await this.consecutive(stream, cursor, entries);
          const target = this.targets.get(stream);
          if (target === undefined || out.length === 0) continue;
          this.stats.entries += out.length;
          await target.deliver(out);
        } catch (error) {
          // The store could not fill a hole, or the target failed: the next read starts from its cursor again.
          this.logger.warn(
            { stream, err: error instanceof Error ? error.message : String(error) },
            `reading stream ${stream} from the bus failed; trying again`,
          );
        }
      }
    }
  }

  /** The entries after `cursor`, with the holes before and between them filled from the store. */
  private async consecutive(stream: string, cursor: number, entries: LogEntry[]): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    let at = cursor;
    const fillLimit = this.options.fillLimit ?? 2000;
    for (const e of entries) {
      if (e.seq <= at) continue;
      if (e.seq > at + 1) {
        const before = at;
        const want = e.seq - at - 1;
        const fill = await this.options.history.stored(stream, at, Math.min(want, fillLimit));
        for (const f of fill) {
          if (f.seq !== at + 1 || f.seq >= e.seq) break;
          out.push(f);
          at = f.seq;
        }
        this.stats.fromStore += at - before;
        if (at < e.seq - 1) {
          if (want > fillLimit && at > before) return out; // the next read goes on from here
          this.stats.unfilled += 1;
          this.logger.warn(
            { stream, from: at + 1, to: e.seq - 1 },
            `ticks ${at + 1}..${e.seq - 1} of ${stream} are neither in the bus nor in the store; skipping them`,
          );
        }
      }
      out.push(e);
      at = e.seq;
    }
    return out;
  }
}
