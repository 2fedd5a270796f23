// Every setting byner reads: its flag, environment variable, default and validation, in one table.
// Precedence is flag, then environment, then default; `resolveSettings` validates them all at once and reports
// one line per bad value. Which command uses which setting is decided in src/cli.
import { z } from 'zod';
import { BUS_URL_EXPECTED, isBusUrl } from '../bus/redis.js';
import {
  BASELINE_KINDS,
  FITTED_KINDS,
  globalName,
  KIND_NAMES,
  MODEL_NAMES,
  parseModelName,
  TRAIN_CHOICES,
  type TrainChoice,
} from '../models/kinds.js';
import { STREAM_NAME } from '../ticks/types.js';

export interface Setting<T> {
  /** Commander flag syntax, e.g. '--ticks <n>'. Boolean switches have no <value>. */
  flags: string;
  env?: string;
  /** Default as the user would type it (so help text shows it), or undefined for "not set". */
  default?: string;
  help: string;
  /** What a valid value looks like, for error messages. */
  expected: string;
  /** The flag may be given several times; its values are joined with `separator` (a list works too). */
  repeatable?: boolean;
  /** Joins repeated values; default ',' (so a comma list and repeated flags mean the same). */
  separator?: string;
  schema: z.ZodType<T>;
}

const setting = <T>(s: Setting<T>): Setting<T> => s;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const num = (min: number, max = Number.MAX_VALUE) =>
  z
    .string()
    .trim()
    .regex(/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/)
    .transform(Number)
    .pipe(z.number().min(min).max(max));
const nonEmpty = z.string().trim().min(1);
/** A number strictly between 0 and 1 (`closedLow`: 0 allowed). */
const share = (closedLow: boolean) =>
  z
    .string()
    .trim()
    .regex(/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/)
    .transform(Number)
    .pipe(closedLow ? z.number().min(0).lt(1) : z.number().gt(0).lt(1));
/** A comma-separated list whose items all match `item`. */
const list = (item: RegExp) =>
  z
    .string()
    .transform((v) => v.split(',').map((x) => x.trim()))
    .pipe(z.array(z.string().regex(item)).min(1));

export const SETTINGS = {
  // Synthetic source (DESIGN §2).
  seed: setting({
    flags: '--seed <n>',
    env: 'BYNER_SEED',
    default: '42',
    help:
      'seed of the synthetic source (the same seed gives the same prices, bit for bit) and, where an LSTM is ' +
      'trained, of its initial weights and dropout masks',
    expected: 'an integer between 0 and 2^53',
    schema: int(0),
  }),
  amplitude: setting({
    flags: '--amplitude <A>',
    env: 'BYNER_AMPLITUDE',
    default: '8',
    help: 'sine amplitude A',
    expected: 'a number >= 0',
    schema: num(0),
  }),
  frequency: setting({
    flags: '--frequency <f>',
    env: 'BYNER_FREQUENCY',
    default: '0.1',
    help: 'sine frequency f in cycles per tick',
    expected: 'a number >= 0',
    schema: num(0),
  }),
  noise: setting({
    flags: '--noise <sigma>',
    env: 'BYNER_NOISE',
    default: '1.5',
    help: 'standard deviation of the Gaussian noise',
    expected: 'a number >= 0',
    schema: num(0),
  }),
  bound: setting({
    flags: '--bound <B>',
    env: 'BYNER_BOUND',
    default: '10',
    help: 'prices are clipped to [-B, +B]',
    expected: 'a number >= 0',
    schema: num(0),
  }),
  stream: setting({
    flags: '--stream <name>',
    env: 'BYNER_STREAM',
    default: 'synthetic',
    help: 'name of the tick stream',
    expected: 'letters, digits, dot, dash or underscore (1-64)',
    schema: z.string().regex(STREAM_NAME),
  }),
  trainStream: setting({
    flags: '--stream <name>',
    env: 'BYNER_STREAM',
    default: 'synthetic',
    help:
      'name of the stream to train on; with --queue, several comma-separated: one training job per stream ' +
      '(one global model of several: --streams)',
    expected:
      'a stream name (letters, digits, dot, dash or underscore, 1-64); with --queue, several comma-separated, each once',
    schema: list(STREAM_NAME).refine((names) => new Set(names).size === names.length),
  }),
  modelsStream: setting({
    flags: '--stream <name>',
    help: 'only the models registered for this stream (serving: the one that serves it)',
    expected: 'letters, digits, dot, dash or underscore (1-64)',
    schema: z.string().regex(STREAM_NAME),
  }),
  importStream: setting({
    flags: '--stream <name>',
    env: 'BYNER_STREAM',
    help: 'the stream to import into (required)',
    expected: 'letters, digits, dot, dash or underscore (1-64)',
    schema: z.string().regex(STREAM_NAME),
  }),
  // Live streams of `serve` / `demo` (kinds and their options: src/sources/registry.ts).
  streamSpec: setting({
    flags: '--stream <spec>',
    env: 'BYNER_STREAM',
    help:
      'a live stream NAME[:KIND[,key=value...]], repeatable; the first is the default one. Kinds: synthetic ' +
      '(seed, amplitude, frequency, noise, bound, interval), replay (from, speed, interval, loop), feed (url; ' +
      'stdin without). Default: one synthetic stream named synthetic',
    expected: 'NAME[:KIND[,key=value...]], e.g. co2:replay,from=co2raw,speed=60,loop',
    repeatable: true,
    separator: '\n',
    schema: z
      .string()
      .transform((v) =>
        v
          .split('\n')
          .map((x) => x.trim())
          .filter((x) => x !== ''),
      )
      .pipe(z.array(z.string().regex(/^[^:,=\s]+(:.*)?$/)).min(1)),
  }),
  streamsFile: setting({
    flags: '--streams <file>',
    env: 'BYNER_STREAMS_FILE',
    help: 'the live streams from a JSON or YAML file: [{name, source, ...options}] (instead of --stream)',
    expected: 'a path to a .json, .yaml or .yml file',
    schema: nonEmpty,
  }),
  from: setting({
    flags: '--from <stream>',
    help: 'replay streams: the stored stream to replay (their from= option)',
    expected: 'letters, digits, dot, dash or underscore (1-64)',
    schema: z.string().regex(STREAM_NAME),
  }),
  speed: setting({
    flags: '--speed <x>',
    help: 'replay streams: times faster than the source timestamps (their speed= option; default 1)',
    expected: 'a number > 0',
    schema: num(Number.MIN_VALUE, 1e9),
  }),
  feedUrl: setting({
    flags: '--feed-url <url>',
    env: 'BYNER_FEED_URL',
    help: 'feed streams: an SSE or NDJSON HTTP feed (their url= option); without it a feed reads stdin',
    expected: 'an http:// or https:// URL',
    schema: z
      .string()
      .trim()
      .regex(/^https?:\/\/\S+$/),
  }),
  ringSize: setting({
    flags: '--ring-size <ticks>',
    env: 'BYNER_RING_SIZE',
    help: 'ticks per stream kept in memory for resuming clients (default 10,000, less with more than 10 streams)',
    expected: 'an integer between 100 and 1,000,000',
    schema: int(100, 1_000_000),
  }),
  // Tick ranges.
  ticks: setting({
    flags: '--ticks <n>',
    env: 'BYNER_TICKS',
    default: '10000',
    help: 'number of ticks',
    expected: 'an integer between 1 and 50,000,000',
    schema: int(1, 50_000_000),
  }),
  lastTicks: setting({
    flags: '--ticks <n>',
    env: 'BYNER_TICKS',
    help: 'use the last n ticks of the stream (default: all of them)',
    expected: 'an integer between 1 and 50,000,000',
    schema: int(1, 50_000_000),
  }),
  startIndex: setting({
    flags: '--start-index <i>',
    help: 'global index of the first tick (the sine phase continues from it); default 0',
    expected: 'an integer >= 0',
    schema: int(0),
  }),
  startTime: setting({
    flags: '--start-time <iso>',
    help: 'timestamp of the first tick, ISO-8601 (default: so that the last tick is now)',
    expected: 'an ISO-8601 date-time such as 2026-01-01T00:00:00Z',
    schema: z.iso.datetime({ offset: true }).or(z.iso.date()),
  }),
  format: setting({
    flags: '--format <format>',
    default: 'store',
    help: 'store (into the chosen store) or jsonl (JSON Lines on stdout)',
    expected: 'store or jsonl',
    schema: z.enum(['store', 'jsonl']),
  }),
  // Price files (import, indicators).
  column: setting({
    flags: '--column <name>',
    help: 'price column (CSV header, any case) or field (JSON Lines); default: price, close or value',
    expected: 'a column name',
    schema: nonEmpty,
  }),
  inputFormat: setting({
    flags: '--format <format>',
    help: 'csv or jsonl (default: from the file extension, else from the first line)',
    expected: 'csv or jsonl',
    schema: z.enum(['csv', 'jsonl']),
  }),
  // Training (DESIGN §5-6).
  window: setting({
    flags: '--window <n>',
    env: 'BYNER_WINDOW',
    default: '60',
    help: 'ticks per input window',
    expected: 'an integer between 2 and 10,000',
    schema: int(2, 10_000),
  }),
  horizon: setting({
    flags: '--horizon <n>',
    env: 'BYNER_HORIZON',
    default: '5',
    help: 'values forecast after each window',
    expected: 'an integer between 1 and 1,000',
    schema: int(1, 1000),
  }),
  units: setting({
    flags: '--units <list>',
    env: 'BYNER_UNITS',
    default: '100,50',
    help: 'units of each stacked LSTM layer, comma-separated',
    expected: 'comma-separated integers between 1 and 4096, e.g. 100,50',
    schema: z
      .string()
      .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/)
      .transform((v) => v.split(',').map((x) => Number(x.trim())))
      .pipe(z.array(z.number().int().min(1).max(4096)).min(1).max(8)),
  }),
  activation: setting({
    flags: '--activation <name>',
    env: 'BYNER_ACTIVATION',
    default: 'relu',
    help: 'LSTM cell activation: relu or tanh (the recurrent activation is always sigmoid)',
    expected: 'relu or tanh',
    schema: z.enum(['relu', 'tanh']),
  }),
  dropout: setting({
    flags: '--dropout <rate>',
    env: 'BYNER_DROPOUT',
    default: '0.2',
    help: 'dropout rate after each LSTM layer',
    expected: 'a number in [0, 0.95]',
    schema: num(0, 0.95),
  }),
  epochs: setting({
    flags: '--epochs <n>',
    env: 'BYNER_EPOCHS',
    default: '50',
    help: 'maximum training epochs',
    expected: 'an integer between 1 and 10,000',
    schema: int(1, 10_000),
  }),
  batchSize: setting({
    flags: '--batch-size <n>',
    env: 'BYNER_BATCH_SIZE',
    default: '32',
    help: 'windows per training batch',
    expected: 'an integer between 1 and 65,536',
    schema: int(1, 65_536),
  }),
  patience: setting({
    flags: '--patience <n>',
    env: 'BYNER_PATIENCE',
    default: '5',
    help: 'epochs without validation improvement before early stopping (best weights are restored)',
    expected: 'an integer between 1 and 10,000',
    schema: int(1, 10_000),
  }),
  learningRate: setting({
    flags: '--learning-rate <lr>',
    env: 'BYNER_LEARNING_RATE',
    default: '0.001',
    help: 'Adam learning rate',
    expected: 'a number in (0, 1]',
    schema: num(Number.MIN_VALUE, 1),
  }),
  split: setting({
    flags: '--split <train,val,test>',
    env: 'BYNER_SPLIT',
    default: '0.7,0.1,0.2',
    help: 'chronological split of the windows: train, validation, test fractions (sum 1)',
    expected: 'three comma-separated fractions summing to 1, e.g. 0.7,0.1,0.2',
    schema: z
      .string()
      .transform((v) => v.split(',').map((x) => Number(x.trim())))
      .pipe(
        z
          .array(z.number().min(0).max(1))
          .length(3)
          .refine((a) => a[0] > 0 && a[2] > 0 && Math.abs(a[0] + a[1] + a[2] - 1) < 1e-9),
      ),
  }),
  season: setting({
    flags: '--season <n>',
    env: 'BYNER_SEASON',
    default: '10',
    help:
      'season of the seasonal-naive baseline, in ticks (at most the window: --window when fitting, the serving ' +
      "model's window when forecasting)",
    expected: 'an integer between 1 and the window',
    schema: int(1, 10_000),
  }),
  workers: setting({
    flags: '--workers <n>',
    env: 'BYNER_WORKERS',
    help: 'threads per training batch (default: min(2, cores))',
    expected: 'an integer between 1 and 64',
    schema: int(1, 64),
  }),
  trainModel: setting({
    flags: '--model <kind>',
    env: 'BYNER_TRAIN_MODEL',
    default: 'lstm',
    help:
      `what to fit and register: ${FITTED_KINDS.join(' or ')} (serves if it beats the seasonal-naive baseline on ` +
      'validation), or all (every kind of the ladder on the same split; the best on validation serves, on a tie ' +
      'within 1% the simpler)',
    expected: `one of ${TRAIN_CHOICES.join(', ')}`,
    schema: z
      .string()
      .trim()
      .refine((v) => (TRAIN_CHOICES as readonly string[]).includes(v))
      .transform((v) => v as TrainChoice),
  }),
  trainStreams: setting({
    flags: '--streams <names>',
    env: 'BYNER_TRAIN_STREAMS',
    help:
      'fit one global model on several stored streams (instead of --stream): each scaled by its own scaler, the ' +
      "model registered for each, serving each where it beats that stream's seasonal-naive baseline; with --queue, " +
      'one job that fits it',
    expected:
      'two or more stream names (letters, digits, dot, dash or underscore, 1-64), comma-separated, each once',
    schema: list(STREAM_NAME).refine((names) => names.length >= 2 && new Set(names).size === names.length),
  }),
  // Backtests (walk-forward evaluation of model kinds).
  models: setting({
    flags: '--models <list>',
    env: 'BYNER_MODELS',
    default: KIND_NAMES.join(','),
    help:
      `models to evaluate, comma-separated: kinds fitted per stream (${KIND_NAMES.join(', ')}), and with --streams ` +
      `global models fitted on all of them (${FITTED_KINDS.map(globalName).join(', ')})`,
    expected: `comma-separated model names, each once, from: ${MODEL_NAMES.join(', ')}`,
    schema: list(/^[A-Za-z0-9_:]+$/).refine(
      (names) => names.every((n) => parseModelName(n) !== null) && new Set(names).size === names.length,
    ),
  }),
  backtestStreams: setting({
    flags: '--streams <names>',
    env: 'BYNER_BACKTEST_STREAMS',
    help:
      'backtest several stored streams side by side (instead of --stream): kinds fitted per stream, global:<kind> ' +
      'models fitted on all of them, the same folds in each',
    expected:
      'two or more stream names (letters, digits, dot, dash or underscore, 1-64), comma-separated, each once',
    schema: list(STREAM_NAME).refine((names) => names.length >= 2 && new Set(names).size === names.length),
  }),
  folds: setting({
    flags: '--folds <k>',
    env: 'BYNER_FOLDS',
    default: '5',
    help: 'number of walk-forward folds over the latest windows (--test-share of them)',
    expected: 'an integer between 1 and 1,000',
    schema: int(1, 1000),
  }),
  refit: setting({
    flags: '--refit <when>',
    env: 'BYNER_REFIT',
    default: 'every',
    help: 'every: fit each model anew before each fold on everything before it; once: one fit before the first fold',
    expected: 'every or once',
    schema: z.enum(['every', 'once']),
  }),
  testShare: setting({
    flags: '--test-share <x>',
    env: 'BYNER_TEST_SHARE',
    default: '0.2',
    help: 'share of all windows forecast over the folds (the latest ones)',
    expected: 'a number between 0 and 1, both excluded',
    schema: share(false),
  }),
  validationShare: setting({
    flags: '--validation-share <x>',
    env: 'BYNER_VALIDATION_SHARE',
    default: '0.125',
    help: "share of each fold's earlier windows held out at their end for early stopping and the choice of λ",
    expected: 'a number in [0, 1)',
    schema: share(true),
  }),
  outputDir: setting({
    flags: '--output-dir <dir>',
    env: 'BYNER_OUTPUT_DIR',
    default: './train_output',
    help: "folder for the plots (PNG); 'none' draws none",
    expected: "a folder path or 'none'",
    schema: z.string().trim().min(1),
  }),
  modelVersion: setting({
    flags: '--model-version <version>',
    env: 'BYNER_MODEL_VERSION',
    help: 'pin a registered model version, for every stream (default: the serving model)',
    expected: 'a version listed by `byner models`',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  }),
  // The Redis of a deployment: serve --bus, infer --bus, train --queue, worker.
  bus: setting({
    flags: '--bus <url>',
    env: 'BYNER_BUS',
    help:
      'Redis shared by the processes of a deployment; needs --mongo-uri. serve/infer: many processes share the ' +
      'streams (each stream produced by one serve process, forecast by one infer worker of a --group); ' +
      'train --queue and worker: the training queue',
    expected: BUS_URL_EXPECTED,
    schema: z.string().trim().refine(isBusUrl),
  }),
  runId: setting({
    flags: '--run-id <id>',
    env: 'BYNER_RUN_ID',
    help:
      'with --queue: the name of this run; enqueuing the same streams and options under the same run id finds the ' +
      'jobs already queued instead of adding new ones (default: the enqueue time)',
    expected: 'letters, digits, dot, dash or underscore (1-40)',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,40}$/),
  }),
  attempts: setting({
    flags: '--attempts <n>',
    env: 'BYNER_ATTEMPTS',
    default: '3',
    help:
      'with --queue: tries of a job that fails with an error that may pass (the store unreachable…) before it ' +
      'fails for good; a worker that dies mid-job is counted by --max-stalled instead',
    expected: 'an integer between 1 and 100',
    schema: int(1, 100),
  }),
  waitTimeout: setting({
    flags: '--wait-timeout <ms>',
    env: 'BYNER_WAIT_TIMEOUT',
    default: '86400000',
    help: 'with --queue --wait: give up waiting for the jobs after this long (they go on running)',
    expected: 'an integer between 1,000 and 2,592,000,000 (30 days)',
    schema: int(1000, 2_592_000_000),
  }),
  concurrency: setting({
    flags: '--concurrency <n>',
    env: 'BYNER_CONCURRENCY',
    default: '1',
    help: 'training jobs a worker runs at once (each trains on --workers threads)',
    expected: 'an integer between 1 and 64',
    schema: int(1, 64),
  }),
  lockMs: setting({
    flags: '--lock-ms <ms>',
    env: 'BYNER_LOCK_MS',
    default: '30000',
    help:
      "how long a worker's hold on a job lasts without renewal (renewed every half of it): a worker silent for " +
      'longer is taken for dead and its job is retried by another',
    expected: 'an integer between 500 and 3,600,000',
    schema: int(500, 3_600_000),
  }),
  stalledMs: setting({
    flags: '--stalled-ms <ms>',
    env: 'BYNER_STALLED_MS',
    default: '30000',
    help: 'how often a worker looks for jobs whose worker died (their hold expired) and puts them back on the queue',
    expected: 'an integer between 200 and 3,600,000',
    schema: int(200, 3_600_000),
  }),
  maxStalled: setting({
    flags: '--max-stalled <n>',
    env: 'BYNER_MAX_STALLED',
    default: '2',
    help: 'times a job whose worker died is put back on the queue before it fails for good',
    expected: 'an integer between 1 and 100',
    schema: int(1, 100),
  }),
  // Storage (DESIGN §4).
  dataDir: setting({
    flags: '--data-dir <dir>',
    env: 'BYNER_DATA_DIR',
    default: './data',
    help: 'folder of the embedded store (used when no MongoDB URI is given)',
    expected: 'a folder path',
    schema: nonEmpty,
  }),
  mongoUri: setting({
    flags: '--mongo-uri <uri>',
    env: 'MONGODB_URI',
    help: 'MongoDB connection string; when set, MongoDB is used instead of the embedded store',
    expected: 'a mongodb:// or mongodb+srv:// URI',
    schema: z
      .string()
      .trim()
      .regex(/^mongodb(\+srv)?:\/\/.+/),
  }),
  dbName: setting({
    flags: '--db-name <name>',
    env: 'BYNER_DB_NAME',
    default: 'byner_analyzer',
    help: 'MongoDB database name',
    expected: 'a MongoDB database name (letters, digits, _ and -, at most 63)',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/),
  }),
  maxBacklogMb: setting({
    flags: '--max-backlog-mb <n>',
    env: 'BYNER_MAX_BACKLOG_MB',
    default: '64',
    help:
      'most memory (MiB) held for documents not stored yet, by each write queue (the MongoDB write backlog, the ' +
      'inference writer); writers wait beyond it',
    expected: 'an integer between 1 and 65,536',
    schema: int(1, 65_536),
  }),
  durable: setting({
    flags: '--durable',
    help:
      'embedded store: sync every write to disk (SQLite synchronous=FULL), so stored data survives a power loss ' +
      '(default: survives the process being killed)',
    expected: 'no value (a switch)',
    schema: z.literal('true').transform(() => true),
  }),
  // Logging.
  logDir: setting({
    flags: '--log-dir <dir>',
    env: 'BYNER_LOG_DIR',
    default: './logs',
    help: "folder for JSON log files (<dir>/<timestamp>-<pid>.log); 'none' writes no file",
    expected: "a folder path or 'none'",
    schema: nonEmpty,
  }),
  logLevel: setting({
    flags: '--log-level <level>',
    env: 'BYNER_LOG_LEVEL',
    default: 'info',
    help: 'log level: error, warn, info or debug (--quiet = warn, --verbose = debug)',
    expected: 'one of error, warn, info, debug',
    schema: z.enum(['error', 'warn', 'info', 'debug']),
  }),
  // Live (serve, infer).
  host: setting({
    flags: '--host <host>',
    env: 'BYNER_HOST',
    default: '127.0.0.1',
    help: 'address the server listens on (0.0.0.0 for every interface)',
    expected: 'an IPv4/IPv6 address or a host name',
    schema: z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/),
  }),
  port: setting({
    flags: '--port <n>',
    env: 'PORT',
    default: '5000',
    help: 'TCP port of the server (0 picks a free one)',
    expected: 'an integer between 0 and 65535',
    schema: int(0, 65_535),
  }),
  interval: setting({
    flags: '--interval <ms>',
    env: 'BYNER_INTERVAL',
    default: '1000',
    help: 'milliseconds between live ticks; 0 = as fast as the client reads',
    expected: 'an integer between 0 and 3,600,000',
    schema: int(0, 3_600_000),
  }),
  heartbeat: setting({
    flags: '--heartbeat <ms>',
    env: 'BYNER_HEARTBEAT',
    default: '15000',
    help: 'milliseconds between SSE comment heartbeats',
    expected: 'an integer between 100 and 3,600,000',
    schema: int(100, 3_600_000),
  }),
  maxClients: setting({
    flags: '--max-clients <n>',
    env: 'BYNER_MAX_CLIENTS',
    default: '1000',
    help: 'event streams served at once; one more gets a 503 with Retry-After (REST reads are not counted)',
    expected: 'an integer between 1 and 100,000',
    schema: int(1, 100_000),
  }),
  clientBuffer: setting({
    flags: '--client-buffer <bytes>',
    env: 'BYNER_CLIENT_BUFFER',
    default: '262144',
    help: 'bytes held in memory for one event stream (its socket queue and replay page); a client needing more is disconnected',
    expected: 'an integer between 65,536 and 1,073,741,824',
    schema: int(65_536, 1_073_741_824),
  }),
  connectionTimeout: setting({
    flags: '--connection-timeout <ms>',
    env: 'BYNER_CONNECTION_TIMEOUT',
    default: '60000',
    help: 'close a connection with no traffic either way for this long, e.g. a stream whose client stopped reading (above --heartbeat)',
    expected: 'an integer between 1,000 and 3,600,000',
    schema: int(1000, 3_600_000),
  }),
  headerTimeout: setting({
    flags: '--header-timeout <ms>',
    env: 'BYNER_HEADER_TIMEOUT',
    default: '10000',
    help: 'a connection must have sent its request headers this long after it opened (then 408 and closed)',
    expected: 'an integer between 100 and 600,000',
    schema: int(100, 600_000),
  }),
  allowedHost: setting({
    flags: '--allowed-host <names>',
    env: 'BYNER_ALLOWED_HOSTS',
    help: 'more Host names the server answers besides 127.0.0.1, localhost, [::1] and its listen address (repeatable or comma list)',
    expected: 'host names or IP addresses without a port, comma-separated, e.g. dash.example,192.168.1.5',
    repeatable: true,
    schema: list(/^([A-Za-z0-9_-][A-Za-z0-9_.-]{0,252}|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$/),
  }),
  corsOrigin: setting({
    flags: '--cors-origin <origins>',
    env: 'BYNER_CORS_ORIGINS',
    help: 'origins of other sites whose pages may call the API and the stream (CORS; repeatable or comma list)',
    expected:
      'origins such as http://localhost:3000 or https://app.example.com (scheme, host, port; no path, no *)',
    repeatable: true,
    schema: list(/^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?\/?$/),
  }),
  metricsPort: setting({
    flags: '--metrics-port <n>',
    env: 'BYNER_METRICS_PORT',
    help: 'serve GET /metrics (Prometheus) and GET /healthz on this port (0 picks a free one); default: none',
    expected: 'an integer between 0 and 65535',
    schema: int(0, 65_535),
  }),
  metricsHost: setting({
    flags: '--metrics-host <host>',
    env: 'BYNER_METRICS_HOST',
    default: '127.0.0.1',
    help: 'address the --metrics-port endpoint listens on (0.0.0.0 for every interface)',
    expected: 'an IPv4/IPv6 address or a host name',
    schema: z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/),
  }),
  url: setting({
    flags: '--url <url>',
    env: 'BYNER_URL',
    default: 'http://127.0.0.1:5000/realtime_data',
    help: 'URL of the SSE tick stream',
    expected: 'an http:// or https:// URL',
    schema: z
      .string()
      .trim()
      .regex(/^https?:\/\/\S+$/),
  }),
  streams: setting({
    flags: '--streams <names>',
    env: 'BYNER_STREAMS',
    help: 'forecast several streams of the server at once (one connection each), comma-separated',
    expected: 'stream names (letters, digits, dot, dash or underscore, 1-64), comma-separated, each once',
    schema: list(STREAM_NAME).refine((names) => new Set(names).size === names.length),
  }),
  model: setting({
    flags: '--model <name>',
    env: 'BYNER_MODEL',
    default: 'latest',
    help: `latest (each stream's serving model, followed while running; the seasonal-naive baseline where none serves), or a baseline: ${BASELINE_KINDS.join(', ')} (--season)`,
    expected: `one of latest, ${BASELINE_KINDS.join(', ')}`,
    schema: z.enum(['latest', ...BASELINE_KINDS]),
  }),
  // Scale-out (serve --bus, infer --bus): many processes sharing the streams over Redis.
  leaseMs: setting({
    flags: '--lease-ms <ms>',
    env: 'BYNER_LEASE_MS',
    default: '5000',
    help: "with --bus: a dead process's streams are taken over and go on within about this long (the lease keys live a third of it)",
    expected: 'an integer between 1,500 and 600,000',
    schema: int(1500, 600_000),
  }),
  group: setting({
    flags: '--group <name>',
    env: 'BYNER_GROUP',
    default: 'default',
    help: 'with --bus: the infer workers of one group share the streams (each forecast by one of them at a time)',
    expected: 'letters, digits, dot, dash or underscore (1-64)',
    schema: z.string().regex(STREAM_NAME),
  }),
  driftWindows: setting({
    flags: '--drift-windows <n>',
    env: 'BYNER_DRIFT_WINDOWS',
    default: '3',
    help:
      "a stream's model drifts when its forecasts are worse than the seasonal-naive baseline's (MSE over all " +
      'horizons) in this many consecutive windows of 100 forecasts: logged once, in inf_metrics, on the dashboard',
    expected: 'an integer between 1 and 1,000',
    schema: int(1, 1000),
  }),
  fallback: setting({
    flags: '--fallback',
    help:
      "while a stream's model drifts, forecast the stream with the better baseline (naive or seasonal naive, by " +
      'the last window); the model is still scored and takes over again once it is no worse',
    expected: 'no value (a switch)',
    schema: z.literal('true').transform(() => true),
  }),
  idleTimeout: setting({
    flags: '--idle-timeout <ms>',
    env: 'BYNER_IDLE_TIMEOUT',
    default: '45000',
    help: 'reconnect when nothing, not even a heartbeat, arrives for this long',
    expected: 'an integer between 100 and 3,600,000',
    schema: int(100, 3_600_000),
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValue<K extends SettingName> = z.infer<(typeof SETTINGS)[K]['schema']>;
