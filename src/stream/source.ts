// The live tick source of one stream: continues seq, sine phase and indicators from the stream's stored history,
// persists every tick before publishing it, and keeps the recent ones in a replay ring. Sending them is hub.ts's job.
import { BynerError } from '../errors.js';
import { DEFAULT_INDICATOR_PARAMS, type IndicatorParams } from '../indicators/params.js';
import { IndicatorStream } from '../indicators/streaming.js';
import type { Store, StoreLogger } from '../store/types.js';
import { SinePriceSource, type SineSource } from '../ticks/generator.js';
import { tickToJson } from '../ticks/json.js';
import type { Tick } from '../ticks/types.js';
import { TickRing } from './ring.js';
import { sseFrame } from './sse.js';

export interface LiveSourceOptions {
  store: Store;
  stream: string;
  source: SineSource;
  /** Milliseconds between ticks; 0 = as fast as the fastest client reads (ticks are made on demand). */
  intervalMs: number;
  /** Ticks held in memory for replay (older ones are read back from the store). */
  ringCapacity: number;
  indicatorParams?: IndicatorParams;
  /** Ticks made and persisted at once when `intervalMs` is 0. Default 256. */
  batchSize?: number;
  logger?: StoreLogger;
  /** Clock (tests). */
  now?: () => number;
}

/** Encodes a tick as its SSE event: `id: <seq>` and the tick's JSON (SPEC §7). */
export function tickFrame(tick: Tick): Buffer {
  return Buffer.from(sseFrame({ id: tick.seq, data: JSON.stringify(tickToJson(tick)) }), 'utf8');
}

const COLLECTION = 'historical_data';
const PAGE = 20_000;

export interface ReplayedStream {
  /** Indicator state after the last stored price. */
  indicators: IndicatorStream;
  /** Seq of the last stored tick, −1 for an empty stream. */
  lastSeq: number;
  /** Timestamp (ms) of the last stored tick, 0 for an empty stream. */
  lastTime: number;
  /** Jumps in the stored seqs. */
  gaps: number;
  /** The last `keepLast` stored ticks. */
  tail: Tick[];
}

/**
 * Replays every stored price of a stream through an IndicatorStream, page by page (the EMAs depend on the whole
 * history; > 5 M ticks/s), so that new ticks continue its indicators exactly: for the live server and for
 * `byner generate --append`.
 */
export async function replayStoredStream(
  store: Store,
  stream: string,
  opts: { params?: IndicatorParams; keepLast?: number } = {},
): Promise<ReplayedStream> {
  const keep = opts.keepLast ?? 0;
  const indicators = new IndicatorStream(opts.params ?? DEFAULT_INDICATOR_PARAMS);
  let after = -1;
  let lastTime = 0;
  let gaps = 0;
  let tail: Tick[] = [];
  for (;;) {
    const page = await store.ticksAfter(COLLECTION, stream, after, PAGE);
    if (page.length === 0) break;
    for (const t of page) {
      if (after >= 0 && t.seq !== after + 1) gaps += 1;
      indicators.push(t.price);
      after = t.seq;
    }
    lastTime = page[page.length - 1].timestamp.getTime();
    if (keep > 0) {
      tail = page.length >= keep ? page : tail.concat(page);
      if (tail.length > keep) tail = tail.slice(-keep);
    }
    if (page.length < PAGE) break;
  }
  return { indicators, lastSeq: after, lastTime, gaps, tail };
}

/**
 * Ticks of one stream, made one at a time with the streaming indicators. Each tick is written to the store
 * (and flushed) before it is published, so a tick a client has seen survives a crash as it was sent; the price
 * is also a pure function of (seed, seq), so even an unsent tick is regenerated identically.
 */
export class LiveTickSource {
  readonly ring: TickRing;
  private indicators: IndicatorStream;
  private readonly prices: SinePriceSource;
  private head: number;
  private lastTime: number;
  private readonly listeners = new Set<() => void>();
  private active = false;
  private timer: NodeJS.Timeout | undefined;
  private producing: Promise<void> | undefined;
  private wanted = false;
  private stopped = false;
  private readonly logger: StoreLogger;
  private readonly now: () => number;

  private constructor(
    private readonly options: LiveSourceOptions,
    state: { indicators: IndicatorStream; head: number; lastTime: number },
  ) {
    this.ring = new TickRing(options.ringCapacity);
    this.prices = new SinePriceSource(options.source);
    this.indicators = state.indicators;
    this.head = state.head;
    this.lastTime = state.lastTime;
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
    this.now = options.now ?? Date.now;
  }

  /**
   * Opens the source after the stream's last stored tick. The indicator state is rebuilt by replaying every
   * stored price of the stream through an IndicatorStream (the EMAs depend on the whole history; >5 M ticks/s),
   * and the last stored ticks fill the replay ring.
   */
  static async open(options: LiveSourceOptions): Promise<LiveTickSource> {
    if (!Number.isSafeInteger(options.intervalMs) || options.intervalMs < 0) {
      throw new BynerError('BYNER_CONFIG', 'invalid tick interval', {
        expected: 'an integer number of milliseconds >= 0',
        received: String(options.intervalMs),
      });
    }
    const { store, stream } = options;
    const {
      indicators,
      lastSeq: after,
      lastTime,
      gaps,
      tail,
    } = await replayStoredStream(store, stream, {
      params: options.indicatorParams,
      keepLast: options.ringCapacity,
    });
    if (gaps > 0) {
      options.logger?.warn(
        { stream, gaps },
        `stream "${stream}" has ${gaps} gap(s) in its stored seqs; indicators continue over the stored prices`,
      );
    }
    const source = new LiveTickSource(options, { indicators, head: after, lastTime });
    // The ring holds only consecutive seqs: keep the consecutive run that ends at the last stored tick.
    let start = tail.length - 1;
    while (start > 0 && tail[start - 1].seq === tail[start].seq - 1) start -= 1;
    source.ring.reset(tail.length > 0 ? tail[start].seq : after + 1);
    for (const t of tail.slice(start)) source.ring.push({ tick: t, frame: tickFrame(t) });
    return source;
  }

  /** Seq of the last published (and stored) tick; −1 when the stream is empty. */
  get headSeq(): number {
    return this.head;
  }

  get stream(): string {
    return this.options.stream;
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  /** Called after each published batch of ticks. Returns an unsubscribe function. */
  onPublish(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Makes ticks while active (at least one client): on a timer, or on demand when the interval is 0. */
  setActive(active: boolean): void {
    if (this.stopped || active === this.active) return;
    this.active = active;
    if (!active) {
      clearTimeout(this.timer);
      this.timer = undefined;
    } else if (this.options.intervalMs > 0) {
      this.schedule(this.options.intervalMs);
    }
  }

  /** Interval 0: a client has read everything; make the next batch (at most one batch in flight). */
  demand(): void {
    if (this.stopped || !this.active || this.options.intervalMs > 0) return;
    if (this.producing !== undefined) {
      this.wanted = true;
      return;
    }
    this.produce(this.options.batchSize ?? 256);
  }

  /** Stops making ticks and resolves once the batch being persisted (if any) is stored and published. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.active = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.producing;
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const started = this.now();
      this.produce(1);
      void this.producing?.then(() => {
        if (this.active && !this.stopped && this.timer === undefined) {
          this.schedule(Math.max(0, this.options.intervalMs - (this.now() - started)));
        }
      });
    }, delay);
  }

  private produce(count: number): void {
    const batch = this.makeTicks(count);
    this.producing = this.persistAndPublish(batch).finally(() => {
      this.producing = undefined;
      if (this.wanted) {
        this.wanted = false;
        this.demand();
      }
    });
  }

  private makeTicks(count: number): Tick[] {
    const out: Tick[] = [];
    const time = Math.max(this.now(), this.lastTime);
    this.lastTime = time;
    for (let i = 0; i < count; i++) {
      const seq = this.head + 1 + i;
      const price = this.prices.at(seq);
      const indicators = this.indicators.push(price);
      out.push({ seq, stream: this.options.stream, timestamp: new Date(time), price, indicators });
    }
    return out;
  }

  /** Persist before publish: retries (idempotent writes) until the store takes the batch. */
  private async persistAndPublish(batch: Tick[]): Promise<void> {
    let delay = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        // Stored, not just queued; the receipt reports this batch alone, never another writer's failure.
        await (await this.options.store.writeTicks(COLLECTION, batch)).stored();
        break;
      } catch (error) {
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            { err: error, attempt, seq: batch[0].seq },
            'could not store live ticks; holding them back from clients and retrying',
          );
        }
        if (this.stopped && attempt >= 3) {
          this.logger.error(
            { err: error, seq: batch[0].seq },
            'stopping: live ticks not stored were not sent',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
    for (const tick of batch) this.ring.push({ tick, frame: tickFrame(tick) });
    this.head = batch[batch.length - 1].seq;
    for (const listener of this.listeners) listener();
  }
}
