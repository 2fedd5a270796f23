// Progress for long work: a cli-progress bar on an interactive stderr, otherwise a log line every 10%.
// Callers report counts; they never know which one is shown.
import cliProgress from 'cli-progress';
import type { Logger } from '../log/logger.js';

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

export function startProgress(label: string, total: number, logger: Logger, quiet = false): Progress {
  if (!quiet && process.stderr.isTTY && total > 0) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}`,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (n, extra) => bar.update(n, extra), stop: () => bar.stop() };
  }
  let nextPct = 10;
  return {
    update(n) {
      const pct = total > 0 ? (100 * n) / total : 100;
      if (pct >= nextPct) {
        logger.info(`${label}: ${n}/${total} (${Math.floor(pct)}%)`);
        nextPct = Math.floor(pct / 10) * 10 + 10;
      }
    },
    stop() {},
  };
}
