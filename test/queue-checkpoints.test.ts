// The GridFS checkpoint protocol of queued training runs (src/queue/gridfs-checkpoints.ts) and its failure paths: a
// crash after every step of a write, a writer whose run was taken over, damaged files. On MongoDB: MONGODB_URI when
// set, else a FerretDB started here, else a loud skip.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Db, MongoClient } from 'mongodb';
import {
  CHECKPOINT_BUCKET,
  CHECKPOINT_POINTERS,
  gridfsCheckpoints,
} from '../src/queue/gridfs-checkpoints.js';
import { makeCheckpoint } from './helpers/checkpoints.js';
import { mongoUriForTests } from './helpers/ferretdb.js';

const server = await mongoUriForTests();
const skip = 'skip' in server ? server.skip : false;
const client = 'skip' in server ? undefined : new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
if (skip) console.error(`GridFS checkpoints: skipped (${skip})`);
else console.error(`GridFS checkpoints: using ${'source' in server ? server.source : ''}`);

const RUN = 'lstm-run';
const dbs: Db[] = [];
const freshDb = (): Db => {
  const db = client!.db(`byner_ckpt_${randomBytes(4).toString('hex')}`);
  dbs.push(db);
  return db;
};
/** How many GridFS files and chunks the bucket holds: a complete checkpoint is 4 files of one chunk each here. */
const counts = async (db: Db) => ({
  files: await db.collection(`${CHECKPOINT_BUCKET}.files`).countDocuments(),
  chunks: await db.collection(`${CHECKPOINT_BUCKET}.chunks`).countDocuments(),
});
const ONE = { files: 4, chunks: 4 };

describe('checkpoints of queued runs in GridFS', { skip }, () => {
  before(async () => {
    await client?.connect();
  });
  after(async () => {
    for (const db of dbs) await db.dropDatabase().catch(() => {});
    await client?.close();
    if (!('skip' in server)) await server.stop();
  });

  it('read back exactly what was written; a new run has none; clear removes files, chunks and pointer', async () => {
    const db = freshDb();
    const ck = gridfsCheckpoints(db, RUN, 'worker-a');
    await ck.claim();
    assert.equal(await ck.exists(), false);
    assert.equal(await ck.read(), null);
    await ck.write(makeCheckpoint(1));
    await ck.write(makeCheckpoint(2));
    assert.equal(await ck.exists(), true);
    assert.deepEqual(await ck.read(), makeCheckpoint(2));
    // Another attempt (another worker) reads the same checkpoint.
    assert.deepEqual(await gridfsCheckpoints(db, RUN, 'worker-b').read(), makeCheckpoint(2));
    assert.deepEqual(await counts(db), ONE, 'one generation kept');
    await ck.clear();
    assert.deepEqual(await counts(db), { files: 0, chunks: 0 });
    assert.equal(await db.collection(CHECKPOINT_POINTERS).countDocuments(), 0);
  });

  it('a crash after any step of a write leaves the previous checkpoint or the new one, whole; the next claim cleans up', async () => {
    const steps: string[] = [];
    const probe = gridfsCheckpoints(freshDb(), RUN, 'probe');
    await probe.claim();
    await probe.write(makeCheckpoint(1), (s) => {
      steps.push(s);
    });
    const published = steps.indexOf('published');
    assert.ok(published > 0, `the write publishes at one step: ${steps.join(', ')}`);
    for (const [k, step] of steps.entries()) {
      const db = freshDb();
      const crashed = gridfsCheckpoints(db, RUN, 'worker-a');
      await crashed.claim();
      await crashed.write(makeCheckpoint(1));
      await assert.rejects(
        crashed.write(makeCheckpoint(2), (s) => {
          if (s === step) throw new Error(`crash after ${s}`);
        }),
        /crash after/,
      );
      const retry = gridfsCheckpoints(db, RUN, 'worker-b');
      const expected = k < published ? makeCheckpoint(1) : makeCheckpoint(2);
      assert.deepEqual(await retry.read(), expected, `crash after step "${step}"`);
      await retry.claim();
      assert.deepEqual(await retry.read(), expected, `claim after a crash at "${step}"`);
      assert.deepEqual(await counts(db), ONE, `left-overs after a crash at "${step}" and a claim`);
      await retry.write(makeCheckpoint(3));
      assert.deepEqual(await retry.read(), makeCheckpoint(3), `write after a crash at "${step}"`);
      assert.deepEqual(await counts(db), ONE, `files after the next write (crash at "${step}")`);
    }
  });

  it('a writer whose run was taken over cannot publish, leaves nothing behind, and cannot clear', async () => {
    const db = freshDb();
    const a = gridfsCheckpoints(db, RUN, 'worker-a');
    await a.claim();
    await a.write(makeCheckpoint(1));
    const b = gridfsCheckpoints(db, RUN, 'worker-b');
    await b.claim();
    // A still runs (its worker was taken for dead) and reaches the end of epoch 2.
    await assert.rejects(a.write(makeCheckpoint(2)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'BYNER_STATE');
      assert.match(e.message, /training run lstm-run was taken over by another worker/);
      assert.match(e.message, /received: owner worker-b/);
      return true;
    });
    assert.deepEqual(await b.read(), makeCheckpoint(1));
    assert.deepEqual(await counts(db), ONE);
    // Taken over between recording its upload and publishing it: the upload is deleted.
    const c = gridfsCheckpoints(db, RUN, 'worker-c');
    await assert.rejects(
      b.write(makeCheckpoint(2), async (s) => {
        if (s === 'uploaded best.bin') await c.claim();
      }),
      /taken over by another worker \(publishing\)/,
    );
    assert.deepEqual(await c.read(), makeCheckpoint(1));
    assert.deepEqual(await counts(db), ONE);
    await assert.rejects(b.clear(), /taken over by another worker \(clearing\)/);
    await c.write(makeCheckpoint(2));
    assert.deepEqual(await c.read(), makeCheckpoint(2));
  });

  // Each case damages the complete checkpoint of epoch 2; the reader must refuse it, naming the file.
  const damage: [string, (db: Db) => Promise<unknown>, RegExp][] = [
    [
      'a flipped byte in the best weights',
      async (db) => {
        const file = await db
          .collection(`${CHECKPOINT_BUCKET}.files`)
          .findOne({ 'metadata.file': 'best.bin' });
        const chunks = db.collection(`${CHECKPOINT_BUCKET}.chunks`);
        const chunk = await chunks.findOne({ files_id: file?._id, n: 0 });
        const data = Buffer.from(chunk?.data.buffer);
        data[data.length - 1] ^= 0x40;
        await chunks.updateOne({ _id: chunk?._id }, { $set: { data } });
      },
      /best\.bin does not match the manifest \(truncated or corrupted\)/,
    ],
    [
      'a missing part',
      (db) => db.collection(`${CHECKPOINT_BUCKET}.files`).deleteOne({ 'metadata.file': 'adam.bin' }),
      /adam\.bin is missing or unreadable/,
    ],
    [
      'a pointer naming another epoch',
      (db) => db.collection(CHECKPOINT_POINTERS).updateOne({ _id: RUN as never }, { $set: { epoch: 1 } }),
      /the manifest and the pointer name different checkpoints/,
    ],
  ];
  for (const [name, harm, message] of damage) {
    it(`refuses a checkpoint with ${name}, saying which file and how to start afresh`, async () => {
      const db = freshDb();
      const ck = gridfsCheckpoints(db, RUN, 'worker-a');
      await ck.claim();
      await ck.write(makeCheckpoint(2));
      await harm(db);
      await assert.rejects(ck.read(), (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'BYNER_STATE', e.message);
        assert.match(e.message, /the checkpoint in MongoDB GridFS bucket "checkpoints" \(run lstm-run\)/);
        assert.match(e.message, message);
        assert.match(e.message, /expected: [\s\S]*received: /);
        assert.match(e.hint ?? '', /another --run-id/);
        return true;
      });
    });
  }
});
