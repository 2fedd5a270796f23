// `byner infer`: live inference (src/infer/pipeline.ts) on one stream, several (--streams) or every stream of the
// server (--all-streams), until SIGTERM or SIGINT; forecasters from the registry (followed while running) or a
// baseline. The inference itself is src/infer's job.
import { type Command, Option } from 'commander';
import { BynerError } from '../../errors.js';
import { type Forecaster, SeasonalNaiveForecaster } from '../../features/forecaster.js';
import { registeredStreams, SharedInference } from '../../infer/bus-leases.js';
import { ForecasterSet, type Swap } from '../../infer/forecasters.js';
import { runPipeline } from '../../infer/pipeline.js';
import { SseInput, streamUrl } from '../../infer/sse-input.js';
import { startInferStatus } from '../../infer/status.js';
import { serverStreams } from '../../infer/stream-list.js';
import { DRAIN_TIMEOUT_MS } from '../../infer/writer.js';
import type { Logger } from '../../log/logger.js';
import { isBaselineKind } from '../../models/kinds.js';
import type { Store } from '../../store/types.js';
import { busCheck } from '../../stream/health.js';
import { makeContext } from '../context.js';
import { addSettings, flagOf, givenExplicitly, givenOnCommandLine, readSettings } from '../options.js';
import { formatTable } from '../table.js';
import { nextStopSignal } from './serve.js';
import {
  BUS_SETTINGS,
  backlogBytes,
  openBusFor,
  openStoreFor,
  STORE_SETTINGS,
  WRITE_SETTINGS,
} from './shared.js';

const NAMES = [
  'url',
  'model',
  'modelVersion',
  'season',
  'stream',
  'streams',
  'idleTimeout',
  'metricsPort',
  'metricsHost',
  'allowedHost',
  'driftWindows',
  'fallback',
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
  ...BUS_SETTINGS,
  'group',
] as const;

/** How often `--all-streams` re-reads the server's list of streams. */
const DISCOVER_MS = 10_000;

/**
 * The forecasters of a run: a baseline or a pinned version for every stream, or (`--model latest`) each stream's
 * serving model, followed while running, with the seasonal-naive baseline where none serves.
 */
export async function chooseForecasters(
  store: Store,
  s: { model?: string; modelVersion?: string; season?: number },
  logger: Logger,
  onSwap?: (swap: Swap) => void,
): Promise<ForecasterSet> {
  if (s.model !== 'latest' && s.model !== undefined && s.modelVersion !== undefined) {
    throw new BynerError(
      'BYNER_CONFIG',
      `--model-version ${s.modelVersion} cannot be used with --model ${s.model}`,
      {
        expected: '--model latest (the default) with --model-version, or a baseline without it',
        received: `--model ${s.model} --model-version ${s.modelVersion}`,
      },
    );
  }
  // The engine is loaded only when a registered model is.
  const load = async (version: string, stream?: string) =>
    (await import('../../train/load.js')).loadRegistered(store, version, stream);
  const season = s.season ?? 10;
  if (s.model === 'naive' || s.model === 'seasonal_naive') {
    const { loadForecaster } = await import('../../train/load.js');
    return ForecasterSet.fixed(await loadForecaster(store, { version: s.model, season }), logger);
  }
  if (s.modelVersion !== undefined) return ForecasterSet.fixed(await load(s.modelVersion), logger);
  const fallback: Forecaster = new SeasonalNaiveForecaster(5, season);
  return ForecasterSet.following({ pointers: () => store.servingPointers(), load, fallback }, logger, onSwap);
}

/** `--metrics-host` and `--allowed-host` given without `--metrics-port`: they would apply to nothing. */
function metricsOnly(cmd: Command, s: { allowedHost?: string[] }): string[] {
  return [
    givenExplicitly(cmd, ['metricsHost']).length > 0
      ? '--metrics-host without --metrics-port: there is no metrics endpoint to listen'
      : null,
    s.allowedHost !== undefined
      ? '--allowed-host without --metrics-port: there is no endpoint to answer'
      : null,
  ].filter((x) => x !== null);
}

export function inferCommand(program: Command): Command {
  const cmd = program
    .command('infer')
    .description(
      'live inference on SSE tick streams: forecast 5, store, score (--quiet prints no tick lines)',
    );
  addSettings(cmd, NAMES);
  cmd.addOption(
    new Option(
      '--all-streams',
      'forecast every stream the server serves (its /api/streams list, re-read every 10 s: new streams join); ' +
        'with --bus, every stream the serve processes are configured with, shared by the workers of --group',
    ),
  );
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const all = (cmd.opts() as { allStreams?: boolean }).allStreams === true;
    const streamOnCommandLine = givenOnCommandLine(cmd, ['stream']).length > 0;
    // A baseline for every stream has no model whose drift could be watched.
    const baseline = isBaselineKind(s.model) ? `--model ${s.model}` : null;
    const conflicts = [
      baseline !== null && s.fallback === true
        ? `--fallback with ${baseline}: a baseline forecasts already (--fallback applies to models)`
        : null,
      baseline !== null && givenOnCommandLine(cmd, ['driftWindows']).length > 0
        ? `--drift-windows with ${baseline}: a baseline is not watched for drift`
        : null,
      all && s.streams !== undefined
        ? '--all-streams with --streams: name the streams, or take them all'
        : null,
      streamOnCommandLine && (all || s.streams !== undefined)
        ? `--stream with ${all ? '--all-streams' : '--streams'}: --stream names one stream`
        : null,
      ...(s.metricsPort === undefined ? metricsOnly(cmd, s) : []),
    ].filter((x) => x !== null);
    if (conflicts.length > 0) {
      throw new BynerError('BYNER_CONFIG', `conflicting options:\n  - ${conflicts.join('\n  - ')}`, {
        expected:
          'one of --stream NAME, --streams a,b,c or --all-streams; --metrics-host and --allowed-host with --metrics-port; --fallback and --drift-windows with a model only',
        received: conflicts.length === 1 ? conflicts[0] : `${conflicts.length} conflicts`,
      });
    }
    const { logger } = makeContext(cmd);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    if (s.bus !== undefined) {
      const sseOnly = givenExplicitly(cmd, ['url', 'idleTimeout']);
      if (sseOnly.length > 0) {
        throw new BynerError('BYNER_CONFIG', 'options of the SSE input with --bus', {
          expected: '--bus alone: the workers read the tick logs in Redis, not a server URL',
          received: sseOnly.map(flagOf).join(', '),
        });
      }
    }
    const bus = await openBusFor(cmd, s, logger, ['leaseMs', 'group']);
    const url = s.url!;
    const list = all && bus === null ? serverStreams(url) : null;
    const streams = bus !== null ? [] : list !== null ? await list.names() : (s.streams ?? [s.stream!]);
    // Without a stream named, the URL as given: the server's default stream (or a server's only one).
    const named = all || s.streams !== undefined || givenExplicitly(cmd, ['stream']).length > 0;
    let store: Store;
    try {
      store = await openStoreFor(s, logger);
    } catch (error) {
      await bus?.close();
      throw error;
    }
    let failed = false;
    try {
      const forecasters = await chooseForecasters(store, s, logger);
      const shared =
        bus === null
          ? null
          : new SharedInference({
              bus,
              store,
              group: s.group ?? 'default',
              leaseMs: s.leaseMs ?? 5000,
              names: all ? registeredStreams(bus) : () => s.streams ?? [s.stream!],
              logger,
            });
      const run = runPipeline({
        store,
        input:
          shared?.input ??
          new SseInput({
            urlFor: (stream) => (named ? streamUrl(url, stream) : url),
            idleTimeoutMs: s.idleTimeout,
            logger,
          }),
        forecasters,
        streams,
        discover: list === null ? undefined : { list, everyMs: DISCOVER_MS },
        dynamic: shared !== null,
        out: quiet ? null : process.stdout,
        labelLines: all || shared !== null || streams.length > 1,
        drift: { windows: s.driftWindows, season: s.season, fallback: s.fallback === true },
        logger,
        writer: { maxPendingBytes: backlogBytes(s) },
      });
      if (shared !== null) {
        shared.share(run);
        process.stdout.write(
          `byner infer: worker ${shared.owner} of group ${s.group} on the bus ${bus?.url} (lease ${s.leaseMs} ms)\n`,
        );
      }
      const status =
        s.metricsPort === undefined
          ? null
          : await startInferStatus({
              host: s.metricsHost,
              port: s.metricsPort,
              allowedHosts: s.allowedHost,
              store,
              run,
              logger,
              ...(bus === null || shared === null
                ? {}
                : { checks: { bus: busCheck(bus) }, fields: () => ({ bus: shared.status() }) }),
            }).catch(async (error: unknown) => {
              await shared?.close().catch(() => {});
              await run.stop().catch(() => {});
              throw error;
            });
      // On stderr even with --quiet: with --metrics-port 0 this is where the port is told.
      if (status !== null) {
        process.stderr.write(
          `byner infer: metrics on ${status.url}/metrics, health on ${status.url}/healthz\n`,
        );
      }
      // A worker's streams leave the run as they are handed back: the summary is of those it held at the stop.
      let held = run.stats.streams;
      const stopped = nextStopSignal().then(async (signal) => {
        logger.info({ signal }, `${signal}: stopping (writing what is held)`);
        held = new Map(run.stats.streams);
        // Streams handed back first (their writes stored), so that the other workers take them over at once.
        await shared?.close();
        return run.stop();
      });
      await Promise.race([run.done, stopped]).finally(() => status?.close());
      const stats = { ...run.stats, streams: held };
      let summary = '';
      for (const [stream, st] of stats.streams) {
        const m = run.scores(stream);
        summary +=
          `\n${stats.streams.size > 1 ? `${stream}: ` : ''}${st.accepted} ticks, ${st.forecasts} forecasts` +
          (st.recovered > 0 ? ` (${st.recovered} for stored ticks that had none)` : '') +
          (st.nonFinite > 0 ? `, ${st.nonFinite} non-finite forecasts skipped` : '') +
          (st.driftEpisodes > 0 ? `, ${st.driftEpisodes} drift episode(s)` : '') +
          (st.fallbackForecasts > 0 ? ` (${st.fallbackForecasts} forecasts by a fallback baseline)` : '') +
          `, ${st.invalid} invalid, ` +
          `${st.duplicates + st.outOfOrder} duplicate/out of order, ${st.gaps.length} gap(s), ` +
          `${st.connection?.reconnects ?? 0} reconnect(s)\n`;
        if (m === null) continue;
        summary += `\n${formatTable(
          [
            `horizon (${run.forecaster(stream).version})`,
            'mse',
            'mae',
            'accuracy',
            `mse (last ${m.window})`,
            `accuracy (last ${m.window})`,
          ],
          m.metrics.mse.map((_, h) => [
            h + 1,
            m.metrics.mse[h],
            m.metrics.mae[h],
            m.metrics.accuracy[h],
            m.metrics.mse_window[h],
            m.metrics.accuracy_window[h],
          ]),
        )}\n`;
      }
      process.stdout.write(summary);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // After a failed run (a stop that gave up on an unreachable store: its error counts what was not stored),
      // what the store still holds is given up at once.
      await store.close({ timeoutMs: failed ? 0 : DRAIN_TIMEOUT_MS }).catch((error: unknown) => {
        if (!failed) throw error;
      });
      await bus?.close();
    }
  });
  return cmd;
}
