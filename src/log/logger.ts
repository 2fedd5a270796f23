// Structured logs (pino): human-readable lines on stderr, JSON lines in logs/<timestamp>.log like the
// original's logger.py. Where logs go is decided here; what to log is each caller's business.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LogOptions {
  level: 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /** Folder for the JSON log file; 'none' (or undefined) writes no file. */
  dir?: string;
  /** Command name, added to every line. */
  name?: string;
}

export interface OpenedLogger {
  logger: Logger;
  /** Path of the log file, when one is written. */
  file?: string;
}

export function createLogger(opts: LogOptions): OpenedLogger {
  const streams: pino.StreamEntry[] = [
    {
      level: opts.level === 'silent' ? 'fatal' : opts.level,
      stream: pretty({
        destination: 2,
        sync: true,
        colorize: process.stderr.isTTY === true,
        ignore: 'pid,hostname,name',
        translateTime: 'SYS:HH:MM:ss',
      }),
    },
  ];
  let file: string | undefined;
  if (opts.dir && opts.dir !== 'none') {
    mkdirSync(opts.dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    file = join(opts.dir, `${stamp}-${process.pid}.log`);
    streams.push({ level: 'debug', stream: pino.destination({ dest: file, sync: false, mkdir: true }) });
  }
  const logger = pino(
    { level: 'debug', base: opts.name ? { name: opts.name } : {}, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
  return { logger, file };
}

/** A logger that drops everything: for library calls and tests that pass no logger. */
export const silentLogger: Logger = pino({ level: 'silent' });
