// The input window of live inference: the feature rows (price and six indicators) of the last `size` consecutive
// ticks that have every indicator. Which ticks arrive (validation, order, duplicates) is the caller's business.
import { INDICATOR_NAMES, type Tick } from '../ticks/types.js';

/** The tick's 7 raw features, or null while one of its indicators is not defined yet. */
export function featureRow(t: Tick): number[] | null {
  const row = [t.price];
  for (const name of INDICATOR_NAMES) {
    const v = t.indicators[name];
    if (v === null) return null;
    row.push(v);
  }
  return row;
}

export class TickWindow {
  /** (≤ size, 7) */
  private rows: number[][] = [];
  private lastSeq: number | null = null;

  constructor(private _size: number) {}

  /** Rows of a full window. */
  get size(): number {
    return this._size;
  }

  /** Changes the size: a larger window keeps its rows and fills up; a smaller one keeps the latest rows. */
  resize(size: number): void {
    this._size = size;
    if (this.rows.length > size) this.rows = this.rows.slice(-size);
  }

  /** Rows held (size once full). */
  get length(): number {
    return this.rows.length;
  }

  /**
   * Adds the tick (seq ascending). A tick that does not follow the last one (a gap) or lacks an indicator starts
   * the window afresh: a window is always `size` consecutive ticks.
   */
  push(tick: Tick): void {
    if (this.lastSeq !== null && tick.seq !== this.lastSeq + 1) this.rows = [];
    this.lastSeq = tick.seq;
    const row = featureRow(tick);
    if (row === null) {
      this.rows = [];
      return;
    }
    this.rows.push(row);
    if (this.rows.length > this.size) this.rows.shift();
  }

  /** The full window (a copy: later ticks do not change it), or null while it fills. */
  full(): number[][] | null {
    return this.rows.length === this.size ? this.rows.slice() : null;
  }
}
