// The lease's failure paths against a real redis-server: two contenders, release by a non-owner, the holder dying
// (kill -9) and hanging (SIGSTOP past the ttl), another owner found at renewal, and Redis unreachable while held.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../../test/helpers/cli.js';
import { ownRedisForTests, type RedisServer, redisUrlForTests } from '../../test/helpers/redis.js';
import { sleep, waitFor as until } from '../../test/live-helpers.js';
import { Lease, type LostReason, leaseOwner, releaseLease, tryAcquire } from './lease.js';
import { type Bus, connectBus } from './redis.js';

const unique = (what: string) => `byner:test:${what}:${process.pid}:${Math.random().toString(36).slice(2)}`;

interface Holder {
  child: ChildProcess;
  events: { event: string; why?: string; held?: boolean; at: number }[];
  exited: Promise<void>;
}

function spawnHolder(url: string, key: string, owner: string, ttlMs: number): Holder {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'lease-holder.ts'), url, key, owner, String(ttlMs)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const h: Holder = { child, events: [], exited: new Promise((r) => child.once('exit', () => r())) };
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') h.events.push(JSON.parse(line));
  });
  return h;
}

const setup = await redisUrlForTests();

describe('bus leases', { skip: 'skip' in setup ? setup.skip : false }, () => {
  let bus: Bus;
  const holders: Holder[] = [];
  before(async () => {
    if ('skip' in setup) return;
    bus = await connectBus(setup.url);
  });
  after(async () => {
    for (const h of holders) {
      h.child.kill('SIGKILL');
      await h.exited;
    }
    await bus?.close();
    if (!('skip' in setup)) await setup.stop();
  });

  it('two contenders at once: exactly one wins', async () => {
    if ('skip' in setup) return;
    const key = unique('contenders');
    const others = await Promise.all(Array.from({ length: 7 }, () => connectBus(setup.url)));
    try {
      const conns = [bus, ...others];
      for (let round = 0; round < 5; round++) {
        const k = `${key}:${round}`;
        const won = await Promise.all(
          conns.map((b, i) => Lease.acquire(b.redis, k, `c${i}`, { ttlMs: 5000 })),
        );
        const winners = won.filter((l) => l !== null);
        assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
        assert.equal(await leaseOwner(bus.redis, k), winners[0]?.owner);
        await Promise.all(winners.map((l) => l?.release()));
      }
    } finally {
      await Promise.all(others.map((b) => b.close()));
    }
  });

  it('release by a non-owner does nothing; the owner releases and another takes it at once', async () => {
    if ('skip' in setup) return;
    const key = unique('release');
    const a = await Lease.acquire(bus.redis, key, 'A', { ttlMs: 5000 });
    assert.ok(a);
    assert.equal(await releaseLease(bus.redis, key, 'B'), false);
    assert.equal(await leaseOwner(bus.redis, key), 'A');
    assert.equal(await tryAcquire(bus.redis, key, 'B', 5000), false);
    await a.release();
    assert.equal(a.held, false);
    assert.equal(await leaseOwner(bus.redis, key), null);
    assert.equal(await tryAcquire(bus.redis, key, 'B', 5000), true);
    await releaseLease(bus.redis, key, 'B');
  });

  it('is renewed while held: nobody else takes it over several ttls', async () => {
    if ('skip' in setup) return;
    const key = unique('renew');
    const lost: LostReason[] = [];
    const a = await Lease.acquire(bus.redis, key, 'A', { ttlMs: 400, onLost: (why) => lost.push(why) });
    assert.ok(a);
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      assert.equal(await tryAcquire(bus.redis, key, 'B', 400), false);
      await sleep(50);
    }
    assert.deepEqual(lost, []);
    assert.equal(a.held, true);
    await a.release();
  });

  it('a renewal that finds another owner loses the lease (onLost "taken") and leaves the other one', async () => {
    if ('skip' in setup) return;
    const key = unique('taken');
    const lost: LostReason[] = [];
    const a = await Lease.acquire(bus.redis, key, 'A', { ttlMs: 600, onLost: (why) => lost.push(why) });
    assert.ok(a);
    await bus.redis.set(key, 'B', 'PX', 5000); // as if A's key had expired and B had taken it
    await until('A to notice', () => lost.length > 0, 3000);
    assert.deepEqual(lost, ['taken']);
    assert.equal(a.held, false);
    await a.release(); // does not delete B's
    assert.equal(await leaseOwner(bus.redis, key), 'B');
  });

  it('the holder dies (kill -9): another takes the lease once its ttl has passed, not before', async () => {
    if ('skip' in setup) return;
    const key = unique('dies');
    const ttl = 1000;
    const h = spawnHolder(setup.url, key, 'holder', ttl);
    holders.push(h);
    await until('the holder to take the lease', () => h.events.some((e) => e.event === 'acquired'), 30_000);
    await sleep(ttl); // a few renewals
    h.child.kill('SIGKILL');
    await h.exited;
    const killed = Date.now();
    await until('the lease to be free', () => tryAcquire(bus.redis, key, 'next', 5000), ttl + 3000);
    const took = Date.now() - killed;
    // Renewed every ttl/3: the key expires between 2/3 ttl and ttl after the last renewal before the kill.
    assert.ok(took >= (ttl * 2) / 3 - 100, `taken ${took} ms after the kill: before the ttl could pass`);
    assert.ok(took <= ttl + 500, `taken ${took} ms after the kill (ttl ${ttl} ms)`);
    await releaseLease(bus.redis, key, 'next');
  });

  it('the holder hangs past the ttl (SIGSTOP): another takes it, and the holder, resumed, knows it lost it', async () => {
    if ('skip' in setup) return;
    const key = unique('hangs');
    const ttl = 800;
    const h = spawnHolder(setup.url, key, 'holder', ttl);
    holders.push(h);
    await until('the holder to take the lease', () => h.events.some((e) => e.event === 'acquired'), 30_000);
    h.child.kill('SIGSTOP');
    const stopped = Date.now();
    await until('the lease to be free', () => tryAcquire(bus.redis, key, 'next', 60_000), ttl + 3000);
    assert.ok(Date.now() - stopped >= (ttl * 2) / 3 - 100);
    const continued = Date.now();
    h.child.kill('SIGCONT');
    const resumed = () => h.events.find((e) => e.event === 'alive' && e.at >= continued);
    await until('the holder to report the loss', () => h.events.some((e) => e.event === 'lost'), 10_000);
    await until('the holder to report its resume', () => resumed() !== undefined, 10_000);
    const lost = h.events.find((e) => e.event === 'lost');
    assert.ok(lost?.why === 'expired' || lost?.why === 'taken', JSON.stringify(lost));
    assert.equal(lost?.held, false);
    assert.equal(resumed()?.held, false);
    await sleep(ttl); // its late renewals, if any, neither extended nor took the new owner's lease
    assert.equal(await leaseOwner(bus.redis, key), 'next');
    await releaseLease(bus.redis, key, 'next');
  });
});

describe('bus leases while Redis is unreachable', async () => {
  const server = await ownRedisForTests();
  const skip = 'skip' in server ? server.skip : false;
  after(async () => {
    if (!('skip' in server)) await server.stop();
  });

  it('a holder that cannot renew loses its lease when the ttl has passed (onLost "expired"), not before', {
    skip,
  }, async () => {
    const redis = server as RedisServer;
    const bus = await connectBus(redis.url, { commandTimeoutMs: 200 });
    try {
      const ttl = 900;
      const lost: { why: LostReason; at: number }[] = [];
      const a = await Lease.acquire(bus.redis, unique('unreachable'), 'A', {
        ttlMs: ttl,
        onLost: (why) => lost.push({ why, at: Date.now() }),
      });
      assert.ok(a);
      await sleep(ttl / 2);
      await redis.crash();
      const down = Date.now();
      await until('the holder to give the lease up', () => lost.length > 0, ttl + 3000);
      const after = lost[0].at - down;
      assert.equal(lost[0].why, 'expired');
      assert.ok(after >= (ttl * 2) / 3 - 150, `lost ${after} ms after Redis went down`);
      assert.ok(after <= ttl + 300, `lost ${after} ms after Redis went down (ttl ${ttl} ms)`);
      assert.equal(a.held, false);
      assert.ok(a.failedRenewals >= 1);
      await a.release(); // Redis still down: returns, the key expires by itself
    } finally {
      await bus.close();
    }
  });
});
