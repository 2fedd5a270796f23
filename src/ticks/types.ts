// The tick: one price of a stream with its six indicators, in the shape of SPEC §4 (the original's
// `historical_data` document plus our `seq` and `stream`). Shared by every stage downstream.

/** The six indicators in model-input order (after the price). `null` before each one's first index. */
export const INDICATOR_NAMES = ['ma', 'rsi', 'upper_bb', 'lower_bb', 'macd', 'signal'] as const;
export type IndicatorName = (typeof INDICATOR_NAMES)[number];
export type Indicators = Record<IndicatorName, number | null>;

/** The 7 model features in order: price then the six indicators. */
export const FEATURE_NAMES = ['price', ...INDICATOR_NAMES] as const;

export interface Tick {
  /** Global tick index within its stream; the sine phase and the noise are functions of it. */
  seq: number;
  /** Stream name, default "synthetic". */
  stream: string;
  timestamp: Date;
  price: number;
  indicators: Indicators;
}

export const DEFAULT_STREAM = 'synthetic';

/** What a stream name may be: letters, digits, dot, dash or underscore, 1 to 64 of them. */
export const STREAM_NAME = /^[A-Za-z0-9._-]{1,64}$/;
