// A lease in Redis: who owns a piece of work (a stream's producing, a stream's forecasting) among many processes.
// Taken with SET NX PX, renewed and released only by its owner (Lua compare-and-act), renewed every ttl/3 while
// held; lost when a renewal finds another owner or when the ttl passes without a successful renewal (Redis
// unreachable, or this process hung). What the work is, and balancing many leases, are the callers' (pool.ts).
import type { Redis } from 'ioredis';

/** Renews when `key` still names `owner`: 1, else 0. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** Deletes `key` when it still names `owner`: 1, else 0. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * The ttl of the lease keys of a work whose dead holder must be replaced within `leaseMs` (`--lease-ms`): a third
 * of it. A dead holder's key expires within the ttl of its last renewal, a pool round (ttl/5) later another member
 * takes it: 0.4 × leaseMs after the death at most, and the rest is left for the new owner's start (reading where
 * the work stopped: ≈ 1 – 1.5 s on a FerretDB loaded as in the cluster test). A holder that stalls longer than
 * ttl − ttl/3 (2/9 of leaseMs: 1.1 s at the default 5 s) loses its leases.
 */
export function leaseTtlMs(leaseMs: number): number {
  return Math.max(1, Math.floor(leaseMs / 3));
}

/** Takes `key` for `owner` for `ttlMs` when nobody holds it; true when taken. */
export async function tryAcquire(redis: Redis, key: string, owner: string, ttlMs: number): Promise<boolean> {
  return (await redis.set(key, owner, 'PX', ttlMs, 'NX')) === 'OK';
}

/** Extends `owner`'s lease on `key` to `ttlMs` from now; false when `owner` does not hold it (any more). */
export async function renewLease(redis: Redis, key: string, owner: string, ttlMs: number): Promise<boolean> {
  return (await redis.eval(RENEW, 1, key, owner, String(ttlMs))) === 1;
}

/** Gives `key` up when `owner` holds it; false (and nothing done) when someone else does, or nobody. */
export async function releaseLease(redis: Redis, key: string, owner: string): Promise<boolean> {
  return (await redis.eval(RELEASE, 1, key, owner)) === 1;
}

/** Who holds `key` now, or null. */
export async function leaseOwner(redis: Redis, key: string): Promise<string | null> {
  return redis.get(key);
}

/** Why a lease was lost: another owner holds it, or the ttl passed without a successful renewal. */
export type LostReason = 'taken' | 'expired';

export interface LeaseOptions {
  ttlMs: number;
  /** Called once when the lease is lost; the holder must stop the work at once. */
  onLost?: (why: LostReason) => void;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * A held lease, renewed every ttl/3 until released or lost. `held` is false from the moment the ttl may have
 * passed (counted from when the last successful renewal was SENT, so never later than Redis's own expiry), even
 * before the timers of a process that hung have run.
 */
export class Lease {
  private validUntil: number;
  private lostWith: LostReason | null = null;
  private released = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Renewals that failed (no answer, an error) since the lease was taken. */
  failedRenewals = 0;

  private constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly owner: string,
    private readonly options: LeaseOptions,
    sentAt: number,
  ) {
    this.now = options.now ?? Date.now;
    this.validUntil = sentAt + options.ttlMs;
    this.armExpiry();
    this.scheduleRenewal(this.renewEveryMs);
  }

  /** Takes `key` for `owner` when free; the lease, or null when someone holds it. Throws when Redis fails. */
  static async acquire(
    redis: Redis,
    key: string,
    owner: string,
    options: LeaseOptions,
  ): Promise<Lease | null> {
    const sentAt = (options.now ?? Date.now)();
    if (!(await tryAcquire(redis, key, owner, options.ttlMs))) return null;
    return new Lease(redis, key, owner, options, sentAt);
  }

  /** Still ours as far as this process can know: not lost, not released, and the ttl has not passed. */
  get held(): boolean {
    return this.lostWith === null && !this.released && this.now() < this.validUntil;
  }

  /** Why it was lost, or null while held (or released). */
  get lost(): LostReason | null {
    return this.lostWith;
  }

  /** Stops renewing and deletes the key if this owner still holds it (a failure leaves it to expire). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.clearTimers();
    if (this.lostWith !== null) return;
    try {
      await releaseLease(this.redis, this.key, this.owner);
    } catch {
      // Redis unreachable: the key expires by itself within the ttl.
    }
  }

  private get renewEveryMs(): number {
    return Math.max(1, Math.floor(this.options.ttlMs / 3));
  }

  private scheduleRenewal(ms: number): void {
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew(), ms);
    this.renewTimer.unref();
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => this.checkExpiry(), Math.max(0, this.validUntil - this.now()));
    this.expiryTimer.unref();
  }

  private checkExpiry(): void {
    if (this.lostWith !== null || this.released) return;
    if (this.now() >= this.validUntil) this.lose('expired');
    else this.armExpiry();
  }

  private async renew(): Promise<void> {
    if (this.lostWith !== null || this.released) return;
    const sentAt = this.now();
    // A process that hung past the ttl learns it first thing, before asking Redis.
    if (sentAt >= this.validUntil) return this.lose('expired');
    let ok: boolean;
    try {
      ok = await renewLease(this.redis, this.key, this.owner, this.options.ttlMs);
    } catch {
      this.failedRenewals += 1;
      if (this.lostWith === null && !this.released) this.scheduleRenewal(Math.ceil(this.renewEveryMs / 3));
      return;
    }
    if (this.lostWith !== null || this.released) return;
    if (!ok) return this.lose('taken');
    this.validUntil = sentAt + this.options.ttlMs;
    this.armExpiry();
    this.scheduleRenewal(this.renewEveryMs);
  }

  private lose(why: LostReason): void {
    if (this.lostWith !== null || this.released) return;
    this.lostWith = why;
    this.clearTimers();
    this.options.onLost?.(why);
  }

  private clearTimers(): void {
    clearTimeout(this.renewTimer);
    clearTimeout(this.expiryTimer);
    this.renewTimer = undefined;
    this.expiryTimer = undefined;
  }
}
