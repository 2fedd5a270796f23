// The replay source: the stored ticks of another stream served again as a live stream, paced by their own
// timestamps × speed or by a fixed interval, then ending or looping. Reading the store page by page is here;
// the new seqs, indicators and timestamps are the producer's (replayed ticks are stamped with the time they go out).
import { BynerError } from '../errors.js';
import type { Store } from '../store/types.js';
import type { Tick } from '../ticks/types.js';
import { sleep } from '../util/backoff.js';
import type { PricePoint, PriceSource, SourceStats, StreamPosition } from './types.js';

/** Which stored stream a ReplaySource replays, and at what pace. */
export interface ReplayOptions {
  /** The stream whose stored ticks (`historical_data`) are replayed. */
  from: string;
  /** Waits are the source ticks' timestamp spacing divided by this (60: a minute of history per second). */
  speed?: number;
  /** A fixed wait between points instead (ms); 0 = each point as soon as it is asked for. */
  intervalMs?: number;
  /** After the last source tick, start again from the first one (as new seqs of this stream). */
  loop: boolean;
}

const COLLECTION = 'historical_data';
const PAGE = 1000;

/** The wait before replaying a tick stamped `time` after one stamped `previous` (ms; never negative). */
export function replayDelay(
  previous: number | null,
  time: number,
  pace: { speed?: number; intervalMs?: number },
): number {
  if (pace.intervalMs !== undefined) return pace.intervalMs;
  if (previous === null) return 0;
  return Math.max(0, (time - previous) / (pace.speed ?? 1));
}

/**
 * A stored stream (`historical_data`) replayed as a live one, on demand, at its recorded pace × `speed` or every
 * `intervalMs`; with `loop`, again from the start. Made by `ReplaySource.open(store, options, stream)`.
 */
export class ReplaySource implements PriceSource {
  readonly kind = 'replay';
  readonly onDemand = true;
  readonly stats: SourceStats = { points: 0, malformed: 0, reconnects: 0 };

  /**
   * `count` and `lastSeq` describe the source stream when the server started: replay covers those ticks only
   * (a source stream that grows later is replayed as it was). Use `ReplaySource.open`, which reads them.
   */
  private constructor(
    private readonly store: Store,
    readonly options: ReplayOptions,
    private readonly count: number,
    private readonly lastSeq: number,
  ) {}

  get intervalMs(): number | undefined {
    return this.options.intervalMs;
  }

  /** Checks the source stream has stored ticks (BYNER_CONFIG naming the streams that have some otherwise). */
  static async open(store: Store, options: ReplayOptions, stream: string): Promise<ReplaySource> {
    if (options.from === stream) {
      throw new BynerError('BYNER_CONFIG', `stream ${stream} cannot replay itself`, {
        expected: 'from= another stream (one with stored ticks)',
        received: `from=${options.from}`,
      });
    }
    if (options.speed !== undefined && options.intervalMs !== undefined) {
      throw new BynerError('BYNER_CONFIG', `replay stream ${stream}: speed and interval both given`, {
        expected: 'speed= (times the source spacing) or interval= (fixed ms), not both',
        received: `speed=${options.speed}, interval=${options.intervalMs}`,
      });
    }
    const count = await store.countTicks(COLLECTION, options.from);
    const lastSeq = await store.lastSeq(COLLECTION, options.from);
    if (count === 0 || lastSeq === null) {
      const known = (await store.listStreams(COLLECTION)).map((s) => `${s.stream} (${s.count} ticks)`);
      throw new BynerError(
        'BYNER_CONFIG',
        `replay stream ${stream}: stream ${options.from} has no stored ticks`,
        {
          expected: `from= a stream with stored ticks: ${known.length > 0 ? known.join(', ') : 'the store has none'}`,
          received: `from=${options.from}`,
          hint: 'store one first: `byner generate --stream NAME`, or import a price file (see README, Streams)',
        },
      );
    }
    return new ReplaySource(store, options, count, lastSeq);
  }

  /** Seq of the source stream's tick at `position` (0-based, in seq order). */
  private async seqAt(position: number): Promise<number> {
    if (this.count === this.lastSeq + 1) return position; // no gaps: seqs 0..N−1
    let after = -1;
    let skip = position;
    for (;;) {
      const page = await this.store.ticksAfter(COLLECTION, this.options.from, after, PAGE);
      if (skip < page.length) return page[skip].seq;
      skip -= page.length;
      after = page[page.length - 1].seq;
    }
  }

  async *points(from: StreamPosition, signal: AbortSignal): AsyncGenerator<PricePoint> {
    const { loop } = this.options;
    if (!loop && from.seq >= this.count) return; // every source tick has been replayed
    // The first point waits only a fixed interval; then each waits its spacing after the one before.
    let previous: number | null = null;
    let after = (await this.seqAt(from.seq % this.count)) - 1;
    for (;;) {
      if (signal.aborted) return;
      const page: Tick[] = await this.store.ticksAfter(COLLECTION, this.options.from, after, PAGE);
      for (const tick of page) {
        if (tick.seq > this.lastSeq) break;
        const time = tick.timestamp.getTime();
        const wait = replayDelay(previous, time, this.options);
        if (wait > 0) await sleep(wait, signal);
        if (signal.aborted) return;
        previous = time;
        after = tick.seq;
        this.stats.points += 1;
        yield { price: tick.price };
      }
      if (page.length === 0 || after >= this.lastSeq) {
        if (!loop) return;
        after = -1;
      }
    }
  }
}
