// Runs the shared Store contract against MongoDB: MONGODB_URI when set, else a FerretDB started here, else
// a loud skip. One database per store, dropped afterwards. The outage test lives in store-outage.test.ts.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Binary, type Document, MongoClient } from 'mongodb';
import { makeTick, runStoreContract } from '../src/store/contract.js';
import { openMongoStore } from '../src/store/mongo/mongo-store.js';
import type { Store } from '../src/store/types.js';
import { mongoUriForTests } from './helpers/ferretdb.js';

const server = await mongoUriForTests();
const admin = 'skip' in server ? undefined : new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });

if ('skip' in server || admin === undefined) {
  runStoreContract('mongodb', { skip: 'skip' in server ? server.skip : 'no server' });
} else {
  console.error(`mongodb store contract: using ${server.source}`);
  before(() => admin.connect());
  after(async () => {
    await admin.close();
    await server.stop();
  });
  runStoreContract('mongodb', async () => {
    const dbName = `byner_contract_${randomBytes(4).toString('hex')}`;
    const open = () => openMongoStore({ uri: server.uri, dbName, serverSelectionTimeoutMS: 5000 });
    const opened: Store[] = [await open()];
    return {
      store: opened[0],
      // MongoDB's document limit is 16 MiB: the driver refuses larger documents before sending them.
      refusing: (doc) => ({ ...doc, padding: 'x'.repeat(17 * 2 ** 20) }),
      async reopen() {
        const s = await open();
        opened.push(s);
        return s;
      },
      async dispose() {
        const closed = await Promise.allSettled(opened.map((s) => s.close()));
        await admin.db(dbName).dropDatabase();
        const failed = closed.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
    };
  });
}

/** BSON type name of a raw (unpromoted) value. */
const bsonType = (v: unknown) =>
  v === null ? 'null' : v instanceof Date ? 'date' : ((v as { _bsontype?: string })._bsontype ?? typeof v);

describe('mongodb document shapes (DESIGN §4)', () => {
  const skip = 'skip' in server ? server.skip : false;
  it('stores the DESIGN §4 shapes: BSON dates, integral price as int, indicator doubles and nulls, indexes', {
    skip,
  }, async () => {
    if ('skip' in server || admin === undefined) return;
    const dbName = `byner_shapes_${randomBytes(4).toString('hex')}`;
    const store = await openMongoStore({ uri: server.uri, dbName });
    try {
      const warm = makeTick(40);
      await store.writeTicks('historical_data', [makeTick(0), warm, { ...makeTick(41), price: 2.5 }]);
      const window = Array.from({ length: 60 }, (_, r) => [r, 1, 2, 3, 4, 5, 6]);
      const f = {
        timestamp: new Date(0),
        input_sequence: window,
        forecast: [1, 2, 3, 4, 5],
        model_version: 'v1',
      };
      await store.writeForecasts([{ ...f, seq: 41, stream: 'synthetic' }]);
      await store.saveModel({
        version: 'v1',
        created_at: new Date(0),
        config: {},
        scaler: {},
        metrics: {},
        data_range: { stream: 'synthetic', from_seq: 0, to_seq: 41 },
        artifact: { 'model.json': new Uint8Array([1]), 'weights.bin': new Uint8Array([2, 3]) },
      });
      await store.flush();
      const db = admin.db(dbName);
      const raw = await db
        .collection('historical_data')
        .find({}, { promoteValues: false })
        .sort({ seq: 1 })
        .toArray();
      assert.deepEqual(Object.keys(raw[0]), ['_id', 'timestamp', 'price', 'indicators', 'seq', 'stream']);
      assert.equal(bsonType(raw[0].timestamp), 'date');
      assert.equal(bsonType(raw[0].price), 'Int32');
      assert.equal(bsonType(raw[2].price), 'Double');
      assert.deepEqual(Object.keys(raw[0].indicators), [
        'ma',
        'rsi',
        'upper_bb',
        'lower_bb',
        'macd',
        'signal',
      ]);
      assert.equal(raw[0].indicators.rsi, null, 'null before warm-up');
      assert.equal(bsonType(raw[1].indicators.ma), 'Double', 'a whole-number indicator stays a double');
      assert.equal(raw[1].stream, 'synthetic');

      const forecast = (await db.collection('inf_predictions').findOne({})) as Document;
      assert.deepEqual(Object.keys(forecast), [
        '_id',
        'timestamp',
        'input_sequence',
        'forecast',
        'model_version',
        'seq',
        'stream',
      ]);
      const info = await db.command({ buildInfo: 1 });
      const ferret1 = typeof info.ferretdbVersion === 'string' && /^v?[01]\./.test(info.ferretdbVersion);
      if (ferret1) {
        // no arrays of arrays there: live forecasts keep their 60×7 numbers as float64 binary, row by row
        const bytes = (forecast.input_sequence as Binary).buffer;
        const all = new Float64Array(
          bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
        );
        assert.equal(all.length, 60 * 7);
        assert.deepEqual(Array.from(all.subarray(7, 14)), [1, 1, 2, 3, 4, 5, 6]);
      } else assert.deepEqual(forecast.input_sequence[0], [0, 1, 2, 3, 4, 5, 6]);
      assert.deepEqual((await store.recentForecasts('synthetic', 1))[0].input_sequence, window);

      const unique = async (c: string) =>
        (await db.collection(c).listIndexes().toArray()).filter((i) => i.unique).map((i) => i.key);
      assert.deepEqual(await unique('historical_data'), [{ stream: 1, seq: 1 }]);
      assert.deepEqual(await unique('inf_historical_db'), [{ stream: 1, seq: 1 }]);
      assert.deepEqual(await unique('inf_predictions'), [{ stream: 1, seq: 1, model_version: 1 }]);
      assert.deepEqual(await unique('models'), [{ version: 1 }]);
      assert.deepEqual(await unique('serving'), [{ stream: 1 }]);
      const model = (await db.collection('models').findOne({ version: 'v1' })) as Document;
      assert.deepEqual(model.streams, ['synthetic']);
      assert.equal('serving' in model, false, 'serving lives in the serving collection');
      assert.equal(
        await db.collection('model_artifacts.files').countDocuments({ 'metadata.version': 'v1' }),
        2,
      );
    } finally {
      await store.close();
      await admin.db(dbName).dropDatabase();
    }
  });

  it('upgrades a registry of serving flags to serving pointers: a flagged entry serves its stream', {
    skip,
  }, async () => {
    if ('skip' in server || admin === undefined) return;
    const dbName = `byner_upgrade_${randomBytes(4).toString('hex')}`;
    const db = admin.db(dbName);
    try {
      // Entries as the registry stored them with one `serving` flag: no `streams`, no serving collection.
      const entry = (version: string, minute: number, serving: boolean, stream = 'synthetic') => ({
        version,
        created_at: new Date(minute * 60_000),
        config: {},
        scaler: {},
        metrics: { mse: [1] },
        data_range: { stream, from_seq: 0, to_seq: 9 },
        serving,
        files: [],
      });
      await db.collection('models').insertMany([
        entry('old', 1, false),
        entry('served', 2, true),
        entry('co2-flagged', 3, true, 'co2'),
        entry('co2-newer', 4, true, 'co2'), // two flags on one stream (a crash can leave them): newest wins
      ]);
      const store = await openMongoStore({ uri: server.uri, dbName });
      try {
        assert.deepEqual(
          (await store.servingPointers()).map((p) => [p.stream, p.version]),
          [
            ['co2', 'co2-newer'],
            ['synthetic', 'served'],
          ],
        );
        assert.deepEqual(
          (await store.listModels()).map((m) => [m.version, m.streams, m.serving_streams]),
          [
            ['old', ['synthetic'], []],
            ['served', ['synthetic'], ['synthetic']],
            ['co2-flagged', ['co2'], []],
            ['co2-newer', ['co2'], ['co2']],
          ],
        );
        assert.equal(await db.collection('models').countDocuments({ serving: { $exists: true } }), 0);
        await store.setServing('co2-flagged');
      } finally {
        await store.close();
      }
      // A second start changes nothing: pointers set since then stay.
      const again = await openMongoStore({ uri: server.uri, dbName });
      try {
        assert.equal((await again.servingModel('co2'))?.version, 'co2-flagged');
      } finally {
        await again.close();
      }
    } finally {
      await db.dropDatabase();
    }
  });
});
