// Checks each SSE event of the tick stream before inference uses it: JSON, fields, finite numbers, id = seq,
// and seq order (duplicates and out-of-order skipped, gaps recorded). What to do with a good tick is the pipeline's.
import { INDICATOR_NAMES, type Indicators, type Tick } from '../ticks/types.js';

export type EventVerdict = { ok: true; tick: Tick } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one event's data (and its `id:`, when present) into a Tick, or says why it is unusable. */
export function parseTickEvent(data: string, id: string | undefined): EventVerdict {
  let doc: unknown;
  try {
    doc = JSON.parse(data);
  } catch {
    return { ok: false, reason: `bad JSON: ${JSON.stringify(data.slice(0, 80))}` };
  }
  if (!isObject(doc)) return { ok: false, reason: 'expected a JSON object' };
  const { seq, price, timestamp, stream, indicators } = doc;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0)
    return { ok: false, reason: 'seq: expected an integer >= 0' };
  // JSON.parse turns 1e999 into Infinity: finiteness is checked, not just the type.
  if (typeof price !== 'number' || !Number.isFinite(price)) {
    return {
      ok: false,
      reason: `price: expected a finite number, received ${JSON.stringify(price) ?? 'nothing'}`,
    };
  }
  if (typeof timestamp !== 'string' || Number.isNaN(Date.parse(timestamp))) {
    return { ok: false, reason: 'timestamp: expected an ISO-8601 date-time' };
  }
  if (typeof stream !== 'string' || stream.length === 0)
    return { ok: false, reason: 'stream: expected a name' };
  if (!isObject(indicators))
    return { ok: false, reason: 'indicators: expected an object of the six indicators' };
  const ind = {} as Indicators;
  for (const name of INDICATOR_NAMES) {
    const v = indicators[name];
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) {
      return { ok: false, reason: `indicators.${name}: expected a finite number or null` };
    }
    ind[name] = v;
  }
  if (id !== undefined && id !== String(seq)) {
    return { ok: false, reason: `event id ${JSON.stringify(id)} does not match seq ${seq}` };
  }
  return {
    ok: true,
    tick: { seq: seq as number, stream, timestamp: new Date(timestamp), price, indicators: ind },
  };
}

export type SeqVerdict = 'next' | 'first' | 'gap' | 'duplicate' | 'out_of_order';

export interface Gap {
  /** First missing seq. */
  from: number;
  /** Last missing seq. */
  to: number;
}

/** The order of accepted seqs: the next one is expected; lower ones are skipped; higher ones open a gap. */
export class SeqTracker {
  /** Last accepted seq, or null before the first. */
  last: number | null;

  /** `gaps` receives the seq ranges that never arrived (the last 1000). */
  constructor(
    last: number | null = null,
    readonly gaps: Gap[] = [],
  ) {
    this.last = last;
  }

  /** Classifies `seq`; accepts it (moves `last`) for next, first and gap. */
  check(seq: number): SeqVerdict {
    const last = this.last;
    if (last === null) {
      this.last = seq;
      return 'first';
    }
    if (seq === last + 1) {
      this.last = seq;
      return 'next';
    }
    if (seq === last) return 'duplicate';
    if (seq < last) return 'out_of_order';
    this.gaps.push({ from: last + 1, to: seq - 1 });
    if (this.gaps.length > 1000) this.gaps.shift();
    this.last = seq;
    return 'gap';
  }
}
