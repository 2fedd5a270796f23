// Records from an HTTP feed that stays open: an SSE stream (`text/event-stream`: each event's data) or NDJSON
// (any other type: each line), reconnecting with exponential backoff and jitter, resuming an SSE feed with
// Last-Event-ID. What a record means is feed.ts's job.
import { createParser } from 'eventsource-parser';
import type { StoreLogger } from '../store/types.js';
import { type Backoff, backoffDelay, isFatalStatus, sleep } from '../util/backoff.js';
import type { SourceStats } from './types.js';

export interface HttpFeedOptions {
  url: string;
  /** Reconnect when nothing (not even an SSE comment) arrives for this long. Default 60,000 ms. */
  idleTimeoutMs?: number;
  /** Default 500 ms doubling up to 30 s; an SSE feed's `retry:` replaces the start. */
  backoff?: Backoff;
  /** The longest record (line or event); a longer one ends the connection. Default 1 MiB. */
  maxRecordBytes?: number;
  logger?: StoreLogger;
  /** Counts `reconnects`. */
  stats: SourceStats;
}

const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };

/**
 * Yields the feed's records in order until `signal` aborts. Every connection problem (refused, an error status,
 * a dropped or idle connection, the server ending the body) is logged and retried after a backoff: the feed is
 * somebody else's server, and the stream waits for it. An unfinished line or event at a drop is discarded.
 */
export async function* httpFeedRecords(
  options: HttpFeedOptions,
  signal: AbortSignal,
): AsyncGenerator<string> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const logger = options.logger;
  let failures = 0;
  let retryHintMs: number | undefined;
  let lastEventId: string | undefined;
  while (!signal.aborted) {
    const connection = new AbortController();
    const abort = () => connection.abort();
    signal.addEventListener('abort', abort, { once: true });
    const idleMs = options.idleTimeoutMs ?? 60_000;
    let idle: NodeJS.Timeout | undefined;
    let idled = false;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        idled = true;
        connection.abort();
      }, idleMs);
    };
    let received = 0;
    let why = 'the server ended the feed';
    try {
      const headers: Record<string, string> = {
        accept: 'text/event-stream, application/x-ndjson, application/jsonl, text/plain;q=0.5',
      };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      arm();
      const res = await fetch(options.url, { headers, signal: connection.signal });
      if (res.status !== 200 || res.body === null) {
        const body = (await res.text().catch(() => '')).slice(0, 200);
        why = `HTTP ${res.status}${isFatalStatus(res.status) ? ' (check the feed URL)' : ''} ${body}`.trim();
        throw new Error(why);
      }
      const sse = (res.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
      const records: string[] = [];
      const maxBytes = options.maxRecordBytes ?? 1024 * 1024;
      const parser = sse
        ? createParser({
            onEvent: (event) => {
              if (event.id !== undefined) lastEventId = event.id;
              records.push(event.data);
            },
            onRetry: (ms) => {
              retryHintMs = ms;
            },
            onError: (error) => {
              if (error.type === 'max-buffer-size-exceeded') {
                why = `an event longer than ${maxBytes} bytes`;
                connection.abort();
              }
            },
            maxBufferSize: maxBytes,
          })
        : null;
      let partial = '';
      const decoder = new TextDecoder();
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arm();
        const text = decoder.decode(value, { stream: true });
        if (parser !== null) parser.feed(text);
        else {
          const lines = (partial + text).split('\n');
          partial = lines.pop() ?? '';
          if (partial.length > maxBytes) {
            why = `a line longer than ${maxBytes} bytes`;
            break;
          }
          for (const line of lines) records.push(line.endsWith('\r') ? line.slice(0, -1) : line);
        }
        received += records.length;
        while (records.length > 0) {
          clearTimeout(idle); // time the reader spends storing is not the feed's silence
          yield records.shift()!;
          if (signal.aborted) return;
          arm();
        }
      }
      if (partial.trim() !== '')
        logger?.warn({ url: options.url }, 'feed: the last line had no newline; dropped');
    } catch (error) {
      if (signal.aborted) return;
      if (idled) why = `nothing for ${idleMs} ms`;
      else if (!(error instanceof Error && error.message === why)) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
      }
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', abort);
      connection.abort();
    }
    if (signal.aborted) return;
    options.stats.reconnects += 1;
    failures = received > 0 ? 0 : failures + 1;
    const delay = backoffDelay(failures, { ...backoff, initialMs: retryHintMs ?? backoff.initialMs });
    logger?.warn(
      { url: options.url, why, retryInMs: Math.round(delay) },
      `feed ${options.url}: ${why}; reconnecting in ${Math.round(delay)} ms`,
    );
    await sleep(delay, signal);
  }
}
