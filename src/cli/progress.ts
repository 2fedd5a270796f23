// Progress for long work: a cli-progress bar on an interactive stderr, otherwise log lines (every 10%, or one per
// epoch of a training run). Callers report counts; they never know which one is shown.
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

export interface EpochProgress {
  batch(b: { epoch: number; batch: number; batches: number; loss: number }): void;
  epoch(e: { epoch: number; epochs: number; loss: number; valLoss?: number; improved: boolean }): void;
  stop(): void;
}

/**
 * Training progress: a per-epoch bar (batch, loss, ETA) on a terminal, and one log line per epoch (loss,
 * validation loss, seconds since the start). `label` names what is training (e.g. a backtest's fold and model).
 */
export function epochProgress(logger: Logger, quiet: boolean, label: () => string = () => ''): EpochProgress {
  const tty = process.stderr.isTTY === true && !quiet;
  let bar: cliProgress.SingleBar | null = null;
  const started = performance.now();
  const prefix = () => {
    const l = label();
    return l === '' ? '' : `${l}: `;
  };
  return {
    batch(b) {
      if (!tty) return;
      if (bar === null) {
        bar = new cliProgress.SingleBar(
          {
            format: `${prefix()}epoch {epoch} [{bar}] {value}/{total} batches | loss {loss} | ETA {eta_formatted}`,
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(b.batches, 0, { epoch: b.epoch + 1, loss: '-' });
      }
      bar.update(b.batch + 1, { epoch: b.epoch + 1, loss: b.loss.toFixed(4) });
    },
    epoch(e) {
      bar?.stop();
      bar = null;
      const elapsed = (performance.now() - started) / 1000;
      logger.info(
        `${prefix()}epoch ${e.epoch + 1}/${e.epochs}: loss ${e.loss.toFixed(4)}, val_loss ${e.valLoss?.toFixed(4) ?? '-'}` +
          `${e.improved ? ' (best)' : ''}, ${elapsed.toFixed(1)} s`,
      );
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
