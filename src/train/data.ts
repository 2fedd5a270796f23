// What a training run fits on, per stream: the stream's latest ticks (an empty stream seeded with synthetic ticks
// when seeding is allowed), its windows and their split in time order, refused with the number of ticks needed when
// too few. Scaling is each run's (train.ts, ladder.ts); building windows is src/features.
import { BynerError } from '../errors.js';
import {
  buildWindows,
  type Split,
  type SplitFractions,
  splitWindows,
  type WindowSet,
} from '../features/windows.js';
import { warmup } from '../indicators/params.js';
import { syntheticTicks } from '../indicators/ticks.js';
import type { Logger } from '../log/logger.js';
import { type DataRange, type Store, seedTicks } from '../store/index.js';
import { DEFAULT_SOURCE, SinePriceSource, type SineSource, TICK_MS } from '../ticks/generator.js';
import type { Tick } from '../ticks/types.js';

/** How a run reads a stream. */
export interface StreamDataOptions {
  stream: string;
  /** Ticks generated when the stream is empty (and seeding is allowed), and the number of latest ticks read. */
  ticks: number;
  /** The synthetic source that seeds an empty stream (and that the config records when the ticks are its). */
  source: SineSource;
  window: number;
  horizon: number;
  split: SplitFractions;
  /** False: an empty stream is refused instead of seeded (several streams of a global model). Default true. */
  seed?: boolean;
  onSeedProgress?: (done: number, total: number) => void;
}

/** One stream's ticks as windows, split in time order. */
export interface StreamData {
  stream: string;
  ticks: Tick[];
  set: WindowSet;
  split: Split;
  dataRange: DataRange;
  /** True when every tick is the synthetic source's (the config then names the source). */
  synthetic: boolean;
}

/** Whether every tick's price is the one `source` makes at its seq: a stream seeded by byner with these options. */
export function madeBySource(ticks: readonly Tick[], source: SineSource): boolean {
  const sine = new SinePriceSource(source);
  return ticks.every((t) => t.price === sine.at(t.seq));
}

/** True for the synthetic source of DESIGN §2 (any seed): its Bayes limit is BAYES_LIMIT. */
export function isDefaultSource(s: SineSource): boolean {
  return (
    s.amplitude === DEFAULT_SOURCE.amplitude &&
    s.frequency === DEFAULT_SOURCE.frequency &&
    s.noise === DEFAULT_SOURCE.noise &&
    s.bound === DEFAULT_SOURCE.bound
  );
}

/** Reads (and, when empty and allowed, seeds) one stream and splits its windows; logs what it uses. */
export async function prepareStream(
  store: Store,
  opts: StreamDataOptions,
  logger: Logger,
): Promise<StreamData> {
  const empty = (await store.countTicks('historical_data', opts.stream)) === 0;
  if (empty && opts.seed === false) {
    throw new BynerError('BYNER_INPUT', `stream "${opts.stream}" has no ticks in historical_data`, {
      expected: 'stored ticks in every stream of a model trained on several streams',
      received: `0 ticks of "${opts.stream}" in ${store.description}`,
      hint: `store its ticks first (byner import … --stream ${opts.stream}, or byner generate --stream ${opts.stream})`,
    });
  }
  // Seeding is for new names only, never under a name that holds other data.
  if (empty) await refuseForeignName(store, opts);
  const seeded = await seedTicks(store, {
    stream: opts.stream,
    count: opts.ticks,
    makeTicks: (start, count) =>
      syntheticTicks(opts.source, {
        start,
        count,
        stream: opts.stream,
        origin: new Date(Math.floor(Date.now() / 1000) * 1000 - (count - 1) * TICK_MS),
      }),
    onProgress: opts.onSeedProgress,
  });
  if (seeded.seeded)
    logger.info(`stored ${seeded.written} synthetic ticks in historical_data (stream "${opts.stream}")`);
  else logger.info(`using stored ticks: ${seeded.reason.replace(/ \(use --append.*\)$/, '')}`);

  const ticks = await store.lastTicks('historical_data', opts.stream, opts.ticks);
  const set = buildWindows(ticks, opts.window, opts.horizon);
  const split = splitOrExplain(set, ticks, opts);
  const synthetic = madeBySource(ticks, opts.source);
  if (!synthetic) logger.info(`stream "${opts.stream}" holds stored data not made by the synthetic source`);
  const dataRange = {
    stream: opts.stream,
    from_seq: ticks[0]?.seq ?? 0,
    to_seq: ticks[ticks.length - 1]?.seq ?? 0,
  };
  logger.info(
    `${ticks.length} ticks (seq ${dataRange.from_seq}..${dataRange.to_seq}) → ${set.count} windows of ${opts.window}×7: ` +
      `train ${split.train[1] - split.train[0]}, validation ${split.validation[1] - split.validation[0]}, ` +
      `test ${split.test[1] - split.test[0]}`,
  );
  return { stream: opts.stream, ticks, set, split, dataRange, synthetic };
}

/** Windows per part of a stream's split. */
export const splitCounts = (split: Split) => ({
  train: split.train[1] - split.train[0],
  validation: split.validation[1] - split.validation[0],
  test: split.test[1] - split.test[0],
});

/**
 * Seeding is for new names: an empty stream whose name already carries other data (ticks received live for it,
 * in inf_historical_db, that the synthetic source did not make) is refused rather than filled with sine ticks.
 */
async function refuseForeignName(store: Store, opts: StreamDataOptions): Promise<void> {
  const received = await store.lastTicks('inf_historical_db', opts.stream, 100);
  if (received.length === 0 || madeBySource(received, opts.source)) return;
  const count = await store.countTicks('inf_historical_db', opts.stream);
  throw new BynerError('BYNER_INPUT', `stream "${opts.stream}" has no ticks to train on in historical_data`, {
    expected: `the stream's stored ticks in historical_data (or a new stream name, which is seeded with synthetic ticks)`,
    received: `no ticks in historical_data, but ${count} ticks of other data received live for "${opts.stream}" (inf_historical_db): synthetic ticks are not stored under its name`,
    hint: 'train on the store the stream is served from (the --data-dir / --mongo-uri of `byner serve`), or pick another --stream name for synthetic data',
  });
}

/** The fewest windows `splitWindows` accepts for `f`: at least one in train and test, and in validation when asked. */
function minimumWindows(f: SplitFractions): number {
  for (let n = 1; n < 1_000_000; n++) {
    const train = Math.floor(n * f.train);
    const validation = Math.floor(n * f.validation);
    if (train >= 1 && n - train - validation >= 1 && (f.validation === 0 || validation >= 1)) return n;
  }
  return Number.POSITIVE_INFINITY;
}

/** The split, or an error saying how many ticks the window, horizon, warm-up and split need. */
function splitOrExplain(set: WindowSet, ticks: readonly Tick[], opts: StreamDataOptions): Split {
  const windows = minimumWindows(opts.split);
  if (set.count >= windows) return splitWindows(set.count, opts.split);
  const { window, horizon } = set;
  // Ticks read before the first one with all six indicators (the warm-up of a stream stored from its start).
  const warm = set.seqs.length > 0 ? ticks.length - set.seqs.length : warmup();
  const need = warm + window + horizon - 1 + windows;
  const { train, validation, test } = opts.split;
  throw new BynerError('BYNER_INPUT', `too few ticks to train on stream "${opts.stream}": ${ticks.length}`, {
    expected:
      `at least ${need} ticks: ${warm} before all six indicators are defined, then ${window + horizon} for ` +
      `the first window of ${window} and its ${horizon} targets, and ${windows - 1} more so that the split ` +
      `${train}/${validation}/${test} has a window in each part (${windows} windows)`,
    received: `${ticks.length} ticks (${set.count} windows)`,
    hint: 'store more ticks in the stream, raise --ticks (how many of the latest ticks are read), or use a shorter --window / --horizon',
  });
}
