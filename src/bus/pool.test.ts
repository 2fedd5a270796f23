// Lease pools against a real redis-server: names shared out fairly among members, never worked on by two at once;
// a member cut off from Redis loses its names after the ttl and the others take them over; a member joining gets
// its share from the others; a start that fails gives the lease back.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { redisUrlForTests } from '../../test/helpers/redis.js';
import { LeasePool, type StopReason } from './pool.js';
import { type Bus, connectBus } from './redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

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
    const bus = await connectBus((setup as { url: string }).url, { commandTimeoutMs: 300 });
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
    });
    pools.push(pool);
    pool.start();
    return { bus, pool };
  }

  const names = ['s0', 's1', 's2', 's3', 's4', 's5'];

  it('shares the names out fairly, gives a joining member its share, and takes a cut-off member’s over after the ttl', async () => {
    const role = `pool-${process.pid}-${Date.now()}`;
    const ttl = 600;
    const work = new Work();
    const a = await member(role, 'A', names, work, ttl);
    await until('A to take every name', () => work.of('A').length === 6);
    const b = await member(role, 'B', names, work, ttl);
    await until('A and B to hold 3 each', () => work.of('A').length === 3 && work.of('B').length === 3);
    assert.ok(work.stops.filter((s) => s.member === 'A').every((s) => s.why === 'released'));
    assert.deepEqual([...a.pool.held(), ...b.pool.held()].sort(), names);
    // B is cut off from Redis: it cannot renew; A takes its names once their ttl has passed.
    const cut = Date.now();
    b.bus.redis.disconnect();
    await until('A to hold every name again', () => work.of('A').length === 6, ttl * 4 + 2000);
    const took = Date.now() - cut;
    assert.ok(took <= ttl + ttl / 5 + 1000, `taken over ${took} ms after B was cut off (ttl ${ttl} ms)`);
    assert.deepEqual(
      work.stops.filter((s) => s.member === 'B').map((s) => s.why),
      ['lost', 'lost', 'lost'],
    );
    assert.deepEqual(work.overlaps, [], 'no name worked on by two members at once');
    assert.equal(b.pool.held().length, 0);
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
