// What every command gets: validated global settings and a logger. Commands build the rest themselves.
import type { Command } from 'commander';
import { createLogger, type Logger } from '../log/logger.js';
import { readSettings } from './options.js';

export const GLOBAL_SETTINGS = ['logDir', 'logLevel'] as const;

export interface CommandContext {
  logger: Logger;
  /** The level shown on stderr (for loggers a command makes elsewhere, e.g. in a thread). */
  level: 'error' | 'warn' | 'info' | 'debug';
  logFile?: string;
}

export function makeContext(cmd: Command): CommandContext {
  const g = readSettings(cmd, GLOBAL_SETTINGS);
  const flags = cmd.optsWithGlobals() as { quiet?: boolean; verbose?: boolean };
  const level = flags.quiet ? 'warn' : flags.verbose ? 'debug' : (g.logLevel ?? 'info');
  const { logger, file } = createLogger({ level, dir: g.logDir, name: cmd.name() });
  return { logger, level, logFile: file };
}
