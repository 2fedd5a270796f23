// `byner demo` (= npm start): the main job on the embedded default. Today: generates the default 10,000
// synthetic ticks, checks the streaming indicators against the batch ones, and prints a summary.
import type { Command } from 'commander';
import { IndicatorStream } from '../../indicators/streaming.js';
import { syntheticTicks } from '../../indicators/ticks.js';
import { INDICATOR_NAMES } from '../../ticks/types.js';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import { formatTable } from '../table.js';
import { parseStartTime, SOURCE_SETTINGS, sourceFrom } from './shared.js';

const NAMES = ['ticks', 'stream', ...SOURCE_SETTINGS] as const;

export function demoCommand(program: Command): Command {
  const cmd = program.command('demo').description('runs the pipeline end to end and prints what it did');
  addSettings(cmd, NAMES);
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const { logger } = makeContext(cmd);
    const count = s.ticks!;
    const t0 = performance.now();
    const ticks = syntheticTicks(sourceFrom(s), {
      start: 0,
      count,
      stream: s.stream,
      origin: parseStartTime(undefined, count),
    });
    const genMs = performance.now() - t0;
    logger.info(`generated ${count} synthetic ticks with indicators in ${genMs.toFixed(1)} ms`);

    // The live path computes indicators one tick at a time; show that it agrees with the batch.
    const stream = new IndicatorStream();
    let maxDiff = 0;
    for (const t of ticks) {
      const live = stream.push(t.price);
      for (const n of INDICATOR_NAMES) {
        const a = live[n];
        const b = t.indicators[n];
        if (a !== null && b !== null) maxDiff = Math.max(maxDiff, Math.abs(a - b));
      }
    }
    const prices = ticks.map((t) => t.price);
    const mean = prices.reduce((a, b) => a + b, 0) / count;
    const sd = Math.sqrt(prices.reduce((a, b) => a + (b - mean) ** 2, 0) / count);
    const last = ticks.slice(-10);
    process.stdout.write(
      `\nLast ${last.length} of ${count} ticks (stream "${s.stream}", seed ${s.seed}):\n\n` +
        formatTable(
          ['seq', 'time', 'price', ...INDICATOR_NAMES],
          last.map((t) => [
            t.seq,
            t.timestamp.toISOString().slice(11, 19),
            t.price,
            ...INDICATOR_NAMES.map((n) => t.indicators[n]),
          ]),
        ) +
        `\n\nprice mean ${mean.toFixed(3)}, sd ${sd.toFixed(3)}, min ${Math.min(...prices)}, max ${Math.max(...prices)}` +
        `\nstreaming vs batch indicators: largest difference ${maxDiff}\n`,
    );
  });
  return cmd;
}
