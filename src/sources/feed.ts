// The feed source: prices arriving from outside, as JSON lines on stdin (any feed can be piped in) or from an
// HTTP feed (http-feed.ts: SSE or NDJSON). Parses and checks each record; malformed ones are logged (rate-limited),
// counted and skipped. Storing the points is the producer's job: they are stored whether or not anyone reads.

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { StoreLogger } from '../store/types.js';
import type { Backoff } from '../util/backoff.js';
import { httpFeedRecords } from './http-feed.js';
import type { PricePoint, PriceSource, SourceStats, StreamPosition } from './types.js';

export interface FeedOptions {
  /** An SSE or NDJSON HTTP feed; without it, lines are read from `input`. */
  url?: string;
  /** Lines to read when there is no URL (stdin). */
  input?: Readable;
  /** Reconnect an HTTP feed silent for this long (ms). */
  idleTimeoutMs?: number;
  /** Reconnect delays of an HTTP feed (default 500 ms doubling up to 30 s, with jitter). */
  backoff?: Backoff;
  logger?: StoreLogger;
  /** Clock for points without a timestamp (ms; tests). */
  now?: () => number;
}

/** Epoch numbers below this are seconds, above it milliseconds (10^11 s is the year 5138, 10^11 ms is 1973). */
const EPOCH_MS_FROM = 1e11;
/** Malformed records logged one by one; after that, one summary line per `SUMMARY_MS`. */
const LOG_FIRST = 10;
const SUMMARY_MS = 10_000;

export type FeedRecord = { point: { price: number; timestamp: number | null } } | { error: string } | null;

/**
 * One record of a feed: `{"price": 1.5, "timestamp": "2026-01-01T00:00:00Z" | 1767225600 | 1767225600000}`
 * (timestamp optional; epoch seconds or milliseconds) or a bare number. Null for a blank line (skipped, not
 * malformed); otherwise the point or why it is malformed.
 */
export function parseFeedRecord(text: string): FeedRecord {
  const line = text.trim();
  if (line === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: 'not JSON and not a number' };
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? { point: { price: value, timestamp: null } } : { error: 'not finite' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: 'expected {"price": <number>, "timestamp"?: <ISO or epoch>} or a number' };
  }
  const { price, timestamp } = value as { price?: unknown; timestamp?: unknown };
  if (typeof price !== 'number' || !Number.isFinite(price)) return { error: 'no finite "price"' };
  if (timestamp === undefined || timestamp === null) return { point: { price, timestamp: null } };
  let ms: number;
  if (typeof timestamp === 'number' && Number.isFinite(timestamp) && timestamp >= 0) {
    ms = Math.round(timestamp < EPOCH_MS_FROM ? timestamp * 1000 : timestamp);
  } else if (typeof timestamp === 'string' && /^\d{4}-\d{2}-\d{2}/.test(timestamp)) {
    ms = Date.parse(timestamp);
  } else ms = Number.NaN;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    return { error: '"timestamp" is neither an ISO-8601 date-time nor epoch seconds/milliseconds' };
  }
  return { point: { price, timestamp: ms } };
}

export class FeedSource implements PriceSource {
  readonly kind = 'feed';
  readonly onDemand = false;
  readonly stats: SourceStats = { points: 0, malformed: 0, reconnects: 0 };
  private logged = 0;
  private suppressed = 0;
  private lastSummary = 0;

  constructor(readonly options: FeedOptions) {}

  /** Where the points come from, for logs: the URL or "stdin". */
  get origin(): string {
    return this.options.url ?? 'stdin';
  }

  async *points(from: StreamPosition, signal: AbortSignal): AsyncGenerator<PricePoint> {
    const now = this.options.now ?? Date.now;
    let lastTime = from.lastTime;
    for await (const record of this.records(signal)) {
      if (signal.aborted) return; // lines already read stay unread
      const parsed = parseFeedRecord(record);
      if (parsed === null) continue;
      if ('error' in parsed) {
        this.malformed(parsed.error, record);
        continue;
      }
      const { price, timestamp } = parsed.point;
      if (timestamp !== null && lastTime !== null && timestamp < lastTime) {
        this.malformed(
          `timestamp ${new Date(timestamp).toISOString()} is before the stream's last one`,
          record,
        );
        continue;
      }
      // Without a timestamp: arrival time, never before the stream's last tick.
      const time = timestamp ?? Math.max(now(), lastTime ?? 0);
      lastTime = time;
      this.stats.points += 1;
      yield { price, timestamp: new Date(time) };
    }
  }

  private records(signal: AbortSignal): AsyncIterable<string> {
    const { url, input } = this.options;
    if (url !== undefined) {
      return httpFeedRecords(
        {
          url,
          idleTimeoutMs: this.options.idleTimeoutMs,
          backoff: this.options.backoff,
          logger: this.options.logger,
          stats: this.stats,
        },
        signal,
      );
    }
    if (input === undefined) throw new Error('a feed needs a URL or an input stream');
    return createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY, signal });
  }

  private malformed(why: string, record: string): void {
    this.stats.malformed += 1;
    const logger = this.options.logger;
    const line = record.length > 200 ? `${record.slice(0, 197)}...` : record;
    if (this.logged < LOG_FIRST) {
      this.logged += 1;
      logger?.warn(
        { feed: this.origin, why, line },
        `feed ${this.origin}: skipped a malformed line (${why})`,
      );
      return;
    }
    this.suppressed += 1;
    const now = Date.now();
    if (now - this.lastSummary >= SUMMARY_MS) {
      logger?.warn(
        { feed: this.origin, skipped: this.suppressed, malformed: this.stats.malformed, why, line },
        `feed ${this.origin}: skipped ${this.suppressed} more malformed lines (${this.stats.malformed} in all)`,
      );
      this.suppressed = 0;
      this.lastSummary = now;
    }
  }
}
