// `byner indicators [FILE]`: prices in (CSV or JSON Lines, from FILE or stdin), the same rows out as JSON Lines
// with the six indicators. Reading is src/import/reader.ts; nothing is written unless all input is valid.
import type { Command } from 'commander';
import type { PriceSeries } from '../../import/reader.js';
import { computeIndicators, type IndicatorColumns } from '../../indicators/batch.js';
import { makeContext } from '../context.js';
import { writeChunks } from '../io.js';
import { addSettings, readSettings } from '../options.js';
import { readPriceFile } from '../price-file.js';

const NAMES = ['column', 'inputFormat'] as const;

export function indicatorsCommand(program: Command): Command {
  const cmd = program
    .command('indicators')
    .argument('[file]', 'CSV (header row) or JSON Lines price file; stdin when omitted or -')
    .description('reads prices and writes them back as JSON Lines with the six indicators');
  addSettings(cmd, NAMES);
  cmd.action(async (file: string | undefined) => {
    const s = readSettings(cmd, NAMES);
    const { logger } = makeContext(cmd);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const series = await readPriceFile(file ?? '-', {
      format: s.inputFormat,
      column: s.column,
      logger,
      quiet,
      example: 'byner indicators prices.csv   or   byner generate --format jsonl | byner indicators',
    });
    const cols = computeIndicators(series.prices);
    await writeChunks(process.stdout, jsonRows(series, cols));
    logger.debug(`indicators for ${series.length} ${series.format} rows`);
  });
  return cmd;
}

const json = (x: number) => (Number.isNaN(x) ? 'null' : String(x));

const CHUNK_BYTES = 1 << 20;

/**
 * `{"timestamp"?, "price", "indicators": {…}}` lines, written into 1 MB buffers (every character is ASCII):
 * no large strings for the garbage collector to flatten and collect.
 */
function* jsonRows(series: PriceSeries, cols: IndicatorColumns): Generator<Buffer> {
  const { prices, times } = series;
  const { ma, rsi, upper_bb, lower_bb, macd, signal } = cols;
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let at = 0;
  for (let i = 0; i < series.length; i++) {
    const line = `${times === null ? '{' : `{"timestamp":"${new Date(times[i]).toISOString()}",`}"price":${json(prices[i])},"indicators":{"ma":${json(ma[i])},"rsi":${json(rsi[i])},"upper_bb":${json(upper_bb[i])},"lower_bb":${json(lower_bb[i])},"macd":${json(macd[i])},"signal":${json(signal[i])}}}\n`;
    if (at + line.length > buf.length) {
      yield buf.subarray(0, at);
      buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, line.length));
      at = 0;
    }
    at += buf.write(line, at, 'latin1');
  }
  if (at > 0) yield buf.subarray(0, at);
}
