// A stream's ticks after a seq, wherever they are: the tick log (Redis) while it reaches back that far, the store's
// historical_data beyond its cap (and for any seq the log misses). Used for Last-Event-ID resumes and to fill holes
// of live reading (follow.ts). Appending is appender.ts's job.
import { parseTickEvent } from '../infer/validate.js';
import type { Store } from '../store/types.js';
import { tickToJson } from '../ticks/json.js';
import type { Tick } from '../ticks/types.js';
import type { LogEntry, TickLog } from './ticks.js';

/** Where a page of history came from. */
export type HistorySource = 'log' | 'store';

export class TickHistory {
  constructor(
    readonly log: TickLog,
    readonly store: Store,
  ) {}

  /**
   * Up to `limit` consecutive ticks after `afterSeq`: from the log when it holds the next seq, else from the store
   * (up to where the log begins). Empty when neither has the next seq yet. A log that cannot be read is skipped.
   */
  async after(
    stream: string,
    afterSeq: number,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ entries: LogEntry[]; source: HistorySource }> {
    let logged: LogEntry[] = [];
    try {
      logged = await this.log.after(stream, afterSeq, limit);
    } catch {
      // Redis unreachable: the store has every tick the log had.
    }
    if (logged.length > 0 && logged[0].seq === afterSeq + 1) {
      let n = 1;
      while (n < logged.length && logged[n].seq === logged[n - 1].seq + 1) n += 1;
      return { entries: logged.slice(0, n), source: 'log' };
    }
    const upTo = logged.length > 0 ? logged[0].seq - afterSeq - 1 : limit;
    return { entries: await this.stored(stream, afterSeq, Math.min(limit, upTo), signal), source: 'store' };
  }

  /** Up to `limit` stored ticks after `afterSeq` (historical_data), as log entries. */
  async stored(stream: string, afterSeq: number, limit: number, signal?: AbortSignal): Promise<LogEntry[]> {
    if (limit <= 0) return [];
    const ticks = await this.store.ticksAfter('historical_data', stream, afterSeq, limit, { signal });
    return ticks.map((t) => ({ seq: t.seq, data: JSON.stringify(tickToJson(t)) }));
  }
}

/** The ticks of `stream`'s log entries; null when any entry is not a tick of that stream. */
export function loggedTicks(stream: string, entries: readonly LogEntry[]): Tick[] | null {
  const ticks: Tick[] = [];
  for (const e of entries) {
    const verdict = parseTickEvent(e.data, String(e.seq));
    if (!verdict.ok || verdict.tick.stream !== stream) return null;
    ticks.push(verdict.tick);
  }
  return ticks;
}
