// Lease pools against a real redis-server: names shared out fairly among members, never worked on by two at once
// while Redis answers; a member joining gets its share from the others; a member cut off from Redis has its names
// taken over after the ttl and stops them after its outage grace; a Redis restart is waited out (every member keeps
// its names and takes their leases again); a start that fails gives the lease back.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ownRedisForTests, type RedisServer, redisUrlForTests } from '../../test/helpers/redis.js';
import { sleep, waitFor as until } from '../../test/live-helpers.js';
import { LeasePool, type StopReason } from './pool.js';
import { type Bus, connectBus } from './redis.js';

/** Who works on which name now, across every member of a test; a second worker on a name is recorded. */
class Work {
  readonly owners = new Map<string, string>();
  readonly overlaps: string[] = [];
  readonly stops: { member: string; name: string; why: StopReason }[] = [];
  start(member: string, name: string): void {
    const other = this.owners.get(name);
    if (other !== undefined) this.overlaps.push(`${name}: ${member} started while ${other} worked on it`);
    this.owners.set(name, member);
  }
  stop(member: string, name: string, why: StopReason): void {
    if (this.owners.get(name) === member) this.owners.delete(name);
    this.stops.push({ member, name, why });
  }
  of(member: string): string[] {
    return [...this.owners].filter(([, m]) => m === member).map(([n]) => n);
  }
}

const setup = await redisUrlForTests();

describe('lease pools', { skip: 'skip' in setup ? setup.skip : false }, () => {
  const buses: Bus[] = [];
  const pools: LeasePool[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close().catch(() => {})));
    await Promise.all(buses.map((b) => b.close()));
    if (!('skip' in setup)) await setup.stop();
  });

  async function member(
    role: string,
    owner: string,
    names: string[],
    work: Work,
    ttlMs: number,
    failStart?: (name: string) => boolean,
  ) {
    return join((setup as { url: string }).url, role, owner, names, work, ttlMs, { failStart });
  }

  async function join(
    url: string,
    role: string,
    owner: string,
    names: string[],
    work: Work,
    ttlMs: number,
    extra: { failStart?: (name: string) => boolean; outageGraceMs?: number } = {},
  ) {
    const { failStart } = extra;
    const bus = await connectBus(url, { commandTimeoutMs: 300, maxReconnectDelayMs: 100 });
    buses.push(bus);
    const pool = new LeasePool({
      redis: bus.redis,
      role,
      owner,
      ttlMs,
      keyOf: (n) => `byner:test:lease:${role}:{${n}}`,
      names: () => names,
      start: async (name) => {
        if (failStart?.(name)) throw new Error('cannot start');
        work.start(owner, name);
      },
      stop: async (name, why) => work.stop(owner, name, why),
      outageGraceMs: extra.outageGraceMs,
    });
    pools.push(pool);
    pool.start();
    return { bus, pool };
  }

  const names = ['s0', 's1', 's2', 's3', 's4', 's5'];

  it('shares the names out fairly, gives a joining member its share, and takes a cut-off member’s over after the ttl', async () => {
    const role = `pool-${process.pid}-${Date.now()}`;
    const ttl = 600;
    const grace = 1500;
    const work = new Work();
    const a = await member(role, 'A', names, work, ttl);
    await until('A to take every name', () => work.of('A').length === 6);
    const url = (setup as { url: string }).url;
    const b = await join(url, role, 'B', names, work, ttl, { outageGraceMs: grace });
    await until('A and B to hold 3 each', () => work.of('A').length === 3 && work.of('B').length === 3);
    assert.ok(work.stops.filter((s) => s.member === 'A').every((s) => s.why === 'released'));
    assert.deepEqual([...a.pool.held(), ...b.pool.held()].sort(), names);
    assert.deepEqual(work.overlaps, [], 'no name worked on by two members at once');
    // B is cut off from Redis for good: A takes its names once their ttl has passed; B, which cannot know whether
    // Redis is down for everyone, goes on with them for its outage grace, then stops them.
    const cut = Date.now();
    b.bus.redis.disconnect();
    await until('A to take B’s names', () => a.pool.held().length === 6, ttl * 4 + 2000);
    const took = Date.now() - cut;
    assert.ok(took <= ttl + ttl / 5 + 1000, `taken over ${took} ms after B was cut off (ttl ${ttl} ms)`);
    await until('B to stop its names', () => b.pool.held().length === 0, ttl + grace + 2000);
    const stopped = Date.now() - cut;
    assert.ok(stopped >= grace, `B stopped its names ${stopped} ms after it was cut off (grace ${grace} ms)`);
    assert.deepEqual(
      work.stops.filter((s) => s.member === 'B').map((s) => s.why),
      ['lost', 'lost', 'lost'],
    );
    assert.equal(work.of('A').length, 6);
  });

  it('members started together take their shares at once: none takes every name and hands most on', async () => {
    const role = `together-${process.pid}-${Date.now()}`;
    const work = new Work();
    await Promise.all(['A', 'B', 'C'].map((m) => member(role, m, names, work, 1000)));
    await until('each member to hold 2', () => ['A', 'B', 'C'].every((m) => work.of(m).length === 2));
    await sleep(600); // a few rounds more
    assert.deepEqual(work.stops, [], 'names handed from one member to another');
    assert.deepEqual(work.overlaps, []);
  });

  it('keeps the names it works on while the list of names misses them (a registry being refilled)', async () => {
    const role = `pool-list-${process.pid}-${Date.now()}`;
    const work = new Work();
    const listed = ['p', 'q'];
    const url = (setup as { url: string }).url;
    const bus = await connectBus(url, { commandTimeoutMs: 300 });
    buses.push(bus);
    const pool = new LeasePool({
      redis: bus.redis,
      role,
      owner: 'A',
      ttlMs: 400,
      keyOf: (n) => `byner:test:lease:${role}:{${n}}`,
      names: () => listed,
      start: async (name) => work.start('A', name),
      stop: async (name, why) => work.stop('A', name, why),
    });
    pools.push(pool);
    pool.start();
    await until('A to take both', () => work.of('A').length === 2);
    listed.splice(0); // e.g. Redis lost the registry of streams and the serve processes have not refilled it yet
    await sleep(600); // several rounds
    assert.deepEqual(work.stops, []);
    assert.deepEqual(pool.held(), ['p', 'q']);
  });

  it('a start that fails gives the lease back and is tried again later', async () => {
    const role = `pool-fail-${process.pid}-${Date.now()}`;
    const work = new Work();
    let failures = 0;
    const a = await member(role, 'A', ['x', 'y'], work, 500, (name) => name === 'x' && failures++ < 2);
    await until('A to work on both', () => work.of('A').length === 2, 5000);
    assert.equal(failures, 3);
    assert.deepEqual(a.pool.held(), ['x', 'y']);
    await a.pool.close();
    assert.deepEqual(
      work.stops.map((s) => s.why),
      ['closing', 'closing'],
    );
  });
});

describe('lease pools while Redis restarts', async () => {
  const server = await ownRedisForTests();
  const skip = 'skip' in server ? server.skip : false;
  const pools: LeasePool[] = [];
  const buses: Bus[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close().catch(() => {})));
    await Promise.all(buses.map((b) => b.close()));
    if (!('skip' in server)) await server.stop();
  });

  // The names to share: a fixed list, or (as `infer --all-streams` reads them) a registry in Redis that the members
  // of another role refill in their lease rounds (as `serve --bus` does), lost with Redis' data at the restart.
  const NAMES = ['s0', 's1', 's2', 's3', 's4', 's5'];
  const REGISTRY = 'byner:test:registry';
  for (const [list, fromRegistry] of [
    ['a fixed list of names', false],
    ['names from a registry refilled after the restart', true],
  ] as const) {
    it(`every member goes on with its names through the outage and takes their leases again, none stopped (${list})`, {
      skip,
    }, async () => {
      const redis = server as RedisServer;
      const work = new Work();
      const ttl = 500;
      const role = `restart-${fromRegistry}`;
      const local: LeasePool[] = [];
      if (fromRegistry) {
        const bus = await connectBus(redis.url, { commandTimeoutMs: 200, maxReconnectDelayMs: 100 });
        buses.push(bus);
        const registrar = new LeasePool({
          redis: bus.redis,
          role: `${role}-registrar`,
          owner: 'R',
          ttlMs: ttl,
          keyOf: (n) => `byner:test:lease:${role}-registrar:{${n}}`,
          names: async () => {
            await bus.redis.sadd(REGISTRY, ...NAMES);
            return NAMES;
          },
          start: async () => {},
          stop: async () => {},
        });
        pools.push(registrar);
        local.push(registrar);
        registrar.start();
        await until('the registry filled', async () => (await bus.redis.scard(REGISTRY)) === NAMES.length);
      }
      {
        for (const owner of ['A', 'B']) {
          const bus = await connectBus(redis.url, { commandTimeoutMs: 200, maxReconnectDelayMs: 100 });
          buses.push(bus);
          const pool = new LeasePool({
            redis: bus.redis,
            role,
            owner,
            ttlMs: ttl,
            keyOf: (n) => `byner:test:lease:${role}:{${n}}`,
            names: fromRegistry ? () => bus.redis.smembers(REGISTRY) : () => NAMES,
            start: async (name) => work.start(owner, name),
            stop: async (name, why) => work.stop(owner, name, why),
          });
          pools.push(pool);
          local.push(pool);
          pool.start();
        }
        const [a, b] = local.slice(-2);
        await until('3 names each', () => work.of('A').length === 3 && work.of('B').length === 3);
        const held = () => ({ A: work.of('A').sort(), B: work.of('B').sort() });
        const before = held();
        const stopsBefore = work.stops.length;
        await redis.crash();
        await sleep(ttl * 3); // every lease runs out meanwhile
        assert.deepEqual([...a.held(), ...b.held()].sort(), NAMES);
        await redis.restart(); // empty: no persistence
        await until(
          'the leases to be taken again',
          () => a.stats.retaken === 3 && b.stats.retaken === 3,
          10_000,
        );
        await sleep(ttl * 3); // rounds with the names and members refilled
        assert.deepEqual(work.stops.slice(stopsBefore), [], 'nothing stopped');
        assert.deepEqual(held(), before);
        assert.deepEqual(work.overlaps, []);
        await Promise.all(local.map((p) => p.close()));
      }
    });
  }

  it('work whose ttl passed during an outage is still owned before the expiry timer runs (a busy event loop)', {
    skip,
  }, async () => {
    const redis = server as RedisServer;
    const ttl = 300;
    const bus = await connectBus(redis.url, { commandTimeoutMs: 200, maxReconnectDelayMs: 100 });
    buses.push(bus);
    const work = new Work();
    const pool = new LeasePool({
      redis: bus.redis,
      role: 'busy',
      owner: 'A',
      ttlMs: ttl,
      keyOf: (n) => `byner:test:lease:busy:{${n}}`,
      names: () => ['x'],
      start: async (name) => work.start('A', name),
      stop: async (name, why) => work.stop('A', name, why),
    });
    pools.push(pool);
    pool.start();
    await until('A to work on x', () => work.of('A').length === 1);
    await redis.crash();
    await until('the connection to notice', () => bus.redis.status !== 'ready');
    // The event loop is busy past the ttl: the lease's expiry timer has not run when the work asks.
    const end = Date.now() + ttl * 2;
    while (Date.now() < end) {}
    assert.equal(pool.owns('x'), true, 'still owned: nobody can take it while Redis is unreachable');
    await redis.restart();
    await until('the lease taken again', () => pool.stats.retaken === 1, 10_000);
    assert.deepEqual(work.stops, []);
    await pool.close();
  });
});
