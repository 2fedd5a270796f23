// Checkpoints of queued training runs in MongoDB, so that whichever worker retries a job resumes it: the files in
// the GridFS bucket `checkpoints`, one pointer document per run in `checkpoint_pointers`. The encoding and the checks
// of a checkpoint are train/checkpoint.ts's; who runs which job is BullMQ's (worker.ts).
//
// Pointer document, one per run (_id: the run's model version):
//   { _id, owner, epoch, generation, files: [{file, id}…], pending: {<generation>: [id…]}, updated_at }
// `pending` lists the files of generations the pointer does not name: the upload in progress, and files to delete
// (a failed or deposed upload, a replaced checkpoint). The owner sweeps them: deletes their files, then the entry.
// MongoDB has transactions but FerretDB does not: every step below is one single-document operation, and the only
// thing a reader trusts is what the pointer names.
//
// claim(): the pointer's owner becomes this attempt (upsert). From then on, a writer that still believes it owns the
//   run (its worker was taken for dead) cannot publish. Then it sweeps.
// write(ckpt), each step acknowledged before the next:
//   1. record the new generation's file ids under `pending` — only while this attempt owns the run — and sweep the
//      other pending generations;
//   2. upload the binary parts, then the manifest, under those ids;
//   3. the commit point: one updateOne filtered on {_id, owner} names the new generation (epoch, generation, files),
//      drops its pending entry and lists the replaced generation as pending (atomic: the pointer names the old
//      checkpoint or the new one, and every file is named or pending);
//   4. sweep the replaced generation.
//   A crash before 3 leaves the pointer naming the previous checkpoint, whole; the next claim sweeps the upload.
//   A writer that finds another owner at 1 or 3 deletes its upload and fails with BYNER_STATE (run taken over).
// read(): the files the pointer names, each checked against the manifest (size, SHA-256, run, epoch).
// clear(): deletes the run's files and its pointer, while this attempt owns it (the run finished).
import type { Collection, Db } from 'mongodb';
import { GridFSBucket, ObjectId } from 'mongodb';
import { BynerError } from '../errors.js';
import {
  CHECKPOINT_FILES,
  type Checkpoint,
  type CheckpointFile,
  type CheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
} from '../train/checkpoint.js';

export const CHECKPOINT_BUCKET = 'checkpoints';
export const CHECKPOINT_POINTERS = 'checkpoint_pointers';

interface PointerDoc {
  _id: string;
  owner: string;
  epoch?: number;
  generation?: string;
  files?: { file: CheckpointFile; id: ObjectId }[];
  pending?: Record<string, ObjectId[]>;
  updated_at: Date;
}

export interface GridFSCheckpoints extends CheckpointStore {
  readonly run: string;
  readonly owner: string;
  /** Makes this attempt the run's owner and deletes what crashed or deposed writers left. Call before writing. */
  claim(): Promise<void>;
  /** Whether the run has a complete checkpoint (the pointer names one), without reading it. */
  exists(): Promise<boolean>;
}

/**
 * The checkpoints of run `run` (its model version) in `db`, written as `owner` (one id per attempt at the job, e.g.
 * worker and job token): the protocol above.
 */
export function gridfsCheckpoints(db: Db, run: string, owner: string): GridFSCheckpoints {
  const bucket = new GridFSBucket(db, { bucketName: CHECKPOINT_BUCKET });
  const pointers: Collection<PointerDoc> = db.collection<PointerDoc>(CHECKPOINT_POINTERS);
  const where = `MongoDB GridFS bucket "${CHECKPOINT_BUCKET}" (run ${run})`;

  /** Deletes files by id, chunks included, whether or not their upload finished (a no-op for ids already gone). */
  const deleteFiles = async (ids: readonly ObjectId[]) => {
    if (ids.length === 0) return;
    await db.collection(`${CHECKPOINT_BUCKET}.files`).deleteMany({ _id: { $in: [...ids] } });
    await db.collection(`${CHECKPOINT_BUCKET}.chunks`).deleteMany({ files_id: { $in: [...ids] } });
  };

  /** Deletes the files of `pending` generations and their entries (only the owner sweeps: see the protocol). */
  const sweep = async (pending: PointerDoc['pending']) => {
    for (const [generation, ids] of Object.entries(pending ?? {})) {
      await deleteFiles(ids);
      await pointers.updateOne({ _id: run, owner }, { $unset: { [`pending.${generation}`]: '' } });
    }
  };

  const takenOver = async (step: string): Promise<BynerError> => {
    const now = await pointers.findOne({ _id: run });
    return new BynerError('BYNER_STATE', `training run ${run} was taken over by another worker (${step})`, {
      expected: `the run's checkpoint pointer owned by this attempt (${owner})`,
      received: now === null ? 'no pointer (the run finished and was cleared)' : `owner ${now.owner}`,
      hint: 'nothing to do: the job is retried by the worker that owns it now; this attempt stops',
    });
  };

  const upload = (id: ObjectId, generation: string, file: CheckpointFile, bytes: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const up = bucket.openUploadStreamWithId(id, `${run}/${generation}/${file}`, {
        metadata: { run, generation, file },
      });
      up.once('finish', () => resolve());
      up.once('error', reject);
      up.end(bytes);
    });

  const download = async (file: CheckpointFile, id: ObjectId | undefined): Promise<Buffer> => {
    try {
      if (id === undefined) throw new Error('not listed in the pointer');
      const chunks: Buffer[] = [];
      for await (const chunk of bucket.openDownloadStream(id)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (e) {
      throw refuse(
        `${file} is missing or unreadable`,
        `the file ${file} (id ${String(id)})`,
        (e as Error).message,
      );
    }
  };

  const refuse = (what: string, expected: string, received: string) =>
    new BynerError('BYNER_STATE', `the checkpoint in ${where} is not usable: ${what}`, {
      expected,
      received,
      hint: 'enqueue the training again with another --run-id to start afresh (a new version)',
    });

  return {
    where,
    run,
    owner,

    async claim() {
      await pointers.updateOne({ _id: run }, { $set: { owner, updated_at: new Date() } }, { upsert: true });
      await sweep((await pointers.findOne({ _id: run }))?.pending);
    },

    async exists() {
      const p = await pointers.findOne({ _id: run });
      return typeof p?.generation === 'string';
    },

    async read(): Promise<Checkpoint | null> {
      const p = await pointers.findOne({ _id: run });
      if (p === null || p.generation === undefined || p.epoch === undefined) return null;
      const files = p.files ?? [];
      return decodeCheckpoint(
        { run, epoch: p.epoch },
        (file) => download(file, files.find((f) => f.file === file)?.id),
        refuse,
      );
    },

    async write(ckpt, onStep = () => {}) {
      const epoch = ckpt.state.epochsDone;
      if (ckpt.state.version !== run) {
        throw new BynerError(
          'BYNER_STATE',
          `a checkpoint of run ${ckpt.state.version} written as run ${run}`,
          {
            expected: run,
            received: ckpt.state.version,
          },
        );
      }
      const generation = `e${epoch}-${new ObjectId().toHexString().slice(-8)}`;
      const ids = Object.fromEntries(CHECKPOINT_FILES.map((f) => [f, new ObjectId()])) as Record<
        CheckpointFile,
        ObjectId
      >;
      const before = await pointers.findOneAndUpdate(
        { _id: run, owner },
        { $set: { [`pending.${generation}`]: Object.values(ids), updated_at: new Date() } },
        { returnDocument: 'before' },
      );
      if (before === null) throw await takenOver('recording an upload');
      await onStep('pending recorded');
      await sweep(before.pending);
      await onStep('swept');

      const bytes = encodeCheckpoint(ckpt);
      for (const file of CHECKPOINT_FILES) {
        await upload(ids[file], generation, file, bytes[file]);
        await onStep(`uploaded ${file}`);
      }

      // The replaced checkpoint's files become pending in the same update: deleted below, or by the next sweep.
      const old = before.generation === undefined ? [] : (before.files ?? []).map((f) => f.id);
      const published = await pointers.updateOne(
        { _id: run, owner },
        {
          $set: {
            epoch,
            generation,
            files: CHECKPOINT_FILES.map((file) => ({ file, id: ids[file] })),
            ...(before.generation === undefined ? {} : { [`pending.${before.generation}`]: old }),
            updated_at: new Date(),
          },
          $unset: { [`pending.${generation}`]: '' },
        },
      );
      if (published.matchedCount === 0) {
        const error = await takenOver('publishing');
        await deleteFiles(Object.values(ids));
        throw error;
      }
      await onStep('published');

      if (before.generation !== undefined) await sweep({ [before.generation]: old });
      await onStep('old removed');
    },

    async clear() {
      const p = await pointers.findOne({ _id: run, owner });
      if (p === null) throw await takenOver('clearing');
      await deleteFiles([...(p.files ?? []).map((f) => f.id), ...Object.values(p.pending ?? {}).flat()]);
      await pointers.deleteOne({ _id: run, owner });
    },
  };
}
