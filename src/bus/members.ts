// Who is alive, by heartbeat: a ZSET of names scored by their expiry in Redis's own clock (so that the processes'
// clocks do not matter). Used for the live members of a role (`serve`, `infer:<group>`) and for the streams the
// serve processes are configured with. What a member does is the caller's; sharing work out is pool.ts's.
import type { Redis } from 'ioredis';

/** Redis keys of the rosters. */
export const ROSTER_KEYS = {
  /** The live processes of a role: `serve`, `infer:<group>`. */
  members: (role: string) => `byner:members:${role}`,
  /** The streams the running `serve` processes are configured with (what `infer --bus --all-streams` forecasts). */
  streams: 'byner:streams',
} as const;

/**
 * Adds or refreshes ARGV[2..] with expiry now + ARGV[1] ms, drops the expired ones, returns the live count. One ZADD
 * per 500 names (a serve process refreshes every stream name each lease round; Lua's unpack takes a few thousand).
 */
const TOUCH = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = now + tonumber(ARGV[1])
local args = {}
for i = 2, #ARGV do
  args[#args + 1] = expiry
  args[#args + 1] = ARGV[i]
  if #args == 1000 or i == #ARGV then
    redis.call('ZADD', KEYS[1], unpack(args))
    args = {}
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;

/** The names not expired yet, sorted. */
const LIVE = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`;

/** A set of names that stay in it while refreshed (heartbeats), each for `ttlMs` after its last refresh. */
export class Roster {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
  ) {}

  /** Adds or refreshes `names` for `ttlMs`; resolves with how many names are live (these included). */
  async touch(names: readonly string[], ttlMs: number): Promise<number> {
    return (await this.redis.eval(TOUCH, 1, this.key, String(ttlMs), ...names)) as number;
  }

  /** The live names, sorted. */
  async live(): Promise<string[]> {
    return ((await this.redis.eval(LIVE, 1, this.key)) as string[]).sort();
  }

  /** Removes `names` at once (a clean stop: the others need not wait for the expiry). */
  async remove(names: readonly string[]): Promise<void> {
    if (names.length > 0) await this.redis.zrem(this.key, ...names);
  }
}

/** The most leases of `total` one of `members` live members takes: ceil(total / members). */
export function fairShare(total: number, members: number): number {
  return Math.ceil(total / Math.max(1, members));
}
