// An SSE client for the tick stream: fetch + eventsource-parser, with reconnects (exponential backoff with jitter,
// the server's retry hint), Last-Event-ID resume and an idle watchdog. What the events mean is the caller's job.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { BynerError } from '../errors.js';
import type { StoreLogger } from '../store/types.js';
import { backoffDelay, isFatalStatus, sleep } from '../util/backoff.js';

export interface SseClientOptions {
  url: string;
  /** Handles one event; awaited before the next one is read (backpressure on the socket). */
  onEvent: (event: EventSourceMessage) => void | Promise<void>;
  /** When given, receives every event parsed from one read at once instead (batching when replaying fast). */
  onEvents?: (events: EventSourceMessage[]) => void | Promise<void>;
  /** The id to resume after, read at each (re)connect: the last event the caller accepted. */
  lastEventId: () => string | undefined;
  /** Reconnect when nothing (not even a heartbeat) arrives for this long. Default 45,000 ms (3 heartbeats). */
  idleTimeoutMs?: number;
  /** Delay before reconnecting: starts at the server's retry hint or `initialMs`, doubles up to `maxMs`. */
  backoff?: { initialMs: number; maxMs: number };
  /** Most bytes of one unfinished event; beyond it the connection is dropped. Default 1 MiB. */
  maxEventBytes?: number;
  logger?: StoreLogger;
  /** Called once a connection is established (status 200, event stream). */
  onOpen?: (info: { resumedAfter: string | undefined; attempt: number }) => void;
}

export interface SseClientStats {
  connects: number;
  /** Connections lost (network error, end of stream, idle watchdog, bad response) and retried. */
  reconnects: number;
  idleTimeouts: number;
  events: number;
  comments: number;
  bytes: number;
  parseErrors: number;
}

/** Counters of a client that has not connected yet. */
export const noSseStats = (): SseClientStats => ({
  connects: 0,
  reconnects: 0,
  idleTimeouts: 0,
  events: 0,
  comments: 0,
  bytes: 0,
  parseErrors: 0,
});

export class SseClient {
  readonly stats: SseClientStats = noSseStats();
  private readonly stopper = new AbortController();
  private retryHintMs: number | undefined;
  private readonly logger: StoreLogger;

  constructor(private readonly options: SseClientOptions) {
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
  }

  /** Stops reading and reconnecting; `run()` then resolves. */
  stop(): void {
    this.stopper.abort();
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  /**
   * Reads the stream until `stop()`, reconnecting on any failure. Rejects with BYNER_STREAM only when the server
   * refuses the request itself (a 4xx such as a Last-Event-ID it cannot resume from), or when onEvent throws.
   */
  async run(): Promise<void> {
    const backoff = this.options.backoff ?? { initialMs: 500, maxMs: 30_000 };
    let failures = 0;
    while (!this.stopped) {
      const before = this.stats.events;
      try {
        await this.connectOnce(failures);
      } catch (error) {
        if (error instanceof BynerError) throw error;
        if (this.stopped) break;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
        this.logger.warn(
          { url: this.options.url, err: why },
          `cannot read the stream at ${this.options.url} (${why}); reconnecting`,
        );
      }
      if (this.stopped) break;
      this.stats.reconnects += 1;
      failures = this.stats.events > before ? 0 : failures + 1;
      const delay = backoffDelay(failures, { ...backoff, initialMs: this.retryHintMs ?? backoff.initialMs });
      await sleep(delay, this.stopper.signal);
    }
  }

  private async connectOnce(attempt: number): Promise<void> {
    const connection = new AbortController();
    const abort = () => connection.abort();
    this.stopper.signal.addEventListener('abort', abort, { once: true });
    const idleMs = this.options.idleTimeoutMs ?? 45_000;
    let idle: NodeJS.Timeout | undefined;
    const armWatchdog = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        this.stats.idleTimeouts += 1;
        this.logger.warn({ idleMs }, `no data or heartbeat for ${idleMs} ms; reconnecting`);
        connection.abort();
      }, idleMs);
    };
    try {
      const resumeAfter = this.options.lastEventId();
      const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
      if (resumeAfter !== undefined) headers['last-event-id'] = resumeAfter;
      armWatchdog();
      const res = await fetch(this.options.url, { headers, signal: connection.signal });
      if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        const body = (await res.text().catch(() => '')).slice(0, 300);
        if (res.status === 200) {
          throw new BynerError('BYNER_STREAM', `${this.options.url} is not an event stream`, {
            expected: 'Content-Type: text/event-stream (a byner serve /realtime_data URL)',
            received: `HTTP 200 ${res.headers.get('content-type') ?? 'without a content type'}`,
            hint: 'check --url: it must end in /realtime_data',
          });
        }
        if (isFatalStatus(res.status)) {
          throw new BynerError(
            'BYNER_STREAM',
            `${this.options.url} refused the stream (HTTP ${res.status})`,
            {
              expected: 'HTTP 200 with an event stream',
              received: `${res.status} ${body}`,
              hint:
                resumeAfter === undefined
                  ? 'check --url'
                  : `the server cannot resume after seq ${resumeAfter} (another stream or store?)`,
            },
          );
        }
        throw new Error(`HTTP ${res.status} ${res.headers.get('content-type') ?? ''}: ${body}`);
      }
      if (res.body === null) throw new Error('response without a body');
      this.stats.connects += 1;
      this.options.onOpen?.({ resumedAfter: resumeAfter, attempt });
      const queue: EventSourceMessage[] = [];
      const parser = createParser({
        onEvent: (event) => queue.push(event),
        onComment: () => {
          this.stats.comments += 1;
        },
        onRetry: (ms) => {
          this.retryHintMs = ms;
        },
        onError: (error) => {
          this.stats.parseErrors += 1;
          this.logger.warn({ type: error.type }, `malformed event stream: ${error.message}`);
          if (error.type === 'max-buffer-size-exceeded') connection.abort();
        },
        maxBufferSize: this.options.maxEventBytes ?? 1024 * 1024,
      });
      const decoder = new TextDecoder();
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        armWatchdog();
        this.stats.bytes += value.byteLength;
        parser.feed(decoder.decode(value, { stream: true }));
        const onEvents = this.options.onEvents;
        if (onEvents !== undefined && queue.length > 0) {
          const events = queue.splice(0, queue.length);
          this.stats.events += events.length;
          clearTimeout(idle); // time spent handling (e.g. a store outage) is not the server's silence
          await onEvents(events);
          armWatchdog();
        }
        while (queue.length > 0) {
          const event = queue.shift()!;
          this.stats.events += 1;
          clearTimeout(idle);
          await this.options.onEvent(event);
          armWatchdog();
        }
      }
      this.logger.info({}, 'the server ended the stream; reconnecting');
    } finally {
      clearTimeout(idle);
      this.stopper.signal.removeEventListener('abort', abort);
      connection.abort();
    }
  }
}
