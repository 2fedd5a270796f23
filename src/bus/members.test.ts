// Rosters against a real redis-server: names refreshed together stay live for their ttl, expired ones drop out, and
// a refresh of thousands of names at once (a serve process's stream registry) is a few ZADDs, not one per name.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ownRedisForTests } from '../../test/helpers/redis.js';
import { sleep } from '../../test/live-helpers.js';
import { Roster } from './members.js';
import { type Bus, connectBus } from './redis.js';

// Its own redis-server: the test counts ZADD calls, which other test files on a shared Redis would add to.
const setup = await ownRedisForTests();

describe('rosters', { skip: 'skip' in setup ? setup.skip : false }, () => {
  let bus: Bus | undefined;
  after(async () => {
    await bus?.close();
    if (!('skip' in setup)) await setup.stop();
  });

  it('refreshes 2,501 names in 6 ZADDs; expired names drop out, live ones stay', async () => {
    bus = await connectBus((setup as { url: string }).url);
    const key = `byner:test:roster:${process.pid}:${Date.now()}`;
    const roster = new Roster(bus.redis, key);
    const names = Array.from({ length: 2501 }, (_, i) => `s${i}`);
    const zadds = async () =>
      Number(/cmdstat_zadd:calls=(\d+)/.exec(await (bus as Bus).redis.info('commandstats'))?.[1] ?? 0);
    const before = await zadds();
    assert.equal(await roster.touch(names, 60_000), 2501);
    assert.equal((await zadds()) - before, 6);
    assert.deepEqual(await roster.live(), [...names].sort());
    assert.equal(await roster.touch(['short'], 200), 2502);
    await sleep(400);
    assert.equal(await roster.touch([], 60_000), 2501, 'the expired name dropped out');
    assert.ok(!(await roster.live()).includes('short'));
    await bus.redis.del(key);
  });
});
