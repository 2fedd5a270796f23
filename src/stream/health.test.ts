// The /healthz checks: a probe that answers, fails, or hangs past its deadline (ignoring its signal), and callers
// at once sharing one run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthChecks, healthStatus } from './health.js';

describe('health checks', () => {
  it('reports each probe: answered, failed with its reason, or given up at the deadline', async () => {
    let aborted = false;
    const checks = new HealthChecks(
      {
        store: async () => 'pong',
        bus: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:6379\nat …');
        },
        // Never answers, and ignores its signal: the deadline still ends the check.
        slow: (signal) => {
          signal.addEventListener('abort', () => (aborted = true));
          return new Promise(() => {});
        },
      },
      100,
    );
    const results = await checks.run();
    assert.equal(results.store.ok, true);
    assert.equal(results.store.error, undefined);
    assert.deepEqual(
      { ok: results.bus.ok, error: results.bus.error },
      { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:6379' },
    );
    assert.equal(results.slow.ok, false);
    assert.match(results.slow.error ?? '', /the slow check took longer than 100 ms/);
    assert.ok(aborted, 'the hanging probe was told to give up');
    assert.ok(results.slow.ms >= 90, `${results.slow.ms} ms`);
    assert.equal(healthStatus(results), 'degraded');
    assert.equal(healthStatus({ store: results.store }), 'ok');
  });

  it('runs each probe once for callers that ask at the same time, and again afterwards', async () => {
    let calls = 0;
    let answer: () => void = () => {};
    const checks = new HealthChecks({
      store: () => {
        calls += 1;
        return new Promise<void>((resolve) => (answer = resolve));
      },
    });
    const first = checks.run();
    const second = checks.run();
    answer();
    assert.deepEqual((await first).store.ok, true);
    assert.equal(await second, await first, 'the same results');
    assert.equal(calls, 1);
    const third = checks.run();
    answer();
    await third;
    assert.equal(calls, 2);
  });
});
