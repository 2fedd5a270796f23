// `byner serve`: the SSE tick stream and REST reads (src/stream/server.ts) until SIGTERM or SIGINT, then a clean
// stop: no new connections, streams ended, the last tick stored. What the server does is src/stream's business.
import type { Command } from 'commander';
import { registerDashboard } from '../../dashboard/routes.js';
import { startServer } from '../../stream/server.js';
import { makeContext } from '../context.js';
import { addSettings, readSettings } from '../options.js';
import {
  openStoreFor,
  SERVER_SETTINGS,
  SOURCE_SETTINGS,
  STORE_SETTINGS,
  serverOptionsFrom,
  sourceFrom,
  WRITE_SETTINGS,
} from './shared.js';

const NAMES = [
  'host',
  'port',
  'interval',
  ...SERVER_SETTINGS,
  'stream',
  ...SOURCE_SETTINGS,
  ...STORE_SETTINGS,
  ...WRITE_SETTINGS,
] as const;

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
    .description('HTTP server: the live SSE tick stream (GET /realtime_data) and REST reads of the store');
  addSettings(cmd, NAMES);
  cmd.action(async () => {
    const s = readSettings(cmd, NAMES);
    const { logger } = makeContext(cmd);
    const store = await openStoreFor(s, logger);
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer({
        host: s.host,
        port: s.port,
        intervalMs: s.interval,
        ...serverOptionsFrom(s),
        stream: s.stream,
        source: sourceFrom(s),
        store,
        logger,
        routes: [registerDashboard],
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    process.stdout.write(
      `byner serve: streaming on ${server.url}/realtime_data, dashboard at ${server.url}/ (Ctrl-C to stop)\n`,
    );
    const signal = await nextStopSignal();
    logger.info({ signal }, `${signal}: stopping (ending streams, storing the last ticks)`);
    await server.close();
    await store.close({ timeoutMs: 10_000 });
    logger.info({ headSeq: server.headSeq(), ...server.stats() }, 'stopped');
  });
  return cmd;
}
