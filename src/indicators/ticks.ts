// Assembles ticks (DESIGN §4 shape) from prices and their indicators: the batch path for `generate` and for
// seeding a store. The live, one-at-a-time path is IndicatorStream; storage and transport are elsewhere.
import { BynerError } from '../errors.js';
import { generatePrices, type SineSource, TICK_MS } from '../ticks/generator.js';
import { DEFAULT_STREAM, type Tick } from '../ticks/types.js';
import { computeIndicators, toIndicators } from './batch.js';
import { DEFAULT_INDICATOR_PARAMS, type IndicatorParams } from './params.js';

/** Where ticks made from prices sit in their stream: seq of the first, count, stream name, first timestamp. */
export interface TickRange {
  /** Global index of the first tick (sine phase and noise follow it). */
  start: number;
  /** Number of ticks. */
  count: number;
  /** Stream name (default `synthetic`). */
  stream?: string;
  /** Timestamp of the first tick; the others follow 1 s apart. */
  origin: Date;
  /** Indicator periods (default DEFAULT_INDICATOR_PARAMS). */
  params?: IndicatorParams;
}

/** Synthetic ticks start .. start+count−1 with indicators computed over this range (warm-up from `start`). */
export function syntheticTicks(src: SineSource, range: TickRange): Tick[] {
  const prices = generatePrices(src, range.start, range.count);
  return ticksFromPrices(prices, range);
}

/**
 * Ticks from your own prices: seq `range.start` + i, timestamps 1 s apart from `range.origin`, indicators computed
 * over these prices (null during their warm-up). Throws BYNER_INPUT for an invalid origin, BYNER_NOT_FINITE for a
 * non-finite price.
 */
export function ticksFromPrices(prices: ArrayLike<number>, range: Omit<TickRange, 'count'>): Tick[] {
  const t0 = range.origin.getTime();
  if (!Number.isFinite(t0)) {
    throw new BynerError('BYNER_INPUT', 'invalid origin timestamp', {
      expected: 'a valid Date',
      received: String(range.origin),
    });
  }
  const cols = computeIndicators(prices, range.params ?? DEFAULT_INDICATOR_PARAMS);
  const stream = range.stream ?? DEFAULT_STREAM;
  const ticks: Tick[] = new Array(prices.length);
  for (let i = 0; i < prices.length; i++) {
    ticks[i] = {
      seq: range.start + i,
      stream,
      timestamp: new Date(t0 + i * TICK_MS),
      price: prices[i],
      indicators: toIndicators(cols, i),
    };
  }
  return ticks;
}
