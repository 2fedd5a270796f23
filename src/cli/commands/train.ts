// `byner train`: runs the training job (src/train/train.ts: the LSTM on one stream) or a ladder run (ladder.ts:
// `--model linear|all`, a global model with `--streams`) with progress bars, Ctrl-C handling, the result table and
// `--json`. `byner models` lists the registry.
import type { Command } from 'commander';
import { Option } from 'commander';
import { BynerError } from '../../errors.js';
import { mean } from '../../features/metrics.js';
import type { ModelSummary } from '../../store/index.js';
import { type LadderSummary, trainLadder } from '../../train/ladder.js';
import {
  BAYES_LIMIT,
  DEFAULT_FIT,
  summaryJson,
  type TrainOptions,
  type TrainSummary,
  train,
} from '../../train/train.js';
import { makeContext } from '../context.js';
import { addSettings, flagOf, givenOnCommandLine, readSettings } from '../options.js';
import { epochProgress, startProgress } from '../progress.js';
import { formatTable, scoreRows } from '../table.js';
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
  'trainStream',
  'trainStreams',
  'trainModel',
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

type Flags = { resume?: boolean; force?: boolean; json?: boolean };

const configError = (problem: string, expected: string, received: string) =>
  new BynerError('BYNER_CONFIG', `invalid configuration (1):\n  - ${problem}`, { expected, received });

/** Combinations of flags that a run cannot honour: refused, never ignored. */
function checkCombination(
  cmd: Command,
  s: ReturnType<typeof readSettings<(typeof NAMES)[number]>>,
  f: Flags,
  queued: boolean,
) {
  const given = givenOnCommandLine(cmd, NAMES);
  const choice = s.trainModel!;
  if (s.season! > s.window!) {
    throw configError(
      '--season: must not exceed --window',
      `a season <= window (${s.window})`,
      String(s.season),
    );
  }
  const streams = s.trainStream!;
  if (s.trainStreams !== undefined && given.includes('trainStream')) {
    throw configError(
      '--stream and --streams: one or the other',
      '--stream NAME (one stream) or --streams A,B,… (one global model of several)',
      `--stream ${streams.join(',')} --streams ${s.trainStreams.join(',')}`,
    );
  }
  if (streams.length > 1 && !queued) {
    throw configError(
      '--stream: several streams only with --queue (one job per stream)',
      '--stream NAME here; --queue --stream A,B,… for one queued job per stream; --streams A,B,… for one global model of them',
      `--stream ${streams.join(',')} without --queue`,
    );
  }
  if (choice === 'all' && s.trainStreams !== undefined) {
    throw configError(
      '--model all fits the ladder on one stream',
      '--model lstm or linear with --streams (one global model), or --model all with one --stream',
      `--model all --streams ${s.trainStreams.join(',')}`,
    );
  }
  if (choice === 'all' && f.force) {
    throw configError(
      '--force does not apply to --model all (the best on validation serves, a baseline included)',
      '--force with --model lstm or linear',
      '--model all --force',
    );
  }
  if (choice === 'linear' && f.resume) {
    throw configError(
      '--resume continues an interrupted LSTM run (a linear fit takes seconds: run it again)',
      '--resume with --model lstm or all',
      '--model linear --resume',
    );
  }
  const lstmOnly = given.filter((n) => (LSTM_SETTINGS as readonly string[]).includes(n));
  if (choice === 'linear' && lstmOnly.length > 0) {
    const flags = lstmOnly.map(flagOf);
    throw configError(
      `${flags.join(', ')}: the LSTM's settings, and --model linear fits no LSTM`,
      `--model lstm or all with ${flags.join(', ')}, or none of them`,
      `--model linear ${flags.join(' ')}`,
    );
  }
}

export function trainCommand(program: Command): Command {
  const cmd = program
    .command('train')
    .description(
      'trains the LSTM (or --model linear, or all kinds of the ladder) on the stored ticks (seeding 10,000 if ' +
        'empty), evaluates it against baselines, registers it; --streams: one global model of several streams',
    );
  addSettings(cmd, NAMES);
  addQueueOptions(cmd);
  cmd
    .addOption(new Option('--resume', 'continue the interrupted LSTM run of this stream from its last epoch'))
    .addOption(
      new Option(
        '--force',
        'serve the new model even if the seasonal-naive baseline beats it on validation or the run is interrupted (never after a NaN/Infinity loss; not with --model all)',
      ),
    )
    .addOption(new Option('--json', 'print one JSON summary on stdout at the end'));
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const flags = cmd.opts() as Flags;
    const { logger } = makeContext(cmd);
    const queued = queueRequested(cmd);
    checkCombination(cmd, s, flags, queued);
    if (queued) return enqueueFromCommand(cmd, s, logger);
    const choice = s.trainModel!;
    const stream = s.trainStream![0];
    const store = await openStoreFor(s, logger);
    const abort = new AbortController();
    const onSigint = () => {
      if (abort.signal.aborted) return;
      logger.warn(
        choice === 'linear'
          ? 'interrupted: the linear fit takes seconds, it finishes and is registered (Ctrl-C again to quit)'
          : 'interrupted: finishing the current batch, then keeping the best model so far (Ctrl-C again to quit)',
      );
      abort.abort();
      process.once('SIGINT', () => process.kill(process.pid, 'SIGKILL'));
    };
    process.once('SIGINT', onSigint);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const bar = epochProgress(logger, quiet);
    let seed: ReturnType<typeof startProgress> | null = null;
    try {
      const options: TrainOptions = {
        stream,
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
      };
      const hooks = {
        logger,
        onSeedProgress: (done: number, total: number) => {
          seed ??= startProgress('storing ticks', total, logger, quiet);
          seed.update(done);
          if (done >= total) seed.stop();
        },
        onBatch: bar.batch,
        onEpoch: bar.epoch,
      };
      if (choice !== 'lstm' || s.trainStreams !== undefined) {
        const { stream: _, ...rest } = options;
        const summary = await trainLadder(
          store,
          { ...rest, streams: s.trainStreams ?? [stream], choice },
          hooks,
        );
        bar.stop();
        process.stdout.write(`${flags.json ? JSON.stringify(summary) : ladderReport(summary)}\n`);
        return;
      }
      const summary = await train(store, options, hooks);
      bar.stop();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(summaryJson(summary))}\n`);
      } else process.stdout.write(`${report(summary, stream)}\n`);
    } finally {
      bar.stop();
      process.off('SIGINT', onSigint);
      await store.close();
    }
  });
  return cmd;
}

/** The table of a ladder run: per stream, every model's test scores per horizon, then why each serves or not. */
function ladderReport(r: LadderSummary): string {
  const H = r.models[0].streams[r.streams[0]].test.mse.length;
  const header = ['model', 'metric', ...Array.from({ length: H }, (_, h) => `h${h + 1}`), 'mean'];
  const lines: string[] = [''];
  const what =
    r.choice === 'all'
      ? 'every kind of the ladder'
      : r.global
        ? `one global ${r.choice} model of ${r.streams.length} streams`
        : r.choice;
  lines.push(`fitted ${what} in ${r.seconds.toFixed(1)} s${r.interrupted ? ' (INTERRUPTED)' : ''}`);
  for (const [k, stream] of r.streams.entries()) {
    const range = r.data_ranges[k];
    const w = r.windows[stream];
    const scores = (m: LadderSummary['models'][number]) => m.streams[stream];
    const integers = scores(r.models[0]).test.accuracy !== null;
    const rows = r.models.flatMap((m) => {
      const own = scores(m);
      const name = `${m.global ? 'global ' : ''}${m.kind}${m.version === null ? ' (baseline)' : ''}${own.serving ? ' *' : ''}`;
      return scoreRows(name, own.test, [
        mean(own.validation_mse),
        m.fit_seconds.toFixed(2),
        own.forecast_seconds.toFixed(3),
      ]);
    });
    lines.push(
      '',
      `stream "${stream}", seq ${range.from_seq}..${range.to_seq}: windows train ${w.train}, validation ` +
        `${w.validation}, test ${w.test}; test metrics per horizon (* = serves the stream; MASE divides by the ` +
        `one-step naive forecast's MAE on the training prices${integers ? '; accuracy = exact match of the rounded forecast' : '; no accuracy: the prices are not all integers'}):`,
      '',
      formatTable([...header, 'validation MSE', 'fit s', 'forecast s'], rows),
    );
  }
  if (r.models.some((m) => m.version === null)) {
    lines.push(
      '',
      '(baseline): shown for comparison, not registered (--model all registers the baselines too)',
    );
  }
  lines.push('', `serving rule: ${r.rule}`);
  for (const m of r.models) {
    if (m.version === null) continue;
    for (const stream of r.streams) {
      const d = m.streams[stream].serving_decision;
      if (d) lines.push(`${m.version}${r.global ? ` on ${stream}` : ''} ${d.detail}`);
    }
  }
  if (r.interrupted) {
    lines.push(
      "the run was interrupted: only the LSTM's best epoch is registered; --resume (same options) finishes it",
    );
  }
  const plots = r.plots.length > 0 ? ['', `plots: ${r.plots.join(', ')}`] : [];
  return [...lines, ...plots].join('\n');
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
      const num = (x: unknown) =>
        Array.isArray(x) && x.length > 0 && x.every((v) => typeof v === 'number')
          ? mean(x as number[])
          : null;
      const get = (o: unknown, ...path: string[]) =>
        path.reduce<unknown>(
          (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
          o,
        );
      process.stdout.write(
        `${formatTable(
          [
            'version',
            'kind',
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
          models.map((m) => {
            // A global model's figures on the stream asked about; its pooled ones otherwise.
            const own = stream === undefined ? undefined : get(m.metrics, 'per_stream', stream);
            const metrics = own ?? m.metrics;
            return [
              m.version,
              `${typeof m.config.kind === 'string' ? m.config.kind : 'lstm'}${m.config.global === true ? ' (global)' : ''}`,
              serves(m) ? '*' : '',
              servingWhy(m, stream, pointers),
              m.created_at.toISOString().slice(0, 19).replace('T', ' '),
              m.streams.map((x) => (m.serving_streams.includes(x) ? `${x}*` : x)).join(', '),
              `${m.data_range.stream}:${m.data_range.from_seq}..${m.data_range.to_seq}${m.streams.length > 1 ? ' …' : ''}`,
              num(get(metrics, 'test', 'mse')),
              pct(num(get(metrics, 'test', 'accuracy'))),
              num(get(metrics, 'baselines', 'seasonal_naive', 'mse')),
              (get(m.metrics, 'history', 'loss') as number[] | undefined)?.length ?? null,
            ];
          }),
        )}\n`,
      );
    } finally {
      await store.close();
    }
  });
  return cmd;
}

/**
 * Why a registered model serves a stream or not: the reason training recorded (metrics.serving_decision, or a
 * global model's metrics.serving_decisions per stream), or that a later model took over the stream. Without a
 * stream: for each stream the model is registered for. Null for entries without `metrics.serving_decision`.
 */
function servingWhy(
  m: ModelSummary,
  stream: string | undefined,
  pointers: Map<string, string>,
): string | null {
  const perStream = m.metrics.serving_decisions as Record<string, unknown> | undefined;
  const one = (s: string, d: unknown): string | null => {
    const { serving, reason } = (d ?? {}) as { serving?: unknown; reason?: unknown };
    if (typeof reason !== 'string') return null;
    if (serving === true && !m.serving_streams.includes(s))
      return `replaced by ${pointers.get(s) ?? 'another model'}`;
    return reason;
  };
  if (perStream === undefined || typeof perStream !== 'object') {
    return one(stream ?? m.data_range.stream, m.metrics.serving_decision);
  }
  if (stream !== undefined) return one(stream, perStream[stream]);
  return m.streams.map((s) => `${s}: ${one(s, perStream[s]) ?? '-'}`).join(', ');
}
