// The price-source contract: where the prices of a live stream come from (a sine, a stored stream replayed, an
// outside feed). Seqs, indicators, storing and sending the ticks are the stream producer's job (src/stream).
import type { Readable } from 'node:stream';
import type { Store, StoreLogger } from '../store/types.js';

/** One price from a source; timestamp defaults to "now" (live). Feeds carry their own (or are stamped on arrival). */
export interface PricePoint {
  /** A finite number. */
  price: number;
  /** When it was made; the producer keeps the stream's timestamps non-decreasing. */
  timestamp?: Date;
}

/** A source's counters, shown by `GET /api/streams`. */
export interface SourceStats {
  /** Points yielded. */
  points: number;
  /** Input skipped as malformed (feeds: not JSON, no finite price, a timestamp before the last one). */
  malformed: number;
  /** Connections lost and made again (HTTP feeds). */
  reconnects: number;
}

/** Where the stream stands: the seq the next point will get, and the last stored tick's time (ms; null if none). */
export interface StreamPosition {
  /** The seq the next point will get. */
  seq: number;
  /** The stream's last stored tick's timestamp (ms), or null for an empty stream. */
  lastTime: number | null;
}

/**
 * Where the prices of one live stream come from (a `StreamConfig`'s `source`): SyntheticSource, ReplaySource, or
 * your own object with these members. The server gives the points their seqs and indicators, stores and sends them.
 */
export interface PriceSource {
  /** Its name in the registry (src/sources/registry.ts). */
  readonly kind: string;
  /**
   * true: points are made when asked (synthetic, replay: only while someone reads the stream);
   * false: points arrive on their own (feed) and are stored whether or not anyone reads.
   */
  readonly onDemand: boolean;
  /** Its counters (points, malformed input, reconnects). */
  readonly stats: SourceStats;
  /** The fixed pace in ms when the source has one (synthetic, replay with `interval`), for /healthz. */
  readonly intervalMs?: number;
  /**
   * The points after the stream's current end, paced by the source itself (the synthetic source every
   * `intervalMs`, or at once when it is 0; replay by its timestamps × speed or a fixed interval; a feed as lines
   * arrive). Ends (returns) when the source is exhausted (replay without loop, stdin closed); stops at once when
   * `signal` aborts. `from.seq` is the seq the next point will get: synthetic continues its sine phase from it,
   * replay continues after the source tick it last replayed (tick seq s replays the source's (s mod N)-th tick).
   * Called at most once per source object.
   */
  points(from: StreamPosition, signal: AbortSignal): AsyncIterable<PricePoint>;
}

/** What a source factory may use: the store (replay reads it), stdin (a feed without a URL), a logger. */
export interface SourceContext {
  store: Store;
  /** Name of the stream the source feeds. */
  stream: string;
  logger?: StoreLogger;
  /** Read by a feed without a URL; default process.stdin. */
  stdin?: Readable;
}
