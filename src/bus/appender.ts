// Appends one stream's stored ticks to its tick log in seq order, holding them (bounded in bytes) while Redis is
// unreachable and appending them in order once it is back; whoever appends waits while too many bytes are held.
// The log itself is ticks.ts; what gets appended (stored ticks only) is the producer's decision.
import { metrics } from '../metrics/prometheus.js';
import type { StoreLogger } from '../store/types.js';
import type { LogEntry, TickLog } from './ticks.js';

export interface AppenderStats {
  appended: number;
  /** Entries Redis refused because the log already reached their seq (another producer, or a repeat). */
  refused: number;
  /** Failed append attempts (each retried). */
  retries: number;
  /** Bytes of entries held, not appended yet. */
  heldBytes: number;
}

export interface AppenderOptions {
  /** Above this many held bytes, `append` waits. Default 16 MiB. */
  maxHeldBytes?: number;
  /** Entries per XADD pipeline. Default 500. */
  batch?: number;
  logger?: StoreLogger;
}

export class LogAppender {
  readonly stats: AppenderStats = { appended: 0, refused: 0, retries: 0, heldBytes: 0 };
  private queue: LogEntry[] = [];
  private flushing: Promise<void> | undefined;
  private waiters: (() => void)[] = [];
  private idle: (() => void)[] = [];
  private closed = false;
  private wakeRetry: (() => void) | undefined;
  private readonly logger: StoreLogger;

  constructor(
    private readonly log: TickLog,
    readonly stream: string,
    private readonly options: AppenderOptions = {},
  ) {
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
  }

  /** Queues entries (in seq order, after the ones queued before) and starts appending; waits while over the bound. */
  async append(entries: readonly LogEntry[]): Promise<void> {
    for (const e of entries) {
      this.queue.push(e);
      this.stats.heldBytes += e.data.length + 32;
    }
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
      for (const w of this.idle.splice(0)) w();
    });
    while (this.stats.heldBytes > (this.options.maxHeldBytes ?? 16 * 2 ** 20) && !this.closed) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Resolves once everything queued so far is appended, or after `ms` (false then). */
  async settled(ms: number): Promise<boolean> {
    if (this.flushing === undefined) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.idle.push(() => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  /** Drops what is held and stops retrying (the stored ticks stay readable from the store). */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.stats.heldBytes = 0;
    this.wakeRetry?.();
    for (const w of this.waiters.splice(0)) w();
  }

  private async flush(): Promise<void> {
    let failures = 0;
    let downSince = 0;
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue.slice(0, this.options.batch ?? 500);
      const end = metrics.busWriteSeconds.startTimer();
      try {
        const r = await this.log.append(this.stream, batch);
        end();
        this.stats.appended += r.added;
        this.stats.refused += r.refused;
      } catch (error) {
        metrics.busErrors.inc({ kind: 'write' });
        this.stats.retries += 1;
        if (failures === 0) {
          downSince = Date.now();
          this.logger.warn(
            { stream: this.stream, err: error instanceof Error ? error.message : String(error) },
            `cannot append ticks of ${this.stream} to the bus; holding them (stored already) and retrying`,
          );
        }
        failures += 1;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(50 * 2 ** Math.min(failures, 5), 1000));
          this.wakeRetry = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      if (failures > 0) {
        this.logger.info(
          { stream: this.stream, heldMs: Date.now() - downSince },
          `appending ticks of ${this.stream} to the bus again`,
        );
        failures = 0;
      }
      // The batch may be gone when close() ran meanwhile.
      if (this.queue[0] === batch[0]) this.queue.splice(0, batch.length);
      let bytes = 0;
      for (const e of batch) bytes += e.data.length + 32;
      this.stats.heldBytes = Math.max(0, this.stats.heldBytes - bytes);
      for (const w of this.waiters.splice(0)) w();
    }
  }
}
