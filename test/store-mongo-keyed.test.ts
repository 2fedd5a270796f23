// The MongoDB store's keyed reads: a stream's start (its last seq, a window of ticks, its latest forecasts) asks
// only `_id` lookups, the one query FerretDB 1.x does not answer by reading the whole collection; and the answers
// stay right when the stream heads lag, are missing, or point at ticks that are gone, and for documents stored
// with ObjectId `_id`s. Against MONGODB_URI or a FerretDB started here; skipped loudly without either.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Collection, type Document, MongoClient, ObjectId } from 'mongodb';
import { makeStreamState, makeTick, makeTicks } from '../src/store/contract.js';
import { gallop, openMongoStore } from '../src/store/mongo/mongo-store.js';
import type { Forecast } from '../src/store/types.js';
import { mongoUriForTests } from './helpers/ferretdb.js';

const server = await mongoUriForTests();
const skip = 'skip' in server ? server.skip : false;
if (skip) console.error(`mongodb keyed reads: skipped (${skip})`);
const admin = 'skip' in server ? undefined : new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
before(async () => admin?.connect());
after(async () => {
  await admin?.close();
  if (!('skip' in server)) await server.stop();
});

const forecast = (seq: number, model_version = 'v1', stream = 's1'): Forecast => ({
  timestamp: new Date(1_700_000_000_000 + seq * 1000),
  input_sequence: Array.from({ length: 3 }, (_, r) => [r, 1, 2, 3, 4, 5, seq]),
  forecast: [1, 2, 3, 4, seq],
  model_version,
  seq,
  stream,
});

/** A store on `dbName` of the test server. */
const openOn = (dbName: string) =>
  openMongoStore({ uri: (server as { uri: string }).uri, dbName, serverSelectionTimeoutMS: 5000 });
const freshDbName = () => `byner_keyed_${randomBytes(4).toString('hex')}`;

async function withStore(
  fn: (store: Awaited<ReturnType<typeof openMongoStore>>, db: string) => Promise<void>,
) {
  if (admin === undefined || 'skip' in server) return;
  const dbName = freshDbName();
  const store = await openOn(dbName);
  try {
    await fn(store, dbName);
  } finally {
    await store.close();
    await admin.db(dbName).dropDatabase();
  }
}

/** Records the filters of every find (findOne too) and aggregate any client sends while `fn` runs. */
async function queriesDuring(fn: () => Promise<void>): Promise<{ collection: string; filter: Document }[]> {
  const seen: { collection: string; filter: Document }[] = [];
  const find = Collection.prototype.find;
  const aggregate = Collection.prototype.aggregate;
  const countDocuments = Collection.prototype.countDocuments;
  Collection.prototype.find = function (this: Collection, filter?: Document, ...rest: unknown[]) {
    seen.push({ collection: this.collectionName, filter: filter ?? {} });
    return (find as (...a: unknown[]) => unknown).call(this, filter, ...rest);
  } as typeof find;
  Collection.prototype.aggregate = function (this: Collection, pipeline?: Document[], ...rest: unknown[]) {
    seen.push({ collection: this.collectionName, filter: { $aggregate: pipeline } });
    return (aggregate as (...a: unknown[]) => unknown).call(this, pipeline, ...rest);
  } as typeof aggregate;
  Collection.prototype.countDocuments = function (this: Collection, filter?: Document, ...rest: unknown[]) {
    seen.push({ collection: this.collectionName, filter: { $count: filter } });
    return (countDocuments as (...a: unknown[]) => unknown).call(this, filter, ...rest);
  } as typeof countDocuments;
  try {
    await fn();
  } finally {
    Collection.prototype.find = find;
    Collection.prototype.aggregate = aggregate;
    Collection.prototype.countDocuments = countDocuments;
  }
  return seen;
}

const byIdOnly = (f: Document) => Object.keys(f).length === 1 && typeof f._id === 'string';

describe('gallop: the last stored seq past a head, a few lookups at a time', () => {
  it('finds it for every lag up to 3,000, in rounds of `width` lookups at once', async () => {
    for (const width of [1, 2, 4, 8]) {
      let worst = 0;
      for (let lag = 0; lag <= 3000; lag += lag < 300 ? 1 : 37) {
        const start = 1000;
        const last = start + lag;
        // A round: lookups asked while none of them is answered yet (they answer on the next turn of the loop).
        let rounds = 0;
        let pending = 0;
        const counted = (n: number) => {
          if (pending === 0) rounds += 1;
          pending += 1;
          return new Promise<boolean>((resolve) =>
            setImmediate(() => {
              pending -= 1;
              resolve(n >= start && n <= last);
            }),
          );
        };
        assert.equal(await gallop(start, counted, width), last, `width ${width}, lag ${lag}`);
        worst = Math.max(worst, rounds);
      }
      process.stdout.write(`# gallop width ${width}: at most ${worst} rounds\n`);
      const bound = { 1: 24, 2: 14, 4: 9, 8: 6 }[width] as number;
      assert.ok(worst <= bound, `width ${width}: ${worst} rounds for lags up to 3,000 (want ≤ ${bound})`);
    }
  });
});

describe('mongodb keyed reads', { skip, timeout: 120_000 }, () => {
  it("a stream's start reads by _id only: last seq, window, ticks after, last ticks, latest forecasts", async () => {
    await withStore(async (store) => {
      for (const stream of ['s1', 's2', 's3']) {
        for (let i = 0; i < 2000; i += 500)
          await store.writeTicks('inf_historical_db', makeTicks(i, 500, stream));
        await store.writeForecasts(Array.from({ length: 100 }, (_, i) => forecast(1900 + i, 'v1', stream)));
      }
      await store.flush();
      let answers: unknown[] = [];
      const queries = await queriesDuring(async () => {
        answers = [
          await store.lastSeq('inf_historical_db', 's2'),
          (await store.ticksRange('inf_historical_db', 's2', 1940, 1999)).map((t) => t.seq),
          (await store.ticksAfter('inf_historical_db', 's2', 1989, 1000)).map((t) => t.seq),
          (await store.lastTicks('inf_historical_db', 's2', 3)).map((t) => t.seq),
          (await store.recentForecasts('s2', 5, 'v1')).map((f) => [f.stream, f.seq, f.forecast[4]]),
        ];
      });
      assert.deepEqual(answers, [
        1999,
        Array.from({ length: 60 }, (_, i) => 1940 + i),
        Array.from({ length: 10 }, (_, i) => 1990 + i),
        [1997, 1998, 1999],
        [1995, 1996, 1997, 1998, 1999].map((seq) => ['s2', seq, seq]),
      ]);
      const scans = queries.filter((q) => !byIdOnly(q.filter));
      assert.deepEqual(scans, [], 'every query a lookup by _id');
      assert.ok(queries.length > 0);
    });
  });

  it('finds the last seq past a lagging head, and without a head or with a head whose tick is gone', async () => {
    await withStore(async (store, dbName) => {
      if (admin === undefined) return;
      await store.writeTicks('inf_historical_db', makeTicks(0, 300, 's1'));
      await store.flush();
      const heads = admin.db(dbName).collection<{ _id: string; seq: number }>('stream_heads');
      assert.deepEqual(await heads.findOne({ _id: 'inf_historical_db/s1' }), {
        _id: 'inf_historical_db/s1',
        seq: 299,
      });
      // A process killed between storing ticks and raising the head: the head lags.
      for (const lag of [1, 2, 37, 299]) {
        await heads.updateOne({ _id: 'inf_historical_db/s1' }, { $set: { seq: 299 - lag } });
        assert.equal(await store.lastSeq('inf_historical_db', 's1'), 299, `head ${lag} behind`);
        assert.deepEqual(
          (await store.lastTicks('inf_historical_db', 's1', 2)).map((t) => t.seq),
          [298, 299],
        );
      }
      // A stream without a head in a collection that held documents before heads existed: the (stream, seq) query.
      await heads.deleteMany({ _id: { $in: ['inf_historical_db/s1', 'keyed/inf_historical_db'] } });
      const older = await openOn(dbName);
      try {
        assert.equal(await older.lastSeq('inf_historical_db', 's1'), 299, 'no head');
        assert.equal(await older.lastSeq('inf_historical_db', 's2'), null);
      } finally {
        await older.close();
      }
      // In a collection empty when first opened, a stream without a head has no ticks (no query needed).
      assert.equal(await store.lastSeq('inf_historical_db', 's2'), null);
      // The ticks dropped, the head kept: the stream is empty.
      await store.writeTicks('inf_historical_db', [makeTick(300, 's1')]);
      await store.flush();
      await admin.db(dbName).collection('inf_historical_db').deleteMany({ stream: 's1' });
      assert.equal(await store.lastSeq('inf_historical_db', 's1'), null);
      assert.deepEqual(await store.lastTicks('inf_historical_db', 's1', 5), []);
      assert.deepEqual(await store.ticksAfter('inf_historical_db', 's1', -1, 5), []);
    });
  });

  it('reads ticks stored with ObjectId _ids (before keyed _ids), also mixed with keyed ones', async () => {
    await withStore(async (store, dbName) => {
      if (admin === undefined) return;
      // Stored before keyed _ids: the collection was not empty when a store with heads first opened it.
      await store.close();
      await admin.db(dbName).collection('stream_heads').deleteMany({});
      const old = makeTicks(0, 50, 's1').map((t) => ({ _id: new ObjectId(), ...t }));
      await admin.db(dbName).collection('historical_data').insertMany(old);
      const again = await openOn(dbName);
      try {
        assert.equal(await again.lastSeq('historical_data', 's1'), 49);
        assert.deepEqual(await again.ticksRange('historical_data', 's1', 10, 12), makeTicks(10, 3, 's1'));
        await again.writeTicks('historical_data', makeTicks(50, 10, 's1'));
        assert.equal(await again.lastSeq('historical_data', 's1'), 59);
        assert.deepEqual(await again.ticksRange('historical_data', 's1', 45, 54), makeTicks(45, 10, 's1'));
        assert.deepEqual(await again.lastTicks('historical_data', 's1', 15), makeTicks(45, 15, 's1'));
        assert.deepEqual(await again.ticksAfter('historical_data', 's1', 40, 5), makeTicks(41, 5, 's1'));
        assert.deepEqual(await again.ticksAfter('historical_data', 's1', 55, 50), makeTicks(56, 4, 's1'));
      } finally {
        await again.close();
      }
    });
  });

  it('raises a head at most every 10 s, reads past it, and writes every head at close (200 streams)', async () => {
    if (admin === undefined || 'skip' in server) return;
    const dbName = freshDbName();
    const store = await openOn(dbName);
    const heads = admin.db(dbName).collection<{ _id: string; seq: number }>('stream_heads');
    const streams = Array.from({ length: 200 }, (_, i) => `m${i}`);
    try {
      await store.writeTicks('inf_historical_db', makeTicks(0, 10, 's1'));
      await store.writeForecasts(Array.from({ length: 10 }, (_, i) => forecast(i)));
      await store.flush();
      await store.writeTicks('inf_historical_db', makeTicks(10, 10, 's1'));
      await store.writeForecasts(Array.from({ length: 10 }, (_, i) => forecast(10 + i)));
      await store.writeTicks(
        'inf_historical_db',
        streams.map((s) => makeTick(0, s)),
      );
      await store.flush();
      await store.writeTicks(
        'inf_historical_db',
        streams.map((s) => makeTick(1, s)),
      );
      await store.flush();
      assert.equal((await heads.findOne({ _id: 'inf_historical_db/s1' }))?.seq, 9, 'raised once so far');
      assert.equal(await store.lastSeq('inf_historical_db', 's1'), 19);
      assert.deepEqual(
        (await store.recentForecasts('s1', 3, 'v1')).map((f) => f.seq),
        [17, 18, 19],
      );
      assert.equal(await store.lastForecastSeq('s1'), 9, 'a lower bound until the head is raised');
      assert.equal(await store.lastSeq('inf_historical_db', 'm199'), 1);
    } finally {
      await store.close(); // writes the 202 heads behind: updates of existing heads, in bulk writes of 32
      const all = await heads.find({}).toArray();
      await admin.db(dbName).dropDatabase();
      assert.equal(all.filter((h) => !h._id.startsWith('keyed/')).length, 202);
      assert.deepEqual(
        all.filter((h) => h._id.startsWith('inf_historical_db/m')).map((h) => h.seq),
        Array(200).fill(1),
      );
      assert.equal(all.find((h) => h._id === 'inf_predictions/s1')?.seq, 19);
    }
  });

  it('a stream taken over: its new owner, having read the stream, stores its first ticks without placing its head', async () => {
    await withStore(async (a, dbName) => {
      await a.writeTicks('historical_data', makeTicks(0, 100, 's1'));
      await a.close(); // the previous producer, gone: its head says 99
      const b = await openOn(dbName);
      const writes: string[] = [];
      const { insertMany, bulkWrite } = Collection.prototype;
      Collection.prototype.insertMany = function (this: Collection, ...args: unknown[]) {
        writes.push(`insert ${this.collectionName}`);
        return (insertMany as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof insertMany;
      Collection.prototype.bulkWrite = function (this: Collection, ...args: unknown[]) {
        // (insertMany itself goes through bulkWrite)
        if (this.collectionName === 'stream_heads') writes.push('bulk stream_heads');
        return (bulkWrite as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof bulkWrite;
      try {
        // The producer's open: the last logged tick and the ones after it, by _id.
        assert.deepEqual(
          (await b.ticksRange('historical_data', 's1', 99, 102)).map((t) => t.seq),
          [99],
        );
        await (await b.writeTicks('historical_data', makeTicks(100, 1, 's1'))).stored();
        assert.deepEqual(writes, ['insert historical_data'], 'no head placed before the ticks');
        // The check of the check: a stream it has not read gets its head first.
        writes.length = 0;
        await (await b.writeTicks('historical_data', makeTicks(0, 1, 's2'))).stored();
        assert.deepEqual(writes.slice(0, 2), ['bulk stream_heads', 'insert historical_data']);
      } finally {
        Collection.prototype.insertMany = insertMany;
        Collection.prototype.bulkWrite = bulkWrite;
        await b.close();
      }
      const heads = admin?.db(dbName).collection<{ _id: string; seq: number }>('stream_heads');
      assert.equal((await heads?.findOne({ _id: 'historical_data/s1' }))?.seq, 100, 'raised at close');
      const c = await openOn(dbName);
      try {
        assert.equal(await c.lastSeq('historical_data', 's1'), 100);
      } finally {
        await c.close();
      }
    });
  });

  it('keys each tick and forecast by its unique fields, and keeps one head per collection and stream', async () => {
    await withStore(async (store, dbName) => {
      if (admin === undefined) return;
      await store.writeTicks('historical_data', makeTicks(0, 3, 'a.b'));
      await store.writeForecasts([forecast(7, 'lstm-1/x', 'a.b'), forecast(2, 'lstm-1/x', 'a.b')]);
      await store.flush();
      const db = admin.db(dbName);
      const ids = async (c: string) =>
        (
          await db
            .collection(c)
            .find({}, { projection: { _id: 1 } })
            .toArray()
        )
          .map((d) => d._id)
          .sort();
      assert.deepEqual(await ids('historical_data'), ['a.b/0', 'a.b/1', 'a.b/2']);
      assert.deepEqual(await ids('inf_predictions'), ['a.b/2/lstm-1/x', 'a.b/7/lstm-1/x']);
      const heads = await db.collection('stream_heads').find({}).sort({ _id: 1 }).toArray();
      assert.deepEqual(
        heads.filter((h) => String(h._id).startsWith('keyed/')).map((h) => h._id),
        ['keyed/historical_data', 'keyed/inf_historical_db', 'keyed/inf_predictions'],
        'each collection marked: empty when first opened',
      );
      assert.deepEqual(
        heads.filter((h) => !String(h._id).startsWith('keyed/')),
        [
          { _id: 'historical_data/a.b', seq: 2 },
          { _id: 'inf_predictions/a.b', seq: 7 },
        ],
      );
      assert.equal(await store.lastForecastSeq('a.b'), 7);
    });
  });

  it('writes the states of many streams together: 100 streams in a few bulk writes, never an older over a newer', async () => {
    await withStore(async (store) => {
      const streams = Array.from({ length: 100 }, (_, i) => `st${i}`);
      const writes: number[] = [];
      const bulkWrite = Collection.prototype.bulkWrite;
      const replaceOne = Collection.prototype.replaceOne;
      Collection.prototype.bulkWrite = function (this: Collection, ops: unknown[], ...rest: unknown[]) {
        if (this.collectionName === 'stream_states') writes.push(ops.length);
        return (bulkWrite as (...a: unknown[]) => unknown).call(this, ops, ...rest);
      } as typeof bulkWrite;
      Collection.prototype.replaceOne = function (this: Collection, ...args: unknown[]) {
        if (this.collectionName === 'stream_states') writes.push(1);
        return (replaceOne as (...a: unknown[]) => unknown).call(this, ...args);
      } as typeof replaceOne;
      try {
        // Each stream saves twice at once (an older state after the newer), as producers saving side by side.
        await Promise.all(
          streams.flatMap((st) => [
            store.writeStreamState(makeStreamState(st, 20)),
            store.writeStreamState(makeStreamState(st, 10)),
          ]),
        );
        await Promise.all(streams.map((st) => store.writeStreamState(makeStreamState(st, 15))));
      } finally {
        Collection.prototype.bulkWrite = bulkWrite;
        Collection.prototype.replaceOne = replaceOne;
      }
      for (const st of streams) assert.deepEqual(await store.streamState(st), makeStreamState(st, 20));
      // 100 states, HEAD_CHUNK (32) per write: 4 writes; the older states write nothing.
      assert.deepEqual(writes, [32, 32, 32, 4], `writes of stream_states: ${JSON.stringify(writes)}`);
    });
  });
});
