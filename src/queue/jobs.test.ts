// Job ids, versions and the check of job data: the same run, streams and options give the same job; anything else
// another; a job registers the versions of its --model (one stream, or one global model of several); a worker
// refuses data that is not a job's, naming the fields.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeJob,
  jobId,
  jobVersions,
  lstmVersion,
  newJobData,
  parseJobData,
  type QueuedTrainOptions,
  runIdAt,
} from './jobs.js';

const OPTIONS: QueuedTrainOptions = {
  choice: 'lstm',
  ticks: 700,
  source: { seed: 42, amplitude: 8, frequency: 0.1, noise: 1.5, bound: 10 },
  model: { window: 20, horizon: 5, layers: [{ units: 12, activation: 'relu' }], dropout: 0.2, seed: 42 },
  fit: { epochs: 4, batchSize: 32, patience: 5, learningRate: 0.001, workers: 2 },
  split: { train: 0.7, validation: 0.1, test: 0.2 },
  season: 10,
  force: false,
};
const AT = new Date('2026-11-27T18:05:12.345Z');
const T = '20261127T180512.345Z';

describe('queued training jobs', () => {
  it('have ids from run, streams and options: equal for equal inputs, different when any differs', () => {
    const id = jobId('r1', ['synthetic'], OPTIONS);
    assert.match(id, /^train\.synthetic\.[0-9a-f]{10}\.r1$/);
    assert.equal(jobId('r1', ['synthetic'], structuredClone(OPTIONS)), id);
    const others = [
      jobId('r2', ['synthetic'], OPTIONS),
      jobId('r1', ['co2'], OPTIONS),
      jobId('r1', ['synthetic', 'co2'], OPTIONS),
      jobId('r1', ['synthetic'], { ...OPTIONS, fit: { ...OPTIONS.fit, epochs: 5 } }),
      jobId('r1', ['synthetic'], { ...OPTIONS, force: true }),
      jobId('r1', ['synthetic'], { ...OPTIONS, choice: 'linear' }),
      jobId('r1', ['synthetic'], { ...OPTIONS, choice: 'all' }),
    ];
    assert.equal(new Set([id, ...others]).size, 8, others.join(', '));
    assert.match(others[2], /^train\.synthetic\+co2\.[0-9a-f]{10}\.r1$/);
    for (const x of [id, ...others]) assert.ok(!x.includes(':'), 'BullMQ refuses ":" in job ids');
    assert.equal(runIdAt(AT), '20261127T180512345Z');
  });

  const cases: {
    name: string;
    streams: string[];
    choice: QueuedTrainOptions['choice'];
    versions: string[];
    lstm: string | null;
    line: string;
  }[] = [
    {
      name: 'the LSTM on one stream: the enqueue time and the stream',
      streams: ['co2'],
      choice: 'lstm',
      versions: [`lstm-${T}-co2`],
      lstm: `lstm-${T}-co2`,
      line: `stream co2, version lstm-${T}-co2`,
    },
    {
      name: 'the linear model on one stream (no LSTM, no checkpoints)',
      streams: ['co2'],
      choice: 'linear',
      versions: [`linear-${T}-co2`],
      lstm: null,
      line: `stream co2, model linear, version linear-${T}-co2`,
    },
    {
      name: 'the whole ladder on one stream: every kind, one stamp',
      streams: ['co2'],
      choice: 'all',
      versions: ['naive', 'seasonal_naive', 'linear', 'lstm'].map((k) => `${k}-${T}-co2`),
      lstm: `lstm-${T}-co2`,
      line: `stream co2, model all, versions ${['naive', 'seasonal_naive', 'linear', 'lstm'].map((k) => `${k}-${T}-co2`).join(', ')}`,
    },
    {
      name: 'one global LSTM of several streams',
      streams: ['a', 'b', 'c'],
      choice: 'lstm',
      versions: [`lstm-global-${T}`],
      lstm: `lstm-global-${T}`,
      line: `streams a,b,c, model lstm (global), version lstm-global-${T}`,
    },
    {
      name: 'one global linear model of several streams',
      streams: ['a', 'b'],
      choice: 'linear',
      versions: [`linear-global-${T}`],
      lstm: null,
      line: `streams a,b, model linear (global), version linear-global-${T}`,
    },
  ];
  for (const c of cases) {
    it(`carry the versions they register: ${c.name}`, () => {
      const data = newJobData('r1', c.streams, { ...OPTIONS, choice: c.choice }, 'byner_analyzer', AT);
      assert.deepEqual(jobVersions(data), c.versions);
      assert.equal(lstmVersion(data), c.lstm);
      assert.equal(describeJob(data), c.line);
      assert.deepEqual(parseJobData('j', JSON.parse(JSON.stringify(data))), data);
    });
  }

  it('with malformed data are refused, naming the fields', () => {
    const data = newJobData('r1', ['co2'], OPTIONS, 'byner_analyzer', AT);
    const bad = {
      ...data,
      streams: ['a b'],
      options: { ...OPTIONS, choice: 'arima', fit: { ...OPTIONS.fit, workers: 0 } },
    };
    assert.throws(
      () => parseJobData('j1', bad),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'BYNER_INPUT');
        assert.match(e.message, /queued training job j1 holds malformed data/);
        assert.match(e.message, /received: .*streams\.0: .*options\.choice: .*options\.fit\.workers: /);
        return true;
      },
    );
    assert.throws(() => parseJobData('j2', { ...data, streams: ['a', 'a'] }), /streams: each stream once/);
    assert.throws(() => parseJobData('j3', { ...data, format: 1 }), /malformed/);
  });
});
