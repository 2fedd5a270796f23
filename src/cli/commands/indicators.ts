// `byner indicators [FILE]`: prices in (CSV or JSON Lines, from FILE or stdin), the same rows out as JSON Lines
// with the six indicators. Parsing is src/indicators/input.ts; nothing is written unless all input is valid.
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { BynerError } from '../../errors.js';
import { computeIndicators, toIndicators } from '../../indicators/batch.js';
import { parsePriceText } from '../../indicators/input.js';
import { makeContext } from '../context.js';
import { writeChunks } from '../io.js';

export function indicatorsCommand(program: Command): Command {
  const cmd = program
    .command('indicators')
    .argument('[file]', 'CSV (price or close column) or JSON Lines (price field); stdin when omitted or -')
    .description('reads prices and writes them back as JSON Lines with the six indicators');
  cmd.action(async (file: string | undefined) => {
    const { logger } = makeContext(cmd);
    const fromStdin = file === undefined || file === '-';
    if (fromStdin && process.stdin.isTTY) {
      throw new BynerError('BYNER_INPUT', 'no input: stdin is a terminal', {
        expected: 'a FILE argument or prices piped on stdin',
        received: 'an interactive terminal',
        hint: 'byner indicators prices.csv   or   byner generate --format jsonl | byner indicators',
      });
    }
    let input: string;
    try {
      input = fromStdin ? await text(process.stdin) : await readFile(file, 'utf8');
    } catch (e) {
      throw new BynerError('BYNER_INPUT', `cannot read ${file}`, {
        expected: 'a readable file',
        received: (e as Error).message,
        hint: 'check the path, or pipe the data on stdin',
      });
    }
    const rows = parsePriceText(input, fromStdin ? 'stdin' : file);
    const cols = computeIndicators(rows.prices);
    const chunks = function* () {
      let s = '';
      for (let i = 0; i < rows.prices.length; i++) {
        const ts = rows.timestamps[i];
        const row = ts === undefined ? {} : { timestamp: ts };
        s += `${JSON.stringify({ ...row, price: rows.prices[i], indicators: toIndicators(cols, i) })}\n`;
        if (s.length > 1 << 16) {
          yield s;
          s = '';
        }
      }
      if (s) yield s;
    };
    await writeChunks(process.stdout, chunks());
    logger.debug(`indicators for ${rows.prices.length} ${rows.format} rows`);
  });
  return cmd;
}
