// The serving rules. At the registry: for every kind of run (complete, interrupted, stopped on a NaN loss), better
// than the baseline or not, with --force or not, which model serves its stream afterwards (and that the other
// streams keep theirs), and the reason its entry records. The ladder rule of `--model all` on constructed cases.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StopReason } from '../engine/index.js';
import { KIND_NAMES, type ModelKind } from '../models/kinds.js';
import { type ModelEntry, openStore, type Store } from '../store/index.js';
import { LADDER_RULE, ladderDecisions, registerModel, type ServingReason } from './serving.js';

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

// The ladder rule (`byner train --model all`): the simplest model within 1% of the lowest validation MSE serves.
// [case, validation MSE of naive, seasonal_naive, linear, lstm, how each run ended (default completed), the kind
// that serves (null: none), the reason of each]
type LadderCase = [
  string,
  [number, number, number, number],
  Partial<Record<ModelKind, StopReason>>,
  ModelKind | null,
  [ServingReason, ServingReason, ServingReason, ServingReason],
];
const LADDER_CASES: LadderCase[] = [
  [
    'the LSTM lowest, linear more than 1% above',
    [80, 4.2, 2.2, 2.137],
    {},
    'lstm',
    ['another-serves', 'another-serves', 'another-serves', 'best-on-validation'],
  ],
  [
    'linear within 1% of the LSTM: the simpler serves',
    [80, 4.2, 2.145, 2.137],
    {},
    'linear',
    ['another-serves', 'another-serves', 'simpler-within-1%', 'another-serves'],
  ],
  [
    'exactly 1% above the lowest is a tie',
    [80, 4.2, 4.04, 4],
    {},
    'linear',
    ['another-serves', 'another-serves', 'simpler-within-1%', 'another-serves'],
  ],
  [
    'just over 1% above the lowest is not',
    [80, 4.2, 4.0401, 4],
    {},
    'lstm',
    ['another-serves', 'another-serves', 'another-serves', 'best-on-validation'],
  ],
  [
    'equal validation MSEs: the simpler',
    [80, 2, 2, 2],
    {},
    'seasonal_naive',
    ['another-serves', 'best-on-validation', 'another-serves', 'another-serves'],
  ],
  [
    'a random walk: naive lowest',
    [1, 1.9, 1.005, 1.2],
    {},
    'naive',
    ['best-on-validation', 'another-serves', 'another-serves', 'another-serves'],
  ],
  [
    'a baseline within 1% of the fitted models serves',
    [10, 2.01, 2, 2.005],
    {},
    'seasonal_naive',
    ['another-serves', 'simpler-within-1%', 'another-serves', 'another-serves'],
  ],
  [
    'the lowest stopped on a NaN loss: never serves',
    [80, 4.2, 2.2, 1],
    { lstm: 'non-finite-loss' },
    'linear',
    ['another-serves', 'another-serves', 'best-on-validation', 'non-finite-loss'],
  ],
  [
    'an interrupted LSTM is out',
    [80, 4.2, 2.2, 1],
    { lstm: 'aborted' },
    'linear',
    ['another-serves', 'another-serves', 'best-on-validation', 'partial-run'],
  ],
  [
    'a non-finite validation MSE is out',
    [80, 4.2, Number.NaN, 3],
    {},
    'lstm',
    ['another-serves', 'another-serves', 'non-finite-loss', 'best-on-validation'],
  ],
];

describe('the ladder rule', () => {
  for (const [name, mses, stopped, winner, reasons] of LADDER_CASES) {
    it(`${name}: ${winner ?? 'none'} serves`, () => {
      const decisions = ladderDecisions(
        KIND_NAMES.map((kind, i) => ({
          kind,
          validation_mse: mses[i],
          stoppedReason: stopped[kind] ?? 'completed',
        })),
      );
      assert.deepEqual(
        decisions.map((d) => d.reason),
        reasons,
      );
      assert.deepEqual(
        KIND_NAMES.filter((_, i) => decisions[i].serving),
        winner === null ? [] : [winner],
      );
      for (const d of decisions) {
        assert.equal(d.rule, LADDER_RULE);
        assert.match(d.detail, d.serving ? /^serves: / : /^does NOT serve: /);
      }
    });
  }

  it('is written out in each decision: ladder order, the 1% tie, NaN runs never serve', () => {
    assert.equal(
      LADDER_RULE,
      "of the run's models, the simplest (naive < seasonal_naive < linear < lstm) whose validation MSE is " +
        'within 1% of the lowest serves the stream; a run stopped on a NaN/Infinity loss never serves',
    );
  });
});
