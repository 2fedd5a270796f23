// `byner infer`: the live inference client (src/infer/runner.ts) on a stream URL until SIGTERM or SIGINT, with the
// model from the registry (loaded lazily from src/train) or a baseline. The inference itself is src/infer's job.
import type { Command } from 'commander';
import { BynerError } from '../../errors.js';
import type { Forecaster } from '../../features/forecaster.js';
import { runInference } from '../../infer/runner.js';
import type { Store } from '../../store/types.js';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import { formatTable } from '../table.js';
import { nextStopSignal } from './serve.js';
import { backlogBytes, openStoreFor, STORE_SETTINGS, WRITE_SETTINGS } from './shared.js';

const NAMES = [
  'url',
  'model',
  'modelVersion',
  'season',
  'stream',
  'idleTimeout',
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
] as const;

async function chooseForecaster(
  store: Store,
  s: { model?: string; modelVersion?: string; season?: number },
): Promise<Forecaster> {
  if (s.model !== 'latest' && s.modelVersion !== undefined) {
    throw new BynerError(
      'BYNER_CONFIG',
      `--model-version ${s.modelVersion} cannot be used with --model ${s.model}`,
      {
        expected: '--model latest (the default) with --model-version, or a baseline without it',
        received: `--model ${s.model} --model-version ${s.modelVersion}`,
      },
    );
  }
  // `naive` and `seasonal_naive` are baselines; `latest` or a version come from the registry.
  const { loadForecaster } = await import('../../train/load.js');
  return loadForecaster(store, { version: s.modelVersion ?? s.model ?? 'latest', season: s.season });
}

export function inferCommand(program: Command): Command {
  const cmd = program
    .command('infer')
    .description(
      'live inference on an SSE tick stream: forecast 5, store, score (--quiet prints no tick lines)',
    );
  addSettings(cmd, NAMES);
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const { logger } = makeContext(cmd);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const store = await openStoreFor(s, logger);
    try {
      const forecaster = await chooseForecaster(store, s);
      logger.info({ model: forecaster.version, url: s.url }, `forecasting with ${forecaster.version}`);
      const run = runInference({
        url: s.url!,
        store,
        forecaster,
        stream: s.stream,
        idleTimeoutMs: s.idleTimeout,
        out: quiet ? null : process.stdout,
        logger,
        writer: { maxPendingBytes: backlogBytes(s) },
      });
      const stopped = nextStopSignal().then((signal) => {
        logger.info({ signal }, `${signal}: stopping (writing what is held)`);
        return run.stop();
      });
      const stats = await Promise.race([run.done, stopped]);
      const m = run.scores();
      process.stdout.write(
        `\n${stats.accepted} ticks, ${stats.forecasts} forecasts` +
          (stats.recovered > 0 ? ` (${stats.recovered} for stored ticks that had none)` : '') +
          (stats.nonFinite > 0 ? `, ${stats.nonFinite} non-finite forecasts skipped` : '') +
          `, ${stats.invalid} invalid, ` +
          `${stats.duplicates + stats.outOfOrder} duplicate/out of order, ${stats.gaps.length} gap(s), ` +
          `${stats.stream.reconnects} reconnect(s)\n\n` +
          formatTable(
            ['horizon', 'mse', 'mae', 'accuracy', `mse (last ${m.window})`, `accuracy (last ${m.window})`],
            m.metrics.mse.map((_, h) => [
              h + 1,
              m.metrics.mse[h],
              m.metrics.mae[h],
              m.metrics.accuracy[h],
              m.metrics.mse_window[h],
              m.metrics.accuracy_window[h],
            ]),
          ) +
          '\n',
      );
    } finally {
      await store.close({ timeoutMs: 10_000 });
    }
  });
  return cmd;
}
