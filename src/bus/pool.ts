// Sharing named work (streams) among the live members of a role: each name is worked on by the member holding its
// lease (lease.ts), up to a fair share (ceil(names / live members), members.ts); dead members' names are taken over
// after the ttl. What the work is (producing, forecasting) is the caller's.
import type { Redis } from 'ioredis';
import { metrics } from '../metrics/prometheus.js';
import type { StoreLogger } from '../store/types.js';
import { Lease, type LostReason } from './lease.js';
import { fairShare, ROSTER_KEYS, Roster } from './members.js';

/** Why a name's work stops: its lease was lost (stop at once), given back to balance, or the pool closes. */
export type StopReason = 'lost' | 'released' | 'closing';

export interface LeasePoolOptions {
  redis: Redis;
  /** The members' role: `serve`, `infer:<group>`. */
  role: string;
  /** This process's unique name among the members. */
  owner: string;
  /** Lease and heartbeat ttl: a dead member's names are taken over this long (and a round) after it died. */
  ttlMs: number;
  /** The `role` label of this pool's lease metrics (byner_lease_owned, byner_lease_events_total). Default `role`. */
  leaseRole?: string;
  /** The lease key of a name. */
  keyOf: (name: string) => string;
  /** The names to share out, read every round (the names this member works on count too). */
  names: () => Promise<readonly string[]> | readonly string[];
  /**
   * Starts the work of a name just leased; `owned()` says whether this member may still go on with it (false once
   * the lease is lost). Throwing gives the lease back (tried again in a later round).
   */
  start: (name: string, owned: () => boolean) => Promise<void>;
  /**
   * Stops the work of a name. `lost`: another member may own it already, stop at once; `released`/`closing`:
   * finish what is under way (the lease is released after this resolves).
   */
  stop: (name: string, why: StopReason) => Promise<void>;
  /** How often a round runs. Default ttl / 5. */
  everyMs?: number;
  /**
   * How long work whose lease ran out while Redis is unreachable goes on before it is stopped anyway (Redis still
   * unreachable: this member may be cut off while the others are not). Default max(30 s, 6 × ttl).
   */
  outageGraceMs?: number;
  logger?: StoreLogger;
}

export interface PoolStats {
  acquired: number;
  released: number;
  lost: number;
  /** Leases that ran out while Redis was unreachable and were taken again when it was back. */
  retaken: number;
  /** Rounds that could not reach Redis. */
  failedRounds: number;
  /** Live members of the role at the last round. */
  members: number;
}

/**
 * Every round (ttl/5) a member beats its heartbeat, takes free leases up to its fair share and gives back the ones
 * above it (a member joining gets its share). A lease that runs out while Redis itself is unreachable does not stop
 * the work: it goes on unconfirmed and is taken again when Redis is back, or stopped if another member took it
 * meanwhile or after the outage grace; for a ttl after an outage a member only takes its own leases again (the
 * heartbeats and names that Redis lost are being refilled meanwhile) (the work's storage is idempotent: an overlap repeats work, never stores twice).
 */
export class LeasePool {
  readonly stats: PoolStats = { acquired: 0, released: 0, lost: 0, retaken: 0, failedRounds: 0, members: 0 };
  private readonly leases = new Map<string, Lease>();
  /** Names whose lease ran out while Redis was unreachable: their work goes on until the lease is taken again. */
  private readonly unconfirmed = new Map<string, number>();
  /** Per name: its start and stop, one after the other. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly roster: Roster;
  private readonly logger: StoreLogger;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /**
   * Until then (ms since the epoch) a round only takes its own leases again: after an outage the members' heartbeats
   * and the list of names are being refilled, so a fair share computed from them would hand names around.
   */
  private quietUntil = 0;
  /** The names shown as held (1) by byner_lease_owned. */
  private readonly shown = new Set<string>();
  private readonly leaseRole: string;

  constructor(private readonly options: LeasePoolOptions) {
    this.roster = new Roster(options.redis, ROSTER_KEYS.members(options.role));
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
    this.leaseRole = options.leaseRole ?? options.role;
  }

  /** Counts a lease change and brings byner_lease_owned up to date with the names held. */
  private changed(event: 'acquired' | 'released' | 'lost' | 'retaken', n = 1): void {
    const role = this.leaseRole;
    if (n > 0) metrics.leaseEvents.inc({ role, kind: event }, n);
    const held = new Set(this.held());
    for (const name of held) {
      if (!this.shown.has(name)) metrics.leaseOwned.set({ role, stream: name }, 1);
      this.shown.add(name);
    }
    for (const name of this.shown) {
      if (held.has(name)) continue;
      metrics.leaseOwned.set({ role, stream: name }, 0);
      this.shown.delete(name);
    }
  }

  /** Starts the rounds (the first at once). */
  start(): void {
    this.loop ??= this.run();
  }

  /** The names this member works on (leased, or unconfirmed while Redis is unreachable), sorted. */
  held(): string[] {
    return [...this.leases.keys(), ...this.unconfirmed.keys()].sort();
  }

  /**
   * Whether this member may go on working on `name`. A lease whose ttl has passed while Redis is unreachable still
   * counts before its expiry timer has run (a busy event loop): the timer makes it unconfirmed work anyway.
   */
  owns(name: string): boolean {
    if (this.unconfirmed.has(name)) return true;
    const lease = this.leases.get(name);
    if (lease === undefined) return false;
    return lease.held || (lease.lost === null && this.options.redis.status !== 'ready' && !this.closed);
  }

  /** Stops a name's work and gives its lease back (its work failed): a later round, here or elsewhere, retakes it. */
  async giveBack(name: string): Promise<void> {
    await this.give(name, 'released');
  }

  /** Stops the rounds, stops every name's work ('closing'), releases the leases and leaves the roster. */
  async close(): Promise<void> {
    if (this.closed) return this.loop;
    this.closed = true;
    this.wakeUp();
    await this.loop;
    await Promise.all(this.held().map((name) => this.give(name, 'closing')));
    await Promise.all(this.chains.values());
    try {
      await this.roster.remove([this.options.owner]);
    } catch {
      // Redis unreachable: the heartbeat expires by itself.
    }
  }

  private get everyMs(): number {
    return this.options.everyMs ?? Math.max(10, Math.floor(this.options.ttlMs / 5));
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async run(): Promise<void> {
    let failing = false;
    // The first round only joins (heartbeat, names): members started together see each other before any takes a
    // share, instead of the first taking every name and handing most of them on a round later.
    let joining = true;
    while (!this.closed) {
      this.endGrace();
      // Every member's rounds (ttl/5 apart) refill the heartbeats and the names within a ttl after an outage.
      if (failing) this.quietUntil = Date.now() + this.options.ttlMs;
      try {
        if (joining) await this.join();
        else await this.round();
        joining = false;
        if (failing) this.logger.info({ role: this.options.role }, 'lease rounds reach the bus again');
        failing = false;
      } catch (error) {
        this.stats.failedRounds += 1;
        metrics.busErrors.inc({ kind: 'lease' });
        if (!failing) {
          this.logger.warn(
            { role: this.options.role, err: error instanceof Error ? error.message : String(error) },
            'cannot reach the bus for a lease round; held leases run out unless renewed',
          );
        }
        failing = true;
      }
      if (this.closed) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.everyMs);
      });
      clearTimeout(this.timer);
    }
  }

  /** Stops the unconfirmed work whose outage grace has passed. */
  private endGrace(): void {
    const grace = this.options.outageGraceMs ?? Math.max(30_000, 6 * this.options.ttlMs);
    for (const [name, since] of this.unconfirmed) {
      if (Date.now() - since < grace) continue;
      this.unconfirmed.delete(name);
      this.stats.lost += 1;
      this.changed('lost');
      this.logger.warn(
        { role: this.options.role, name, graceMs: grace },
        `the bus has been unreachable for ${grace} ms: stopping ${name} (another member may have it)`,
      );
      void this.chain(name, () => this.options.stop(name, 'lost'));
    }
  }

  private acquire(name: string): Promise<Lease | null> {
    let lease: Lease | null = null;
    return Lease.acquire(this.options.redis, this.options.keyOf(name), this.options.owner, {
      ttlMs: this.options.ttlMs,
      onLost: (why) => this.onLost(name, lease, why),
    }).then((l) => {
      lease = l;
      return l;
    });
  }

  private async join(): Promise<void> {
    this.stats.members = await this.roster.touch([this.options.owner], this.options.ttlMs);
    await this.options.names();
  }

  private async round(): Promise<void> {
    const { owner, ttlMs } = this.options;
    const members = await this.roster.touch([owner], ttlMs);
    this.stats.members = members;
    // Read every round, quiet or not: reading may refill what others read (serve's registry of streams).
    const listed = await this.options.names();
    await this.retake();
    if (Date.now() < this.quietUntil) return;
    // The names held count even when the list misses them (a registry that Redis lost and is being refilled).
    const names = [...new Set([...listed, ...this.held()])].sort();
    const share = fairShare(names.length, members);
    // Give back the names above the fair share (the last ones of this member's, in name order).
    const extra = [...this.leases.keys()].sort().slice(Math.max(0, share - this.unconfirmed.size));
    await Promise.all(extra.map((name) => this.give(name, 'released')));
    if (this.leases.size >= share || this.closed) return;
    // Try the free names, starting at a place of this member's own so that members do not all race for the same.
    const offset = names.length === 0 ? 0 : hash(owner) % names.length;
    const order = [...names.slice(offset), ...names.slice(0, offset)].filter((n) => !this.leases.has(n));
    const taken: [string, Lease][] = [];
    for (const name of order) {
      if (this.leases.size >= share || this.closed) break;
      if (this.chains.has(name)) continue; // still stopping after a loss
      const lease = await this.acquire(name);
      if (lease === null) continue;
      this.leases.set(name, lease);
      this.stats.acquired += 1;
      taken.push([name, lease]);
    }
    if (taken.length > 0) {
      this.changed('acquired', taken.length);
      this.logger.info(
        { role: this.options.role, names: taken.map(([n]) => n), owner },
        `took the lease of ${taken.map(([n]) => n).join(', ')}`,
      );
    }
    // The names taken start together, and the rounds go on meanwhile (a start may read a long history): a dead
    // member's names are taken as soon as the heartbeats say it is gone. Each name's start and stop are chained.
    for (const [name, lease] of taken) void this.startWork(name, lease);
  }

  /** Takes the leases that ran out during an outage again; stops the work of those another member took. */
  private async retake(): Promise<void> {
    for (const name of [...this.unconfirmed.keys()]) {
      const lease = await this.acquire(name);
      this.unconfirmed.delete(name);
      if (lease !== null) {
        this.leases.set(name, lease);
        this.stats.retaken += 1;
        this.changed('retaken');
        this.logger.info(
          { role: this.options.role, name },
          `took the lease of ${name} again after the outage`,
        );
        continue;
      }
      this.stats.lost += 1;
      this.changed('lost');
      this.logger.warn(
        { role: this.options.role, name },
        `another member took ${name} during the outage; stopping it`,
      );
      void this.chain(name, () => this.options.stop(name, 'lost'));
    }
  }

  private startWork(name: string, lease: Lease): Promise<void> {
    return this.chain(name, async () => {
      try {
        await this.options.start(name, () => this.owns(name));
      } catch (error) {
        this.logger.error(
          { role: this.options.role, name, err: error instanceof Error ? error.message : String(error) },
          `could not start ${name}; giving its lease back`,
        );
        if (this.leases.get(name) === lease) this.leases.delete(name);
        await lease.release();
        this.changed('released');
      }
    });
  }

  private onLost(name: string, lease: Lease | null, why: LostReason): void {
    if (lease === null || this.leases.get(name) !== lease) return;
    this.leases.delete(name);
    if (why === 'expired' && this.options.redis.status !== 'ready' && !this.closed) {
      // Redis is unreachable: nobody can take the lease meanwhile unless Redis is reachable for them; go on, and
      // take it again (or stop) when Redis answers.
      this.unconfirmed.set(name, Date.now());
      this.logger.warn(
        { role: this.options.role, name },
        `the lease of ${name} ran out while the bus is unreachable; going on with it until the bus is back`,
      );
      return;
    }
    this.stats.lost += 1;
    this.changed('lost');
    this.logger.warn(
      { role: this.options.role, name, why },
      `lost the lease of ${name} (${why === 'taken' ? 'another member holds it' : 'not renewed within its ttl'}); stopping it`,
    );
    void this.chain(name, () => this.options.stop(name, 'lost'));
    this.wakeUp();
  }

  /** Stops a held name's work, then releases its lease. */
  private async give(name: string, why: StopReason): Promise<void> {
    const lease = this.leases.get(name);
    const unconfirmed = this.unconfirmed.delete(name);
    if (lease === undefined && !unconfirmed) return;
    this.leases.delete(name);
    this.changed('released', 0);
    await this.chain(name, async () => {
      await this.options.stop(name, why);
      await lease?.release();
    });
    this.stats.released += 1;
    this.changed('released');
    this.logger.info({ role: this.options.role, name, why }, `gave the lease of ${name} back (${why})`);
  }

  /** Runs `step` after the name's previous start/stop; a failing stop is logged. */
  private chain(name: string, step: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(name) ?? Promise.resolve()).then(step).catch((error) => {
      this.logger.error(
        { role: this.options.role, name, err: error instanceof Error ? error.message : String(error) },
        `stopping ${name} failed`,
      );
    });
    this.chains.set(name, next);
    void next.then(() => {
      if (this.chains.get(name) === next) this.chains.delete(name);
    });
    return next;
  }
}

/** A small stable hash of a string (FNV-1a). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
