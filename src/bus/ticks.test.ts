// The tick log, its appender and its follower against a real redis-server (the store beyond the log is an embedded
// store): seq IDs refusing duplicates, the cap, history beyond the cap, holes filled from the store, and a Redis
// outage waited out by the appender (held, then appended in order) and the follower (the gap counted).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ownRedisForTests, type RedisServer, redisUrlForTests } from '../../test/helpers/redis.js';
import { sleep, waitFor as until } from '../../test/live-helpers.js';
import { ticksFromPrices } from '../indicators/ticks.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { tickToJson } from '../ticks/json.js';
import { LogAppender } from './appender.js';
import { LogFollower } from './follow.js';
import { TickHistory } from './history.js';
import { type Bus, connectBus } from './redis.js';
import { type LogEntry, TickLog } from './ticks.js';

const unique = (what: string) => `t-${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** `n` ticks of `stream` from seq `from`, stored in `store`, and their log entries. */
async function storeTicks(store: Store, stream: string, n: number): Promise<LogEntry[]> {
  const ticks = ticksFromPrices(
    Array.from({ length: n }, (_, i) => (i * 7) % 13),
    { start: 0, stream, origin: new Date(Date.UTC(2026, 0, 1)) },
  );
  await (await store.writeTicks('historical_data', ticks)).stored();
  return ticks.map((t) => ({ seq: t.seq, data: JSON.stringify(tickToJson(t)) }));
}

/** A follower target that collects what it is given. */
function collector(start = -1) {
  const got: LogEntry[] = [];
  return {
    got,
    target: {
      cursor: () => got.at(-1)?.seq ?? start,
      deliver: async (entries: LogEntry[]) => {
        got.push(...entries);
      },
    },
  };
}

const setup = await redisUrlForTests();

describe('the tick log', { skip: 'skip' in setup ? setup.skip : false }, () => {
  let bus: Bus;
  let store: Store;
  let dir: string;
  before(async () => {
    if ('skip' in setup) return;
    bus = await connectBus(setup.url);
    dir = mkdtempSync(join(tmpdir(), 'byner-ticklog-'));
    store = await openStore({ dataDir: dir });
  });
  after(async () => {
    await bus?.close();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (!('skip' in setup)) await setup.stop();
  });

  it('appends by seq and refuses a seq at or below its top: nothing is logged twice', async () => {
    const log = new TickLog(bus.redis, 1000);
    const s = unique('dup');
    const entries = Array.from({ length: 10 }, (_, i) => ({ seq: i, data: `{"seq":${i}}` }));
    assert.deepEqual(await log.append(s, entries.slice(0, 6)), { added: 6, refused: 0 });
    assert.deepEqual(await log.append(s, entries.slice(4)), { added: 4, refused: 2 });
    assert.deepEqual(await log.append(s, [entries[3]]), { added: 0, refused: 1 });
    assert.deepEqual(
      (await log.after(s, -1, 100)).map((e) => e.seq),
      entries.map((e) => e.seq),
    );
    assert.deepEqual(await log.after(s, 7, 100), entries.slice(8));
    assert.deepEqual(await log.range(s, 2, 4), entries.slice(2, 5));
    assert.equal(await log.firstSeq(s), 0);
    assert.equal(await log.lastSeq(s), 9);
    assert.equal(await log.lastSeq(unique('empty')), null);
  });

  it('keeps about its cap; the history beyond it comes from the store, consecutive', async () => {
    const s = unique('cap');
    const log = new TickLog(bus.redis, 500);
    const entries = await storeTicks(store, s, 3000);
    for (let i = 0; i < entries.length; i += 250) await log.append(s, entries.slice(i, i + 250));
    const first = (await log.firstSeq(s)) as number;
    assert.ok(first > 2000 && first <= 2500, `first seq kept ${first}`);
    const history = new TickHistory(log, store);
    const old = await history.after(s, 99, 50);
    assert.equal(old.source, 'store');
    assert.deepEqual(old.entries, entries.slice(100, 150));
    const edge = await history.after(s, first - 20, 100);
    assert.equal(edge.source, 'store');
    assert.deepEqual(edge.entries, entries.slice(first - 19, first), 'the store up to where the log begins');
    const recent = await history.after(s, 2899, 1000);
    assert.equal(recent.source, 'log');
    assert.deepEqual(recent.entries, entries.slice(2900));
  });

  it('a follower hands on consecutive entries, filling holes of the log from the store', async () => {
    const s = unique('holes');
    const log = new TickLog(bus.redis, 10_000);
    const entries = await storeTicks(store, s, 200);
    await log.append(s, entries.slice(0, 50));
    await log.append(s, entries.slice(150, 170)); // 50..149 never reached the log (a producer died between)
    const follower = new LogFollower({ bus, history: new TickHistory(log, store), blockMs: 100 });
    const c = collector();
    follower.add(s, c.target);
    try {
      await until('the first 170', () => c.got.length >= 170);
      await log.append(s, entries.slice(170));
      await until('all 200', () => c.got.length >= 200);
      assert.deepEqual(c.got, entries);
      assert.equal(follower.stats.fromStore, 100);
      assert.equal(follower.stats.unfilled, 0);
    } finally {
      await follower.close();
    }
  });

  it('a hole neither the log nor the store has is skipped, logged and counted', async () => {
    const s = unique('lost');
    const log = new TickLog(bus.redis, 10_000);
    const entries = Array.from({ length: 20 }, (_, i) => ({ seq: i, data: `{"seq":${i}}` }));
    await log.append(s, [...entries.slice(0, 5), ...entries.slice(15)]);
    const follower = new LogFollower({ bus, history: new TickHistory(log, store), blockMs: 100 });
    const c = collector();
    follower.add(s, c.target);
    try {
      await until('the entries', () => c.got.length >= 10);
      assert.deepEqual(
        c.got.map((e) => e.seq),
        [0, 1, 2, 3, 4, 15, 16, 17, 18, 19],
      );
      assert.equal(follower.stats.unfilled, 1);
    } finally {
      await follower.close();
    }
  });
});

describe('the tick log while Redis is down', async () => {
  const server = await ownRedisForTests();
  const skip = 'skip' in server ? server.skip : false;
  after(async () => {
    if (!('skip' in server)) await server.stop();
  });

  it('holds appends (stored already) and appends them in order when Redis is back; the follower records the gap', {
    skip,
  }, async () => {
    const redis = server as RedisServer;
    const dir = mkdtempSync(join(tmpdir(), 'byner-ticklog-outage-'));
    const store = await openStore({ dataDir: dir });
    const bus = await connectBus(redis.url, { commandTimeoutMs: 300, maxReconnectDelayMs: 100 });
    const log = new TickLog(bus.redis, 10_000);
    const s = unique('outage');
    const entries = await storeTicks(store, s, 300);
    const appender = new LogAppender(log, s);
    const follower = new LogFollower({ bus, history: new TickHistory(log, store), blockMs: 100 });
    const c = collector();
    follower.add(s, c.target);
    try {
      await appender.append(entries.slice(0, 100));
      await until('the first 100', () => c.got.length >= 100);
      await redis.crash();
      const down = Date.now();
      // Appending goes on while Redis is down: the entries are held, not lost.
      await appender.append(entries.slice(100, 200));
      await sleep(1000);
      assert.ok(appender.stats.retries >= 1);
      assert.ok(appender.stats.heldBytes > 0);
      await redis.restart(); // empty: no persistence
      await appender.append(entries.slice(200));
      assert.equal(await appender.settled(10_000), true);
      await until('all 300', () => c.got.length >= 300, 15_000);
      assert.deepEqual(c.got, entries);
      assert.equal(appender.stats.heldBytes, 0);
      assert.equal(follower.stats.outages, 1);
      assert.ok(follower.stats.outageMs >= 900, `gap ${follower.stats.outageMs} ms`);
      assert.ok(follower.stats.outageMs <= Date.now() - down, `gap ${follower.stats.outageMs} ms`);
      // Redis lost the first 100 (no persistence); the log holds what was appended after it came back.
      assert.equal(await log.firstSeq(s), 100);
    } finally {
      await follower.close();
      appender.close();
      await bus.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
