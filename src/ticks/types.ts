// The tick: one price of a stream with its six indicators, in the shape of DESIGN §4's `historical_data`
// document (with its `seq` and `stream`). Shared by every stage downstream.

/** The six indicators in model-input order (after the price). `null` before each one's first index. */
export const INDICATOR_NAMES = ['ma', 'rsi', 'upper_bb', 'lower_bb', 'macd', 'signal'] as const;
/** One of INDICATOR_NAMES. */
export type IndicatorName = (typeof INDICATOR_NAMES)[number];
/** A tick's six indicators; null before each one's first index. */
export type Indicators = Record<IndicatorName, number | null>;

/** The 7 model features in order: price then the six indicators. */
export const FEATURE_NAMES = ['price', ...INDICATOR_NAMES] as const;

/** One price of a stream with its indicators: what the store keeps, the server sends and inference reads. */
export interface Tick {
  /** Global tick index within its stream; the sine phase and the noise are functions of it. */
  seq: number;
  /** Stream name, default "synthetic". */
  stream: string;
  /** When the price was observed (synthetic ticks: 1 s apart). */
  timestamp: Date;
  /** The value forecast: any finite number. */
  price: number;
  /** The six indicators at this tick, over the stream's prices up to it. */
  indicators: Indicators;
}

/** The stream name used when none is given. */
export const DEFAULT_STREAM = 'synthetic';

/** What a stream name may be: letters, digits, dot, dash or underscore, 1 to 64 of them. */
export const STREAM_NAME = /^[A-Za-z0-9._-]{1,64}$/;
