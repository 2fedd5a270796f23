// The serving rule at the registry: for every kind of run (complete, interrupted, stopped on a NaN loss), better
// than the baseline or not, with --force or not, which model serves its stream afterwards (and that the other
// streams keep theirs), and the reason its entry records.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StopReason } from '../engine/index.js';
import { type ModelEntry, openStore, type Store } from '../store/index.js';
import { registerModel, type ServingReason } from './serving.js';

const entry = (version: string, stream = 'synthetic'): Omit<ModelEntry, 'serving'> => ({
  version,
  created_at: new Date(),
  config: {},
  scaler: {},
  metrics: { test: { mse: [1] } },
  data_range: { stream, from_seq: 0, to_seq: 99 },
  artifact: { 'model.json': new Uint8Array([123, 125]) },
});

// [run, stopped as, beats the baseline on validation, --force, serves, recorded reason]
const CASES: [string, StopReason, boolean, boolean, boolean, ServingReason][] = [
  ['complete', 'completed', true, false, true, 'beats-baseline'],
  ['complete', 'completed', true, true, true, 'beats-baseline'],
  ['complete', 'completed', false, false, false, 'worse-than-baseline'],
  ['complete', 'completed', false, true, true, 'forced'],
  ['early-stopped', 'early-stopping', true, false, true, 'beats-baseline'],
  ['early-stopped', 'early-stopping', false, false, false, 'worse-than-baseline'],
  ['partial', 'aborted', true, false, false, 'partial-run'],
  ['partial', 'aborted', true, true, true, 'forced'],
  ['partial', 'aborted', false, false, false, 'partial-run'],
  ['partial', 'aborted', false, true, true, 'forced'],
  ['non-finite', 'non-finite-loss', true, false, false, 'non-finite-loss'],
  ['non-finite', 'non-finite-loss', true, true, false, 'non-finite-loss'],
  ['non-finite', 'non-finite-loss', false, false, false, 'non-finite-loss'],
  ['non-finite', 'non-finite-loss', false, true, false, 'non-finite-loss'],
];

describe('the serving rule, at the registry', () => {
  let store: Store;
  before(async () => {
    store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'byner-serving-')) });
    await store.saveModel({ ...entry('previous'), serving: true });
    await store.saveModel({ ...entry('other-stream', 'co2'), serving: true });
  });
  after(() => store.close());

  for (const [i, [kind, stoppedReason, beats, force, serves, reason]] of CASES.entries()) {
    const name = `${kind} run, ${beats ? 'beats' : 'worse than'} the baseline, ${force ? '' : 'no '}--force`;
    it(`${name}: ${serves ? 'serves' : 'the previous model keeps serving'} (${reason})`, async () => {
      await store.setServing('previous');
      const version = `case-${i}`;
      const validation = { model_mse: beats ? 2 : 3, seasonal_naive_mse: 2.5 };
      const decision = await registerModel(store, entry(version), { stoppedReason, validation, force });
      assert.deepEqual([decision.serving, decision.reason], [serves, reason]);
      assert.equal((await store.servingModel('synthetic'))?.version, serves ? version : 'previous');
      assert.equal(
        (await store.servingModel('co2'))?.version,
        'other-stream',
        'another stream keeps its model',
      );
      const listed = (await store.listModels()).find((m) => m.version === version);
      assert.deepEqual(listed?.serving_streams, serves ? ['synthetic'] : []);
      assert.deepEqual(listed?.metrics.serving_decision, { ...decision });
      assert.deepEqual(listed?.metrics.test, { mse: [1] }, 'the metrics given are kept');
      assert.match(decision.detail, serves ? /^serves: / : /^does NOT serve: /);
    });
  }
});
