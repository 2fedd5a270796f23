// The turn batcher: what several producers push in one event-loop turn is one batch; batches one at a time in
// push order; deferred work finished when a turn brings nothing; tasks between batches; and its failure paths.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TurnBatcher } from './turns.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A consumer that records what it is called with; `fail` makes the named step throw. */
function recorder(fail: { handle?: number; idle?: boolean } = {}) {
  const log: string[] = [];
  let inside = 0;
  return {
    log,
    consumer: {
      async handle(items: string[]) {
        assert.equal(inside++, 0, 'one batch at a time');
        await turn(); // a batch takes a while (storing, forecasting)
        log.push(`handle ${items.join(',')}`);
        inside--;
        if (fail.handle !== undefined && items.includes(String(fail.handle)))
          throw new Error('handle failed');
      },
      async idle() {
        log.push('idle');
        if (fail.idle) throw new Error('idle failed');
      },
    },
  };
}

describe('TurnBatcher', () => {
  it('batches what arrives in one turn (several producers), in push order, then finishes deferred work', async () => {
    const { log, consumer } = recorder();
    const turns = new TurnBatcher<string>(consumer);
    const a = turns.push(['a1', 'a2']);
    const b = turns.push(['b1']);
    await Promise.all([a, b]);
    assert.deepEqual(log, ['handle a1,a2,b1']);
    await turns.drain();
    assert.deepEqual(log, ['handle a1,a2,b1', 'idle']);
  });

  it('a push made while a batch is handled joins the next batch; idle only once nothing new comes', async () => {
    const { log, consumer } = recorder();
    const turns = new TurnBatcher<string>(consumer);
    const first = turns.push(['1']);
    await turn();
    await turn(); // the first batch is being handled now
    const second = turns.push(['2']);
    const third = turns.push(['3']);
    await Promise.all([first, second, third]);
    await turns.drain();
    assert.deepEqual(log, ['handle 1', 'handle 2,3', 'idle']);
  });

  it('runs a task between batches, after the deferred work, in push order', async () => {
    const { log, consumer } = recorder();
    const turns = new TurnBatcher<string>(consumer);
    const pushed = turns.push(['1']);
    const task = turns.task(async () => {
      log.push('task');
    });
    const after = turns.push(['2']);
    await Promise.all([pushed, task, after]);
    await turns.drain();
    assert.deepEqual(log, ['handle 1', 'idle', 'task', 'handle 2', 'idle']);
  });

  const FAILURES: [string, { handle?: number; idle?: boolean }][] = [
    ['a batch throws', { handle: 2 }],
    ['finishing deferred work throws', { idle: true }],
  ];
  for (const [what, fail] of FAILURES) {
    it(`when ${what}: waiting and later pushes reject, failure and drain reject, nothing more is handled`, async () => {
      const { log, consumer } = recorder(fail);
      const turns = new TurnBatcher<string>(consumer);
      const outcomes = await Promise.allSettled([turns.push(['1']), turns.push(['2'])]);
      if (fail.handle !== undefined)
        assert.deepEqual(
          outcomes.map((o) => o.status),
          ['rejected', 'rejected'],
        );
      await assert.rejects(turns.failure, /failed/);
      await assert.rejects(turns.drain(), /failed/);
      await assert.rejects(turns.push(['3']), /failed/);
      await assert.rejects(
        turns.task(async () => {}),
        /failed/,
      );
      await turn();
      assert.ok(!log.some((l) => l.includes('3')), JSON.stringify(log));
    });
  }

  it('a failing task rejects itself and everything queued after it', async () => {
    const { consumer } = recorder();
    const turns = new TurnBatcher<string>(consumer);
    const task = turns.task(async () => {
      throw new Error('task failed');
    });
    const later = turns.push(['x']);
    await assert.rejects(task, /task failed/);
    await assert.rejects(later, /task failed/);
    await assert.rejects(turns.failure, /task failed/);
  });
});
