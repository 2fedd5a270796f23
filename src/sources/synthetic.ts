// The synthetic price source (DESIGN §2): the noisy, clipped sine, its price a pure function of (seed, seq), one
// point every `intervalMs` (or as fast as asked when 0). The formula itself lives in src/ticks/generator.ts.
import { BynerError } from '../errors.js';
import { SinePriceSource, type SineSource } from '../ticks/generator.js';
import { sleep } from '../util/backoff.js';
import type { PricePoint, PriceSource, SourceStats, StreamPosition } from './types.js';

/** The sine (DEFAULT_SOURCE's parameters, any seed) and the pace of a SyntheticSource. */
export interface SyntheticOptions extends SineSource {
  /** Milliseconds between points; 0 = each point as soon as it is asked for. */
  intervalMs: number;
}

/**
 * The synthetic sine of DESIGN §2 as a live source: one point every `intervalMs` while the stream has a reader
 * (on demand), continuing the sine's phase from the stream's next seq. Throws BYNER_CONFIG for a bad interval.
 */
export class SyntheticSource implements PriceSource {
  readonly kind = 'synthetic';
  readonly onDemand = true;
  readonly stats: SourceStats = { points: 0, malformed: 0, reconnects: 0 };
  private readonly prices: SinePriceSource;

  constructor(
    readonly options: SyntheticOptions,
    /** Monotonic clock in ms for the pace (tests). */
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (!Number.isSafeInteger(options.intervalMs) || options.intervalMs < 0) {
      throw new BynerError('BYNER_CONFIG', 'invalid tick interval', {
        expected: 'an integer number of milliseconds >= 0',
        received: String(options.intervalMs),
      });
    }
    this.prices = new SinePriceSource(options);
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  /**
   * One point per interval: each one `intervalMs` after the previous one was taken (or after the start). A reader
   * that comes back after more than two intervals (the stream had no clients) waits a full interval again.
   */
  async *points(from: StreamPosition, signal: AbortSignal): AsyncGenerator<PricePoint> {
    const interval = this.options.intervalMs;
    let last = this.clock();
    for (let seq = from.seq; !signal.aborted; seq++) {
      if (interval > 0) {
        const now = this.clock();
        const due = now - last > 2 * interval ? now + interval : last + interval;
        if (due > now) await sleep(due - now, signal);
        if (signal.aborted) return;
        last = Math.max(due, this.clock() - interval);
      }
      this.stats.points += 1;
      yield { price: this.prices.at(seq) };
    }
  }
}
