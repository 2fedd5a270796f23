// The checkpoint protocol's failure paths: a crash after every step of a write, and checkpoints whose parts
// were damaged or mixed by hand. The training-level consequences (an exact resume) are in test/train.test.ts.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeCheckpoint } from '../../test/helpers/checkpoints.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';

const folder = () => join(mkdtempSync(join(tmpdir(), 'byner-ckpt-')), 'checkpoints', 'synthetic');
const recordSteps = async (): Promise<string[]> => {
  const steps: string[] = [];
  await writeCheckpoint(folder(), makeCheckpoint(1), (s) => {
    steps.push(s);
  });
  return steps;
};

describe('training checkpoints', () => {
  it('read back exactly what was written; an empty folder holds none', async () => {
    const dir = folder();
    assert.equal(await readCheckpoint(dir), null);
    await writeCheckpoint(dir, makeCheckpoint(1));
    await writeCheckpoint(dir, makeCheckpoint(2));
    assert.deepEqual(await readCheckpoint(dir), makeCheckpoint(2));
    assert.equal(
      readdirSync(dir).length,
      2,
      `the pointer and one checkpoint: ${readdirSync(dir).join(', ')}`,
    );
  });

  it('a crash after any step of a write leaves the previous checkpoint or the new one, whole', async () => {
    const steps = await recordSteps();
    const published = steps.indexOf('published');
    assert.ok(published > 0, `the write publishes at one step: ${steps.join(', ')}`);
    for (const [k, step] of steps.entries()) {
      const dir = folder();
      await writeCheckpoint(dir, makeCheckpoint(1));
      await assert.rejects(
        writeCheckpoint(dir, makeCheckpoint(2), (s) => {
          if (s === step) throw new Error(`crash after ${s}`);
        }),
        /crash after/,
      );
      const expected = k < published ? makeCheckpoint(1) : makeCheckpoint(2);
      assert.deepEqual(await readCheckpoint(dir), expected, `crash after step "${step}"`);
      // The next write clears what the crash left behind.
      await writeCheckpoint(dir, makeCheckpoint(3));
      assert.deepEqual(await readCheckpoint(dir), makeCheckpoint(3), `write after a crash at "${step}"`);
      assert.equal(readdirSync(dir).length, 2, `left-overs after a crash at "${step}": ${readdirSync(dir)}`);
    }
  });

  // Each case damages a complete checkpoint of epoch 2 (run lstm-run) by hand; --resume must refuse it.
  const only = (dir: string) => join(dir, readdirSync(dir).find((n) => n.startsWith('e'))!);
  const damage: [string, (dir: string, older: string, other: string) => void, RegExp][] = [
    [
      'weights of another epoch',
      (dir, older) => cpSync(join(only(older), 'weights.bin'), join(only(dir), 'weights.bin')),
      /weights\.bin belongs to another checkpoint[\s\S]*epoch 2[\s\S]*epoch 1/,
    ],
    [
      'optimizer state of another run',
      (dir, _older, other) => cpSync(join(only(other), 'adam.bin'), join(only(dir), 'adam.bin')),
      /adam\.bin belongs to another checkpoint[\s\S]*other-run/,
    ],
    [
      'truncated weights',
      (dir) => {
        const f = join(only(dir), 'weights.bin');
        writeFileSync(f, readFileSync(f).subarray(0, -4));
      },
      /weights\.bin does not match the manifest \(truncated or corrupted\)/,
    ],
    [
      'a flipped byte in the best weights',
      (dir) => {
        const f = join(only(dir), 'best.bin');
        const b = readFileSync(f);
        b[b.length - 1] ^= 0x40;
        writeFileSync(f, b);
      },
      /best\.bin does not match the manifest/,
    ],
    [
      'a manifest of another epoch',
      (dir, older) => cpSync(join(only(older), 'checkpoint.json'), join(only(dir), 'checkpoint.json')),
      /the manifest and the pointer name different checkpoints/,
    ],
    [
      'a truncated manifest',
      (dir) => {
        const f = join(only(dir), 'checkpoint.json');
        writeFileSync(f, readFileSync(f).subarray(0, 40));
      },
      /checkpoint\.json is not JSON/,
    ],
    ['a missing part', (dir) => rmSync(join(only(dir), 'adam.bin')), /adam\.bin is missing or unreadable/],
    [
      'a pointer to a missing checkpoint',
      (dir) => rmSync(only(dir), { recursive: true }),
      /checkpoint\.json is missing/,
    ],
    [
      'a garbled pointer',
      (dir) => writeFileSync(join(dir, 'CURRENT'), '{"run": "lstm-r'),
      /CURRENT is not JSON/,
    ],
    [
      'the layout of an older byner',
      (dir) => {
        rmSync(dir, { recursive: true });
        mkdirSync(dir);
        writeFileSync(join(dir, 'checkpoint.json'), '{"version": "lstm-run", "epochsDone": 2}');
      },
      /an older checkpoint layout/,
    ],
  ];
  for (const [name, harm, message] of damage) {
    it(`refuses a checkpoint with ${name}, saying which part and how to start afresh`, async () => {
      const [dir, older, other] = [folder(), folder(), folder()];
      await writeCheckpoint(older, makeCheckpoint(1));
      await writeCheckpoint(other, makeCheckpoint(2, 'other-run'));
      await writeCheckpoint(dir, makeCheckpoint(2));
      harm(dir, older, other);
      await assert.rejects(readCheckpoint(dir), (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'BYNER_STATE', e.message);
        assert.match(e.message, message);
        assert.match(e.message, /expected: [\s\S]*received: /);
        assert.equal(e.hint, `delete ${dir} to start afresh (then run \`byner train\` without --resume)`);
        return true;
      });
    });
  }
});
