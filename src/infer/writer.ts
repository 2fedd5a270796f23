// Write-behind for inference results: batches ticks, forecasts and the metrics documents (one per stream and model
// version whose numbers changed) per flush, retries every failed write (keeping the documents), makes the caller
// wait when too many bytes are held, and counts documents once the store's receipts say they are stored. Storing
// them is the Store's job.
import { BynerError, isBynerError } from '../errors.js';
import { type RefusedDocument, RefusedDocumentsError } from '../store/receipt.js';
import { DEFAULT_BACKLOG_BYTES, forecastBytes, TICK_BYTES } from '../store/size.js';
import type { Forecast, MetricsDoc, Store, StoreLogger, WriteReceipt } from '../store/types.js';
import type { Tick } from '../ticks/types.js';
import { sleep } from '../util/backoff.js';
import { countStoredForecasts } from './meters.js';

export interface WriterOptions {
  store: Store;
  /** A write starts this long after the first pending document (1 tick/s → every tick). Default 20 ms. */
  flushDelayMs?: number;
  /** Or as soon as this many ticks are pending (fast replay → big batches). Default 1000. */
  batchSize?: number;
  /**
   * Above this many bytes (estimated, store/size.ts) of documents held here and not yet acknowledged by the store,
   * `add` waits (a long store outage slows the reader, never drops). Default 64 MiB.
   */
  maxPendingBytes?: number;
  /**
   * The most a stop waits for the store, counted from `beginStop()` (or `drain()`), default 10,000 ms
   * (`DRAIN_TIMEOUT_MS`): during a store outage the writer then gives up, `drain()` fails naming the documents not
   * confirmed stored, and `add` no longer waits for space.
   */
  stopTimeoutMs?: number;
  /** The metrics documents that changed, asked once per flush when something was scored since the last one. */
  metrics: () => MetricsDoc[];
  logger?: StoreLogger;
}

export interface WriterStats {
  /** Ticks, forecasts and metrics documents stored (new or already there), counted once the store has them. */
  ticks: number;
  forecasts: number;
  metrics: number;
  batches: number;
  /** Failed write attempts (each retried with the same documents). */
  retries: number;
  /** Documents the store rejected, as invalid or refused for good (not an outage: retrying cannot help). */
  rejected: number;
  /** Ticks held here, not yet acknowledged by the store. */
  pending: number;
  /** Estimated bytes of the ticks and forecasts held here, not yet acknowledged by the store. */
  pendingBytes: number;
}

type Kind = 'ticks' | 'forecasts' | 'metrics';
/** Told, once a write's receipt settles, which of its documents the store refused (the others are stored). */
type Counted = (refused: readonly RefusedDocument[]) => void;

/** How long `drain()` waits for the store by default. */
export const DRAIN_TIMEOUT_MS = 10_000;

const KINDS: readonly Kind[] = ['ticks', 'forecasts', 'metrics'];
const noDocs = (): Record<Kind, number> => ({ ticks: 0, forecasts: 0, metrics: 0 });

export class InferenceWriter {
  readonly stats: WriterStats = {
    ticks: 0,
    forecasts: 0,
    metrics: 0,
    batches: 0,
    retries: 0,
    rejected: 0,
    pending: 0,
    pendingBytes: 0,
  };
  private ticks: Tick[] = [];
  private forecasts: Forecast[] = [];
  /** The timestamp (ms) of each forecast's tick, for byner_forecast_latency_seconds. */
  private forecastTickTimes: number[] = [];
  /** Estimated bytes of `forecasts` (ticks are TICK_BYTES each). */
  private forecastsBytes = 0;
  private scoredSinceFlush = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private spaceWaiters: (() => void)[] = [];
  /** Receipts of acknowledged writes not stored yet, each observed by a handler that counts the outcome. */
  private readonly unsettled = new Set<Promise<void>>();
  /** The first write the store gave up on (closed before storing it): drain() reports it. */
  private lost: unknown;
  private readonly maxPendingBytes: number;
  private readonly logger: StoreLogger;
  /** Documents handed to this writer, and those the store has accounted for (stored, duplicates, refused). */
  private readonly handed = noDocs();
  private readonly settled = noDocs();
  /** Aborted when the stop deadline passes: no more attempts, no more waiting for space. */
  private readonly givenUp = new AbortController();
  /** Resolves when givenUp aborts: one listener for every drain() (each adding its own would pile them up). */
  private readonly late = new Promise<'late'>((resolve) =>
    this.givenUp.signal.addEventListener('abort', () => resolve('late'), { once: true }),
  );
  private stopTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WriterOptions) {
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_BACKLOG_BYTES;
  }

  /** Queues one tick (and its forecast); `scored` says the metrics changed. Waits while too many bytes are held. */
  async add(tick: Tick, forecast: Forecast | null, scored: boolean): Promise<void> {
    this.ticks.push(tick);
    this.handed.ticks += 1;
    if (forecast !== null) this.handed.forecasts += 1;
    this.stats.pendingBytes += TICK_BYTES;
    if (forecast !== null) {
      this.forecasts.push(forecast);
      this.forecastTickTimes.push(tick.timestamp.getTime());
      const bytes = forecastBytes(forecast);
      this.forecastsBytes += bytes;
      this.stats.pendingBytes += bytes;
    }
    this.scoredSinceFlush ||= scored;
    this.stats.pending = this.ticks.length;
    if (this.ticks.length >= (this.options.batchSize ?? 1000)) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.flushDelayMs ?? 20);
    while (this.stats.pendingBytes > this.maxPendingBytes && !this.givenUp.signal.aborted) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
  }

  /**
   * Starts writing what is queued (unless a write is under way) and gives it until the event loop's next turn:
   * an embedded store's write is done by then, a server's is on its way; an outage's retries never hold the
   * caller. A replay calls this while the forecast thread works on the next batch.
   */
  async writeSoon(): Promise<void> {
    if (this.ticks.length > 0 || this.forecasts.length > 0) this.kick();
    const writing = this.writing;
    if (writing) await Promise.race([writing, new Promise<void>((resolve) => setImmediate(resolve))]);
  }

  /**
   * Writes everything queued so far and resolves once the store has stored it (or refused documents for good:
   * counted in `rejected`). Rejects when the store gave up on some of this writer's documents (closed first), and
   * with BYNER_STORE naming the documents not confirmed stored when the store has not taken them all within
   * `stopTimeoutMs` (then this writer stops trying).
   */
  async drain(): Promise<void> {
    this.beginStop();
    const signal = this.givenUp.signal;
    const late = this.late;
    const written = (async () => {
      while (this.ticks.length > 0 || this.forecasts.length > 0 || this.scoredSinceFlush || this.writing) {
        this.kick();
        await Promise.race([this.writing, late]);
        if (signal.aborted) return;
      }
      while (this.unsettled.size > 0 && !signal.aborted)
        await Promise.race([Promise.all(this.unsettled), late]);
    })();
    await Promise.race([written, late]);
    clearTimeout(this.stopTimer);
    this.stopTimer = undefined;
    if (signal.aborted) {
      const ms = this.options.stopTimeoutMs ?? DRAIN_TIMEOUT_MS;
      const missing = KINDS.map((kind) => this.handed[kind] - this.settled[kind]);
      const [ticks, forecasts, metrics] = missing;
      throw new BynerError(
        'BYNER_STORE',
        `${ticks} tick(s), ${forecasts} forecast(s) and ${metrics} metrics document(s) not confirmed stored ` +
          `${ms} ms into the stop`,
        {
          hint:
            'the store stayed unreachable (see the log). Inference resumes after the last stored tick: ' +
            'run it again once the store is back to forecast and store them (while the server still has them)',
        },
      );
    }
    if (this.lost !== undefined) throw this.lost;
  }

  /**
   * Resolves once every document handed to this writer so far is accounted for by the store (stored, found stored,
   * refused), or after `ms` at the latest; true when they are. Unlike drain() it stops nothing: a stream handed to
   * another process has its last writes stored first, as far as the store allows within `ms`, while the writer
   * goes on with the other streams.
   */
  async settle(ms: number): Promise<boolean> {
    const target = { ...this.handed };
    const reached = () => KINDS.every((kind) => this.settled[kind] >= target[kind]);
    const end = performance.now() + ms;
    while (!reached() && !this.givenUp.signal.aborted) {
      const left = end - performance.now();
      if (left <= 0) return false;
      if (this.ticks.length > 0 || this.forecasts.length > 0) this.kick();
      await sleep(Math.min(left, 20));
    }
    return reached();
  }

  /**
   * Starts the stop deadline (drain() starts it too, if not started): `stopTimeoutMs` later, a writer the store has
   * not caught up with gives up. Called when a run is asked to stop, so that a reader waiting for space is bounded.
   */
  beginStop(): void {
    if (this.stopTimer !== undefined || this.givenUp.signal.aborted) return;
    this.stopTimer = setTimeout(() => {
      this.givenUp.abort();
      clearTimeout(this.timer);
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) w();
    }, this.options.stopTimeoutMs ?? DRAIN_TIMEOUT_MS);
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing !== undefined || this.givenUp.signal.aborted) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = undefined;
      if (this.ticks.length > 0 || this.forecasts.length > 0) this.kick();
    });
  }

  private async writeAll(): Promise<void> {
    const ticks = this.ticks;
    const forecasts = this.forecasts;
    const tickTimes = this.forecastTickTimes;
    const forecastsBytes = this.forecastsBytes;
    this.ticks = [];
    this.forecasts = [];
    this.forecastTickTimes = [];
    this.forecastsBytes = 0;
    const metrics = this.scoredSinceFlush ? this.options.metrics() : [];
    this.handed.metrics += metrics.length;
    this.scoredSinceFlush = false;
    const { store } = this.options;
    // Ticks first: a forecast or a score never refers to a tick that is not stored.
    if (ticks.length > 0) {
      await this.retrying('ticks', ticks.length, () => store.writeTicks('inf_historical_db', ticks));
    }
    this.stats.pending = this.ticks.length;
    this.release(ticks.length * TICK_BYTES);
    if (forecasts.length > 0) {
      await this.retrying(
        'forecasts',
        forecasts.length,
        () => store.writeForecasts(forecasts),
        (refused) => countStoredForecasts(forecasts, refused, tickTimes),
      );
    }
    this.release(forecastsBytes);
    if (metrics.length > 0) {
      await this.retrying('metrics', metrics.length, () => store.writeMetrics('inf_metrics', metrics));
    }
    this.stats.batches += 1;
  }

  /** `bytes` were acknowledged by the store: lets waiting writers go once below the limit. */
  private release(bytes: number): void {
    this.stats.pendingBytes -= bytes;
    if (this.stats.pendingBytes > this.maxPendingBytes) return;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Counts a write's documents once its receipt says what became of them; `onStored` learns which the store took
   * (all but the refused ones).
   */
  private track(kind: Kind, receipt: WriteReceipt, onStored?: Counted): void {
    const settled: Promise<void> = receipt
      .stored()
      .then(
        (outcome) => {
          this.stats[kind] += outcome.stored + outcome.duplicates;
          this.settled[kind] += outcome.stored + outcome.duplicates;
          onStored?.([]);
        },
        (error: unknown) => {
          if (error instanceof RefusedDocumentsError) {
            // The store logged the refused documents with their keys; the others are stored.
            this.stats[kind] += error.outcome.stored + error.outcome.duplicates;
            this.stats.rejected += error.refused.length;
            this.settled[kind] += error.outcome.stored + error.outcome.duplicates + error.refused.length;
            onStored?.(error.refused);
            return;
          }
          this.lost ??= error;
          this.logger.error(
            { what: kind, err: error instanceof Error ? error.message : String(error) },
            'the store gave up on written documents',
          );
        },
      )
      .finally(() => this.unsettled.delete(settled));
    this.unsettled.add(settled);
  }

  /**
   * Retries `write` (idempotent: ticks and forecasts are unique by key) until the store acknowledges it, then
   * tracks its receipt; stops trying once drain() has given up.
   */
  private async retrying(
    kind: Kind,
    documents: number,
    write: () => Promise<WriteReceipt>,
    onStored?: Counted,
  ): Promise<void> {
    let delay = 100;
    for (let attempt = 1; !this.givenUp.signal.aborted; attempt++) {
      try {
        this.track(kind, await write(), onStored);
        if (attempt > 1) this.logger.info({ what: kind, attempts: attempt }, 'store writes resumed');
        return;
      } catch (error) {
        if (isBynerError(error, 'BYNER_INVALID_DOCUMENT')) {
          this.stats.rejected += documents;
          this.settled[kind] += documents;
          this.logger.error(
            { what: kind, err: error.message },
            'the store rejected a batch as invalid; skipping it',
          );
          return;
        }
        this.stats.retries += 1;
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            {
              what: kind,
              attempt,
              err: error instanceof Error ? error.message : String(error),
              pending: this.ticks.length,
            },
            'store write failed; keeping the documents and retrying',
          );
        }
        await sleep(delay, this.givenUp.signal);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
}
