// Training checkpoints on disk, safe against a crash at any moment: a checkpoint becomes visible whole or not at
// all, and reading one checks that its parts belong together; the encoding and the checks are shared with other
// places a checkpoint may live (CheckpointStore). What a checkpoint holds is train.ts's business.
//
// Layout of a checkpoint folder (one per stream):
//   CURRENT                  pointer: {"run", "epoch", "dir"}, the only complete checkpoint a reader uses
//   e<epoch>-<nonce>/        a complete checkpoint; never modified once CURRENT can name it
//     weights.bin best.bin adam.bin   binary parts, each opening with a header naming run, epoch and part
//     checkpoint.json        manifest: run, epoch, the training state, tensor shapes, and every part's size and
//                            SHA-256
//   .tmp-<nonce>/, CURRENT.tmp   being written; readers ignore them, the next writer deletes them
//
// Writing (writeCheckpoint), each step durable before the next:
//   1. delete everything but CURRENT and the folder it names (left-overs of a crashed write);
//   2. write the parts and the manifest into .tmp-<nonce>/, fsync each file, then the folder;
//   3. rename .tmp-<nonce>/ to e<epoch>-<nonce>/ and fsync the checkpoint folder (a fresh name: rename(2) cannot
//      replace a non-empty folder, and a fresh name means no window in which no checkpoint exists);
//   4. write CURRENT.tmp, fsync it, rename it over CURRENT (atomic) and fsync the folder: the commit point;
//   5. delete the folder the old CURRENT named.
// A crash before step 4's rename leaves CURRENT naming the previous checkpoint, untouched; a crash after it leaves
// the new one complete and durable. Either way --resume continues from a whole checkpoint.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NamedWeight, OptimizerState } from '../engine/index.js';
import { BynerError } from '../errors.js';
import type { DataRange, JsonObject } from '../store/index.js';

/** The training state a resumed run continues from (JSON). */
export interface CheckpointState {
  /** The run's model version: its identity. */
  version: string;
  config: JsonObject;
  data_range: DataRange;
  epochsDone: number;
  loss: number[];
  valLoss: number[];
  /** 0-based epoch with the best validation loss so far, and that loss. */
  bestEpoch: number;
  bestLoss: number;
}

export interface Checkpoint {
  state: CheckpointState;
  /** The weights after the last epoch, and those of the best epoch. */
  weights: NamedWeight[];
  best: NamedWeight[];
  optimizer: OptimizerState;
}

/**
 * Where the checkpoints of one run live: a folder on disk (`diskCheckpoints`, the layout above), or elsewhere (a
 * queued job's, in MongoDB GridFS: src/queue). Every implementation publishes a checkpoint whole or not at all, and
 * verifies every part on reading (`encodeCheckpoint` / `decodeCheckpoint`).
 */
export interface CheckpointStore {
  /** Where, for messages: a folder, or a run in a GridFS bucket. */
  readonly where: string;
  /** The last complete checkpoint, every part verified; null when there is none; BYNER_STATE when unusable. */
  read(): Promise<Checkpoint | null>;
  /** Makes `ckpt` the checkpoint, whole or not at all. `onStep` runs after each step (tests crash there). */
  write(ckpt: Checkpoint, onStep?: (step: string) => void | Promise<void>): Promise<void>;
  /** Deletes the run's checkpoints (it finished). */
  clear(): Promise<void>;
}

/** The checkpoints of a run in a folder on disk, by the protocol above. */
export function diskCheckpoints(dir: string): CheckpointStore {
  return {
    where: dir,
    read: () => readCheckpoint(dir),
    write: (ckpt, onStep) => writeCheckpoint(dir, ckpt, onStep),
    clear: () => rm(dir, { recursive: true, force: true }),
  };
}

const FORMAT = 1;
const POINTER = 'CURRENT';
const MANIFEST = 'checkpoint.json';
const PARTS = ['weights.bin', 'best.bin', 'adam.bin'] as const;
type PartName = (typeof PARTS)[number];
/** A checkpoint's files in the order they are written: the binary parts, then the manifest that lists them. */
export const CHECKPOINT_FILES = [...PARTS, MANIFEST] as const;
export type CheckpointFile = (typeof CHECKPOINT_FILES)[number];
const MAGIC = Buffer.from('BYNERCKP');
const CHECKPOINT_DIR = /^e\d+-[0-9a-f]{8}$/;

interface Pointer {
  run: string;
  epoch: number;
  dir: string;
}

interface Manifest {
  format: number;
  run: string;
  epoch: number;
  state: CheckpointState;
  tensors: { name: string; shape: number[] }[];
  /** Adam's steps taken, and the length of each moment (m, v; the parameter region, padding included). */
  adamStep: number;
  adamSize: number;
  parts: Record<PartName, { bytes: number; sha256: string }>;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A binary part: magic, u32 LE header length, header JSON {run, epoch, part}, then float32 LE values. */
function encodePart(run: string, epoch: number, part: PartName, values: Float32Array[]): Buffer {
  const header = Buffer.from(JSON.stringify({ run, epoch, part }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  return Buffer.concat([
    MAGIC,
    len,
    header,
    ...values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)),
  ]);
}

const flat = (ws: readonly NamedWeight[]): Float32Array[] => ws.map((w) => w.data);

/** The bytes of every file of `ckpt`: the binary parts and the manifest with their sizes and SHA-256. */
export function encodeCheckpoint(ckpt: Checkpoint): Record<CheckpointFile, Buffer> {
  const { state } = ckpt;
  const run = state.version;
  const epoch = state.epochsDone;
  const bytes: Record<PartName, Buffer> = {
    'weights.bin': encodePart(run, epoch, 'weights.bin', flat(ckpt.weights)),
    'best.bin': encodePart(run, epoch, 'best.bin', flat(ckpt.best)),
    'adam.bin': encodePart(run, epoch, 'adam.bin', [ckpt.optimizer.m, ckpt.optimizer.v]),
  };
  const manifest: Manifest = {
    format: FORMAT,
    run,
    epoch,
    state,
    tensors: ckpt.weights.map((w) => ({ name: w.name, shape: w.shape })),
    adamStep: ckpt.optimizer.step,
    adamSize: ckpt.optimizer.m.length,
    parts: Object.fromEntries(
      PARTS.map((p) => [p, { bytes: bytes[p].length, sha256: sha256(bytes[p]) }]),
    ) as Manifest['parts'],
  };
  return { ...bytes, [MANIFEST]: Buffer.from(JSON.stringify(manifest)) };
}

/** Writes `ckpt` as the folder's checkpoint by the protocol above. `onStep` runs after each step (tests crash there). */
export async function writeCheckpoint(
  dir: string,
  ckpt: Checkpoint,
  onStep: (step: string) => void | Promise<void> = () => {},
): Promise<void> {
  const run = ckpt.state.version;
  const epoch = ckpt.state.epochsDone;
  await mkdir(dir, { recursive: true });
  const previous = await readPointer(dir).catch(() => null);
  for (const name of await readdir(dir)) {
    if (name !== POINTER && name !== previous?.dir)
      await rm(join(dir, name), { recursive: true, force: true });
  }
  await onStep('cleaned');

  const nonce = randomBytes(4).toString('hex');
  const tmp = join(dir, `.tmp-${nonce}`);
  await mkdir(tmp);
  const files = encodeCheckpoint(ckpt);
  for (const file of CHECKPOINT_FILES) {
    await writeDurable(join(tmp, file), files[file]);
    await onStep(`wrote ${file}`);
  }
  await syncDir(tmp);
  await onStep('synced');

  const final = `e${epoch}-${nonce}`;
  await rename(tmp, join(dir, final));
  await syncDir(dir);
  await onStep('renamed');

  const pointer: Pointer = { run, epoch, dir: final };
  await writeDurable(join(dir, `${POINTER}.tmp`), JSON.stringify(pointer));
  await onStep('pointer written');
  await rename(join(dir, `${POINTER}.tmp`), join(dir, POINTER));
  await syncDir(dir);
  await onStep('published');

  if (previous !== null && previous.dir !== final)
    await rm(join(dir, previous.dir), { recursive: true, force: true });
  await onStep('old removed');
}

async function writeDurable(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync of a folder makes the names created or renamed in it durable (Linux, macOS; a no-op on Windows). */
async function syncDir(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The refusal of a checkpoint whose parts do not belong together (or cannot be read). */
function refuse(dir: string, what: string, expected: string, received: string): BynerError {
  return new BynerError('BYNER_STATE', `the checkpoint in ${dir} is not usable: ${what}`, {
    expected,
    received,
    hint: `delete ${dir} to start afresh (then run \`byner train\` without --resume)`,
  });
}

async function readPointer(dir: string): Promise<Pointer | null> {
  let text: string;
  try {
    text = await readFile(join(dir, POINTER), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let p: Partial<Pointer>;
  try {
    p = JSON.parse(text) as Partial<Pointer>;
  } catch (e) {
    throw refuse(dir, `${POINTER} is not JSON`, '{"run", "epoch", "dir"}', (e as Error).message);
  }
  if (
    typeof p.run !== 'string' ||
    !Number.isInteger(p.epoch) ||
    typeof p.dir !== 'string' ||
    !CHECKPOINT_DIR.test(p.dir)
  ) {
    throw refuse(
      dir,
      `${POINTER} is malformed`,
      '{"run": string, "epoch": integer, "dir": "e<N>-<hex>"}',
      text,
    );
  }
  return p as Pointer;
}

/**
 * The folder's checkpoint, every part checked against the manifest and the pointer (run, epoch, size, SHA-256).
 * Null when the folder holds none; BYNER_STATE (with a hint to delete the folder) when it is not usable.
 */
export async function readCheckpoint(dir: string): Promise<Checkpoint | null> {
  const pointer = await readPointer(dir).catch((e: unknown) => {
    if (e instanceof BynerError) throw e;
    throw refuse(dir, `${POINTER} is unreadable`, 'a readable file', (e as Error).message);
  });
  if (pointer === null) {
    const legacy = await readFile(join(dir, MANIFEST)).then(
      () => true,
      () => false,
    );
    if (legacy)
      throw refuse(dir, `no ${POINTER} pointer (an older checkpoint layout)`, POINTER, `${MANIFEST} only`);
    return null;
  }
  const at = join(dir, pointer.dir);
  return decodeCheckpoint(
    pointer,
    async (name) => {
      try {
        return await readFile(join(at, name));
      } catch (e) {
        throw refuse(
          dir,
          `${pointer.dir}/${name} is missing or unreadable`,
          `the file ${name}`,
          (e as Error).message,
        );
      }
    },
    (what, expected, received) => refuse(dir, what, expected, received),
  );
}

/** The refusal of an unusable checkpoint: what is wrong, what was expected and received (the caller adds where). */
export type Refusal = (what: string, expected: string, received: string) => BynerError;

/**
 * Decodes the checkpoint that a pointer names as `run` at `epoch`, reading each file with `read` (which throws its
 * own refusal when a file is missing), and checks every part against the manifest and the pointer (run, epoch,
 * size, SHA-256, number of values). A checkpoint that fails a check is refused with `refuse`.
 */
export async function decodeCheckpoint(
  pointer: { run: string; epoch: number },
  read: (file: CheckpointFile) => Promise<Buffer>,
  refuse: Refusal,
): Promise<Checkpoint> {
  let m: Manifest;
  try {
    m = JSON.parse((await read(MANIFEST)).toString('utf8')) as Manifest;
  } catch (e) {
    if (e instanceof BynerError) throw e;
    throw refuse(`${MANIFEST} is not JSON`, 'the manifest written by byner train', (e as Error).message);
  }
  const s = m?.state;
  const whose = (run: unknown, epoch: unknown) => `run ${String(run)}, epoch ${String(epoch)}`;
  const wellFormed =
    m?.format === FORMAT &&
    typeof s === 'object' &&
    s !== null &&
    typeof m.parts === 'object' &&
    m.parts !== null &&
    Array.isArray(m.tensors) &&
    m.tensors.every((t) => Array.isArray(t?.shape) && t.shape.every((d) => Number.isInteger(d) && d > 0)) &&
    Number.isInteger(m.adamStep) &&
    Number.isInteger(m.adamSize);
  if (!wellFormed) {
    throw refuse(
      `${MANIFEST} is not a format-${FORMAT} manifest`,
      `format ${FORMAT}: run, epoch, state, tensors, adamStep, adamSize, parts`,
      `format ${String(m?.format)}, keys ${Object.keys(m ?? {}).join(', ')}`,
    );
  }
  if (m.run !== pointer.run || m.epoch !== pointer.epoch || s.version !== m.run || s.epochsDone !== m.epoch) {
    throw refuse(
      'the manifest and the pointer name different checkpoints',
      `${whose(pointer.run, pointer.epoch)} (${POINTER})`,
      `${whose(m.run, m.epoch)} (manifest), state of ${whose(s.version, s.epochsDone)}`,
    );
  }
  if (
    !Array.isArray(s.loss) ||
    !Array.isArray(s.valLoss) ||
    s.loss.length !== m.epoch ||
    s.valLoss.length !== m.epoch ||
    !Number.isInteger(s.bestEpoch) ||
    s.bestEpoch < 0 ||
    s.bestEpoch >= m.epoch ||
    !Number.isFinite(s.bestLoss)
  ) {
    throw refuse(
      'the training state is inconsistent',
      `${m.epoch} losses and a best epoch below ${m.epoch} with a finite loss`,
      `${s.loss?.length} losses, ${s.valLoss?.length} validation losses, best epoch ${s.bestEpoch} (loss ${s.bestLoss})`,
    );
  }
  const sizes = m.tensors.map((t) => t.shape.reduce((a, b) => a * b, 1));
  const params = sizes.reduce((a, b) => a + b, 0);
  const payloads = {} as Record<PartName, Float32Array>;
  for (const part of PARTS) {
    const bytes = await read(part);
    const start = checkHeader(pointer, part, bytes, refuse);
    const want = m.parts[part];
    if (want === undefined || bytes.length !== want.bytes || sha256(bytes) !== want.sha256) {
      throw refuse(
        `${part} does not match the manifest (truncated or corrupted)`,
        want ? `${want.bytes} bytes, sha256 ${want.sha256}` : `${part} listed in the manifest`,
        `${bytes.length} bytes, sha256 ${sha256(bytes)}`,
      );
    }
    const count = part === 'adam.bin' ? 2 * m.adamSize : params;
    if (bytes.length - start !== 4 * count) {
      throw refuse(
        `${part} holds the wrong number of values`,
        `${count} float32`,
        `${bytes.length - start} bytes`,
      );
    }
    const values = new Float32Array(count);
    new Uint8Array(values.buffer).set(bytes.subarray(start));
    payloads[part] = values;
  }
  const named = (values: Float32Array): NamedWeight[] => {
    let off = 0;
    return m.tensors.map((t, i) => {
      const data = values.slice(off, off + sizes[i]);
      off += sizes[i];
      return { name: t.name, shape: [...t.shape], data };
    });
  };
  const adam = payloads['adam.bin'];
  return {
    state: s,
    weights: named(payloads['weights.bin']),
    best: named(payloads['best.bin']),
    optimizer: { step: m.adamStep, m: adam.slice(0, m.adamSize), v: adam.slice(m.adamSize) },
  };
}

/** Checks that a binary part's header names this run, epoch and part; returns where its values start. */
function checkHeader(
  pointer: { run: string; epoch: number },
  part: PartName,
  bytes: Buffer,
  refuse: Refusal,
): number {
  const headerEnd = MAGIC.length + 4;
  let header: { run?: unknown; epoch?: unknown; part?: unknown } = {};
  let start = bytes.length;
  if (bytes.length >= headerEnd && bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    start = headerEnd + bytes.readUInt32LE(MAGIC.length);
    try {
      header = JSON.parse(bytes.subarray(headerEnd, start).toString('utf8'));
    } catch {
      header = {};
    }
  }
  if (header.run !== pointer.run || header.epoch !== pointer.epoch || header.part !== part) {
    throw refuse(
      `${part} belongs to another checkpoint`,
      `${part} of run ${pointer.run}, epoch ${pointer.epoch}`,
      `${String(header.part)} of run ${String(header.run)}, epoch ${String(header.epoch)}`,
    );
  }
  return start;
}
