// The producer of one live stream: takes the prices of its PriceSource (src/sources), gives each tick its seq and
// indicators continuing the stream's stored history, stores it before publishing it, and keeps the recent ones in
// a replay ring. Where prices come from is the source's business; sending ticks to clients is hub.ts's.
import { isBynerError } from '../errors.js';
import { DEFAULT_INDICATOR_PARAMS, type IndicatorParams } from '../indicators/params.js';
import { IndicatorStream } from '../indicators/streaming.js';
import { metrics } from '../metrics/prometheus.js';
import type { PricePoint, PriceSource } from '../sources/types.js';
import type { ReadOptions, Store, StoreLogger, StreamState, WriteOutcome } from '../store/types.js';
import { tickToJson } from '../ticks/json.js';
import type { Tick } from '../ticks/types.js';
import { sleep, withDeadline } from '../util/backoff.js';
import { StreamCheckpoints } from './checkpoint.js';
import type { TickFeed } from './hub.js';
import { TickRing } from './ring.js';
import { sseFrame } from './sse.js';

export interface ProducerOptions {
  store: Store;
  stream: string;
  source: PriceSource;
  /** Ticks held in memory for replay (older ones are read back from the store). */
  ringCapacity: number;
  /** False: the ring starts empty instead of with the last stored ticks (nothing replays from it). Default true. */
  fillRing?: boolean;
  indicatorParams?: IndicatorParams;
  /** The most points made and stored at once (a source that has them ready at once, e.g. interval 0). Default 256. */
  batchSize?: number;
  /** Make ticks without clients too (on-demand sources otherwise wait for a reader). */
  alwaysOn?: boolean;
  logger?: StoreLogger;
  /** Clock of the tick timestamps (tests). */
  now?: () => number;
  /**
   * Called with each batch once the store has stored it, before it is published (the bus appends it to the
   * stream's tick log). Throwing stops the stream (it is marked failed, the batch is not published).
   */
  onStored?: (ticks: readonly Tick[], outcome: WriteOutcome) => Promise<void>;
  /** Where the stored ticks after the stream's saved state are read first at open (the bus's tick log). */
  held?: HeldTicks;
  /**
   * False: this process has not written the stream's ticks (a stream taken over from another process), so the
   * open's store reads do not wait for this process's write backlog (its other streams' ticks). Default true.
   */
  ownWrites?: boolean;
}

/** Encodes a tick as its SSE event: `id: <seq>` and the tick's JSON (DESIGN §7). */
export function tickFrame(tick: Tick): Buffer {
  return Buffer.from(sseFrame({ id: tick.seq, data: JSON.stringify(tickToJson(tick)) }), 'utf8');
}

const COLLECTION = 'historical_data';
/** Most time stop() gives the save of the stream's last state (never beyond its own deadline). */
const STOP_STATE_MS = 2000;
const PAGE = 20_000;

export interface ReplayedStream {
  /** Indicator state after the last stored price. */
  indicators: IndicatorStream;
  /** Seq of the last stored tick, −1 for an empty stream. */
  lastSeq: number;
  /** Timestamp (ms) of the last stored tick, 0 for an empty stream. */
  lastTime: number;
  /** Jumps in the stored seqs (the stream state's count up to its seq, plus the ones after it). */
  gaps: number;
  /** The last `keepLast` stored ticks. */
  tail: Tick[];
  /** Seq of the stream state the replay started from; null when it replayed every stored tick. */
  fromState: number | null;
}

/**
 * Stored ticks held outside the store, read before it: the stream's tick log in Redis, which only holds ticks
 * already stored. Up to the consecutive ticks after `afterSeq` it has, ascending; empty when it has none (or
 * cannot be read).
 */
export type HeldTicks = (afterSeq: number) => Promise<Tick[]>;

const sameParams = (a: IndicatorParams, b: IndicatorParams) =>
  Object.keys(a).length === Object.keys(b).length &&
  (Object.keys(b) as (keyof IndicatorParams)[]).every((k) => a[k] === b[k]);

/**
 * The indicator state after every stored price of a stream, so that new ticks continue its indicators exactly:
 * for the live server and for `byner generate --append`. From the stream's saved state (Store.streamState) when
 * there is one of the same indicator periods whose tick is stored as it says: then only the ticks after it are
 * read (with the `keepLast` before it, for the tail). Otherwise every stored price is replayed, page by page
 * (the EMAs depend on the whole history; > 5 M ticks/s). Both give the same result.
 */
export async function replayStoredStream(
  store: Store,
  stream: string,
  opts: { params?: IndicatorParams; keepLast?: number; held?: HeldTicks; read?: ReadOptions } = {},
): Promise<ReplayedStream> {
  const params = opts.params ?? DEFAULT_INDICATOR_PARAMS;
  const keep = opts.keepLast ?? 0;
  const read = opts.read ?? {};
  const state = await store.streamState(stream, read);
  if (state !== null && sameParams(state.indicators.params, params)) {
    const resumed =
      (opts.held === undefined ? null : await replayAfter(store, state, keep, read, opts.held)) ??
      (await replayAfter(store, state, keep, read));
    if (resumed !== null) return resumed;
  }
  const empty: StreamState = {
    stream,
    seq: -1,
    time: 0,
    gaps: 0,
    indicators: new IndicatorStream(params).getState(),
  };
  return (await replayAfter(store, empty, keep, read)) as ReplayedStream;
}

/**
 * Continues `start` (a stream state, or the empty one at seq −1) over the stored ticks after it. Null when the
 * stored tick at the state's seq is missing or differs from the state's (the state does not describe the stored
 * stream: replay it all instead). With `held`, the ticks after the state are taken from there, and the store is
 * read only from the last held tick on; null when `held` does not reach back to the state or its last tick is not
 * the stored one (the caller reads the store instead).
 */
async function replayAfter(
  store: Store,
  start: StreamState,
  keep: number,
  read: ReadOptions,
  held?: HeldTicks,
): Promise<ReplayedStream | null> {
  const indicators = IndicatorStream.fromState(start.indicators);
  const resuming = start.seq >= 0;
  // The tail's ticks up to the state's seq come in the same read (at least the state's own tick, to check it).
  const after = resuming ? Math.max(-1, start.seq - Math.max(keep, 1)) : -1;
  let pages: AsyncIterable<Tick[]> | Tick[][];
  if (held === undefined) pages = storedPages(store, start.stream, after, read);
  else {
    const heldPages = await withHeld(store, start, after, read, held);
    if (heldPages === null) return null;
    pages = heldPages;
  }
  let verified = !resuming;
  let lastSeq = start.seq;
  let lastTime = start.time;
  let gaps = start.gaps;
  let tail: Tick[] = [];
  for await (const page of pages) {
    for (const t of page) {
      if (t.seq <= start.seq) {
        if (t.seq === start.seq)
          verified = t.price === start.indicators.recent.at(-1) && t.timestamp.getTime() === start.time;
        continue;
      }
      if (!verified) return null;
      if (lastSeq >= 0 && t.seq !== lastSeq + 1) gaps += 1;
      indicators.push(t.price);
      lastSeq = t.seq;
      lastTime = t.timestamp.getTime();
    }
    if (keep > 0) {
      tail = page.length >= keep ? page : tail.concat(page);
      if (tail.length > keep) tail = tail.slice(-keep);
    }
  }
  if (!verified) return null;
  return { indicators, lastSeq, lastTime, gaps, tail, fromState: resuming ? start.seq : null };
}

/** The stored ticks after `after`, page by page. */
async function* storedPages(
  store: Store,
  stream: string,
  after: number,
  read: ReadOptions,
): AsyncIterable<Tick[]> {
  for (;;) {
    const page = await store.ticksAfter(COLLECTION, stream, after, PAGE, read);
    if (page.length > 0) yield page;
    if (page.length < PAGE) return;
    after = page[page.length - 1].seq;
  }
}

/**
 * The ticks after `after` from `held` (all but its last), then the stored ticks from its last one on; null when
 * `held` does not begin at after + 1 and reach past the state, or its last tick is not stored as held.
 */
async function withHeld(
  store: Store,
  start: StreamState,
  after: number,
  read: ReadOptions,
  held: HeldTicks,
): Promise<Tick[][] | null> {
  const h = await held(after);
  let n = 1;
  while (n < h.length && h[n].seq === h[0].seq + n) n += 1;
  if (h.length === 0 || h[0].seq !== after + 1 || h[n - 1].seq <= start.seq) return null;
  const last = h[n - 1];
  const stored = await consecutiveFrom(store, start.stream, last.seq, read);
  const [s] = stored;
  if (s === undefined || s.price !== last.price || s.timestamp.getTime() !== last.timestamp.getTime())
    return null;
  return [h.slice(0, n - 1), stored];
}

/**
 * The stored ticks from `from` on up to the first missing seq, by range reads of growing length (4, 16, 64, 256).
 * What a producer stored past the tick log's end is consecutive (it makes seq head + 1), and usually one batch or
 * none: a range read is one round of keyed lookups on MongoDB, where finding the stream's last seq would take
 * a dozen one after another.
 */
async function consecutiveFrom(
  store: Store,
  stream: string,
  from: number,
  read: ReadOptions,
): Promise<Tick[]> {
  const out: Tick[] = [];
  for (let n = 4; ; n = Math.min(n * 4, 256)) {
    const first = from + out.length;
    const got = await store.ticksRange(COLLECTION, stream, first, first + n - 1, read);
    let k = 0;
    while (k < got.length && got[k].seq === first + k) k += 1;
    for (let i = 0; i < k; i++) out.push(got[i]);
    if (k < n) return out;
  }
}

/** Ticks made per second over the last 10 s, in one-second buckets. */
export class RateWindow {
  private readonly buckets = new Float64Array(10);
  private second = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  add(count: number): void {
    this.roll();
    this.buckets[this.second % 10] += count;
  }

  /** Mean per second over the 10 s before now. */
  perSecond(): number {
    this.roll();
    let sum = 0;
    for (const b of this.buckets) sum += b;
    return sum / 10;
  }

  private roll(): void {
    const now = Math.floor(this.clock() / 1000);
    if (now - this.second >= 10) this.buckets.fill(0);
    else for (let s = this.second + 1; s <= now; s++) this.buckets[s % 10] = 0;
    this.second = Math.max(this.second, now);
  }
}

/** What /api/streams says about a producer. */
export interface ProducerState {
  /** `running`: making ticks (or waiting for a reader); `ended`: the source is exhausted (a replay without loop, a
   * closed stdin); `failed`: the source threw (logged). */
  state: 'running' | 'ended' | 'failed';
  ticksPerSecond: number;
}

const DONE = Symbol('done');
type Pull = IteratorResult<PricePoint> | typeof DONE;

/**
 * Ticks of one stream from its source. Each batch of ticks is written to the store (and flushed) before it is
 * published, so a tick a client has seen survives a crash as it was sent. On-demand sources are read only when a
 * client of the stream has read everything (`demand`; or always with `alwaysOn`): the next point at the source's
 * pace, and the points that are ready at once (interval 0) in batches of at most `batchSize`. Other sources (feeds)
 * are read as their points come, whether or not anyone reads the stream.
 */
export class StreamProducer implements TickFeed {
  readonly ring: TickRing;
  private indicators: IndicatorStream;
  private head: number;
  private lastTime: number;
  private readonly listeners = new Set<() => void>();
  private readonly stopper = new AbortController();
  /** Aborted when stop()'s deadline passes: the batch being stored is given up on (counted, never sent). */
  private readonly giveUp = new AbortController();
  private readonly gaveUp: Promise<typeof DONE>;
  /** Ticks of batches given up on at stop: handed to the store, not confirmed stored, never sent. */
  private unconfirmed = 0;
  private readonly logger: StoreLogger;
  private readonly now: () => number;
  private readonly rate = new RateWindow();
  private active = false;
  private demanded = false;
  /** Wakes the loop when it waits for clients or demand. */
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private status: ProducerState['state'] = 'running';
  private readonly produced;
  /** Gaps in the stored seqs up to the head (the producer adds none): saved with the stream's state. */
  private readonly gaps: number;
  private readonly checkpoints: StreamCheckpoints;
  /**
   * The indicators describe the tick at the head: false from making a batch until it is stored (and for good once
   * a batch met ticks already stored, which may be another producer's), so that only a state of stored ticks is
   * saved.
   */
  private synced = true;
  private trusted = true;

  private constructor(
    private readonly options: ProducerOptions,
    state: { indicators: IndicatorStream; head: number; lastTime: number; gaps: number; savedSeq: number },
  ) {
    this.ring = new TickRing(options.ringCapacity);
    this.indicators = state.indicators;
    this.head = state.head;
    this.lastTime = state.lastTime;
    this.gaps = state.gaps;
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
    this.checkpoints = new StreamCheckpoints({
      store: options.store,
      stream: options.stream,
      logger: this.logger,
      savedSeq: state.savedSeq,
    });
    this.now = options.now ?? Date.now;
    this.produced = metrics.ticksProduced.labels({ stream: options.stream });
    this.produced.inc(0);
    const signal = this.giveUp.signal;
    this.gaveUp = new Promise((resolve) =>
      signal.addEventListener('abort', () => resolve(DONE), { once: true }),
    );
  }

  /**
   * Opens the producer after the stream's last stored tick and starts reading its source. The indicator state is
   * rebuilt from the stream's saved state and the stored prices after it, or by replaying every stored price
   * (replayStoredStream), and the last stored ticks fill the replay ring. While it runs, the producer saves the
   * stream's state after its stored ticks at most every 5 s and when it stops (StreamCheckpoints).
   */
  static async open(options: ProducerOptions): Promise<StreamProducer> {
    const { store, stream } = options;
    const { indicators, lastSeq, lastTime, gaps, tail, fromState } = await replayStoredStream(store, stream, {
      params: options.indicatorParams,
      keepLast: options.fillRing === false ? 0 : options.ringCapacity,
      held: options.held,
      read: { afterWrites: options.ownWrites !== false },
    });
    if (gaps > 0) {
      options.logger?.warn(
        { stream, gaps },
        `stream "${stream}" has ${gaps} gap(s) in its stored seqs; indicators continue over the stored prices`,
      );
    }
    const producer = new StreamProducer(options, {
      indicators,
      head: lastSeq,
      lastTime,
      gaps,
      savedSeq: fromState ?? -1,
    });
    // A stream replayed past its state (or without one) gets one now, so that the next start is short.
    producer.saveState();
    // The ring holds only consecutive seqs: keep the consecutive run that ends at the last stored tick.
    let start = tail.length - 1;
    while (start > 0 && tail[start - 1].seq === tail[start].seq - 1) start -= 1;
    producer.ring.reset(tail.length > 0 ? tail[start].seq : lastSeq + 1);
    for (const t of tail.slice(start)) producer.ring.push({ seq: t.seq, frame: tickFrame(t) });
    producer.loop = producer.run(lastSeq < 0 ? null : lastTime);
    return producer;
  }

  /** Seq of the last published (and stored) tick; −1 when the stream is empty. */
  get headSeq(): number {
    return this.head;
  }

  get stream(): string {
    return this.options.stream;
  }

  get source(): PriceSource {
    return this.options.source;
  }

  get state(): ProducerState {
    return { state: this.status, ticksPerSecond: this.rate.perSecond() };
  }

  /** Called after each published batch of ticks. Returns an unsubscribe function. */
  onPublish(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** The stream has clients (or not): an on-demand source is read only while it has. */
  setActive(active: boolean): void {
    this.active = active;
    this.wakeUp();
  }

  /** A client has read everything: the next batch of an on-demand source may be made. */
  demand(): void {
    this.demanded = true;
    this.wakeUp();
  }

  /**
   * Stops reading the source; resolves once the batch being stored (if any) is stored and published, or, after
   * `timeoutMs` (a store outage), at once with that batch given up: its ticks are counted in `unconfirmedTicks`
   * (handed to the store, not confirmed stored, never sent). Without `timeoutMs` it waits as long as the store does.
   * Then saves the stream's state, within at most 2 s and what is left of `timeoutMs`.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<{ unconfirmedTicks: number }> {
    const end = performance.now() + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
    this.stopper.abort();
    this.wakeUp();
    const loop = this.loop ?? Promise.resolve();
    if (options.timeoutMs !== undefined) {
      // run() never rejects: a rejection here is the deadline.
      await withDeadline(loop, options.timeoutMs, 'stopping').catch(() => this.giveUp.abort());
    }
    await loop;
    // The last state, so that a start after this stop replays nothing; within what is left of the deadline.
    const budget = Math.min(STOP_STATE_MS, end - performance.now());
    await this.checkpoints.close(budget > 0 ? this.stateNow() : null, Math.max(0, budget));
    return { unconfirmedTicks: this.unconfirmed };
  }

  /** The indicators are known to describe the stored tick at the head. */
  private get stateKnown(): boolean {
    return this.synced && this.trusted && this.head >= 0;
  }

  /** The stream's state at the head, when known; else null. */
  private stateNow(): StreamState | null {
    if (!this.stateKnown) return null;
    return {
      stream: this.stream,
      seq: this.head,
      time: this.lastTime,
      gaps: this.gaps,
      indicators: this.indicators.getState(),
    };
  }

  /** Offers the state at the head to the checkpoints (saved when a second has passed since the last save). */
  private saveState(): void {
    if (this.stateKnown) this.checkpoints.offer(() => this.stateNow() as StreamState);
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Waits until `ready()` holds or the producer stops. */
  private async until(ready: () => boolean): Promise<void> {
    while (!ready() && !this.stopped) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  private get gated(): boolean {
    return this.options.source.onDemand && this.options.alwaysOn !== true;
  }

  private async run(lastTime: number | null): Promise<void> {
    const source = this.options.source;
    const batchSize = this.options.batchSize ?? 256;
    const signal = this.stopper.signal;
    const stop = new Promise<typeof DONE>((resolve) =>
      signal.addEventListener('abort', () => resolve(DONE), { once: true }),
    );
    let iterator: AsyncIterator<PricePoint> | undefined;
    let pending: Promise<IteratorResult<PricePoint>> | undefined;
    try {
      iterator = source.points({ seq: this.head + 1, lastTime }, signal)[Symbol.asyncIterator]();
      for (;;) {
        // An on-demand source is read when a client has read everything (a paced one then waits its interval).
        if (this.gated) await this.until(() => this.active && this.demanded);
        if (this.stopped) break;
        this.demanded = false;
        pending ??= iterator.next();
        const first: Pull = await Promise.race([pending, stop]);
        pending = undefined;
        if (first === DONE) break;
        if (first.done === true) {
          this.status = 'ended';
          break;
        }
        const batch = [first.value];
        // Points that are ready before the next turn of the event loop join the batch.
        let turned = false;
        const turn = new Promise<typeof DONE>((resolve) =>
          setImmediate(() => {
            turned = true;
            resolve(DONE);
          }),
        );
        let ended = false;
        while (batch.length < batchSize && !turned) {
          pending = iterator.next();
          const next: Pull = await Promise.race([pending, turn]);
          if (next === DONE) break; // `pending` waits for the next batch
          pending = undefined;
          if (next.done === true) {
            ended = true;
            break;
          }
          batch.push(next.value);
        }
        if (this.gated) {
          await this.until(() => this.active);
          if (this.stopped) break; // no reader took them: they are made again (same seqs) next time
        }
        await this.persistAndPublish(batch);
        // A store that answers at once and a source with points ready would otherwise never let timers and
        // sockets run.
        await new Promise((resolve) => setImmediate(resolve));
        if (ended) {
          this.status = 'ended';
          break;
        }
      }
      if (this.status === 'ended') {
        this.logger.info(
          { stream: this.stream, headSeq: this.head },
          `stream ${this.stream}: its ${source.kind} source has ended; the stream stays readable`,
        );
      }
    } catch (error) {
      this.status = 'failed';
      this.logger.error(
        { err: error, stream: this.stream },
        isBynerError(error, 'BYNER_BUS')
          ? `stream ${this.stream}: ${error.message.split('\n')[0]}; this process stops producing it`
          : `stream ${this.stream}: its ${source.kind} source failed; no more ticks (the stream stays readable)`,
      );
    } finally {
      // Ends the source's generator (and what it holds: a connection, a reader); not awaited: it may be waiting.
      void iterator?.return?.().catch(() => {});
    }
  }

  /** Turns points into ticks: the next seqs, the indicators, a timestamp never before the stream's last one. */
  private makeTicks(points: readonly PricePoint[]): Tick[] {
    this.synced = false;
    const now = this.now();
    return points.map((p, i) => {
      const time = Math.max(p.timestamp?.getTime() ?? now, this.lastTime);
      this.lastTime = time;
      return {
        seq: this.head + 1 + i,
        stream: this.options.stream,
        timestamp: new Date(time),
        price: p.price,
        indicators: this.indicators.push(p.price),
      };
    });
  }

  /**
   * Persist before publish: the one step between a tick and its readers. Retries (idempotent writes) until the
   * store takes the batch; when stopping, gives up after a few attempts and sends nothing that was not stored.
   */
  private async persistAndPublish(points: readonly PricePoint[]): Promise<void> {
    const batch = this.makeTicks(points);
    const store = this.options.store;
    let delay = 100;
    let outcome: WriteOutcome;
    for (let attempt = 1; ; attempt++) {
      try {
        // Stored, not just queued; the receipt reports this batch alone, never another writer's failure.
        const stored = (async () => (await store.writeTicks(COLLECTION, batch)).stored())();
        const result = await Promise.race([stored, this.gaveUp]);
        if (result === DONE) {
          this.unconfirmed += batch.length;
          this.logger.error(
            { seq: batch[0].seq, ticks: batch.length, stream: this.stream },
            `stopping: ${batch.length} live tick(s) not confirmed stored by the stop deadline were not sent`,
          );
          return;
        }
        outcome = result;
        break;
      } catch (error) {
        // A tick the store refuses (or that is not a valid document) would be refused again: the stream stops
        // here (run() marks it failed) rather than retrying for good or sending a tick that is not stored.
        if (isBynerError(error, 'BYNER_STORE_REJECTED') || isBynerError(error, 'BYNER_INVALID_DOCUMENT')) {
          throw error;
        }
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            { err: error, attempt, seq: batch[0].seq, stream: this.stream },
            'could not store live ticks; holding them back from clients and retrying',
          );
        }
        if (this.stopped && attempt >= 3) {
          this.unconfirmed += batch.length;
          this.logger.error(
            { err: error, seq: batch[0].seq, stream: this.stream },
            'stopping: live ticks not stored were not sent',
          );
          return;
        }
        await sleep(delay, this.giveUp.signal);
        delay = Math.min(delay * 2, 5000);
      }
    }
    // Ticks already stored may be another producer's, with other prices: no state describes them for sure.
    if (outcome.duplicates > 0) this.trusted = false;
    await this.options.onStored?.(batch, outcome);
    for (const tick of batch) this.ring.push({ seq: tick.seq, frame: tickFrame(tick) });
    this.head = batch[batch.length - 1].seq;
    this.synced = true;
    this.saveState();
    this.rate.add(batch.length);
    this.produced.inc(batch.length);
    for (const listener of this.listeners) listener();
  }
}
