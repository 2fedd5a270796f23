// `byner import FILE --stream NAME`: a price file (CSV or JSON Lines; - for stdin) into one stream of the store,
// with the six indicators over the whole stream. Reading is src/import/reader.ts, storing src/import/importer.ts.
import type { Command } from 'commander';
import { Option } from 'commander';
import { BynerError } from '../../errors.js';
import { importSeries } from '../../import/importer.js';
import { parseTimestamp } from '../../import/timestamps.js';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import { readPriceFile } from '../price-file.js';
import { startProgress } from '../progress.js';
import { openStoreFor, STORE_SETTINGS, WRITE_SETTINGS } from './shared.js';

const NAMES = [
  'importStream',
  'column',
  'inputFormat',
  'startTime',
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
] as const;

export function importCommand(program: Command): Command {
  const cmd = program
    .command('import')
    .argument('<file>', 'CSV (header row) or JSON Lines price file; - reads stdin')
    .description('stores a price file as a stream of ticks with the six indicators (all rows checked first)');
  // --stream has no default here (an import names its stream); --start-time's default depends on the stream
  addSettings(cmd, NAMES);
  const startTime = cmd.options.find((o) => o.attributeName() === 'startTime');
  if (startTime) {
    startTime.description =
      "first timestamp of a file without timestamps, rows 1 s apart (default: the last row is now in a new stream, the stream's first tick on a re-import, 1 s after its last with --append)";
  }
  cmd.addOption(
    new Option('--append', "add the file after the stream's last tick (seq and indicators continue)"),
  );
  cmd.action(async (file: string) => {
    const s = readSettings(cmd, NAMES);
    const append = (cmd.opts() as { append?: boolean }).append === true;
    if (s.importStream === undefined) {
      throw new BynerError('BYNER_CONFIG', '--stream is required for import', {
        expected: 'the name of the stream to import into (letters, digits, dot, dash or underscore)',
        received: 'no --stream (and no BYNER_STREAM)',
        hint: `byner import ${file} --stream prices`,
      });
    }
    const { logger } = makeContext(cmd);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const series = await readPriceFile(file, {
      format: s.inputFormat,
      column: s.column,
      logger,
      quiet,
      example: `byner import prices.csv --stream ${s.importStream}   or   cat prices.csv | byner import - --stream ${s.importStream}`,
    });
    const source = file === '-' ? 'stdin' : file;
    if (s.startTime !== undefined && series.times !== null) {
      throw new BynerError('BYNER_CONFIG', '--start-time: only for a file without timestamps', {
        expected: 'no --start-time (the rows keep their own timestamps)',
        received: `${source} has timestamps in its "${series.timeColumn}" ${series.format === 'csv' ? 'column' : 'field'}`,
        hint: 'leave out --start-time',
      });
    }
    logger.info(
      `read ${series.length} ${series.format} rows from ${source} (prices: "${series.priceColumn}", ${
        series.timeColumn === undefined ? 'no timestamps: 1 s apart' : `timestamps: "${series.timeColumn}"`
      })`,
    );
    const store = await openStoreFor(s, logger);
    try {
      let progress: ReturnType<typeof startProgress> | undefined;
      const result = await importSeries(store, series, {
        stream: s.importStream!,
        append,
        startTime: s.startTime === undefined ? undefined : new Date(parseTimestamp(s.startTime)),
        source,
        onProgress: (done, total) => {
          progress ??= startProgress('storing ticks', total, logger, quiet);
          progress.update(done);
        },
      });
      progress?.stop();
      const held = `stream "${s.importStream}" holds ${result.streamLength} ticks`;
      if (result.stored === 0) {
        logger.warn(`already imported: ${held}, these ${result.already} rows among them; nothing stored`);
      } else {
        const skipped = result.already > 0 ? ` (the first ${result.already} rows were already there)` : '';
        logger.info(
          `stored ${result.stored} ticks (seq ${result.firstSeq}..${result.firstSeq + result.stored - 1}) in historical_data${skipped}; ${held}`,
        );
      }
    } finally {
      await store.close();
    }
  });
  return cmd;
}
