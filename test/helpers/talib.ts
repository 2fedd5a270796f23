// TA-Lib (the real C library, built by the `talib` npm package) as the oracle for the indicator tests:
// returns its outputs aligned to input indices, NaN before its first output index.
import { createRequire } from 'node:module';

interface TalibResult {
  begIndex: number;
  nbElement: number;
  result: Record<string, number[]>;
}
const talib = createRequire(import.meta.url)('talib') as {
  execute(args: Record<string, unknown>): TalibResult;
};

function aligned(n: number, r: TalibResult, key: string): Float64Array {
  const out = new Float64Array(n).fill(Number.NaN);
  const vals = r.result[key] ?? [];
  for (let i = 0; i < r.nbElement; i++) out[r.begIndex + i] = vals[i];
  return out;
}

export interface TalibColumns {
  ma: Float64Array;
  upper_bb: Float64Array;
  lower_bb: Float64Array;
  middle_bb: Float64Array;
  rsi: Float64Array;
  macd: Float64Array;
  signal: Float64Array;
}

export function talibIndicators(prices: ArrayLike<number>): TalibColumns {
  const n = prices.length;
  const inReal = Array.from(prices);
  const empty = () => new Float64Array(n).fill(Number.NaN);
  if (n === 0) {
    return {
      ma: empty(),
      upper_bb: empty(),
      lower_bb: empty(),
      middle_bb: empty(),
      rsi: empty(),
      macd: empty(),
      signal: empty(),
    };
  }
  const run = (name: string, opts: Record<string, unknown>) =>
    talib.execute({ name, startIdx: 0, endIdx: n - 1, inReal, ...opts });
  const sma = run('SMA', { optInTimePeriod: 10 });
  const bb = run('BBANDS', { optInTimePeriod: 10, optInNbDevUp: 2, optInNbDevDn: 2, optInMAType: 0 });
  const rsi = run('RSI', { optInTimePeriod: 14 });
  const macd = run('MACD', { optInFastPeriod: 8, optInSlowPeriod: 17, optInSignalPeriod: 9 });
  return {
    ma: aligned(n, sma, 'outReal'),
    upper_bb: aligned(n, bb, 'outRealUpperBand'),
    middle_bb: aligned(n, bb, 'outRealMiddleBand'),
    lower_bb: aligned(n, bb, 'outRealLowerBand'),
    rsi: aligned(n, rsi, 'outReal'),
    macd: aligned(n, macd, 'outMACD'),
    signal: aligned(n, macd, 'outMACDSignal'),
  };
}
