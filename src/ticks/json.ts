// The tick on the wire and in JSON Lines: the DESIGN §4 fields with an ISO-8601 timestamp, `timestamp`, `price`,
// `indicators` first (the SSE payload clients of the Python byner read), then `seq` and `stream`. Reading price
// files that users bring is src/import/reader.ts's job.
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
