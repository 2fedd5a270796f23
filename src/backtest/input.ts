// What a backtest of a stored stream runs on: the stream's latest ticks from the store, as windows, refused with
// the number of ticks needed when they cannot hold the folds. Fitting and scoring are backtest.ts's.
import { BynerError } from '../errors.js';
import { FEATURES } from '../features/forecaster.js';
import { buildWindows, type WindowSet } from '../features/windows.js';
import type { ReadOptions, Store, TickCollection } from '../store/types.js';
import type { Tick } from '../ticks/types.js';
import { type FoldOptions, minimumWindows, planFolds } from './folds.js';

export interface StreamTicks {
  stream: string;
  ticks: Tick[];
  /** Ticks of the stream in the store (≥ ticks.length). */
  stored: number;
}

/** The last `last` ticks of `stream` (all of them when undefined), ascending; BYNER_INPUT when it has none. */
export async function readStreamTicks(
  store: Store,
  stream: string,
  last?: number,
  options?: ReadOptions & { collection?: TickCollection },
): Promise<StreamTicks> {
  const collection = options?.collection ?? 'historical_data';
  const stored = await store.countTicks(collection, stream, options);
  if (stored === 0) {
    throw new BynerError('BYNER_INPUT', `stream "${stream}" has no ticks in ${collection}`, {
      expected: 'a stored stream',
      received: `0 ticks of "${stream}" in ${store.description}`,
      hint: `store ticks first (byner generate --stream ${stream}), or name a stored stream with --stream`,
    });
  }
  const ticks = await store.lastTicks(collection, stream, Math.min(last ?? stored, stored), options);
  return { stream, ticks, stored };
}

/**
 * The windows of `ticks`, once it is known that they hold the folds: otherwise BYNER_INPUT saying how many ticks
 * the folds need (the ticks before all six indicators are defined, the window, the horizon and the fewest
 * windows the folds take) and how many there are.
 */
export function backtestWindows(
  input: StreamTicks,
  shape: { window: number; horizon: number },
  options: FoldOptions,
): WindowSet {
  const set = buildWindows(input.ticks, shape.window, shape.horizon);
  try {
    planFolds(set, options);
    return set;
  } catch (e) {
    if (!(e instanceof BynerError && e.code === 'BYNER_INPUT')) throw e;
    const n = input.ticks.length;
    const warmUp = n - set.rows.length / FEATURES;
    const windows = minimumWindows(options, shape.horizon, set.count + 1);
    const needed = warmUp + shape.window + shape.horizon - 1 + windows;
    const seqs = n > 0 ? ` (seq ${input.ticks[0].seq}..${input.ticks[n - 1].seq})` : '';
    const more = input.stored > n ? `; the stream holds ${input.stored}` : '';
    throw new BynerError(
      'BYNER_INPUT',
      `backtest: too few ticks in stream "${input.stream}" for ${options.folds} fold(s)`,
      {
        expected:
          `at least ${needed} ticks: ${warmUp > 0 ? `${warmUp} before all six indicators are defined + ` : ''}` +
          `window ${shape.window} + horizon ${shape.horizon} − 1 + ${windows} windows (the fewest for ` +
          `${options.folds} fold(s) at test share ${options.testShare ?? 0.2}, validation share ` +
          `${options.validationShare ?? 0.125})`,
        received: `${n} ticks${seqs} → ${set.count} windows${more}`,
        hint: `${input.stored > n ? 'read more of the stream, ' : ''}store more ticks in the stream, or use fewer folds or a larger test share`,
        cause: e,
      },
    );
  }
}
