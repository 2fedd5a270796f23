// `byner backtest`: walk-forward evaluation of model kinds on a stored stream (or several side by side, with global
// models fitted on all of them), wired from small steps: ticks from the store → windows → forecasts fold by fold
// (with progress and Ctrl-C) → scores → a tr_metrics document per stream, plots, tables or --json. Folds, fits and
// scores are src/backtest's; the models src/models'; drawing src/train/plots'.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  type BacktestModel,
  type BacktestResult,
  type BacktestStep,
  type HistoricalForecasts,
  scoreBacktest,
  streamForecasts,
} from '../../backtest/backtest.js';
import type { FoldOptions } from '../../backtest/folds.js';
import { backtestWindows, readStreamTicks, type StreamTicks } from '../../backtest/input.js';
import {
  type BacktestRecordMeta,
  backtestDocument,
  backtestVersion,
  bestModel,
  fitCount,
  foldErrorRows,
  foldSeries,
} from '../../backtest/record.js';
import type { Resolved } from '../../config/resolve.js';
import type { SettingName } from '../../config/settings.js';
import { BynerError } from '../../errors.js';
import { mean } from '../../features/metrics.js';
import type { WindowSet } from '../../features/windows.js';
import type { Logger } from '../../log/logger.js';
import { KIND_NAMES, type ModelKind, parseModelName } from '../../models/kinds.js';
import type { KindOptions } from '../../models/registry.js';
import type { Store } from '../../store/index.js';
import { plotFoldErrors, plotFoldForecasts } from '../../train/plots.js';
import { makeContext } from '../context.js';
import { addSettings, flagOf, givenOnCommandLine, readSettings } from '../options.js';
import { type EpochProgress, epochProgress } from '../progress.js';
import { formatTable, scoreRows } from '../table.js';
import { LSTM_SETTINGS, openStoreFor, STORE_SETTINGS, WRITE_SETTINGS } from './shared.js';

/** What the lstm kind reads: its network and training settings, and the seed of its weights and dropout. */
const LSTM_KIND_SETTINGS = [...LSTM_SETTINGS, 'seed'] as const;

const NAMES = [
  'stream',
  'backtestStreams',
  'lastTicks',
  'models',
  'folds',
  'refit',
  'testShare',
  'validationShare',
  'window',
  'horizon',
  'season',
  ...LSTM_KIND_SETTINGS,
  'outputDir',
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
] as const;

type Settings = Resolved<(typeof NAMES)[number]>;

/** Each kind's options from the settings, and the settings only that kind reads (reported when unused). */
const KIND_OPTIONS: {
  [K in ModelKind]: {
    settings: readonly SettingName[];
    options: (s: Settings, progress: EpochProgress) => KindOptions[K];
  };
} = {
  naive: { settings: [], options: () => ({}) },
  seasonal_naive: { settings: ['season'], options: (s) => ({ season: s.season }) },
  linear: { settings: [], options: () => ({}) },
  lstm: {
    settings: LSTM_KIND_SETTINGS,
    options: (s, progress) => ({
      network: {
        layers: s.units!.map((units) => ({ units, activation: s.activation })),
        dropout: s.dropout,
        seed: s.seed,
      },
      fit: {
        epochs: s.epochs,
        batchSize: s.batchSize,
        patience: s.patience,
        learningRate: s.learningRate,
        workers: s.workers,
      },
      onEpoch: (e) => progress.epoch(e),
      onBatch: (b) => progress.batch(b),
    }),
  },
};

/** The models of --models: each name's kind, and whether it is a global model (`global:<kind>`). */
const parsedModels = (s: Settings) => s.models!.map((name) => parseModelName(name)!);

const modelSpecs = (s: Settings, progress: EpochProgress): BacktestModel[] =>
  parsedModels(s).map(
    ({ kind, global }) =>
      ({
        kind,
        ...(global ? { global } : {}),
        options: KIND_OPTIONS[kind].options(s, progress),
      }) as BacktestModel,
  );

/** One stream's part of the run: its ticks and windows, then its scores and what was stored and drawn. */
interface StreamRun {
  input: StreamTicks;
  set: WindowSet;
  meta: BacktestRecordMeta;
}

export function backtestCommand(program: Command): Command {
  const cmd = program
    .command('backtest')
    .description(
      'walk-forward evaluation of model kinds on a stored stream: per fold, fits on everything before it and ' +
        'forecasts every window of it; prints and stores the scores',
    );
  addSettings(cmd, NAMES);
  cmd.addOption(new Option('--json', 'print the result as one JSON object on stdout'));
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const json = (cmd.opts() as { json?: boolean }).json === true;
    const { logger } = makeContext(cmd);
    checkKindSettings(cmd, s);
    const streams = checkStreams(cmd, s);
    const foldOptions: Required<FoldOptions> = {
      folds: s.folds!,
      testShare: s.testShare!,
      validationShare: s.validationShare!,
    };
    const store = await openStoreFor(s, logger);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const interrupt = onCtrlC(logger);
    try {
      const runs: StreamRun[] = [];
      for (const stream of streams) {
        const input = await readStreamTicks(store, stream, s.lastTicks, { signal: interrupt.signal });
        logger.info(describeInput(input));
        const set = backtestWindows(input, { window: s.window!, horizon: s.horizon! }, foldOptions);
        const meta: BacktestRecordMeta = {
          backtest_id: randomUUID(),
          timestamp: new Date(),
          stream: input.stream,
          data_range: {
            from_seq: input.ticks[0].seq,
            to_seq: input.ticks[input.ticks.length - 1].seq,
            ticks: input.ticks.length,
          },
          fold_options: foldOptions,
          ...(streams.length > 1 ? { streams } : {}),
        };
        runs.push({ input, set, meta });
      }
      const forecasts = await forecastFolds(runs, s, foldOptions, interrupt.signal, logger, quiet);
      // An LSTM fit cut short by Ctrl-C stops early: such a run is not stored, even when it got to the end.
      interrupt.signal.throwIfAborted();
      const out: string[] = [];
      const jsons: Record<string, unknown>[] = [];
      const results: BacktestResult[] = [];
      for (const [j, run] of runs.entries()) {
        const result = scoreBacktest(run.set, forecasts[j]);
        results.push(result);
        const stored = await storeResult(store, result, run.meta, logger);
        const suffix = runs.length > 1 ? `_${run.meta.stream}` : '';
        const plots =
          s.outputDir === 'none' ? [] : await drawPlots(s.outputDir!, run.set, forecasts[j], result, suffix);
        if (json) jsons.push(jsonReport(result, run.meta, plots, stored));
        else out.push(report(run.set, result, run.meta, plots));
      }
      if (runs.length > 1 && !json) out.push(streamsReport(runs, results));
      const text = json ? JSON.stringify(jsons.length === 1 ? jsons[0] : { streams: jsons }) : out.join('\n');
      process.stdout.write(`${text}\n`);
    } catch (e) {
      throw interrupt.signal.aborted ? interrupted(e) : e;
    } finally {
      interrupt.release();
      await store.close();
    }
  });
  return cmd;
}

/**
 * The streams to backtest: --streams, or the one --stream. Refuses both on the command line, and global models
 * without several streams.
 */
function checkStreams(cmd: Command, s: Settings): string[] {
  const configError = (problem: string, expected: string, received: string) =>
    new BynerError('BYNER_CONFIG', `invalid configuration (1):\n  - ${problem}`, { expected, received });
  if (s.backtestStreams !== undefined && givenOnCommandLine(cmd, ['stream']).length > 0) {
    throw configError(
      '--stream and --streams: one or the other',
      '--stream NAME (one stream) or --streams A,B,… (several side by side)',
      `--stream ${s.stream} --streams ${s.backtestStreams.join(',')}`,
    );
  }
  const globals = s.models!.filter((n) => parseModelName(n)?.global);
  if (globals.length > 0 && s.backtestStreams === undefined) {
    throw configError(
      `${globals.join(', ')}: a global model is fitted on several streams`,
      '--streams A,B,… with global models, or per-stream kinds only',
      `--stream ${s.stream} --models ${s.models!.join(',')}`,
    );
  }
  return s.backtestStreams ?? [s.stream!];
}

/**
 * Refuses a season longer than the window, and flags given for kinds that are not backtested (their environment
 * variables, shared with `train`, are left alone).
 */
function checkKindSettings(cmd: Command, s: Settings): void {
  const kinds = parsedModels(s).map((m) => m.kind);
  if (kinds.includes('seasonal_naive') && s.season! > s.window!) {
    throw new BynerError(
      'BYNER_CONFIG',
      'invalid configuration (1):\n  - --season: must not exceed --window',
      {
        expected: `a season <= window (${s.window})`,
        received: String(s.season),
      },
    );
  }
  const unused = givenOnCommandLine(cmd, NAMES).filter((name) => {
    const readers = KIND_NAMES.filter((k) => KIND_OPTIONS[k].settings.includes(name));
    return readers.length > 0 && !readers.some((k) => kinds.includes(k));
  });
  if (unused.length > 0) {
    const flags = unused.map(flagOf);
    const readers = KIND_NAMES.filter((k) =>
      KIND_OPTIONS[k].settings.some((n) => (unused as SettingName[]).includes(n)),
    );
    throw new BynerError(
      'BYNER_CONFIG',
      `${flags.join(', ')}: no model in --models reads ${flags.length > 1 ? 'them' : 'it'}`,
      {
        expected: `--models with ${readers.join(' or ')}, or none of ${flags.join(', ')}`,
        received: `--models ${kinds.join(',')}`,
      },
    );
  }
}

/** Step one of the backtest with progress: every model's forecasts of every fold of every stream. */
async function forecastFolds(
  runs: StreamRun[],
  s: Settings,
  foldOptions: Required<FoldOptions>,
  signal: AbortSignal,
  logger: Logger,
  quiet: boolean,
): Promise<HistoricalForecasts[]> {
  const streams = runs.map((r) => r.meta.stream);
  const progress = new StepProgress(s.models!, streams, foldOptions.folds, s.refit!, logger, quiet);
  try {
    return await streamForecasts(
      runs.map((r) => ({ stream: r.meta.stream, set: r.set })),
      {
        ...foldOptions,
        models: modelSpecs(s, progress.epochs),
        refit: s.refit,
        signal,
        onStep: (step) => progress.step(step),
      },
    );
  } finally {
    progress.stop();
  }
}

function jsonReport(
  result: BacktestResult,
  meta: BacktestRecordMeta,
  plots: string[],
  stored: Awaited<ReturnType<typeof storeResult>>,
): Record<string, unknown> {
  const { backtest_id: _id, timestamp: _t, ...rest } = meta;
  return {
    ...rest,
    ...result,
    models: result.models.map((m) => ({ ...m, fit_count: fitCount(m) })),
    best: bestModel(result).name,
    plots,
    stored,
  };
}

/** Ctrl-C: the first aborts the backtest (a running LSTM fit stops after its batch); the second quits at once. */
function onCtrlC(logger: Logger): { signal: AbortSignal; release(): void } {
  const abort = new AbortController();
  const handler = () => {
    if (abort.signal.aborted) return;
    logger.warn('interrupted: stopping after the current step (Ctrl-C again to quit)');
    abort.abort();
    process.once('SIGINT', () => process.kill(process.pid, 'SIGKILL'));
  };
  process.once('SIGINT', handler);
  return { signal: abort.signal, release: () => process.off('SIGINT', handler) };
}

const interrupted = (cause: unknown) =>
  new BynerError('BYNER_STATE', 'backtest interrupted (Ctrl-C): nothing stored', {
    expected: 'a backtest left to finish',
    received: 'Ctrl-C (SIGINT)',
    hint: 'run it again; fewer --folds, --models or --epochs make it shorter',
    cause,
  });

function describeInput(input: StreamTicks): string {
  const n = input.ticks.length;
  const range = `seq ${input.ticks[0].seq}..${input.ticks[n - 1].seq}`;
  return n === input.stored
    ? `using all ${n} ticks of stream "${input.stream}" (${range})`
    : `using the last ${n} of ${input.stored} ticks of stream "${input.stream}" (${range})`;
}

/**
 * Progress of the fold × model × stream steps: one log line per model, stream and fold (fit and forecast seconds),
 * and the LSTM's epochs labelled with the fold and model they belong to. Steps come in order: per fold, per model,
 * per stream a fit (a global model: one fit for all streams) then a forecast.
 */
class StepProgress {
  private readonly total: number;
  private done = 0;
  readonly epochs: EpochProgress;
  private fitSeconds: number | null = null;

  constructor(
    private readonly names: readonly string[],
    private readonly streams: readonly string[],
    private readonly folds: number,
    refit: 'every' | 'once',
    private readonly logger: Logger,
    quiet: boolean,
  ) {
    this.total = names.length * streams.length * folds;
    this.epochs = epochProgress(logger, quiet, () => this.label(true));
    const globals = names.filter((n) => parseModelName(n)?.global).length;
    const fitsPerFold = (names.length - globals) * streams.length + globals;
    const fits = refit === 'every' ? fitsPerFold * folds : fitsPerFold;
    logger.info(
      `backtest: ${names.join(', ')}${streams.length > 1 ? ` on ${streams.join(', ')}` : ''} over ${folds} fold(s), ` +
        `refit ${refit}: ${fits} fits, ${this.total} fold forecasts`,
    );
  }

  /** The fold, model (and stream) of the step under way; a global model's fit is on every stream. */
  private label(fitting = false): string {
    const per = this.names.length * this.streams.length;
    const fold = Math.floor(this.done / per);
    const name = this.names[Math.floor((this.done % per) / this.streams.length)];
    const global = parseModelName(name)?.global === true;
    const stream = this.streams[this.done % this.streams.length];
    const on = this.streams.length > 1 && !(global && fitting) ? ` on ${stream}` : '';
    return `fold ${fold + 1}/${this.folds} ${name}${on}`;
  }

  step(s: BacktestStep): void {
    if (s.step === 'fit') {
      this.fitSeconds = s.seconds;
      return;
    }
    const fit = this.fitSeconds === null ? 'no refit' : `fit ${this.fitSeconds.toFixed(2)} s`;
    this.logger.info(
      `${this.label()}: ${fit}, forecast ${s.seconds.toFixed(3)} s [${this.done + 1}/${this.total}]`,
    );
    this.fitSeconds = null;
    this.done++;
  }

  stop(): void {
    this.epochs.stop();
  }
}

/** Writes the run's tr_metrics document and waits until it is stored; what --json reports of it. */
async function storeResult(store: Store, result: BacktestResult, meta: BacktestRecordMeta, logger: Logger) {
  const doc = backtestDocument(result, meta);
  await (await store.writeMetrics('tr_metrics', [doc])).stored();
  logger.info(`stored in tr_metrics as ${doc.model_version} (backtest_id ${meta.backtest_id})`);
  return {
    collection: 'tr_metrics',
    backtest_id: meta.backtest_id,
    timestamp: meta.timestamp.toISOString(),
    model_version: doc.model_version,
  };
}

/** Seqs of the ticks a fold forecasts (its first window's first target to its last window's last). */
const forecastSeqs = (set: WindowSet, f: BacktestResult['folds'][number]): [number, number] => [
  set.seqs[f.test.windows[0] + set.window],
  f.test.seqs[1],
];

/** The run's plots (`suffix` names the stream when several are backtested). */
async function drawPlots(
  dir: string,
  set: WindowSet,
  forecasts: HistoricalForecasts,
  result: BacktestResult,
  suffix: string,
): Promise<string[]> {
  const best = bestModel(result).name;
  // Seq ranges name the folds while they fit side by side on the axis.
  const foldLabels =
    result.folds.length <= 8
      ? result.folds.map((f) => forecastSeqs(set, f).join('–'))
      : result.folds.map((f) => String(f.fold + 1));
  return [
    await plotFoldErrors(join(dir, `backtest_folds${suffix}.png`), foldErrorRows(result), {
      best,
      foldLabels,
    }),
    await plotFoldForecasts(join(dir, `backtest_last_fold${suffix}.png`), foldSeries(set, forecasts, best)),
  ];
}

function report(set: WindowSet, r: BacktestResult, meta: BacktestRecordMeta, plots: string[]): string {
  const best = bestModel(r);
  const H = r.horizon;
  const integers = r.models[0].overall.accuracy !== null;
  const rows = r.models.flatMap((m) =>
    scoreRows(m === best ? `${m.name} *` : m.name, m.overall, [
      fitCount(m),
      m.overall.fit_seconds.toFixed(2),
      m.overall.forecast_seconds.toFixed(3),
    ]),
  );
  const horizons = Array.from({ length: H }, (_, h) => `h${h + 1}`);
  const overall = formatTable(['model', 'metric', ...horizons, 'mean', 'fits', 'fit s', 'forecast s'], rows);
  const perFold = formatTable(
    [
      'fold',
      'training seqs',
      'validation seqs',
      'forecast seqs',
      'windows',
      ...r.models.map((m) => m.name),
      'best',
    ],
    r.folds.map((f, k) => {
      const means = r.models.map((m) => mean(m.folds[k].mse));
      const bestHere = r.models[means.indexOf(Math.min(...means))].name;
      return [
        f.fold + 1,
        f.train.seqs.join('..'),
        f.validation?.seqs.join('..') ?? null,
        forecastSeqs(set, f).join('..'),
        f.test.windows[1] - f.test.windows[0],
        ...means,
        bestHere,
      ];
    }),
  );
  const [from, to] = [meta.data_range.from_seq, meta.data_range.to_seq];
  const size = r.folds[0].test.windows[1] - r.folds[0].test.windows[0];
  return [
    '',
    `backtest of stream "${meta.stream}", ticks seq ${from}..${to} (${meta.data_range.ticks}): windows of ${r.window} ` +
      `ticks → ${H} values, ${r.folds.length} fold(s) of ${size} windows, refit ${r.refit}`,
    '',
    `over all folds (${best.overall.count} forecasts per model; * = best, lowest mean MSE; MASE divides by the ` +
      `one-step naive forecast's MAE on each fold's training prices${integers ? '; accuracy = exact match of the rounded forecast' : '; no accuracy: the prices are not all integers'}):`,
    '',
    overall,
    '',
    'per fold (mean MSE over the horizons):',
    '',
    perFold,
    '',
    `stored in tr_metrics as ${backtestVersion(best)} (backtest_id ${meta.backtest_id})`,
    ...(plots.length > 0 ? [`plots: ${plots.join(', ')}`] : []),
  ].join('\n');
}

/** Several streams side by side: each model's mean MSE and mean MASE per stream, and the best per stream. */
function streamsReport(runs: StreamRun[], results: BacktestResult[]): string {
  const names = results[0].models.map((m) => m.name);
  const meanOr = (xs: (number | null)[]) => (xs.every((x) => x !== null) ? mean(xs as number[]) : null);
  const rows = runs.map((run, j) => {
    const r = results[j];
    return [
      run.meta.stream,
      ...r.models.map((m) => mean(m.overall.mse)),
      ...r.models.map((m) => meanOr(m.overall.mase)),
      bestModel(r).name,
    ];
  });
  return [
    '',
    'streams side by side (mean over the horizons and all folds; global: one model fitted on every stream, each ' +
      'scaled by its own scaler; MASE compares across streams):',
    '',
    formatTable(['stream', ...names.map((n) => `${n} MSE`), ...names.map((n) => `${n} MASE`), 'best'], rows),
  ].join('\n');
}
