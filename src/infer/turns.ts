// The one concurrency unit of the inference pipeline: several inputs (one per stream) push items; what arrives in
// the same event-loop turn goes to the consumer as ONE batch, one batch at a time, in push order. When a turn brings
// nothing new, the consumer finishes its deferred work (`idle`). Tasks (adding a stream) run between batches.
// A failing consumer fails every waiting and later push, and `failure` rejects. What a batch means is the consumer's.

export interface TurnConsumer<T> {
  /** Handles one batch; the next batch waits for it. */
  handle(items: T[]): Promise<void>;
  /** Nothing arrived during a turn after a batch: finish what was deferred. */
  idle(): Promise<void>;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

type Entry<T> = ({ kind: 'items'; items: readonly T[] } | { kind: 'task'; run: () => Promise<void> }) &
  Waiter;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class TurnBatcher<T> {
  private queue: Entry<T>[] = [];
  private running: Promise<void> | null = null;
  private error: { error: unknown } | null = null;
  private onFailure: ((error: unknown) => void)[] = [];
  /** Rejects with the consumer's first error (never resolves otherwise). */
  readonly failure: Promise<never>;

  constructor(private readonly consumer: TurnConsumer<T>) {
    this.failure = new Promise<never>((_, reject) => this.onFailure.push(reject));
    this.failure.catch(() => {});
  }

  /** Resolves once the items have been handled; rejects when the consumer failed. */
  push(items: readonly T[]): Promise<void> {
    return this.enqueue((w) => ({ kind: 'items', items, ...w }));
  }

  /** Runs `run` between two batches (after finishing deferred work), in push order. */
  task(run: () => Promise<void>): Promise<void> {
    return this.enqueue((w) => ({ kind: 'task', run, ...w }));
  }

  /** Resolves once everything pushed so far is handled and the deferred work finished; rejects on failure. */
  async drain(): Promise<void> {
    while (this.running !== null) await this.running;
    if (this.error) throw this.error.error;
  }

  private enqueue(make: (w: Waiter) => Entry<T>): Promise<void> {
    if (this.error) return Promise.reject(this.error.error);
    return new Promise<void>((resolve, reject) => {
      this.queue.push(make({ resolve, reject }));
      this.running ??= this.loop().finally(() => {
        this.running = null;
      });
    });
  }

  private async loop(): Promise<void> {
    let deferred = false;
    for (;;) {
      await nextTurn(); // what else arrives in this turn joins the batch
      const head = this.queue[0];
      if (head === undefined) {
        if (!deferred) return;
        deferred = false;
        if (!(await this.run([], () => this.consumer.idle()))) return;
        continue;
      }
      if (head.kind === 'task') {
        this.queue.shift();
        const ok = await this.run([], async () => {
          if (deferred) await this.consumer.idle();
          deferred = false;
          await head.run();
        });
        if (!ok) return head.reject(this.error?.error);
        head.resolve();
        continue;
      }
      const n = this.queue.findIndex((e) => e.kind !== 'items');
      const batch = this.queue.splice(0, n < 0 ? this.queue.length : n);
      const items = batch.flatMap((e) => (e.kind === 'items' ? e.items : []));
      if (!(await this.run(batch, () => this.consumer.handle(items)))) return;
      deferred = true;
      for (const e of batch) e.resolve();
    }
  }

  /** Runs one step; on failure rejects `batch`, the queue and later pushes, and stops. */
  private async run(batch: Entry<T>[], step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      this.error = { error };
      for (const e of [...batch, ...this.queue.splice(0)]) e.reject(error);
      for (const f of this.onFailure) f(error);
      return false;
    }
  }
}
