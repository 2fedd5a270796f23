// Per stream: the order of its ticks (seq tracker: duplicates and out-of-order skipped, gaps recorded), its window of
// feature rows, and its recent prices for the printed line. Which forecaster reads a window is the pipeline's choice.
import type { StoreLogger } from '../store/types.js';
import type { Tick } from '../ticks/types.js';
import { type Gap, SeqTracker } from './validate.js';
import { TickWindow } from './window.js';

/** The windows' counters for one stream (part of the stream's stats). */
export interface WindowCounts {
  /** Ticks taken into the window (each forecast after, once the window is full). */
  accepted: number;
  /** Ticks skipped because their seq repeats the last one accepted (e.g. sent again after a reconnect). */
  duplicates: number;
  /** Ticks skipped because their seq is below the last one accepted. */
  outOfOrder: number;
  /** Seq ranges that never arrived (the window restarts after each). */
  gaps: Gap[];
}

/** One accepted tick with what it takes to forecast after it and to print its line, and who forecasts it. */
export interface Accepted<F> {
  readonly stream: string;
  readonly tick: Tick;
  readonly seq: number;
  /** The forecaster the window goes to (it sized the window). */
  readonly forecaster: F;
  /** The full window ending at this tick (a copy), or null while it fills. */
  readonly window: number[][] | null;
  /** Prices of the last (up to 10) ticks, this one included. */
  readonly recent: number[];
  /** Rows held, and rows a full window has. */
  readonly have: number;
  readonly need: number;
}

/** One stream's state. */
export class StreamWindow {
  readonly tracker: SeqTracker;
  readonly rows: TickWindow;
  /** Prices of the last (up to 10) ticks. */
  readonly recent: number[] = [];
  /** The last tick accepted (or restored from the store). */
  last: Tick | null = null;

  constructor(
    rows: number,
    readonly counts: WindowCounts,
  ) {
    this.tracker = new SeqTracker(null, counts.gaps);
    this.rows = new TickWindow(rows);
  }

  /** Adds a tick to the window without order checks (ticks refilled from the store). */
  restore(tick: Tick): void {
    this.rows.push(tick);
    this.recent.push(tick.price);
    if (this.recent.length > 10) this.recent.shift();
    this.last = tick;
    this.tracker.last = tick.seq;
  }
}

export class StreamWindows {
  private readonly streams = new Map<string, StreamWindow>();

  /** Every window holds at least `minRows` rows (60: forecasts store 60-row input sequences). */
  constructor(
    readonly minRows: number,
    private readonly logger: StoreLogger,
  ) {}

  add(stream: string, counts: WindowCounts): StreamWindow {
    const w = new StreamWindow(this.minRows, counts);
    this.streams.set(stream, w);
    return w;
  }

  /** Forgets a stream (it may be added again, afresh). */
  remove(stream: string): void {
    this.streams.delete(stream);
  }

  get(stream: string): StreamWindow | undefined {
    return this.streams.get(stream);
  }

  /** Last accepted seq of the stream (what its input resumes after), or null. */
  lastSeq(stream: string): number | null {
    return this.streams.get(stream)?.tracker.last ?? null;
  }

  /**
   * Checks the tick's order and advances its stream's window, sized for `forecaster`'s window (at least minRows; a
   * window that grows fills up again). Null when the tick is skipped (duplicate or out of order).
   */
  accept<F extends { readonly window: number }>(
    stream: string,
    tick: Tick,
    forecaster: F,
  ): Accepted<F> | null {
    const w = this.streams.get(stream);
    if (w === undefined) throw new Error(`stream ${stream} was not added`);
    const order = w.tracker.check(tick.seq);
    if (order === 'duplicate' || order === 'out_of_order') {
      if (order === 'duplicate') w.counts.duplicates += 1;
      else w.counts.outOfOrder += 1;
      this.logger.warn(
        { stream, seq: tick.seq, last: w.tracker.last },
        `skipped a ${order.replace('_', '-')} tick`,
      );
      return null;
    }
    if (order === 'gap') {
      const gap = w.counts.gaps[w.counts.gaps.length - 1];
      this.logger.warn(
        { stream, ...gap },
        `ticks ${gap.from}..${gap.to} never arrived; restarting the window`,
      );
    }
    w.counts.accepted += 1;
    const need = Math.max(this.minRows, forecaster.window);
    if (need !== w.rows.size) w.rows.resize(need);
    w.rows.push(tick);
    w.recent.push(tick.price);
    if (w.recent.length > 10) w.recent.shift();
    w.last = tick;
    return {
      stream,
      tick,
      seq: tick.seq,
      forecaster,
      window: w.rows.full(),
      recent: w.recent.slice(),
      have: w.rows.length,
      need,
    };
  }
}
