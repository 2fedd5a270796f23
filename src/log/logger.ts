// Structured logs (pino): human-readable lines on stderr, JSON lines in <log dir>/<timestamp>-<pid>.log (one file
// per process). Where logs go is decided here; what to log is each caller's business.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { BynerError } from '../errors.js';

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
    ensureLogDir(opts.dir);
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

/**
 * Creates the log folder one level at a time. (Node's recursive mkdirSync can spin forever on paths it may not
 * create, e.g. under /proc.) An unusable folder is a configuration error, not a crash.
 */
function ensureLogDir(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p, { throwIfNoEntry: false });
    } catch (e) {
      throw logDirError(dir, (e as Error).message); // e.g. ENOTDIR: a file where a folder should be
    }
    if (st?.isDirectory()) break;
    if (st !== undefined || dirname(p) === p) {
      throw logDirError(dir, st ? `${p} is not a folder` : `${p} does not exist`);
    }
    missing.unshift(p);
    p = dirname(p);
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw logDirError(dir, (e as Error).message);
    }
  }
}

function logDirError(dir: string, received: string): BynerError {
  return new BynerError('BYNER_CONFIG', `invalid configuration (1):\n  - --log-dir: cannot create ${dir}`, {
    expected: 'a folder byner can create and write',
    received,
    hint: 'pick another folder with --log-dir (or BYNER_LOG_DIR), or --log-dir none to write no log file',
  });
}

/** A logger that drops everything: for library calls and tests that pass no logger. */
export const silentLogger: Logger = pino({ level: 'silent' });
