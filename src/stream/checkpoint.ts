// Saves a live stream's state (Store.writeStreamState) for its producer: at most once per interval, one write at a
// time, and once more when it stops, each within a deadline. Which state describes stored ticks is the producer's
// business: it offers a state only once the ticks up to its seq are stored.
import type { Store, StoreLogger, StreamState } from '../store/types.js';
import { withDeadline } from '../util/backoff.js';

export interface CheckpointOptions {
  store: Store;
  stream: string;
  logger: StoreLogger;
  /** Least time between two saves, ms. Default 5,000 (200 streams: 40 writes a second). */
  intervalMs?: number;
  /** How long one save may take before it is given up, ms. Default 10,000. */
  timeoutMs?: number;
  /** Seq of the state already stored (the one the stream was opened from), −1 for none. */
  savedSeq?: number;
}

export class StreamCheckpoints {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private lastStart = Number.NEGATIVE_INFINITY;
  private writing: Promise<void> | undefined;
  private savedSeq: number;
  private failing = false;

  constructor(private readonly options: CheckpointOptions) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.savedSeq = options.savedSeq ?? -1;
  }

  /**
   * The stream's ticks are stored up to the seq of the state `current()` returns: saves it unless a save is
   * running or the last one started less than the interval ago (then the next offer or `close` saves a later one).
   * `current` is called only when saving. Never throws: a failed save is logged and the next offer tries again.
   */
  offer(current: () => StreamState): void {
    if (this.writing !== undefined || performance.now() - this.lastStart < this.intervalMs) return;
    const state = current();
    if (state.seq <= this.savedSeq) return;
    this.lastStart = performance.now();
    this.writing = this.save(state, this.timeoutMs).finally(() => (this.writing = undefined));
  }

  /**
   * Waits for a running save, then saves `last` (the state at stop, or null when none is known): all within
   * `timeoutMs`. Never throws.
   */
  async close(last: StreamState | null, timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    const running = this.writing;
    if (running !== undefined)
      await withDeadline(running, timeoutMs, 'saving the stream state').catch(() => {});
    if (last === null || last.seq <= this.savedSeq) return;
    const left = until - performance.now();
    if (this.writing === undefined && left > 0) await this.save(last, left);
    else {
      const { stream, logger } = this.options;
      logger.warn(
        { stream, seq: last.seq },
        `stream ${stream}: its last state was not saved within ${timeoutMs} ms (the next start replays more)`,
      );
    }
  }

  private async save(state: StreamState, timeoutMs: number): Promise<void> {
    const { store, stream, logger } = this.options;
    try {
      const ms = Math.max(1, Math.ceil(timeoutMs));
      const signal = AbortSignal.timeout(ms);
      await withDeadline(store.writeStreamState(state, { signal }), ms, 'saving the stream state');
      this.savedSeq = Math.max(this.savedSeq, state.seq);
      if (this.failing) logger.info({ stream, seq: state.seq }, `stream ${stream}: its state is saved again`);
      this.failing = false;
    } catch (error) {
      if (!this.failing) {
        logger.warn(
          { err: error, stream, seq: state.seq },
          `stream ${stream}: could not save its state (the next start replays more of its stored ticks)`,
        );
      }
      this.failing = true;
    }
  }
}
