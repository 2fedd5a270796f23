// Write receipts: the outcome of one write call, kept for the writer that made it until it asks, and the error that
// names the documents a store refused for good. Deciding when a document is stored or refused is each store's job.

import { BynerError } from '../errors.js';
import type { StoreLogger, WriteOutcome, WriteReceipt } from './types.js';

/** Names a document in logs and errors: its unique key (stream, seq, model_version), else its model and time. */
export type DocumentKey = Record<string, string | number>;

export function documentKey(doc: unknown): DocumentKey {
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const key: DocumentKey = {};
  for (const field of ['stream', 'seq', 'model_version']) {
    const v = d[field];
    if (typeof v === 'string' || typeof v === 'number') key[field] = v;
  }
  if (key.seq === undefined && d.timestamp instanceof Date) key.timestamp = d.timestamp.toISOString();
  return key;
}

export interface RefusedDocument {
  key: DocumentKey;
  /** The store's reason, e.g. "Document is larger than the maximum size 16777216". */
  reason: string;
}

const SHOWN_KEYS = 5;
const keyText = (key: DocumentKey) =>
  Object.entries(key)
    .map(([field, value]) => `${field} ${value}`)
    .join(', ');

function refusalMessage(target: string, collection: string, refused: readonly RefusedDocument[]): string {
  const shown = refused
    .slice(0, SHOWN_KEYS)
    .map((r) => `(${keyText(r.key)})`)
    .join('; ');
  const more = refused.length > SHOWN_KEYS ? ` and ${refused.length - SHOWN_KEYS} more` : '';
  return `${target}: ${refused.length} document(s) of ${collection} refused for good: ${shown}${more}`;
}

/** BYNER_STORE_REJECTED: some documents of one write can never be stored as they are; the others were stored. */
export class RefusedDocumentsError extends BynerError {
  constructor(
    target: string,
    readonly collection: string,
    readonly refused: readonly RefusedDocument[],
    /** What became of the write's other documents. */
    readonly outcome: WriteOutcome,
  ) {
    super('BYNER_STORE_REJECTED', refusalMessage(target, collection, refused), {
      received: refused[0]?.reason,
      hint:
        'the store cannot take these documents as they are (too large? refused by a server-side rule?): they ' +
        'are not retried; the other documents of the write are stored',
    });
  }
}

/** Logs a refusal once per batch, with the keys of (up to 20 of) the refused documents. */
export function logRefused(
  logger: StoreLogger,
  target: string,
  collection: string,
  refused: readonly RefusedDocument[],
): void {
  logger.error(
    {
      collection,
      refused: refused.length,
      keys: refused.slice(0, 20).map((r) => r.key),
      reason: refused[0]?.reason,
    },
    `${refusalMessage(target, collection, refused)}; not retried`,
  );
}

/** What became of some of a write's documents. */
export interface ReceiptPart {
  stored?: number;
  duplicates?: number;
  refused?: readonly RefusedDocument[];
  /** Documents given up (the store closed before storing them), with the error their writer gets. */
  lost?: { count: number; error: BynerError };
}

/** A write's receipt, filled in as the store gets through its documents; settles once all are accounted for. */
export class Receipt implements WriteReceipt {
  private readonly outcome: WriteOutcome = { stored: 0, duplicates: 0 };
  private readonly refused: RefusedDocument[] = [];
  private lost: BynerError | undefined;
  private remaining: number;
  private result: Promise<WriteOutcome> | undefined;
  private onSettled: (() => void) | undefined;

  constructor(
    readonly documents: number,
    private readonly target: string,
    private readonly collection: string,
  ) {
    this.remaining = documents;
  }

  /** A receipt whose documents are all accounted for already (a store that writes synchronously). */
  static settled(target: string, collection: string, documents: number, part: ReceiptPart): Receipt {
    const receipt = new Receipt(documents, target, collection);
    receipt.record(part);
    return receipt;
  }

  record(part: ReceiptPart): void {
    const refused = part.refused ?? [];
    this.outcome.stored += part.stored ?? 0;
    this.outcome.duplicates += part.duplicates ?? 0;
    this.refused.push(...refused);
    if (part.lost !== undefined && part.lost.count > 0) this.lost ??= part.lost.error;
    this.remaining -= (part.stored ?? 0) + (part.duplicates ?? 0) + refused.length + (part.lost?.count ?? 0);
    if (this.remaining <= 0) this.onSettled?.();
  }

  stored(): Promise<WriteOutcome> {
    this.result ??= new Promise<WriteOutcome>((resolve, reject) => {
      const settle = () => {
        this.onSettled = undefined;
        if (this.lost !== undefined) reject(this.lost);
        else if (this.refused.length > 0) {
          reject(new RefusedDocumentsError(this.target, this.collection, this.refused, { ...this.outcome }));
        } else resolve({ ...this.outcome });
      };
      if (this.remaining <= 0) settle();
      else this.onSettled = settle;
    });
    return this.result;
  }
}

/**
 * Waits for every receipt; resolves with the summed outcome, or rejects (once all have settled, so none is left
 * unobserved) with the first failure.
 */
export async function allStored(receipts: readonly WriteReceipt[]): Promise<WriteOutcome> {
  const results = await Promise.allSettled(receipts.map((r) => r.stored()));
  const total: WriteOutcome = { stored: 0, duplicates: 0 };
  for (const r of results) {
    if (r.status === 'rejected') throw r.reason;
    total.stored += r.value.stored;
    total.duplicates += r.value.duplicates;
  }
  return total;
}
