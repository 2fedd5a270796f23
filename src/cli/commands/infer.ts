// `byner infer`: live inference (src/infer/pipeline.ts) on one stream, several (--streams) or every stream of the
// server (--all-streams), until SIGTERM or SIGINT; forecasters from the registry (followed while running) or a
// baseline. The inference itself is src/infer's job.
import { type Command, Option } from 'commander';
import { BynerError } from '../../errors.js';
import { type Forecaster, SeasonalNaiveForecaster } from '../../features/forecaster.js';
import { ForecasterSet, type Swap } from '../../infer/forecasters.js';
import { runPipeline } from '../../infer/pipeline.js';
import { SseInput, streamUrl } from '../../infer/sse-input.js';
import { serverStreams } from '../../infer/stream-list.js';
import type { Logger } from '../../log/logger.js';
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
  'streams',
  'idleTimeout',
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
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
      'forecast every stream the server serves (its /api/streams list, re-read every 10 s: new streams join)',
    ),
  );
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const all = (cmd.opts() as { allStreams?: boolean }).allStreams === true;
    const streamGiven = cmd.getOptionValueSource('stream');
    const conflicts = [
      all && s.streams !== undefined
        ? '--all-streams with --streams: name the streams, or take them all'
        : null,
      streamGiven === 'cli' && (all || s.streams !== undefined)
        ? `--stream with ${all ? '--all-streams' : '--streams'}: --stream names one stream`
        : null,
    ].filter((x) => x !== null);
    if (conflicts.length > 0) {
      throw new BynerError('BYNER_CONFIG', `conflicting options:\n  - ${conflicts.join('\n  - ')}`, {
        expected: 'one of --stream NAME, --streams a,b,c or --all-streams',
        received: conflicts.length === 1 ? conflicts[0] : `${conflicts.length} conflicts`,
      });
    }
    const { logger } = makeContext(cmd);
    const quiet = (cmd.optsWithGlobals() as { quiet?: boolean }).quiet === true;
    const url = s.url!;
    const list = all ? serverStreams(url) : null;
    const streams = list !== null ? await list.names() : (s.streams ?? [s.stream!]);
    // Without a stream named, the URL as given: the server's default stream (the original server has only one).
    const named = all || s.streams !== undefined || streamGiven === 'cli' || streamGiven === 'env';
    const store = await openStoreFor(s, logger);
    try {
      const forecasters = await chooseForecasters(store, s, logger);
      const run = runPipeline({
        store,
        input: new SseInput({
          urlFor: (stream) => (named ? streamUrl(url, stream) : url),
          idleTimeoutMs: s.idleTimeout,
          logger,
        }),
        forecasters,
        streams,
        discover: list === null ? undefined : { list, everyMs: DISCOVER_MS },
        out: quiet ? null : process.stdout,
        labelLines: all || streams.length > 1,
        logger,
        writer: { maxPendingBytes: backlogBytes(s) },
      });
      const stopped = nextStopSignal().then((signal) => {
        logger.info({ signal }, `${signal}: stopping (writing what is held)`);
        return run.stop();
      });
      const stats = await Promise.race([run.done, stopped]);
      let summary = '';
      for (const [stream, st] of stats.streams) {
        const m = run.scores(stream);
        summary +=
          `\n${stats.streams.size > 1 ? `${stream}: ` : ''}${st.accepted} ticks, ${st.forecasts} forecasts` +
          (st.recovered > 0 ? ` (${st.recovered} for stored ticks that had none)` : '') +
          (st.nonFinite > 0 ? `, ${st.nonFinite} non-finite forecasts skipped` : '') +
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
    } finally {
      await store.close({ timeoutMs: 10_000 });
    }
  });
  return cmd;
}
