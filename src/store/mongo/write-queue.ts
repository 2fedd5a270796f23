// Write-behind backlog bounded in bytes: accepts write calls, drains them in order through a sink, retries
// connection errors with capped exponential backoff, isolates the documents the sink refuses for good, and gives
// each write call a receipt with its own outcome. What a duplicate or a refusal is stays the sink's business.

import { BynerError } from '../../errors.js';
import { metrics } from '../../metrics/prometheus.js';
import { sleep } from '../deadline.js';
import { type DocumentKey, logRefused, Receipt, type RefusedDocument } from '../receipt.js';
import { DEFAULT_BACKLOG_BYTES } from '../size.js';
import { type StoreLogger, silentLogger, type WriteReceipt } from '../types.js';

/** What the sink did with a batch; every document not listed was stored. */
export interface SinkResult {
  /** Indexes (in the batch) of documents that were already stored. */
  duplicates?: readonly number[];
  /** Documents refused for good, by index in the batch, with the store's reason. */
  refused?: readonly { index: number; reason: string }[];
}

export interface WriteQueueOptions<D> {
  /**
   * Stores one batch of one collection. Must be idempotent (a retried batch may be partly stored already). Throws
   * on failure: transient errors are retried; any other error of a batch is narrowed down by storing its halves
   * until the documents that fail alone are found, and those are refused.
   */
  sink: (collection: string, docs: D[]) => Promise<SinkResult>;
  /** True for errors worth retrying (connection lost, server selection timed out). */
  isTransient: (error: unknown) => boolean;
  /** Names a document in refusal logs and errors. */
  keyOf: (doc: D) => DocumentKey;
  /** Most bytes (as estimated by the writers) held at once; writers wait beyond it. Default 64 MiB. */
  maxBacklogBytes?: number;
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
  bytes: number;
  receipt: Receipt;
  state: 'queued' | 'inflight' | 'done';
}

/** What became of each document of a batch. */
const STORED = 0;
const DUPLICATE = 1;
const REFUSED = 2;
const LOST = 3;
interface BatchResult {
  status: Uint8Array;
  /** Index → the store's reason, for refused documents. */
  reasons: Map<number, string>;
  /** Why documents were given up (the last connection error), when some were. */
  lostReason?: string;
}

export class WriteQueue<D> {
  private readonly entries: Entry<D>[] = [];
  private head = 0;
  private nextTicket = 1;
  private storedThrough = 0;
  private pendingDocs = 0;
  private pendingBytes = 0;
  private readonly readWaiters = new Set<{ ticket: number; resolve: () => void }>();
  private spaceWaiters: (() => void)[] = [];
  private running = false;
  private abandoned = false;
  private readonly counters = { stored: 0, duplicates: 0, rejected: 0, retries: 0 };
  private readonly maxBytes: number;
  private readonly batchSize: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly logger: StoreLogger;

  constructor(private readonly options: WriteQueueOptions<D>) {
    this.maxBytes = options.maxBacklogBytes ?? DEFAULT_BACKLOG_BYTES;
    this.batchSize = options.batchSize ?? 1000;
    this.backoff = options.backoff ?? { initialMs: 100, maxMs: 5000 };
    this.logger = options.logger ?? silentLogger;
  }

  stats() {
    return {
      ...this.counters,
      pending: this.pendingDocs,
      pendingBytes: this.pendingBytes,
      waitingReads: this.readWaiters.size,
    };
  }

  /**
   * Accepts one write call's documents (`bytes[i]`: the estimated size of `docs[i]`); resolves with its receipt
   * once they are all in the backlog, waiting while the backlog is full.
   */
  async enqueue(collection: string, docs: readonly D[], bytes: readonly number[]): Promise<WriteReceipt> {
    if (this.abandoned) {
      throw new BynerError('BYNER_STORE', `${this.options.target}: the store is closed; nothing was written`);
    }
    const receipt = new Receipt(docs.length, this.options.target, collection);
    for (let i = 0; i < docs.length; i += this.batchSize) {
      const chunk = docs.slice(i, i + this.batchSize);
      let chunkBytes = 0;
      for (let j = i; j < i + chunk.length; j++) chunkBytes += bytes[j];
      while (this.pendingBytes > 0 && this.pendingBytes + chunkBytes > this.maxBytes) {
        await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      }
      this.entries.push({
        ticket: this.nextTicket++,
        collection,
        docs: chunk,
        bytes: chunkBytes,
        receipt,
        state: 'queued',
      });
      this.pendingDocs += chunk.length;
      this.pendingBytes += chunkBytes;
      metrics.storeBacklogBytes.inc(chunkBytes);
      void this.run();
    }
    return receipt;
  }

  /**
   * Resolves when everything enqueued before the call has been through the sink (stored, refused or given up).
   * When `signal` aborts first, rejects with its reason and forgets this waiter.
   */
  drained(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ticket = this.nextTicket - 1;
    if (this.storedThrough >= ticket) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.readWaiters.delete(waiter);
        reject(signal?.reason);
      };
      const waiter = {
        ticket,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.readWaiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops retrying: documents not stored yet are given up, and their receipts say so. Used by a timed close(). */
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
        const collection = batch[0].collection;
        const docs = batch.flatMap((e) => e.docs);
        const result = await this.attempt(collection, docs);
        this.account(collection, batch, docs, result);
        for (const e of batch) {
          e.state = 'done';
          this.pendingDocs -= e.docs.length;
          this.pendingBytes -= e.bytes;
          metrics.storeBacklogBytes.dec(e.bytes);
          e.docs = []; // a done entry may wait a while to be spliced off: it holds no documents meanwhile
        }
        this.settle();
      }
    } finally {
      this.running = false;
    }
  }

  /** Stores `docs`, retrying transient errors; a batch failing otherwise is split until the culprits stand alone. */
  private async attempt(collection: string, docs: D[]): Promise<BatchResult> {
    let delay = this.backoff.initialMs;
    for (let attempts = 0; ; attempts++) {
      const timer = metrics.storeWriteSeconds.startTimer({ collection });
      try {
        const r = await this.options.sink(collection, docs);
        timer();
        if (attempts > 0) {
          this.logger.info(
            { collection, attempts, docs: docs.length },
            `${this.options.target}: writes resumed`,
          );
        }
        const status = new Uint8Array(docs.length);
        const reasons = new Map<number, string>();
        for (const i of r.duplicates ?? []) status[i] = DUPLICATE;
        for (const { index, reason } of r.refused ?? []) {
          status[index] = REFUSED;
          reasons.set(index, reason);
        }
        return { status, reasons };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (this.options.isTransient(error)) {
          if (this.abandoned) {
            return {
              status: new Uint8Array(docs.length).fill(LOST),
              reasons: new Map(),
              lostReason: message,
            };
          }
          this.counters.retries += 1;
          metrics.storeWriteErrors.inc({ collection, kind: 'retry' });
          if (attempts === 0 || (attempts + 1) % 10 === 0) {
            const backlog = this.pendingDocs;
            this.logger.warn(
              { collection, attempts: attempts + 1, backlog, retryInMs: delay, error: message },
              `${this.options.target}: store unreachable, holding ${backlog} document(s) and retrying`,
            );
          }
          await sleep(delay);
          delay = Math.min(delay * 2, this.backoff.maxMs);
          continue;
        }
        if (docs.length === 1) return { status: new Uint8Array([REFUSED]), reasons: new Map([[0, message]]) };
        const half = docs.length >> 1;
        const first = await this.attempt(collection, docs.slice(0, half));
        const second = await this.attempt(collection, docs.slice(half));
        const status = new Uint8Array(docs.length);
        status.set(first.status);
        status.set(second.status, half);
        const reasons = new Map(first.reasons);
        for (const [i, reason] of second.reasons) reasons.set(i + half, reason);
        return { status, reasons, lostReason: first.lostReason ?? second.lostReason };
      }
    }
  }

  /** Counts the batch's outcome, tells each write's receipt about its documents, logs refusals with their keys. */
  private account(collection: string, batch: Entry<D>[], docs: D[], result: BatchResult): void {
    const { status, reasons, lostReason } = result;
    const allRefused: RefusedDocument[] = [];
    let lost = 0;
    let offset = 0;
    for (const e of batch) {
      let stored = 0;
      let duplicates = 0;
      let entryLost = 0;
      const refused: RefusedDocument[] = [];
      for (let i = offset; i < offset + e.docs.length; i++) {
        if (status[i] === STORED) stored += 1;
        else if (status[i] === DUPLICATE) duplicates += 1;
        else if (status[i] === REFUSED) {
          refused.push({ key: this.options.keyOf(docs[i]), reason: reasons.get(i) ?? 'refused' });
        } else entryLost += 1;
      }
      offset += e.docs.length;
      this.counters.stored += stored;
      this.counters.duplicates += duplicates;
      this.counters.rejected += refused.length;
      allRefused.push(...refused);
      lost += entryLost;
      e.receipt.record({
        stored,
        duplicates,
        refused,
        lost: entryLost > 0 ? { count: entryLost, error: this.lostError(collection, entryLost) } : undefined,
      });
    }
    if (allRefused.length > 0) {
      logRefused(this.logger, this.options.target, collection, allRefused);
      metrics.storeWriteErrors.inc({ collection, kind: 'refused' }, allRefused.length);
    }
    if (lost > 0) {
      metrics.storeWriteErrors.inc({ collection, kind: 'lost' }, lost);
      this.logger.error(
        { collection, lost, error: lostReason },
        `${this.options.target}: ${lost} document(s) of ${collection} not stored: the store was closed while unreachable`,
      );
    }
  }

  private lostError(collection: string, count: number): BynerError {
    return new BynerError(
      'BYNER_STORE',
      `${this.options.target}: ${count} document(s) of ${collection} not stored: the store was closed while unreachable`,
      { hint: 'these documents are lost unless written again to an open store' },
    );
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
    for (const waiter of this.readWaiters) {
      if (waiter.ticket <= this.storedThrough) {
        this.readWaiters.delete(waiter);
        waiter.resolve();
      }
    }
    if (this.pendingBytes < this.maxBytes) {
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) w();
    }
  }
}
