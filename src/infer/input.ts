// The input of the inference pipeline: where the ticks of each stream come from (an SSE connection per stream, the
// store's stored ticks, the bus's tick logs). What happens to the ticks is the pipeline's job.
import type { Tick } from '../ticks/types.js';
import type { SseClientStats } from './sse-client.js';

/** A tick as an input delivers it: parsed and checked; its order within the stream is the windows' business. */
export interface InputTick {
  readonly stream: string;
  readonly tick: Tick;
}

/**
 * Takes the ticks that arrived together; resolves once the pipeline has handled them (the input reads no further
 * meanwhile: backpressure). Rejects when the pipeline failed.
 */
export type TickSink = (ticks: readonly InputTick[]) => Promise<void>;

/** An input's counters for one stream (part of the stream's stats). */
export interface InputCounts {
  /** Events received, valid or not. */
  events: number;
  /** Events skipped as unusable: bad JSON, missing fields, non-finite numbers, id ≠ seq. */
  invalid: number;
  /** The stream's connection (SSE input), or null. */
  connection: SseClientStats | null;
}

export interface OpenStream {
  /** Where the stream's ticks go. */
  sink: TickSink;
  /** The seq to continue after, asked at each (re)connect: the last tick the pipeline accepted, or null. */
  after: () => number | null;
  counts: InputCounts;
}

export interface TickInput {
  /**
   * Reads `stream` into `sink` until `stop()` (or until the input has no more ticks: a replay of stored ticks).
   * Resolves then; rejects on an error that retrying cannot fix (the server refuses the stream).
   */
  open(stream: string, target: OpenStream): Promise<void>;
  /** Stops reading every stream; the open() promises resolve. */
  stop(): void;
  /** Stops reading one stream (its open() resolves); inputs whose streams come and go (the bus) have it. */
  close?(stream: string): void;
  /**
   * The stream's ticks fromSeq..toSeq that the input still holds (the bus: its tick log in Redis), ascending; fewer
   * or none when it no longer holds them. A stream's start refills its window from them before asking the store.
   */
  recent?(stream: string, fromSeq: number, toSeq: number): Promise<Tick[]>;
}
