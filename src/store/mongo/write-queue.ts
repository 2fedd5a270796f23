// Bounded write-behind backlog: accepts batches, drains them in order through a sink, retries connection
// errors with exponential backoff, makes writers wait when full. What a "duplicate" is stays the sink's job.

import { BynerError } from '../../errors.js';
import { type StoreLogger, silentLogger } from '../types.js';

export interface SinkResult {
  stored: number;
  duplicates: number;
}

export interface WriteQueueOptions<D> {
  /** Stores one batch of one collection. Must be idempotent: a retried batch may be partly stored already. */
  sink: (collection: string, docs: D[]) => Promise<SinkResult>;
  /** True for errors worth retrying (connection lost, server selection timed out). */
  isTransient: (error: unknown) => boolean;
  /** Most documents held at once; writers wait beyond it. Default 100,000. */
  maxBacklog?: number;
  /** Most documents per sink call. Default 1,000. */
  batchSize?: number;
  /** Backoff between retries: starts at initialMs, doubles, capped at maxMs. Default 100 ms → 5 s. */
  backoff?: { initialMs: number; maxMs: number };
  logger?: StoreLogger;
  /** Names the store in log lines and errors. */
  target: string;
}

interface Entry<D> {
  ticket: number;
  collection: string;
  docs: D[];
  state: 'queued' | 'inflight' | 'done';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class WriteQueue<D> {
  private readonly entries: Entry<D>[] = [];
  private head = 0;
  private nextTicket = 1;
  private storedThrough = 0;
  private pendingDocs = 0;
  private readonly ticketWaiters: { ticket: number; resolve: () => void }[] = [];
  private spaceWaiters: (() => void)[] = [];
  private failures: unknown[] = [];
  private running = false;
  private abandoned = false;
  private readonly counters = { stored: 0, duplicates: 0, retries: 0 };
  private readonly maxBacklog: number;
  private readonly batchSize: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly logger: StoreLogger;

  constructor(private readonly options: WriteQueueOptions<D>) {
    this.maxBacklog = options.maxBacklog ?? 100_000;
    this.batchSize = options.batchSize ?? 1000;
    this.backoff = options.backoff ?? { initialMs: 100, maxMs: 5000 };
    this.logger = options.logger ?? silentLogger;
  }

  stats() {
    return { ...this.counters, pending: this.pendingDocs };
  }

  /** Accepts documents; resolves once they are all in the backlog (waiting while it is full). */
  async enqueue(collection: string, docs: readonly D[]): Promise<void> {
    if (this.abandoned) {
      throw new BynerError('BYNER_STORE', `${this.options.target}: the store is closed; nothing was written`);
    }
    for (let i = 0; i < docs.length; i += this.batchSize) {
      const chunk = docs.slice(i, i + this.batchSize);
      while (this.pendingDocs > 0 && this.pendingDocs + chunk.length > this.maxBacklog) {
        await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      }
      this.entries.push({ ticket: this.nextTicket++, collection, docs: chunk, state: 'queued' });
      this.pendingDocs += chunk.length;
      void this.run();
    }
  }

  /** Resolves when everything enqueued before the call has been through the sink (stored or failed). */
  drained(): Promise<void> {
    const ticket = this.nextTicket - 1;
    if (this.storedThrough >= ticket) return Promise.resolve();
    return new Promise((resolve) => this.ticketWaiters.push({ ticket, resolve }));
  }

  /** Like drained(), then rejects with BYNER_STORE if any document could not be stored since the last flush. */
  async flush(): Promise<void> {
    await this.drained();
    if (this.failures.length === 0) return;
    const failures = this.failures;
    this.failures = [];
    const first = failures[0];
    throw new BynerError('BYNER_STORE', `${this.options.target}: ${failures.length} write batch(es) failed`, {
      received: first instanceof Error ? first.message : String(first),
      cause: first,
    });
  }

  /** Stops retrying: batches still failing are dropped and reported by flush(). Used by close() on timeout. */
  abandon(): void {
    this.abandoned = true;
  }

  private nextBatch(): Entry<D>[] {
    const batch: Entry<D>[] = [];
    let docs = 0;
    let collection: string | undefined;
    const scanEnd = Math.min(this.entries.length, this.head + 10 * this.batchSize);
    for (let i = this.head; i < scanEnd; i++) {
      const e = this.entries[i];
      if (e.state !== 'queued') continue;
      collection ??= e.collection;
      if (e.collection !== collection) continue;
      if (batch.length > 0 && docs + e.docs.length > this.batchSize) break;
      batch.push(e);
      docs += e.docs.length;
    }
    return batch;
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let batch = this.nextBatch(); batch.length > 0; batch = this.nextBatch()) {
        for (const e of batch) e.state = 'inflight';
        await this.store(
          batch[0].collection,
          batch.flatMap((e) => e.docs),
        );
        for (const e of batch) {
          e.state = 'done';
          this.pendingDocs -= e.docs.length;
        }
        this.settle();
      }
    } finally {
      this.running = false;
    }
  }

  private async store(collection: string, docs: D[]): Promise<void> {
    let delay = this.backoff.initialMs;
    let attempts = 0;
    for (;;) {
      try {
        const r = await this.options.sink(collection, docs);
        this.counters.stored += r.stored;
        this.counters.duplicates += r.duplicates;
        if (attempts > 0) {
          this.logger.info(
            { collection, attempts, docs: docs.length },
            `${this.options.target}: writes resumed`,
          );
        }
        return;
      } catch (error) {
        if (!this.options.isTransient(error) || this.abandoned) {
          this.logger.error(
            { collection, docs: docs.length, err: error },
            `${this.options.target}: write failed`,
          );
          this.failures.push(error);
          return;
        }
        attempts += 1;
        this.counters.retries += 1;
        if (attempts === 1 || attempts % 10 === 0) {
          const backlog = this.pendingDocs;
          const message = error instanceof Error ? error.message : String(error);
          this.logger.warn(
            { collection, attempts, backlog, retryInMs: delay, error: message },
            `${this.options.target}: store unreachable, holding ${backlog} document(s) and retrying`,
          );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, this.backoff.maxMs);
      }
    }
  }

  private settle(): void {
    while (this.head < this.entries.length && this.entries[this.head].state === 'done') {
      this.storedThrough = this.entries[this.head].ticket;
      this.head += 1;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
    for (let i = this.ticketWaiters.length - 1; i >= 0; i--) {
      if (this.ticketWaiters[i].ticket <= this.storedThrough) this.ticketWaiters.splice(i, 1)[0].resolve();
    }
    if (this.pendingDocs < this.maxBacklog) {
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) w();
    }
  }
}
