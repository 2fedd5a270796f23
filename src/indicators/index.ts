// Public API of the indicators (DESIGN §3), the `byner/indicators` entry: the batch and streaming forms, their
// periods, and ticks assembled from prices. Leaves storing and serving ticks to the store and the stream server.

export { DEFAULT_SOURCE, type SineSource } from '../ticks/generator.js';
export {
  DEFAULT_STREAM,
  FEATURE_NAMES,
  INDICATOR_NAMES,
  type IndicatorName,
  type Indicators,
  type Tick,
} from '../ticks/types.js';
export { computeIndicators, type IndicatorColumns } from './batch.js';
export { DEFAULT_INDICATOR_PARAMS, firstIndex, type IndicatorParams, warmup } from './params.js';
export { type IndicatorState, IndicatorStream } from './streaming.js';
export { syntheticTicks, type TickRange, ticksFromPrices } from './ticks.js';
