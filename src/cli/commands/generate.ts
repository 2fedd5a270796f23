// `byner generate`: synthetic ticks with indicators, as JSON Lines on stdout (--format jsonl) or into the
// store. The ticks themselves come from src/ticks and src/indicators.
import type { Command } from 'commander';
import { syntheticTicks } from '../../indicators/ticks.js';
import { TICK_MS } from '../../ticks/generator.js';
import { tickToJson } from '../../ticks/json.js';
import { makeContext } from '../context.js';
import { jsonLines, writeChunks } from '../io.js';
import { addSettings, readSettings } from '../options.js';
import { parseStartTime, SOURCE_SETTINGS, sourceFrom } from './shared.js';

const NAMES = ['ticks', 'startIndex', 'startTime', 'format', 'stream', ...SOURCE_SETTINGS] as const;

export function generateCommand(program: Command): Command {
  const cmd = program
    .command('generate')
    .description('synthetic ticks with the six indicators (SPEC §2-3), as JSON Lines on stdout');
  addSettings(cmd, NAMES);
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const { logger } = makeContext(cmd);
    const count = s.ticks!;
    const start = s.startIndex ?? 0;
    const origin = parseStartTime(s.startTime, count);
    const started = performance.now();
    const ticks = syntheticTicks(sourceFrom(s), { start, count, stream: s.stream, origin });
    const complete = await writeChunks(process.stdout, jsonLines(ticks, tickToJson));
    logger.debug(
      { ticks: count, ms: Math.round(performance.now() - started), complete },
      `wrote ${count} ticks (seq ${start}..${start + count - 1}, ${TICK_MS / 1000} s apart)`,
    );
  });
  return cmd;
}
