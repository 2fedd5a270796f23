// The SSE input: one connection per stream (`/realtime_data?stream=NAME`), each with its own reconnects and
// Last-Event-ID resume (sse-client.ts); each event parsed and checked (validate.ts) before it reaches the pipeline.
import type { EventSourceMessage } from 'eventsource-parser';
import { BynerError } from '../errors.js';
import type { StoreLogger } from '../store/types.js';
import type { InputCounts, InputTick, OpenStream, TickInput } from './input.js';
import { SseClient } from './sse-client.js';
import { parseTickEvent } from './validate.js';

export interface SseInputOptions {
  /** The event stream's URL for a stream name. */
  urlFor: (stream: string) => string;
  idleTimeoutMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  logger?: StoreLogger;
}

/**
 * `url` with `stream=NAME` in its query (`http://host:5000/realtime_data?stream=co2`): how one server serves
 * several streams.
 */
export function streamUrl(url: string, stream: string): string {
  const u = new URL(url);
  u.searchParams.set('stream', stream);
  return u.toString();
}

export class SseInput implements TickInput {
  private readonly clients = new Set<SseClient>();
  private readonly logger: StoreLogger;
  private stopped = false;

  constructor(private readonly options: SseInputOptions) {
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
  }

  async open(stream: string, target: OpenStream): Promise<void> {
    if (this.stopped) return;
    const url = this.options.urlFor(stream);
    const client: SseClient = new SseClient({
      url,
      lastEventId: () => {
        const after = target.after();
        return after === null ? undefined : String(after);
      },
      onEvent: (event) => this.deliver(client, stream, [event], target),
      onEvents: (events) => this.deliver(client, stream, events, target),
      idleTimeoutMs: this.options.idleTimeoutMs,
      backoff: this.options.backoff,
      logger: this.logger,
      onOpen: ({ resumedAfter }) => this.logger.info({ url, stream, resumedAfter }, `connected to ${url}`),
    });
    target.counts.connection = client.stats;
    this.clients.add(client);
    try {
      await client.run();
    } finally {
      this.clients.delete(client);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.clients) c.stop();
  }

  /** Parses the events of one read and hands the usable ticks to the pipeline together. */
  private async deliver(
    client: SseClient,
    stream: string,
    events: readonly EventSourceMessage[],
    target: OpenStream,
  ): Promise<void> {
    const ticks: InputTick[] = [];
    for (const event of events) {
      const tick = this.parse(stream, event, target.counts);
      if (tick !== null) ticks.push({ stream, tick });
    }
    if (ticks.length === 0) return;
    try {
      await target.sink(ticks);
    } catch (error) {
      // The pipeline failed: stop reading (quietly, not as a connection problem to retry) and pass its error on.
      client.stop();
      throw error;
    }
  }

  private parse(stream: string, event: EventSourceMessage, counts: InputCounts) {
    counts.events += 1;
    if (event.event !== undefined && event.event !== 'message') return null; // other event types are not ticks
    const verdict = parseTickEvent(event.data, event.id);
    if (!verdict.ok) {
      counts.invalid += 1;
      this.logger.warn(
        { stream, id: event.id, reason: verdict.reason },
        `skipped an invalid event: ${verdict.reason}`,
      );
      return null;
    }
    if (verdict.tick.stream !== stream) {
      throw new BynerError(
        'BYNER_STREAM',
        `${this.options.urlFor(stream)} sends ticks of stream ${verdict.tick.stream}`,
        {
          expected: `ticks of stream ${stream}`,
          received: `a tick of stream ${verdict.tick.stream} (seq ${verdict.tick.seq})`,
          hint: `pass --stream ${verdict.tick.stream} (the server's default stream), or --streams to name several`,
        },
      );
    }
    return verdict.tick;
  }
}
