// Pieces several commands share: the synthetic source's settings, the server's and its live streams', and the
// default start time.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { type Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { type Bus, connectBus, parseBusUrl, redactRedisUrl } from '../../bus/redis.js';
import type { SettingName } from '../../config/settings.js';
import { BynerError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import {
  checkStreams,
  type KindDefaults,
  kindsTaking,
  parseStreamSpec,
  type StreamDefinition,
  type StreamSpec,
  streamSpecsFromFile,
} from '../../sources/registry.js';
import { openStore, redactUri, type Store } from '../../store/index.js';
import type { ServerOptions } from '../../stream/server.js';
import { DEFAULT_SOURCE, type SineSource, TICK_MS } from '../../ticks/generator.js';
import { DEFAULT_STREAM } from '../../ticks/types.js';
import { flagOf, givenExplicitly, givenOnCommandLine } from '../options.js';

export const SOURCE_SETTINGS = ['seed', 'amplitude', 'frequency', 'noise', 'bound'] as const;

/** The LSTM's network and training settings (its seed is `seed`, which `train` shares with the source). */
export const LSTM_SETTINGS = [
  'units',
  'activation',
  'dropout',
  'epochs',
  'batchSize',
  'patience',
  'learningRate',
  'workers',
] as const;

export function sourceFrom(s: Partial<Record<(typeof SOURCE_SETTINGS)[number], number>>): SineSource {
  return {
    seed: s.seed ?? DEFAULT_SOURCE.seed,
    amplitude: s.amplitude ?? DEFAULT_SOURCE.amplitude,
    frequency: s.frequency ?? DEFAULT_SOURCE.frequency,
    noise: s.noise ?? DEFAULT_SOURCE.noise,
    bound: s.bound ?? DEFAULT_SOURCE.bound,
  };
}

/** The first tick's time: as given, or whole seconds such that the last of `count` ticks is now. */
export function parseStartTime(iso: string | undefined, count: number, now = Date.now()): Date {
  if (iso === undefined) return new Date(Math.floor(now / 1000) * 1000 - (count - 1) * TICK_MS);
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    throw new BynerError('BYNER_CONFIG', 'invalid --start-time', {
      expected: 'an ISO-8601 date-time',
      received: iso,
    });
  }
  return d;
}

export const STORE_SETTINGS = ['dataDir', 'mongoUri', 'dbName'] as const;
/** For commands that write: how much a write queue may hold, and the embedded store's durability. */
export const WRITE_SETTINGS = ['maxBacklogMb', 'durable'] as const;

/** `--max-backlog-mb` in bytes (the default when the command does not take it). */
export const backlogBytes = (s: { maxBacklogMb?: number }): number => (s.maxBacklogMb ?? 64) * 2 ** 20;

/** The server's limits and timings, shared by `serve` and `demo`. */
export const SERVER_SETTINGS = [
  'heartbeat',
  'maxClients',
  'clientBuffer',
  'connectionTimeout',
  'headerTimeout',
  'allowedHost',
  'corsOrigin',
] as const;

export function serverOptionsFrom(s: {
  ringSize?: number;
  heartbeat?: number;
  maxClients?: number;
  clientBuffer?: number;
  connectionTimeout?: number;
  headerTimeout?: number;
  allowedHost?: string[];
  corsOrigin?: string[];
}): Pick<
  ServerOptions,
  | 'ringCapacity'
  | 'heartbeatMs'
  | 'maxClients'
  | 'maxClientBytes'
  | 'connectionTimeoutMs'
  | 'headersTimeoutMs'
  | 'allowedHosts'
  | 'corsOrigins'
> {
  return {
    ringCapacity: s.ringSize,
    heartbeatMs: s.heartbeat,
    maxClients: s.maxClients,
    maxClientBytes: s.clientBuffer,
    connectionTimeoutMs: s.connectionTimeout,
    headersTimeoutMs: s.headerTimeout,
    allowedHosts: s.allowedHost,
    corsOrigins: s.corsOrigin,
  };
}

/** Opens the store the settings name (MongoDB when a URI is given, else the embedded one) and says which. */
export async function openStoreFor(
  s: { dataDir?: string; mongoUri?: string; dbName?: string; maxBacklogMb?: number; durable?: boolean },
  logger: Logger,
): Promise<Store> {
  // The store itself logs which one is in use once it is open.
  return openStore({
    dataDir: s.dataDir,
    mongoUri: s.mongoUri,
    dbName: s.dbName,
    durable: s.durable,
    mongo: { maxBacklogBytes: backlogBytes(s) },
    logger,
  });
}

/** The scale-out settings of `serve` (and, with `group`, of `infer`). */
export const BUS_SETTINGS = ['bus', 'leaseMs'] as const;

/**
 * With `--bus`: checks that the store is MongoDB (each process would have an embedded store of its own) and that
 * no bus-only flag is given without it, then connects to the bus (BYNER_BUS_UNREACHABLE when it does not answer).
 * Null without `--bus`.
 */
export async function openBusFor(
  cmd: Command,
  s: { bus?: string; mongoUri?: string; dataDir?: string; durable?: boolean },
  logger: Logger,
  busOnly: readonly SettingName[] = ['leaseMs'],
): Promise<Bus | null> {
  if (s.bus === undefined) {
    const stray = givenExplicitly(cmd, busOnly);
    if (stray.length > 0) {
      throw new BynerError('BYNER_CONFIG', `${stray.map(flagOf).join(', ')} without --bus`, {
        expected: `${stray.map(flagOf).join(', ')} only with --bus redis://HOST:PORT (many processes sharing the streams)`,
        received: stray.map(flagOf).join(', '),
        hint: 'add --bus, or remove the option',
      });
    }
    return null;
  }
  const { safe } = parseBusUrl(s.bus);
  if (s.mongoUri === undefined) {
    throw new BynerError('BYNER_CONFIG', '--bus needs MongoDB as the store', {
      expected: '--mongo-uri mongodb://… (or MONGODB_URI) with --bus',
      received: `--bus ${safe} with the embedded store in ${s.dataDir ?? './data'}`,
      hint:
        'the processes sharing the streams must share one store: each would have an embedded file of its own, so ' +
        'a stream taken over by another process would lose its history. Start MongoDB and pass --mongo-uri',
    });
  }
  if (s.durable === true) {
    throw new BynerError('BYNER_CONFIG', '--durable is for the embedded store', {
      expected: '--bus with --mongo-uri, without --durable',
      received: '--durable',
    });
  }
  return connectBus(s.bus, { logger });
}

/** The live streams' settings of `serve` and `demo` (the sine's are SOURCE_SETTINGS, `--interval` is separate). */
export const STREAM_SETTINGS = ['streamSpec', 'streamsFile', 'from', 'speed', 'feedUrl', 'ringSize'] as const;

/** The streams' switches (flags without a value), added to `serve` and `demo` beside STREAM_SETTINGS. */
export function addStreamSwitches(cmd: Command): Command {
  return cmd
    .addOption(new Option('--loop', 'replay streams: start again after the last tick (their loop option)'))
    .addOption(
      new Option(
        '--produce-always',
        'make ticks of synthetic and replay streams without clients too (otherwise only while someone reads)',
      ),
    );
}

interface StreamSettingValues {
  streamSpec?: string[];
  streamsFile?: string;
  from?: string;
  speed?: number;
  feedUrl?: string;
  interval?: number;
  seed?: number;
  amplitude?: number;
  frequency?: number;
  noise?: number;
  bound?: number;
}

/** Reads a streams file: JSON (`.json`) or YAML (anything else; YAML also reads JSON). */
async function readStreamsFile(path: string): Promise<StreamSpec[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new BynerError('BYNER_CONFIG', `cannot read the streams file ${path}`, {
      expected: 'a readable JSON or YAML file',
      received: (error as NodeJS.ErrnoException).code ?? String(error),
      hint: 'check --streams',
    });
  }
  let value: unknown;
  try {
    value = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new BynerError(
      'BYNER_CONFIG',
      `the streams file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}`,
      {
        expected: 'a list of {name, source, ...options}',
        received: (error as Error).message.split('\n')[0],
      },
    );
  }
  return streamSpecsFromFile(value, path);
}

/**
 * The live streams `serve` / `demo` were asked for, checked against the source registry: `--stream` specs or the
 * `--streams` file (not both), with the kind flags (`--seed`…, `--from`, `--speed`, `--interval`, `--loop`,
 * `--feed-url`) as defaults of the kinds' options. A kind flag given on the command line that no stream uses is
 * refused (BYNER_CONFIG), never ignored.
 */
export async function streamDefinitions(cmd: Command, s: StreamSettingValues): Promise<StreamDefinition[]> {
  const loop = (cmd.opts() as { loop?: boolean }).loop === true;
  if (s.streamsFile !== undefined && s.streamSpec !== undefined) {
    throw new BynerError('BYNER_CONFIG', 'both --stream and --streams', {
      expected: 'the streams from --stream flags or from a --streams file, not both',
      received: `--stream ${s.streamSpec.join(' --stream ')} and --streams ${s.streamsFile}`,
    });
  }
  const specs =
    s.streamsFile !== undefined
      ? await readStreamsFile(s.streamsFile)
      : (s.streamSpec ?? [DEFAULT_STREAM]).map(parseStreamSpec);
  const defaults: KindDefaults = {
    synthetic: {
      seed: s.seed,
      amplitude: s.amplitude,
      frequency: s.frequency,
      noise: s.noise,
      bound: s.bound,
      interval: s.interval,
    },
    replay: {
      from: s.from,
      speed: s.speed,
      interval: givenExplicitly(cmd, ['interval']).length > 0 ? s.interval : undefined,
      loop: loop ? true : undefined,
    },
    feed: { url: s.feedUrl },
  };
  const definitions = checkStreams(specs, defaults);
  const unused: string[] = [];
  // A kind option, its flag, and whether that was given on the command line.
  const option = (name: string, setting: SettingName): [string, string, boolean] => [
    name,
    flagOf(setting),
    givenOnCommandLine(cmd, [setting]).length > 0,
  ];
  const flags: [string, string, boolean][] = [
    option('from', 'from'),
    option('speed', 'speed'),
    ['loop', '--loop', loop],
    option('url', 'feedUrl'),
    option('interval', 'interval'),
    ...SOURCE_SETTINGS.map((k) => option(k, k)),
  ];
  for (const [name, flag, isGiven] of flags) {
    const kinds = kindsTaking(name);
    if (isGiven && !definitions.some((d) => kinds.includes(d.kind)))
      unused.push(`${flag} (${kinds.join(', ')})`);
  }
  if (unused.length > 0) {
    throw new BynerError('BYNER_CONFIG', 'options for streams that are not configured', {
      expected: 'options of the kinds of the configured streams',
      received: `${unused.join(', ')} with streams ${definitions.map((d) => `${d.name} (${d.kind})`).join(', ')}`,
      hint: 'remove them, or add a stream of that kind with --stream NAME:KIND',
    });
  }
  return definitions;
}

/** The settings a command on the queue cannot do without: --bus and --mongo-uri, or BYNER_CONFIG saying why. */
export function requireCluster(
  command: string,
  s: { bus?: string; mongoUri?: string },
): {
  bus: string;
  mongoUri: string;
} {
  const missing = [
    s.bus === undefined ? '--bus (BYNER_BUS)' : undefined,
    s.mongoUri === undefined ? '--mongo-uri (MONGODB_URI)' : undefined,
  ].filter((x) => x !== undefined);
  if (s.bus === undefined || s.mongoUri === undefined) {
    throw new BynerError('BYNER_CONFIG', `${command} needs ${missing.join(' and ')}`, {
      expected:
        'the Redis of the training queue (--bus redis://HOST:PORT) and the MongoDB every worker shares ' +
        '(--mongo-uri mongodb://…): the embedded store is one machine’s file, which workers elsewhere cannot reach',
      received: `${s.bus === undefined ? 'no --bus' : `--bus ${redactRedisUrl(s.bus)}`}, ${
        s.mongoUri === undefined ? 'no --mongo-uri' : `--mongo-uri ${redactUri(s.mongoUri)}`
      }`,
      hint: 'give both, the same to `byner train --queue` and every `byner worker`',
    });
  }
  return { bus: s.bus, mongoUri: s.mongoUri };
}
