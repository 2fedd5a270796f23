#!/usr/bin/env node
// The `byner` command line: one subcommand per pipeline stage. The only place that turns errors into exit
// codes (2: bad configuration or input, 1: anything else) and sets the exit code.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isBynerError } from '../errors.js';
import { backtestCommand } from './commands/backtest.js';
import { dbCommand } from './commands/db.js';
import { demoCommand } from './commands/demo.js';
import { generateCommand } from './commands/generate.js';
import { importCommand } from './commands/import.js';
import { indicatorsCommand } from './commands/indicators.js';
import { inferCommand } from './commands/infer.js';
import { serveCommand } from './commands/serve.js';
import { modelsCommand, trainCommand } from './commands/train.js';
import { workerCommand } from './commands/worker.js';
import { GLOBAL_SETTINGS } from './context.js';
import { addSettings } from './options.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command('byner')
    .description('forecast the next 5 values of a live numeric sequence')
    .version(pkg.version)
    .option('-q, --quiet', 'only warnings and errors on stderr')
    .option('-v, --verbose', 'debug logs on stderr')
    .showHelpAfterError()
    .exitOverride();
  addSettings(program, GLOBAL_SETTINGS);
  for (const add of [
    generateCommand,
    indicatorsCommand,
    importCommand,
    trainCommand,
    modelsCommand,
    backtestCommand,
    dbCommand,
    serveCommand,
    inferCommand,
    demoCommand,
    workerCommand,
  ])
    add(program).exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (isBynerError(e)) {
      process.stderr.write(`byner: ${e.message}\n`);
      return e.code === 'BYNER_CONFIG' || e.code === 'BYNER_INPUT' ? 2 : 1;
    }
    process.stderr.write(`byner: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

const code = await main(process.argv);
process.exitCode = code;
