// `byner generate`: synthetic ticks with indicators into the store (default; only into an empty stream unless
// --append) or as JSON Lines on stdout (--format jsonl). The ticks come from src/ticks and src/indicators.
import type { Command } from 'commander';
import { Option } from 'commander';
import { BynerError } from '../../errors.js';
import { IndicatorStream } from '../../indicators/streaming.js';
import { syntheticTicks } from '../../indicators/ticks.js';
import type { Store, StreamState } from '../../store/index.js';
import { seedTicks } from '../../store/index.js';
import { replayStoredStream } from '../../stream/producer.js';
import { SinePriceSource, type SineSource, TICK_MS } from '../../ticks/generator.js';
import { tickToJson } from '../../ticks/json.js';
import type { Tick } from '../../ticks/types.js';
import { makeContext } from '../context.js';
import { jsonLines, writeChunks } from '../io.js';
import { addSettings, readSettings } from '../options.js';
import { startProgress } from '../progress.js';
import {
  openStoreFor,
  parseStartTime,
  SOURCE_SETTINGS,
  STORE_SETTINGS,
  sourceFrom,
  WRITE_SETTINGS,
} from './shared.js';

const NAMES = [
  'ticks',
  'startIndex',
  'startTime',
  'format',
  'stream',
  ...SOURCE_SETTINGS,
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
] as const;

export function generateCommand(program: Command): Command {
  const cmd = program
    .command('generate')
    .description(
      'synthetic ticks with the six indicators: into the store, or as JSON Lines on stdout (--format jsonl)',
    );
  addSettings(cmd, NAMES);
  cmd.addOption(
    new Option('--append', 'add ticks to a non-empty stream, continuing its seq, phase and indicators'),
  );
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const { logger } = makeContext(cmd);
    const count = s.ticks!;
    const src = sourceFrom(s);
    const append = (cmd.opts() as { append?: boolean }).append === true;
    // Options that only one output honours are refused elsewhere rather than silently ignored.
    const conflicts = [
      s.format === 'store' && s.startIndex !== undefined
        ? '--start-index: only with --format jsonl (a stored stream starts at seq 0, or continues with --append)'
        : null,
      s.format === 'jsonl' && append
        ? '--append: only with --format store (JSON Lines output has no stream to continue)'
        : null,
      append && s.startTime !== undefined
        ? '--start-time: not with --append (appended ticks continue 1 s after the last stored one)'
        : null,
      s.format === 'jsonl' && s.durable === true
        ? '--durable: only with --format store (JSON Lines output stores nothing)'
        : null,
    ].filter((x) => x !== null);
    if (conflicts.length > 0) {
      throw new BynerError(
        'BYNER_CONFIG',
        `invalid configuration (${conflicts.length}):\n  - ${conflicts.join('\n  - ')}`,
        {
          hint: '`byner generate --help` lists the options',
        },
      );
    }
    if (s.format === 'jsonl') {
      const start = s.startIndex ?? 0;
      const started = performance.now();
      const ticks = syntheticTicks(src, {
        start,
        count,
        stream: s.stream,
        origin: parseStartTime(s.startTime, count),
      });
      const complete = await writeChunks(process.stdout, jsonLines(ticks, tickToJson));
      logger.debug(
        { ticks: count, ms: Math.round(performance.now() - started), complete },
        `wrote ${count} ticks (seq ${start}..${start + count - 1}, ${TICK_MS / 1000} s apart)`,
      );
      return;
    }
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const store = await openStoreFor(s, logger);
    try {
      const continued = append ? await continueStream(store, s.stream!) : null;
      const progress = startProgress('storing ticks', count, logger, quiet);
      const state = new StateAfter(s.stream!, continued);
      const result = await seedTicks(store, {
        stream: s.stream!,
        count,
        append,
        makeTicks: (startSeq, n) =>
          state.follow(
            startSeq,
            continued && continued.next === startSeq
              ? continuedTicks(src, continued, s.stream!, n)
              : syntheticTicks(src, {
                  start: startSeq,
                  count: n,
                  stream: s.stream,
                  origin: parseStartTime(s.startTime, n),
                }),
          ),
        onProgress: (done) => progress.update(done),
      });
      progress.stop();
      // The stream's state after the stored ticks: a server that opens the stream next replays none of them.
      const last = state.last();
      if (result.seeded && last !== null) await store.writeStreamState(last);
      if (result.seeded) {
        logger.info(
          `stored ${result.written} ticks (seq ${result.startSeq}..${result.startSeq + result.written - 1}) in historical_data`,
        );
      } else logger.warn(`nothing stored: ${result.reason}`);
    } finally {
      await store.close();
    }
  });
  return cmd;
}

interface Continued {
  indicators: IndicatorStream;
  next: number;
  lastTime: number;
  /** Jumps in the stream's stored seqs. */
  gaps: number;
}

/** The stored stream's indicator state, to continue it exactly; null for an empty stream. */
async function continueStream(store: Store, stream: string): Promise<Continued | null> {
  const r = await replayStoredStream(store, stream);
  return r.lastSeq < 0
    ? null
    : { indicators: r.indicators, next: r.lastSeq + 1, lastTime: r.lastTime, gaps: r.gaps };
}

/**
 * The stream's state after the ticks handed to the store: their prices pushed over the stored stream's state (an
 * empty one for a new stream), as a replay of the stored stream would. Known only when the ticks start right
 * after the stored ones.
 */
class StateAfter {
  private readonly indicators: IndicatorStream;
  private tick: Tick | null = null;
  private known = true;

  constructor(
    private readonly stream: string,
    private readonly continued: Continued | null,
  ) {
    this.indicators =
      continued === null ? new IndicatorStream() : IndicatorStream.fromState(continued.indicators.getState());
  }

  *follow(startSeq: number, ticks: Iterable<Tick>): Generator<Tick> {
    this.known &&= startSeq === (this.continued?.next ?? 0);
    for (const t of ticks) {
      this.indicators.push(t.price);
      this.tick = t;
      yield t;
    }
  }

  last(): StreamState | null {
    if (!this.known || this.tick === null) return null;
    return {
      stream: this.stream,
      seq: this.tick.seq,
      time: this.tick.timestamp.getTime(),
      gaps: this.continued?.gaps ?? 0,
      indicators: this.indicators.getState(),
    };
  }
}

function* continuedTicks(src: SineSource, c: Continued, stream: string, n: number): Generator<Tick> {
  const prices = new SinePriceSource(src);
  for (let i = 0; i < n; i++) {
    const seq = c.next + i;
    const price = prices.at(seq);
    yield {
      seq,
      stream,
      timestamp: new Date(c.lastTime + (i + 1) * TICK_MS),
      price,
      indicators: c.indicators.push(price),
    };
  }
}
