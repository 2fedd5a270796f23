// The training workers' failure path: a request to a worker whose thread is gone fails with a BynerError naming
// the exit, instead of waiting for it. Leaves the protocol's other failures to channel.test.ts, fit to model.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBynerError } from '../errors.js';
import { paramLayout, resolveConfig } from './config.js';
import { shareFloats, WorkerPool } from './pool.js';

describe('engine training workers', () => {
  it('a worker that stopped fails its requests with the reason, at once', async () => {
    const config = resolveConfig({ window: 4, features: 2, layers: [{ units: 3 }], horizon: 1 });
    const x = shareFloats(new Float32Array(8 * 4 * 2).fill(0.5));
    const y = shareFloats(new Float32Array(8).fill(1));
    const empty = new SharedArrayBuffer(0);
    const pool = WorkerPool.start(
      1,
      { config, x: x.buffer, y: y.buffer, vx: empty, vy: empty },
      paramLayout(config).regionSize,
      8,
    );
    try {
      const request = {
        type: 'train',
        idx: Int32Array.of(0, 1, 2),
        epoch: 0,
        scale: 1 / 3,
        dropout: false,
      } as const;
      assert.ok(Number.isFinite(await pool.workers[0].request(request)), 'a working worker answers');
      await pool.workers[0].terminate(); // the thread goes away (a crash, an out-of-memory kill)
      await assert.rejects(
        pool.workers[0].request(request),
        (e) =>
          isBynerError(e, 'BYNER_MODEL') &&
          /engine training worker 1 stopped[\s\S]*exited with code 1/.test(e.message),
      );
    } finally {
      await pool.close();
    }
  });
});
