// Job ids, versions and the check of job data: the same run, stream and options give the same job; anything else
// another; a worker refuses data that is not a job's, naming the fields.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobId, newJobData, parseJobData, type QueuedTrainOptions, runIdAt } from './jobs.js';

const OPTIONS: QueuedTrainOptions = {
  ticks: 700,
  source: { seed: 42, amplitude: 8, frequency: 0.1, noise: 1.5, bound: 10 },
  model: { window: 20, horizon: 5, layers: [{ units: 12, activation: 'relu' }], dropout: 0.2, seed: 42 },
  fit: { epochs: 4, batchSize: 32, patience: 5, learningRate: 0.001, workers: 2 },
  split: { train: 0.7, validation: 0.1, test: 0.2 },
  season: 10,
  force: false,
};
const AT = new Date('2026-11-27T18:05:12.345Z');

describe('queued training jobs', () => {
  it('have ids from run, stream and options: equal for equal inputs, different when any differs', () => {
    const id = jobId('r1', 'synthetic', OPTIONS);
    assert.match(id, /^train\.synthetic\.[0-9a-f]{10}\.r1$/);
    assert.equal(jobId('r1', 'synthetic', structuredClone(OPTIONS)), id);
    const others = [
      jobId('r2', 'synthetic', OPTIONS),
      jobId('r1', 'co2', OPTIONS),
      jobId('r1', 'synthetic', { ...OPTIONS, fit: { ...OPTIONS.fit, epochs: 5 } }),
      jobId('r1', 'synthetic', { ...OPTIONS, force: true }),
    ];
    assert.equal(new Set([id, ...others]).size, 5, others.join(', '));
    assert.ok(!id.includes(':'), 'BullMQ refuses ":" in job ids');
    assert.equal(runIdAt(AT), '20261127T180512345Z');
  });

  it('carry the version they register: the enqueue time and the stream', () => {
    const data = newJobData('r1', 'co2', OPTIONS, 'byner_analyzer', AT);
    assert.equal(data.version, 'lstm-20261127T180512.345Z-co2');
    assert.deepEqual(parseJobData('j', JSON.parse(JSON.stringify(data))), data);
  });

  it('with malformed data are refused, naming the fields', () => {
    const data = newJobData('r1', 'co2', OPTIONS, 'byner_analyzer', AT);
    const bad = { ...data, stream: 'a b', options: { ...OPTIONS, fit: { ...OPTIONS.fit, workers: 0 } } };
    assert.throws(
      () => parseJobData('j1', bad),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'BYNER_INPUT');
        assert.match(e.message, /queued training job j1 holds malformed data/);
        assert.match(e.message, /received: .*stream: .*options\.fit\.workers: /);
        return true;
      },
    );
    assert.throws(() => parseJobData('j2', { format: 2 }), /malformed/);
  });
});
