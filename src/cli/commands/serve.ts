// `byner serve`: the live SSE tick streams and REST reads (src/stream/server.ts) until SIGTERM or SIGINT, then a
// clean stop: no new connections, streams ended, the last ticks stored. What the server does is src/stream's
// business, where prices come from src/sources'; this file turns flags into both.
import type { Command } from 'commander';
import { registerDashboard } from '../../dashboard/routes.js';
import { BynerError } from '../../errors.js';
import { describeKinds, openSources, type StreamDefinition } from '../../sources/registry.js';
import type { Store } from '../../store/types.js';
import { SERVER_DEFAULTS, type StreamConfig, startServer } from '../../stream/server.js';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import {
  addStreamSwitches,
  BUS_SETTINGS,
  openBusFor,
  openStoreFor,
  SERVER_SETTINGS,
  SOURCE_SETTINGS,
  STORE_SETTINGS,
  STREAM_SETTINGS,
  serverOptionsFrom,
  streamDefinitions,
  WRITE_SETTINGS,
} from './shared.js';

const NAMES = [
  'host',
  'port',
  'interval',
  ...SERVER_SETTINGS,
  ...STREAM_SETTINGS,
  ...SOURCE_SETTINGS,
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
  ...BUS_SETTINGS,
] as const;

/** The help's tail: the source kinds and their options, from the registry. */
export const STREAMS_HELP = `
Streams (--stream NAME[:KIND[,key=value...]], repeatable; the first is the default one):
${describeKinds()
  .split('\n')
  .map((line) => `  ${line}`)
  .join('\n')}
Examples:
  byner serve --stream synthetic --stream co2:replay,from=co2raw,speed=60,loop --stream ext:feed
  some-feed | byner serve --stream ext:feed
  byner serve --streams streams.yaml`;

/** Opens the sources of checked stream definitions (a replay's source stream must have ticks). */
export function streamConfigsFor(
  definitions: readonly StreamDefinition[],
  store: Store,
  logger: ReturnType<typeof makeContext>['logger'],
): Promise<StreamConfig[]> {
  return openSources(definitions, { store, logger, stdin: process.stdin });
}

/** Resolves on the first SIGTERM or SIGINT (and stops listening for them). */
export function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

export function serveCommand(program: Command): Command {
  const cmd = program
    .command('serve')
    .description(
      'HTTP server: live SSE tick streams (GET /realtime_data?stream=NAME), REST reads of the store, the dashboard',
    )
    .addHelpText('after', STREAMS_HELP);
  addSettings(cmd, NAMES);
  addStreamSwitches(cmd);
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const { logger } = makeContext(cmd);
    const definitions = await streamDefinitions(cmd, s);
    const bus = await openBusFor(cmd, s, logger);
    let store: Store;
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      store = await openStoreFor(s, logger);
    } catch (error) {
      await bus?.close();
      throw error;
    }
    try {
      server = await startServer({
        host: s.host,
        port: s.port,
        ...serverOptionsFrom(s),
        streams: await streamConfigsFor(definitions, store, logger),
        // With a bus, sources run whether or not this process has readers: other processes serve them too.
        produceAlways: bus !== null || (cmd.opts() as { produceAlways?: boolean }).produceAlways === true,
        store,
        logger,
        routes: [registerDashboard],
        bus: bus === null ? undefined : { bus, leaseMs: s.leaseMs ?? 5000 },
      });
    } catch (error) {
      await store.close();
      await bus?.close();
      throw error;
    }
    const names = server.streams().map((st) => `${st.name} (${st.source})`);
    const shared = server.bus();
    process.stdout.write(
      `byner serve: streaming on ${server.url}/realtime_data, dashboard at ${server.url}/ (Ctrl-C to stop)\n` +
        `  streams: ${names.join(', ')}; the default is ${server.defaultStream}\n` +
        (shared === null
          ? ''
          : `  sharing them over the bus ${shared.bus} as ${shared.owner} (lease ${s.leaseMs} ms)\n`),
    );
    const signal = await nextStopSignal();
    logger.info({ signal }, `${signal}: stopping (ending streams, storing the last ticks)`);
    // Bounded by SERVER_DEFAULTS.stopTimeoutMs even while the store is unreachable; what it could not store by then
    // is still in the store's backlog, given up at once.
    const { unconfirmedTicks } = await server.close();
    await store
      .close({ timeoutMs: unconfirmedTicks > 0 ? 0 : SERVER_DEFAULTS.stopTimeoutMs })
      .catch(() => {});
    await bus?.close();
    if (unconfirmedTicks > 0) {
      throw new BynerError(
        'BYNER_STORE',
        `stopped with ${unconfirmedTicks} live tick(s) not confirmed stored`,
        {
          hint:
            `the store stayed unreachable ${SERVER_DEFAULTS.stopTimeoutMs} ms into the stop; those ticks were never ` +
            'sent, and the stream continues after the last stored tick when serve starts again',
        },
      );
    }
    logger.info({ headSeq: server.headSeq(), ...server.stats() }, 'stopped');
  });
  return cmd;
}
