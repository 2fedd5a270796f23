// `byner train`: runs the training job (src/train/train.ts) with progress bars, Ctrl-C handling, the result
// table and `--json`. `byner models` lists the registry.
import type { Command } from 'commander';
import { Option } from 'commander';
import { BynerError } from '../../errors.js';
import { mean } from '../../features/metrics.js';
import type { ModelSummary } from '../../store/index.js';
import { BAYES_LIMIT, DEFAULT_FIT, summaryJson, type TrainSummary, train } from '../../train/train.js';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import { epochProgress, startProgress } from '../progress.js';
import { formatTable } from '../table.js';
import {
  LSTM_SETTINGS,
  openStoreFor,
  SOURCE_SETTINGS,
  STORE_SETTINGS,
  sourceFrom,
  WRITE_SETTINGS,
} from './shared.js';
import { addQueueOptions, enqueueFromCommand, queueRequested } from './train-queue.js';

const NAMES = [
  'stream',
  'ticks',
  'window',
  'horizon',
  ...LSTM_SETTINGS,
  'split',
  'season',
  'outputDir',
  ...SOURCE_SETTINGS,
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
] as const;

export function trainCommand(program: Command): Command {
  const cmd = program
    .command('train')
    .description(
      'trains the LSTM on the stored ticks (seeding 10,000 if empty), evaluates it against baselines, registers it',
    );
  addSettings(cmd, NAMES);
  addQueueOptions(cmd);
  cmd
    .addOption(new Option('--resume', 'continue the interrupted run of this stream from its last epoch'))
    .addOption(
      new Option(
        '--force',
        'serve the new model even if the seasonal-naive baseline beats it on validation or the run is interrupted (never after a NaN/Infinity loss)',
      ),
    )
    .addOption(new Option('--json', 'print one JSON summary on stdout at the end'));
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const flags = cmd.opts() as { resume?: boolean; force?: boolean; json?: boolean };
    const { logger } = makeContext(cmd);
    if (s.season! > s.window!) {
      throw new BynerError(
        'BYNER_CONFIG',
        'invalid configuration (1):\n  - --season: must not exceed --window',
        {
          expected: `a season <= window (${s.window})`,
          received: String(s.season),
        },
      );
    }
    if (queueRequested(cmd)) return enqueueFromCommand(cmd, s, logger);
    const store = await openStoreFor(s, logger);
    const abort = new AbortController();
    const onSigint = () => {
      if (abort.signal.aborted) return;
      logger.warn(
        'interrupted: finishing the current batch, then keeping the best model so far (Ctrl-C again to quit)',
      );
      abort.abort();
      process.once('SIGINT', () => process.kill(process.pid, 'SIGKILL'));
    };
    process.once('SIGINT', onSigint);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const bar = epochProgress(logger, quiet);
    let seed: ReturnType<typeof startProgress> | null = null;
    try {
      const summary = await train(
        store,
        {
          stream: s.stream!,
          ticks: s.ticks!,
          source: sourceFrom(s),
          model: {
            window: s.window,
            horizon: s.horizon,
            layers: s.units!.map((units) => ({ units, activation: s.activation })),
            dropout: s.dropout,
            seed: s.seed,
          },
          fit: {
            ...DEFAULT_FIT,
            epochs: s.epochs!,
            batchSize: s.batchSize!,
            patience: s.patience!,
            learningRate: s.learningRate!,
            workers: s.workers,
          },
          split: { train: s.split![0], validation: s.split![1], test: s.split![2] },
          season: s.season!,
          outputDir: s.outputDir === 'none' ? null : s.outputDir!,
          workDir: s.dataDir!,
          resume: flags.resume === true,
          force: flags.force === true,
          signal: abort.signal,
        },
        {
          logger,
          onSeedProgress: (done, total) => {
            seed ??= startProgress('storing ticks', total, logger, quiet);
            seed.update(done);
            if (done >= total) seed.stop();
          },
          onBatch: bar.batch,
          onEpoch: bar.epoch,
        },
      );
      bar.stop();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(summaryJson(summary))}\n`);
      } else process.stdout.write(`${report(summary, s.stream!)}\n`);
    } finally {
      bar.stop();
      process.off('SIGINT', onSigint);
      await store.close();
    }
  });
  return cmd;
}

function report(r: TrainSummary, stream: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const rows = (name: string, m: { mse: number[]; mae: number[]; accuracy: number[] }) => [
    [`${name} MSE`, ...m.mse, mean(m.mse)],
    [`${name} MAE`, ...m.mae, mean(m.mae)],
    [`${name} accuracy`, ...m.accuracy.map(pct), pct(mean(m.accuracy))],
  ];
  const H = r.test.mse.length;
  const header = ['', ...Array.from({ length: H }, (_, h) => `h${h + 1}`), 'mean'];
  const table = formatTable(header, [
    ...rows('LSTM', r.test),
    [`LSTM MSE (rounded)`, ...r.test_rounded.mse, mean(r.test_rounded.mse)],
    ...rows('naive', r.baselines.naive),
    ...rows('seasonal naive', r.baselines.seasonal_naive),
  ]);
  return [
    '',
    `model ${r.model_version} — ${r.epochs} epochs (${r.stopped_reason}), ${r.seconds.toFixed(1)} s, stream "${stream}" ` +
      `seq ${r.data_range.from_seq}..${r.data_range.to_seq}`,
    `windows: train ${r.windows.train}, validation ${r.windows.validation}, test ${r.windows.test}`,
    '',
    `test metrics per horizon (accuracy = exact match of the rounded forecast; Bayes limit on the default source: ` +
      `MSE ${BAYES_LIMIT.mse}, MAE ${BAYES_LIMIT.mae}, accuracy ${pct(BAYES_LIMIT.accuracy)}):`,
    '',
    table,
    '',
    `validation MSE: LSTM ${r.validation.model_mse.toFixed(3)}, seasonal naive ${r.validation.seasonal_naive_mse.toFixed(3)}`,
    `this model ${r.serving_decision.detail}`,
    ...(r.plots.length > 0 ? ['', `plots: ${r.plots.join(', ')}`] : []),
  ].join('\n');
}

const MODELS_SETTINGS = ['modelsStream', ...STORE_SETTINGS] as const;

export function modelsCommand(program: Command): Command {
  const cmd = program
    .command('models')
    .description('lists the registered models with their test metrics and the streams they serve');
  addSettings(cmd, MODELS_SETTINGS);
  cmd.addOption(new Option('--json', 'print the list as JSON'));
  cmd.action(async () => {
    const s = readSettings(cmd, MODELS_SETTINGS);
    const { logger } = makeContext(cmd);
    const store = await openStoreFor(s, logger);
    const stream = s.modelsStream;
    try {
      const models = await store.listModels({ stream });
      if ((cmd.opts() as { json?: boolean }).json) {
        process.stdout.write(`${JSON.stringify(models.map(({ files: _f, ...m }) => m))}\n`);
        return;
      }
      if (models.length === 0) {
        process.stdout.write(
          stream === undefined
            ? 'no models yet: run `byner train`\n'
            : `no models registered for stream ${stream}: run \`byner train --stream ${stream}\`\n`,
        );
        return;
      }
      const pointers = new Map((await store.servingPointers()).map((p) => [p.stream, p.version]));
      const serves = (m: ModelSummary) =>
        stream === undefined ? m.serving : m.serving_streams.includes(stream);
      const pct = (x: number | null) => (x === null ? null : `${(100 * x).toFixed(1)}%`);
      const num = (x: unknown) => (Array.isArray(x) && x.length > 0 ? mean(x as number[]) : null);
      const get = (o: unknown, ...path: string[]) =>
        path.reduce<unknown>(
          (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
          o,
        );
      process.stdout.write(
        `${formatTable(
          [
            'version',
            'serving',
            'why',
            'created',
            'streams (* serving)',
            'ticks',
            'test MSE',
            'test acc',
            'seasonal MSE',
            'epochs',
          ],
          models.map((m) => [
            m.version,
            serves(m) ? '*' : '',
            servingWhy(m, serves(m), pointers.get(stream ?? m.data_range.stream)),
            m.created_at.toISOString().slice(0, 19).replace('T', ' '),
            m.streams.map((x) => (m.serving_streams.includes(x) ? `${x}*` : x)).join(', '),
            `${m.data_range.stream}:${m.data_range.from_seq}..${m.data_range.to_seq}`,
            num(get(m.metrics, 'test', 'mse')),
            pct(num(get(m.metrics, 'test', 'accuracy'))),
            num(get(m.metrics, 'baselines', 'seasonal_naive', 'mse')),
            (get(m.metrics, 'history', 'loss') as number[] | undefined)?.length ?? null,
          ]),
        )}\n`,
      );
    } finally {
      await store.close();
    }
  });
  return cmd;
}

/**
 * Why a registered model serves or not: the reason training recorded (metrics.serving_decision), or that a later
 * model took over its stream. Null for entries registered before training recorded reasons.
 */
function servingWhy(m: ModelSummary, serves: boolean, servingVersion: string | undefined): string | null {
  const d = m.metrics.serving_decision as { serving?: unknown; reason?: unknown } | undefined;
  if (typeof d?.reason !== 'string') return null;
  if (d.serving === true && !serves) return `replaced by ${servingVersion ?? 'another model'}`;
  return d.reason;
}
