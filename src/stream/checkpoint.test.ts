// StreamCheckpoints against a store whose state writes the test settles by hand: one save at a time, none within
// the interval, the last state at close, and deadlines when the store hangs. The producer's use is producer.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IndicatorStream } from '../indicators/streaming.js';
import type { Store, StoreLogger, StreamState } from '../store/types.js';
import { StreamCheckpoints } from './checkpoint.js';

const state = (seq: number): StreamState => ({
  stream: 's',
  seq,
  time: seq * 1000,
  gaps: 0,
  indicators: new IndicatorStream().getState(),
});

/** A store whose writeStreamState calls wait until the test settles them. */
function manualStore() {
  const calls: { seq: number; settle: (error?: Error) => void }[] = [];
  const store = {
    writeStreamState: (s: StreamState) =>
      new Promise<void>((resolve, reject) =>
        calls.push({ seq: s.seq, settle: (error) => (error ? reject(error) : resolve()) }),
      ),
  } as unknown as Store;
  return { store, calls };
}

const logger = (): StoreLogger & { warnings: string[] } => {
  const warnings: string[] = [];
  return { warnings, info() {}, warn: (_o, msg) => warnings.push(msg ?? ''), error() {} };
};

const tick = () => new Promise((r) => setImmediate(r));

describe('StreamCheckpoints', () => {
  it('saves one state at a time, none within the interval, and the newest at close', async () => {
    const { store, calls } = manualStore();
    const cp = new StreamCheckpoints({ store, stream: 's', logger: logger(), intervalMs: 60_000 });
    cp.offer(() => state(1));
    cp.offer(() => state(2)); // a save is running
    assert.deepEqual(
      calls.map((c) => c.seq),
      [1],
    );
    calls[0].settle();
    await tick();
    cp.offer(() => state(3)); // within the interval
    assert.equal(calls.length, 1);
    const closing = cp.close(state(4), 5_000);
    await tick();
    assert.deepEqual(
      calls.map((c) => c.seq),
      [1, 4],
    );
    calls[1].settle();
    await closing;
    await cp.close(state(4), 5_000); // already saved: not written again
    assert.equal(calls.length, 2);
  });

  it('does not save a state at or below the one it was opened from', async () => {
    const { store, calls } = manualStore();
    const cp = new StreamCheckpoints({ store, stream: 's', logger: logger(), savedSeq: 9 });
    cp.offer(() => state(9));
    await cp.close(state(9), 1_000);
    assert.equal(calls.length, 0);
  });

  it('gives up a hanging save at its deadline, and close within its own, saying so', async () => {
    const { store, calls } = manualStore();
    const log = logger();
    const cp = new StreamCheckpoints({ store, stream: 's', logger: log, timeoutMs: 1_000 });
    cp.offer(() => state(1)); // never settled
    const started = performance.now();
    await cp.close(state(2), 100);
    assert.ok(performance.now() - started < 5_000);
    assert.equal(calls.length, 1, 'the last state is not written while the first still hangs');
    assert.ok(log.warnings.some((w) => w.includes('last state was not saved within 100 ms')));
  });

  it('logs a failing save once, and again only after a success', async () => {
    const { store, calls } = manualStore();
    const log = logger();
    const cp = new StreamCheckpoints({ store, stream: 's', logger: log, intervalMs: 0 });
    for (const seq of [1, 2]) {
      cp.offer(() => state(seq));
      calls.at(-1)?.settle(new Error('down'));
      await tick();
      await tick();
    }
    assert.equal(log.warnings.length, 1);
    cp.offer(() => state(3));
    calls.at(-1)?.settle();
    await tick();
    await tick();
    cp.offer(() => state(4));
    calls.at(-1)?.settle(new Error('down again'));
    await tick();
    await tick();
    assert.equal(log.warnings.length, 2);
  });
});
