// Save / load in the TF.js layers format: round trip, tf.loadLayersModel on our files, our loader on TF.js's files,
// and detection of truncated or corrupted files. Leaves numerics to the oracle suite.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type * as tfTypes from '@tensorflow/tfjs';
import { maxDiff, randomFloats, tfjs, tfModel } from '../../test/engine-tfjs.js';
import { isBynerError } from '../errors.js';
import { MODEL_JSON, WEIGHTS_BIN } from './io.js';
import { createModel, loadModel } from './model.js';

const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'byner-engine-io-'));
  dirs.push(d);
  return d;
};
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const CONFIG = {
  window: 12,
  features: 7,
  layers: [{ units: 10 }, { units: 6, activation: 'tanh' as const }],
  horizon: 5,
  seed: 3,
};

/** tf.loadLayersModel over a directory written in the tfjs-node file layout. */
async function tfLoad(tf: typeof tfTypes, dir: string): Promise<tfTypes.LayersModel> {
  const json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8'));
  const bin = await readFile(join(dir, WEIGHTS_BIN));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  );
}

describe('engine files (TF.js layers format)', () => {
  it('round trip: save, load, same weights and forecasts', async () => {
    const model = createModel(CONFIG);
    const dir = await tempDir();
    await model.save(dir);
    const back = await loadModel(dir);
    assert.deepEqual(back.config, model.config);
    const x = randomFloats(3 * 12 * 7, 1, 0, 1);
    assert.deepEqual(back.predict(x), model.predict(x));
  });

  it('tf.loadLayersModel loads our model and forecasts the same (≤ 1e-4)', async (t) => {
    const tf = await tfjs();
    const model = createModel(CONFIG);
    const dir = await tempDir();
    await model.save(dir);
    const ref = await tfLoad(tf, dir);
    const n = 8;
    const x = randomFloats(n * 12 * 7, 2, 0, 1);
    const d = maxDiff(
      model.predict(x),
      (ref.predict(tf.tensor3d(x, [n, 12, 7])) as tfTypes.Tensor).dataSync(),
    );
    t.diagnostic(`forecast max abs diff ${d.abs.toExponential(2)}, rel ${d.rel.toExponential(2)}`);
    assert.ok(d.abs <= 1e-4);
  });

  it('loads a model saved by TF.js (model.save) and forecasts the same', async () => {
    const tf = await tfjs();
    const cfg = createModel(CONFIG).config;
    const ref = tfModel(cfg);
    const dir = await tempDir();
    await ref.save(
      tf.io.withSaveHandler(async (a) => {
        await writeFile(join(dir, WEIGHTS_BIN), new Uint8Array(a.weightData as ArrayBuffer));
        await writeFile(
          join(dir, MODEL_JSON),
          JSON.stringify({
            modelTopology: a.modelTopology,
            format: a.format,
            generatedBy: a.generatedBy,
            convertedBy: a.convertedBy,
            weightsManifest: [{ paths: [WEIGHTS_BIN], weights: a.weightSpecs }],
          }),
        );
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const ours = await loadModel(dir);
    assert.equal(ours.config.window, 12);
    assert.deepEqual(ours.config.layers, cfg.layers);
    const n = 5;
    const x = randomFloats(n * 12 * 7, 3, 0, 1);
    const d = maxDiff(
      ours.predict(x),
      (ref.predict(tf.tensor3d(x, [n, 12, 7])) as tfTypes.Tensor).dataSync(),
    );
    assert.ok(d.abs <= 1e-4, `diff ${d.abs}`);
  });

  const damages: { name: string; damage: (dir: string) => Promise<void>; code: string }[] = [
    {
      name: 'truncated weights.bin',
      damage: async (dir) => {
        const b = await readFile(join(dir, WEIGHTS_BIN));
        await writeFile(join(dir, WEIGHTS_BIN), b.subarray(0, b.length - 8));
      },
      code: 'BYNER_MODEL_FILE',
    },
    {
      name: 'one flipped byte in weights.bin',
      damage: async (dir) => {
        const b = await readFile(join(dir, WEIGHTS_BIN));
        b[100] ^= 0x40;
        await writeFile(join(dir, WEIGHTS_BIN), b);
      },
      code: 'BYNER_MODEL_FILE',
    },
    {
      name: 'truncated model.json',
      damage: async (dir) => {
        const s = await readFile(join(dir, MODEL_JSON), 'utf8');
        await writeFile(join(dir, MODEL_JSON), s.slice(0, s.length / 2));
      },
      code: 'BYNER_MODEL_FILE',
    },
    { name: 'missing weights.bin', damage: (dir) => rm(join(dir, WEIGHTS_BIN)), code: 'BYNER_MODEL_FILE' },
    {
      name: 'hardSigmoid recurrent activation',
      damage: async (dir) => {
        const s = await readFile(join(dir, MODEL_JSON), 'utf8');
        await writeFile(
          join(dir, MODEL_JSON),
          s.replaceAll('"recurrent_activation": "sigmoid"', '"recurrent_activation": "hard_sigmoid"'),
        );
      },
      code: 'BYNER_MODEL',
    },
  ];
  for (const c of damages) {
    it(`rejects ${c.name} with ${c.code}`, async () => {
      const dir = await tempDir();
      await createModel(CONFIG).save(dir);
      await c.damage(dir);
      await assert.rejects(loadModel(dir), (e) => isBynerError(e) && e.code === c.code);
    });
  }
});
