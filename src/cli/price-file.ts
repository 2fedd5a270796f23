// Opens a price file (or stdin for `-`) for src/import/reader.ts, with a progress bar on large files: what
// `byner import` and `byner indicators` share before their outputs differ.
import { open } from 'node:fs/promises';
import { BynerError } from '../errors.js';
import { type PriceFormat, type PriceSeries, readPrices } from '../import/reader.js';
import type { Logger } from '../log/logger.js';
import { startProgress } from './progress.js';

/** Files from this size on show reading progress. */
const PROGRESS_FROM_BYTES = 4 << 20;

export interface PriceFileOptions {
  format?: PriceFormat;
  column?: string;
  logger: Logger;
  quiet?: boolean;
  /** Command line for the "stdin is a terminal" hint. */
  example: string;
}

/** Reads and validates the whole file; throws BYNER_INPUT (exit 2) naming the bad lines. */
export async function readPriceFile(file: string, options: PriceFileOptions): Promise<PriceSeries> {
  const { format, column } = options;
  if (file === '-') {
    if (process.stdin.isTTY) {
      throw new BynerError('BYNER_INPUT', 'no input: stdin is a terminal', {
        expected: 'a FILE argument or prices piped on stdin',
        received: 'an interactive terminal',
        hint: options.example,
      });
    }
    return readPrices(process.stdin, { source: 'stdin', format, column });
  }
  let handle: Awaited<ReturnType<typeof open>>;
  let size: number;
  try {
    handle = await open(file, 'r');
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      await handle.close();
      throw new Error('it is a directory');
    }
    size = stat.size;
  } catch (e) {
    throw new BynerError('BYNER_INPUT', `cannot read ${file}`, {
      expected: 'a readable file',
      received: (e as Error).message,
      hint: 'check the path, or pipe the data on stdin with - as FILE',
    });
  }
  const mb = (bytes: number) => Math.round(bytes / 1e6);
  const progress =
    size >= PROGRESS_FROM_BYTES
      ? startProgress(`reading ${file} (MB)`, mb(size), options.logger, options.quiet)
      : undefined;
  try {
    return await readPrices(handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false }), {
      source: file,
      format,
      column,
      onProgress: progress && ((bytes) => progress.update(mb(bytes))),
    });
  } finally {
    progress?.stop();
    await handle.close();
  }
}
