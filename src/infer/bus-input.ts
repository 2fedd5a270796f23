// The bus input of inference (`infer --bus`): each stream read from its tick log in Redis, consecutive (what the
// log no longer holds, or misses, is read from the store's historical_data), after the seq the pipeline resumes
// from. One blocking read serves every stream of the process (src/bus/follow.ts); which streams are read is the
// lease pool's decision (bus-leases.ts).
import type { LogFollower } from '../bus/follow.js';
import { loggedTicks } from '../bus/history.js';
import type { TickLog } from '../bus/ticks.js';
import { BynerError } from '../errors.js';
import type { Store, StoreLogger } from '../store/types.js';
import type { Tick } from '../ticks/types.js';
import type { InputTick, OpenStream, TickInput } from './input.js';
import { parseTickEvent } from './validate.js';

export interface BusInputOptions {
  follower: LogFollower;
  log: TickLog;
  store: Store;
  logger?: StoreLogger;
}

interface Reading {
  close(): void;
}

export class BusInput implements TickInput {
  private readonly readings = new Map<string, Reading>();
  private readonly logger: StoreLogger;
  private stopped = false;

  constructor(private readonly options: BusInputOptions) {
    this.logger = options.logger ?? { info() {}, warn() {}, error() {} };
  }

  /**
   * Reads `stream` after `target.after()` (the last tick the pipeline stored), or, for a stream it never read,
   * from the log's current end (live), until close(stream) or stop().
   */
  async open(stream: string, target: OpenStream): Promise<void> {
    if (this.stopped) return;
    const { follower } = this.options;
    let cursor = target.after() ?? (await this.currentEnd(stream));
    let closed = false;
    let inflight: Promise<void> = Promise.resolve();
    let finish: (error?: unknown) => void = () => {};
    const done = new Promise<void>((resolve, reject) => {
      finish = (error) => (error === undefined ? resolve() : reject(error));
    });
    const close = (error?: unknown) => {
      if (closed) return;
      closed = true;
      if (follower.streams.includes(stream) && this.readings.get(stream) === reading) follower.remove(stream);
      this.readings.delete(stream);
      // The ticks being handed on are handed on before open() resolves.
      void inflight.then(
        () => finish(error),
        () => finish(error),
      );
    };
    const reading: Reading = { close: () => close() };
    this.readings.set(stream, reading);
    follower.add(stream, {
      cursor: () => cursor,
      deliver: async (entries) => {
        if (closed) return;
        const ticks: InputTick[] = [];
        for (const e of entries) {
          target.counts.events += 1;
          const verdict = parseTickEvent(e.data, String(e.seq));
          if (!verdict.ok) {
            target.counts.invalid += 1;
            this.logger.warn(
              { stream, seq: e.seq, reason: verdict.reason },
              `skipped an invalid tick: ${verdict.reason}`,
            );
            continue;
          }
          if (verdict.tick.stream !== stream) {
            return close(
              new BynerError(
                'BYNER_STREAM',
                `the tick log of ${stream} holds ticks of stream ${verdict.tick.stream}`,
                {
                  expected: `ticks of stream ${stream}`,
                  received: `a tick of stream ${verdict.tick.stream} (seq ${verdict.tick.seq})`,
                },
              ),
            );
          }
          ticks.push({ stream, tick: verdict.tick });
        }
        cursor = entries[entries.length - 1].seq;
        if (ticks.length === 0) return;
        inflight = target.sink(ticks);
        try {
          await inflight;
        } catch (error) {
          close(error); // the pipeline failed: stop reading and pass its error on
        }
      },
    });
    if (this.stopped) close();
    return done;
  }

  close(stream: string): void {
    this.readings.get(stream)?.close();
  }

  /** From the tick log: one XRANGE, where the store would need a query per stream. None when Redis fails. */
  async recent(stream: string, fromSeq: number, toSeq: number): Promise<Tick[]> {
    try {
      return loggedTicks(stream, await this.options.log.range(stream, fromSeq, toSeq)) ?? [];
    } catch {
      return []; // the store has them
    }
  }

  stop(): void {
    this.stopped = true;
    for (const r of [...this.readings.values()]) r.close();
  }

  /** Where a stream never read starts: after the last tick in its log, or stored, or from its start. */
  private async currentEnd(stream: string): Promise<number> {
    let top: number | null = null;
    try {
      top = await this.options.log.lastSeq(stream);
    } catch {
      // Redis unreachable: the store knows the stream's end too.
    }
    return top ?? (await this.options.store.lastSeq('historical_data', stream)) ?? -1;
  }
}
