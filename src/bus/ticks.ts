// The tick log of each stream in Redis: a Redis stream `byner:ticks:{<stream>}` whose entry IDs are `<seq>-1`, so
// Redis itself refuses a seq at or below the top (a duplicate), holding the tick's SSE data JSON, capped at about
// the replay ring's length. Deciding what to append is the producer's; reading beyond the cap is history.ts's.
import type { Redis } from 'ioredis';

/** One tick in the log: its seq and its event data (the tick's JSON, as sent on the SSE stream). */
export interface LogEntry {
  seq: number;
  data: string;
}

/** The Redis key of a stream's tick log (hash tag: a stream's keys share one Cluster slot). */
export const tickKey = (stream: string) => `byner:ticks:{${stream}}`;

/** The entry ID of a seq. */
const idOf = (seq: number) => `${seq}-1`;
/** The seq of an entry ID. */
const seqOf = (id: string) => Number(id.slice(0, id.indexOf('-')));

/** What an append did: entries added, and entries refused because the log already reached their seq. */
export interface AppendResult {
  added: number;
  refused: number;
}

type RawEntry = [id: string, fields: string[]];

function toEntry([id, fields]: RawEntry): LogEntry {
  const at = fields.indexOf('tick');
  return { seq: seqOf(id), data: at >= 0 ? fields[at + 1] : '' };
}

export class TickLog {
  /**
   * `maxLen`: entries kept per stream, about (Redis trims whole nodes: `MAXLEN ~`, so a few more may stay).
   */
  constructor(
    private readonly redis: Redis,
    readonly maxLen: number,
  ) {}

  /**
   * Appends entries in seq order in one round trip. An entry whose seq is at or below the log's top is refused by
   * Redis and counted, never stored twice. Rejects when Redis cannot be reached (nothing, or a prefix, appended).
   */
  async append(stream: string, entries: readonly LogEntry[]): Promise<AppendResult> {
    if (entries.length === 0) return { added: 0, refused: 0 };
    const key = tickKey(stream);
    const pipeline = this.redis.pipeline();
    for (const e of entries)
      pipeline.xadd(key, 'MAXLEN', '~', String(this.maxLen), idOf(e.seq), 'tick', e.data);
    const results = (await pipeline.exec()) ?? [];
    let added = 0;
    let refused = 0;
    for (const [error] of results) {
      if (error === null) added += 1;
      else if (/equal or smaller/.test(error.message)) refused += 1;
      else throw error;
    }
    return { added, refused };
  }

  /** Up to `count` entries with seq > `afterSeq`, ascending. */
  async after(stream: string, afterSeq: number, count: number): Promise<LogEntry[]> {
    const start = afterSeq < 0 ? '-' : `(${idOf(afterSeq)}`;
    const raw = (await this.redis.xrange(tickKey(stream), start, '+', 'COUNT', count)) as RawEntry[];
    return raw.map(toEntry);
  }

  /** The entries with fromSeq ≤ seq ≤ toSeq, ascending. */
  async range(stream: string, fromSeq: number, toSeq: number): Promise<LogEntry[]> {
    const raw = (await this.redis.xrange(tickKey(stream), idOf(fromSeq), idOf(toSeq))) as RawEntry[];
    return raw.map(toEntry);
  }

  /** The lowest seq the log holds, or null when it is empty. */
  async firstSeq(stream: string): Promise<number | null> {
    const raw = (await this.redis.xrange(tickKey(stream), '-', '+', 'COUNT', 1)) as RawEntry[];
    return raw.length === 0 ? null : seqOf(raw[0][0]);
  }

  /** The highest seq the log holds, or null when it is empty. */
  async lastSeq(stream: string): Promise<number | null> {
    const raw = (await this.redis.xrevrange(tickKey(stream), '+', '-', 'COUNT', 1)) as RawEntry[];
    return raw.length === 0 ? null : seqOf(raw[0][0]);
  }

  /**
   * One blocking read over many streams: the entries after each stream's seq (at most `count` per stream),
   * waiting up to `blockMs` when none has any. `connection` must be a connection of its own (it blocks).
   */
  async read(
    connection: Redis,
    cursors: ReadonlyMap<string, number>,
    blockMs: number,
    count: number,
  ): Promise<Map<string, LogEntry[]>> {
    const streams = [...cursors.keys()];
    const out = new Map<string, LogEntry[]>();
    if (streams.length === 0) return out;
    const ids = streams.map((s) => {
      const after = cursors.get(s) as number;
      return after < 0 ? '0-0' : idOf(after);
    });
    const raw = (await connection.xread(
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      ...streams.map(tickKey),
      ...ids,
    )) as [string, RawEntry[]][] | null;
    const byKey = new Map(streams.map((s) => [tickKey(s), s]));
    for (const [key, entries] of raw ?? []) {
      const stream = byKey.get(key);
      if (stream !== undefined && entries.length > 0) out.set(stream, entries.map(toEntry));
    }
    return out;
  }
}
