// A bounded ring of the encoded SSE frames of the most recent ticks, indexed by seq: what live clients and short
// reconnects read. Only frames are held (a tick's objects would double its memory); older ticks come from the
// store (hub.ts decides which source serves a client).
import { BynerError } from '../errors.js';

export interface RingEntry {
  seq: number;
  /** The tick's SSE frame, encoded once and shared by every client. */
  frame: Buffer;
}

export class TickRing {
  private readonly slots: (RingEntry | undefined)[];
  private first = 0;
  private next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new BynerError('BYNER_CONFIG', 'invalid replay ring capacity', {
        expected: 'an integer >= 1',
        received: String(capacity),
      });
    }
    this.slots = new Array(capacity);
  }

  /** Seq of the oldest tick held, or of the next one when empty. */
  get firstSeq(): number {
    return this.first;
  }

  /** Seq the next pushed tick must have. */
  get nextSeq(): number {
    return this.next;
  }

  get size(): number {
    return this.next - this.first;
  }

  /** Starts an empty ring whose next tick will have seq `seq` (after a restart). */
  reset(seq: number): void {
    this.slots.fill(undefined);
    this.first = seq;
    this.next = seq;
  }

  /** Appends the next tick; the ring only holds consecutive seqs. */
  push(entry: RingEntry): void {
    if (entry.seq !== this.next) {
      throw new BynerError('BYNER_STATE', 'replay ring: ticks must be pushed in seq order', {
        expected: `seq ${this.next}`,
        received: `seq ${entry.seq}`,
      });
    }
    this.slots[this.next % this.capacity] = entry;
    this.next += 1;
    if (this.next - this.first > this.capacity) this.first = this.next - this.capacity;
  }

  /** The entry of `seq`, or undefined when it is not (or no longer) in the ring. */
  get(seq: number): RingEntry | undefined {
    if (seq < this.first || seq >= this.next) return undefined;
    return this.slots[seq % this.capacity];
  }
}
