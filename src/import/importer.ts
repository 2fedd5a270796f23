// Stores a validated price series (reader.ts) as ticks of one stream, with the six indicators over the whole
// stream. Rows the stream already holds are checked equal and skipped, so importing a file again stores nothing
// twice and an interrupted import resumes; rows that contradict the stream are refused before anything is written.
import { BynerError } from '../errors.js';
import { IndicatorStream } from '../indicators/streaming.js';
import type { Store, TickCollection } from '../store/index.js';
import type { Tick } from '../ticks/types.js';
import type { PriceSeries } from './reader.js';

/** Spacing of the rows of a file without timestamps. */
const SYNTHETIC_SPACING_MS = 1000;

export interface ImportOptions {
  stream: string;
  /**
   * Add the rows after the stream's last tick (seq and indicators continue). Rows up to its last timestamp must
   * be the stream's last ticks exactly (they are skipped); others there are refused.
   * Without it, the file must be the beginning of the stream: rows the stream holds are skipped, the rest added.
   */
  append?: boolean;
  /**
   * First timestamp of a file without timestamps (its rows are 1 s apart). Default: the stream's first tick's
   * time when re-importing, 1 s after its last with `append`, and for a new stream the time that makes the last
   * row now (whole seconds).
   */
  startTime?: Date;
  /** Name of the file in messages. */
  source?: string;
  collection?: TickCollection;
  /**
   * Ticks per write. Default 2,000: fewer Tick objects alive at each garbage collection than with 5,000 (1M rows
   * took 2.4 s of CPU in batches of 1,000 or 2,000, 3.1 s in batches of 5,000; docs/BENCHMARKS.md, Import).
   */
  batchSize?: number;
  /** Called after each stored batch with the rows stored so far and the rows to store. */
  onProgress?: (stored: number, total: number) => void;
  /** Clock for the default start time (tests). */
  now?: () => number;
}

export interface ImportResult {
  /** Rows of the file the stream already held (checked equal, not stored again). */
  already: number;
  /** Rows stored now, at seq firstSeq onwards. */
  stored: number;
  firstSeq: number;
  /** Ticks of the stream after the import. */
  streamLength: number;
}

const READ_PAGE = 10_000;

/** Where the file's rows go: how many the stream holds already, the first new seq, the indicator state. */
interface Plan {
  skip: number;
  firstSeq: number;
  indicators: IndicatorStream;
  streamLength: number;
  /** Jumps in the stream's stored seqs before firstSeq. */
  gaps: number;
}

export async function importSeries(
  store: Store,
  series: PriceSeries,
  options: ImportOptions,
): Promise<ImportResult> {
  const collection = options.collection ?? 'historical_data';
  const ctx: Ctx = {
    store,
    series,
    collection,
    stream: options.stream,
    source: options.source ?? 'the file',
    timeAt: (i) => series.times![i],
  };
  const count = await store.countTicks(collection, options.stream);
  let plan: Plan;
  if (count === 0) {
    const t0 = options.startTime?.getTime() ?? startNow(series.length, options.now?.() ?? Date.now());
    if (series.times === null) ctx.timeAt = (i) => t0 + i * SYNTHETIC_SPACING_MS;
    plan = { skip: 0, firstSeq: 0, indicators: new IndicatorStream(), streamLength: 0, gaps: 0 };
  } else if (options.append === true) plan = await planAppend(ctx, options);
  else plan = await planReimport(ctx, options, count);

  const total = series.length - plan.skip;
  const batchSize = options.batchSize ?? 2000;
  let stored = 0;
  let batch: Tick[] = [];
  const put = async () => {
    // progress counts stored ticks, not only accepted ones; a refused tick fails the import here
    await (await store.writeTicks(collection, batch)).stored();
    stored += batch.length;
    batch = [];
    options.onProgress?.(stored, total);
  };
  for (let i = plan.skip; i < series.length; i++) {
    const price = series.prices[i];
    batch.push({
      seq: plan.firstSeq + i - plan.skip,
      stream: options.stream,
      timestamp: new Date(ctx.timeAt(i)),
      price,
      indicators: plan.indicators.push(price),
    });
    if (batch.length >= batchSize) await put();
  }
  if (batch.length > 0) await put();
  if (collection === 'historical_data' && stored > 0) {
    // The indicators have seen every stored price up to the last row: the stream's state there, so that a server
    // opening the stream replays none of the file.
    await store.writeStreamState({
      stream: options.stream,
      seq: plan.firstSeq + stored - 1,
      time: ctx.timeAt(series.length - 1),
      gaps: plan.gaps,
      indicators: plan.indicators.getState(),
    });
  }
  return {
    already: plan.skip,
    stored,
    firstSeq: plan.firstSeq,
    streamLength: Math.max(plan.streamLength, plan.firstSeq + stored),
  };
}

interface Ctx {
  store: Store;
  series: PriceSeries;
  collection: TickCollection;
  stream: string;
  source: string;
  /** Epoch ms of row i: the file's, or synthesized 1 s apart. */
  timeAt: (i: number) => number;
}

/** The first time of `n` rows 1 s apart whose last is now (whole seconds). */
const startNow = (n: number, now: number) => Math.floor(now / 1000) * 1000 - (n - 1) * SYNTHETIC_SPACING_MS;

const iso = (ms: number) => new Date(ms).toISOString();

/** Without --append: the stream must begin with the file's rows; the ones it holds are skipped. */
async function planReimport(ctx: Ctx, options: ImportOptions, count: number): Promise<Plan> {
  const { store, series, collection, stream } = ctx;
  if (series.times === null) {
    const first = await store.ticksAfter(collection, stream, -1, 1);
    const t0 = options.startTime?.getTime() ?? first[0].timestamp.getTime();
    ctx.timeAt = (i) => t0 + i * SYNTHETIC_SPACING_MS;
  }
  const held = Math.min(count, series.length);
  const differs = await firstDifference(ctx, held, 0);
  if (differs !== null) {
    const { row, tick } = differs;
    const last = (await store.lastTicks(collection, stream, 1))[0];
    throw new BynerError(
      'BYNER_INPUT',
      `stream "${stream}" already holds other data: line ${series.lines[row]} of ${ctx.source} differs from its tick seq ${row}`,
      {
        expected: tick === undefined ? `a stored tick seq ${row}` : `the stored tick: ${describeTick(tick)}`,
        received: describeRow(ctx, row),
        hint: `to add the file after the stream's last tick (seq ${last.seq}, ${iso(last.timestamp.getTime())}) use --append; to keep it apart, import it into another --stream`,
      },
    );
  }
  const indicators = new IndicatorStream();
  for (let i = 0; i < held; i++) indicators.push(series.prices[i]);
  // firstDifference found seqs 0 … held − 1 all stored: no gaps before the new rows.
  return { skip: held, firstSeq: held, indicators, streamLength: count, gaps: 0 };
}

/** With --append: rows up to the stream's last time must be its last ticks; the others continue it. */
async function planAppend(ctx: Ctx, options: ImportOptions): Promise<Plan> {
  const { store, series, collection, stream } = ctx;
  const [last] = await store.lastTicks(collection, stream, 1);
  const lastTime = last.timestamp.getTime();
  if (series.times === null) {
    const t0 = options.startTime?.getTime() ?? lastTime + SYNTHETIC_SPACING_MS;
    ctx.timeAt = (i) => t0 + i * SYNTHETIC_SPACING_MS;
  }
  let overlap = 0;
  while (overlap < series.length && ctx.timeAt(overlap) <= lastTime) overlap++;
  const differs = await firstDifference(ctx, overlap, last.seq - overlap + 1);
  if (differs !== null) {
    const { row, tick } = differs;
    throw new BynerError(
      'BYNER_INPUT',
      `line ${series.lines[row]} of ${ctx.source} is not after the last tick of stream "${stream}" (seq ${last.seq}, ${iso(lastTime)})${tick === undefined ? '' : ` and differs from its tick seq ${tick.seq}`}`,
      {
        expected: `rows after ${iso(lastTime)}, or rows equal to the stream's last ticks (already imported)`,
        received: describeRow(ctx, row),
        hint: `--append adds rows after the stream's last tick: remove the rows up to ${iso(lastTime)} from the file, or import it into another --stream`,
      },
    );
  }
  const replayed = await replayIndicators(store, collection, stream);
  return {
    skip: overlap,
    firstSeq: last.seq + 1,
    indicators: replayed.indicators,
    streamLength: replayed.count,
    gaps: replayed.gaps,
  };
}

/**
 * Compares the file's first `rows` rows with the stored ticks seq `firstSeq`, `firstSeq` + 1, … (read a page at a
 * time); the first row that differs (or has no stored tick) with that tick, or null when all are equal.
 */
async function firstDifference(
  ctx: Ctx,
  rows: number,
  firstSeq: number,
): Promise<{ row: number; tick: Tick | undefined } | null> {
  for (let from = 0; from < rows; from += READ_PAGE) {
    const to = Math.min(rows, from + READ_PAGE);
    const lo = firstSeq + from;
    const ticks =
      lo + (to - from) <= 0
        ? []
        : await ctx.store.ticksRange(ctx.collection, ctx.stream, Math.max(0, lo), lo + to - from - 1);
    const bySeq = new Map(ticks.map((t) => [t.seq, t]));
    for (let row = from; row < to; row++) {
      const tick = bySeq.get(firstSeq + row);
      if (tick === undefined || !sameRow(ctx, row, tick)) return { row, tick };
    }
  }
  return null;
}

function sameRow(ctx: Ctx, i: number, t: Tick): boolean {
  return t.price === ctx.series.prices[i] && t.timestamp.getTime() === ctx.timeAt(i);
}

const describeTick = (t: Tick) => `price ${t.price} at ${iso(t.timestamp.getTime())}`;
const describeRow = (ctx: Ctx, i: number) =>
  `price ${ctx.series.prices[i]} at ${iso(ctx.timeAt(i))}${ctx.series.times === null ? ' (1 s spacing: the file has no timestamps)' : ''}`;

/** The indicator state after every stored tick of the stream, in seq order, and the jumps in its seqs. */
async function replayIndicators(
  store: Store,
  collection: TickCollection,
  stream: string,
): Promise<{ indicators: IndicatorStream; count: number; gaps: number }> {
  const indicators = new IndicatorStream();
  let gaps = 0;
  for (let after = -1; ; ) {
    const page = await store.ticksAfter(collection, stream, after, READ_PAGE);
    for (const t of page) {
      if (after >= 0 && t.seq !== after + 1) gaps += 1;
      indicators.push(t.price);
      after = t.seq;
    }
    if (page.length < READ_PAGE) break;
  }
  return { indicators, count: indicators.length, gaps };
}
