// `byner db stats`: document counts per collection of the chosen store.
import type { Command } from 'commander';
import { Option } from 'commander';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import { formatTable } from '../table.js';
import { openStoreFor, STORE_SETTINGS } from './shared.js';

export function dbCommand(program: Command): Command {
  const db = program.command('db').description('store housekeeping');
  const stats = db.command('stats').description('document counts per collection');
  addSettings(stats, STORE_SETTINGS);
  stats.addOption(new Option('--json', 'print the counts as one JSON object'));
  stats.action(async () => {
    const s = readSettings(stats, STORE_SETTINGS);
    const { logger } = makeContext(stats);
    const store = await openStoreFor(s, logger);
    try {
      const counts = await store.stats();
      if ((stats.opts() as { json?: boolean }).json) process.stdout.write(`${JSON.stringify(counts)}\n`);
      else
        process.stdout.write(
          `${store.description}\n\n${formatTable(['collection', 'documents'], Object.entries(counts))}\n`,
        );
    } finally {
      await store.close();
    }
  });
  db.exitOverride();
  stats.exitOverride();
  return db;
}
