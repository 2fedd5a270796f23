// `byner demo` (= npm start): the whole pipeline in one command on the embedded store. It seeds the history,
// starts the server with the dashboard, forecasts live at once (with the seasonal-naive baseline until a model
// is registered), trains the LSTM in a child process when none is registered, and switches to it when it serves.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { registerDashboard } from '../../dashboard/routes.js';
import { type Forecaster, SeasonalNaiveForecaster } from '../../features/forecaster.js';
import { syntheticTicks } from '../../indicators/ticks.js';
import { type InferenceRun, runInference } from '../../infer/runner.js';
import type { Logger } from '../../log/logger.js';
import { SyntheticSource } from '../../sources/synthetic.js';
import { seedTicks } from '../../store/index.js';
import { startServer } from '../../stream/server.js';
import { TICK_MS } from '../../ticks/generator.js';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import { startProgress } from '../progress.js';
import { nextStopSignal, STREAMS_HELP, streamConfigsFor } from './serve.js';
import {
  addStreamSwitches,
  backlogBytes,
  openStoreFor,
  SERVER_SETTINGS,
  SOURCE_SETTINGS,
  STORE_SETTINGS,
  STREAM_SETTINGS,
  serverOptionsFrom,
  sourceFrom,
  streamDefinitions,
  WRITE_SETTINGS,
} from './shared.js';

const NAMES = [
  'ticks',
  ...STREAM_SETTINGS,
  'host',
  'port',
  'interval',
  ...SERVER_SETTINGS,
  'season',
  ...SOURCE_SETTINGS,
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
] as const;

export function demoCommand(program: Command): Command {
  const cmd = program
    .command('demo')
    .description(
      'everything in one command: history, server + dashboard, live forecasts and scoring, training',
    )
    .addHelpText('after', STREAMS_HELP);
  addSettings(cmd, NAMES);
  addStreamSwitches(cmd);
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const { logger } = makeContext(cmd);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const definitions = await streamDefinitions(cmd, s);
    const store = await openStoreFor(s, logger);
    const streams = await streamConfigsFor(definitions, store, logger).catch(async (e) => {
      await store.close();
      throw e;
    });
    // History, inference and training follow the default (first) stream; a synthetic one is seeded.
    const stream = streams[0].name;
    const main = streams[0].source;
    const source = main instanceof SyntheticSource ? main.options : sourceFrom(s);

    // 1. History: the stream the model trains on and the server continues (a synthetic one is seeded).
    if (main instanceof SyntheticSource) {
      const progress = startProgress('storing ticks', s.ticks!, logger, quiet);
      const seeded = await seedTicks(store, {
        stream,
        count: s.ticks!,
        makeTicks: (start, count) =>
          syntheticTicks(source, {
            start,
            count,
            stream,
            origin: new Date(Math.floor(Date.now() / 1000) * 1000 - count * TICK_MS),
          }),
        onProgress: (done) => progress.update(done),
      });
      progress.stop();
      if (seeded.seeded) logger.info(`stored ${seeded.written} historical ticks`);
    }

    // 2. Server and dashboard.
    const server = await startServer({
      host: s.host,
      port: s.port,
      ...serverOptionsFrom(s),
      streams,
      produceAlways: (cmd.opts() as { produceAlways?: boolean }).produceAlways === true,
      store,
      logger,
      routes: [registerDashboard],
    }).catch(async (e) => {
      await store.close();
      throw e;
    });
    const url = `${server.url}/realtime_data`; // the default stream

    // 3. Live inference: the serving model, or the baseline until training registers one.
    const serving = (await store.listModels()).find((m) => m.serving);
    let forecaster: Forecaster;
    if (serving) {
      const { loadForecaster } = await import('../../train/load.js');
      forecaster = await loadForecaster(store, { version: serving.version });
    } else forecaster = new SeasonalNaiveForecaster(5, s.season ?? 10);
    // A fresh client starts 60 ticks back in the stream's history, so the first forecast comes at once.
    const fresh = (await store.countTicks('inf_historical_db', stream)) === 0;
    const startAfter = fresh ? Math.max(-1, server.headSeq() - 60) : undefined;
    const out = quiet ? null : process.stdout;
    const writer = { maxPendingBytes: backlogBytes(s) };
    let run: InferenceRun = runInference({ url, store, forecaster, stream, out, logger, startAfter, writer });
    process.stderr.write(
      `\n  byner demo: dashboard at ${server.url}/   (stream ${url})\n` +
        `  forecasting with ${forecaster.version}; store: ${store.description}. Ctrl-C to stop.\n\n`,
    );

    // 4. Training in a child process (the server keeps streaming meanwhile), then the switch.
    let trainer: ChildProcess | null = null;
    let switching: Promise<void> = Promise.resolve();
    let stopping = false;
    if (!serving) {
      logger.info(
        'no trained model yet: training one in the background (byner train); the baseline forecasts meanwhile',
      );
      trainer = spawnTrain({ ...s, ...source, stream }, logger, (summary) => {
        if (stopping) return;
        if (!summary?.serving) {
          logger.warn(
            'the trained model does not serve (see the training output); staying with the baseline',
          );
          return;
        }
        switching = (async () => {
          const { loadForecaster } = await import('../../train/load.js');
          const lstm = await loadForecaster(store, { version: summary.model_version });
          await run.stop();
          run = runInference({ url, store, forecaster: lstm, stream, out, logger, writer });
          logger.info(`now forecasting with the trained model ${lstm.version} (dashboard: ${server.url}/)`);
        })().catch((e) =>
          logger.error({ err: (e as Error).message }, 'could not switch to the trained model'),
        );
      });
    }

    // Runs until a signal, or until the inference run ends by itself (e.g. the store failed). Switching to the
    // trained model ends the baseline's run on purpose: then wait on the new run instead.
    const signalled = nextStopSignal();
    let signal: string;
    for (;;) {
      const current = run;
      const ended = current.done.then(
        () => 'inference ended',
        (e: Error) => `inference failed (${e.message})`,
      );
      signal = await Promise.race([signalled, ended]);
      if (signal === 'SIGINT' || signal === 'SIGTERM') break;
      await switching;
      if (run === current) break;
    }
    stopping = true;
    logger.info(`${signal}: stopping`);
    if (trainer && trainer.exitCode === null) {
      trainer.kill('SIGINT');
      await new Promise((resolve) => trainer?.once('exit', resolve));
    }
    await switching;
    const stats = await run.stop().catch(() => run.stats);
    await server.close();
    await store.close({ timeoutMs: 10_000 });
    logger.info(
      { forecasts: stats.forecasts, scored: stats.scored, gaps: stats.gaps.length },
      `stopped after ${stats.accepted} ticks and ${stats.forecasts} forecasts`,
    );
  });
  return cmd;
}

interface TrainJson {
  model_version: string;
  serving: boolean;
}

/** Runs `byner train --json` with the same store and source; its log lines are shown prefixed with [train]. */
function spawnTrain(
  s: Record<string, unknown>,
  logger: Logger,
  onDone: (summary: TrainJson | null) => void,
): ChildProcess {
  const args = ['train', '--json', '--stream', String(s.stream), '--ticks', String(s.ticks)];
  for (const [key, flag] of [
    ['dataDir', '--data-dir'],
    ['mongoUri', '--mongo-uri'],
    ['dbName', '--db-name'],
    ['seed', '--seed'],
    ['amplitude', '--amplitude'],
    ['frequency', '--frequency'],
    ['noise', '--noise'],
    ['bound', '--bound'],
    ['season', '--season'],
    ['maxBacklogMb', '--max-backlog-mb'],
  ] as const) {
    if (s[key] !== undefined) args.push(flag, String(s[key]));
  }
  if (s.durable === true) args.push('--durable');
  // Same Node flags and entry point as this process (dist/cli/main.js, or src/cli/main.ts through tsx).
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BYNER_LOG_DIR: process.env.BYNER_LOG_DIR ?? 'none' },
  });
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`[train] ${line}\n`));
  child.on('exit', (code, signal) => {
    if (code !== 0) {
      logger.warn(`training ended without a model (${signal ?? `exit ${code}`})`);
      onDone(null);
      return;
    }
    try {
      onDone(JSON.parse(stdout.trim().split('\n').pop() ?? '') as TrainJson);
    } catch {
      logger.warn('could not read the training summary');
      onDone(null);
    }
  });
  return child;
}
