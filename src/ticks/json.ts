// The tick on the wire and in JSON Lines: DESIGN §4 fields with an ISO-8601 timestamp, in the original's order
// plus `seq` and `stream`. Parsing of arbitrary user input lives in src/cli (indicators command).
import type { Tick } from './types.js';

export interface TickJson {
  timestamp: string;
  price: number;
  indicators: Tick['indicators'];
  seq: number;
  stream: string;
}

export function tickToJson(t: Tick): TickJson {
  return {
    timestamp: t.timestamp.toISOString(),
    price: t.price,
    indicators: t.indicators,
    seq: t.seq,
    stream: t.stream,
  };
}
