// Write-behind for inference results: batches ticks, forecasts and the metrics documents (one per stream and model
// version whose numbers changed) per flush, retries every failed write (keeping the documents) and makes the caller
// wait when too much is held. Stores are the Store's job.
import { isBynerError } from '../errors.js';
import type { Forecast, MetricsDoc, Store, StoreLogger } from '../store/types.js';
import type { Tick } from '../ticks/types.js';

export interface WriterOptions {
  store: Store;
  /** A write starts this long after the first pending document (1 tick/s → every tick). Default 20 ms. */
  flushDelayMs?: number;
  /** Or as soon as this many ticks are pending (fast replay → big batches). Default 1000. */
  batchSize?: number;
  /** Above this many pending ticks, `add` waits (a long store outage slows the reader, never drops). */
  maxPending?: number;
  /** The metrics documents that changed, asked once per flush when something was scored since the last one. */
  metrics: () => MetricsDoc[];
  logger?: StoreLogger;
}

export interface WriterStats {
  ticks: number;
  forecasts: number;
  metrics: number;
  batches: number;
  /** Failed write attempts (each retried with the same documents). */
  retries: number;
  /** Documents the store rejected as invalid (a bug, not an outage: retrying cannot help). */
  rejected: number;
  pending: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class InferenceWriter {
  readonly stats: WriterStats = {
    ticks: 0,
    forecasts: 0,
    metrics: 0,
    batches: 0,
    retries: 0,
    rejected: 0,
    pending: 0,
  };
  private ticks: Tick[] = [];
  private forecasts: Forecast[] = [];
  private scoredSinceFlush = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private spaceWaiters: (() => void)[] = [];
  private readonly logger: StoreLogger;

  constructor(private readonly options: WriterOptions) {
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
  }

  /** Queues one tick (and its forecast); `scored` says the metrics changed. Waits while the backlog is full. */
  async add(tick: Tick, forecast: Forecast | null, scored: boolean): Promise<void> {
    this.ticks.push(tick);
    if (forecast !== null) this.forecasts.push(forecast);
    this.scoredSinceFlush ||= scored;
    this.stats.pending = this.ticks.length;
    if (this.ticks.length >= (this.options.batchSize ?? 1000)) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.flushDelayMs ?? 20);
    while (this.ticks.length > (this.options.maxPending ?? 100_000)) {
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

  /** Writes everything queued so far and resolves once the store has acknowledged it, then flushed it. */
  async drain(): Promise<void> {
    while (this.ticks.length > 0 || this.forecasts.length > 0 || this.scoredSinceFlush || this.writing) {
      this.kick();
      await this.writing;
    }
    await this.retrying('flush', () => this.options.store.flush());
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing !== undefined) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = undefined;
      if (this.ticks.length > 0 || this.forecasts.length > 0) this.kick();
    });
  }

  private async writeAll(): Promise<void> {
    const ticks = this.ticks;
    const forecasts = this.forecasts;
    this.ticks = [];
    this.forecasts = [];
    const metrics = this.scoredSinceFlush ? this.options.metrics() : [];
    this.scoredSinceFlush = false;
    const { store } = this.options;
    // Ticks first: a forecast or a score never refers to a tick that is not stored.
    if (ticks.length > 0) await this.retrying('ticks', () => store.writeTicks('inf_historical_db', ticks));
    this.stats.ticks += ticks.length;
    this.stats.pending = this.ticks.length;
    this.release();
    if (forecasts.length > 0) await this.retrying('forecasts', () => store.writeForecasts(forecasts));
    this.stats.forecasts += forecasts.length;
    if (metrics.length > 0) {
      await this.retrying('metrics', () => store.writeMetrics('inf_metrics', metrics));
      this.stats.metrics += metrics.length;
    }
    this.stats.batches += 1;
  }

  private release(): void {
    if (this.ticks.length > (this.options.maxPending ?? 100_000)) return;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }

  /** Retries `write` (idempotent: ticks and forecasts are unique by key) until it succeeds. */
  private async retrying(what: string, write: () => Promise<void>): Promise<void> {
    let delay = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        if (attempt > 1) this.logger.info({ what, attempts: attempt }, 'store writes resumed');
        return;
      } catch (error) {
        if (isBynerError(error, 'BYNER_INVALID_DOCUMENT')) {
          this.stats.rejected += 1;
          this.logger.error(
            { what, err: error.message },
            'the store rejected a batch as invalid; skipping it',
          );
          return;
        }
        this.stats.retries += 1;
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            {
              what,
              attempt,
              err: error instanceof Error ? error.message : String(error),
              pending: this.ticks.length,
            },
            'store write failed; keeping the documents and retrying',
          );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
}
