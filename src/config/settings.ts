// Every setting byner reads: its flag, environment variable, default and validation, in one table.
// Precedence is flag, then environment, then default; `resolveSettings` validates them all at once and reports
// one line per bad value. Which command uses which setting is decided in src/cli.
import { z } from 'zod';

export interface Setting<T> {
  /** Commander flag syntax, e.g. '--ticks <n>'. Boolean switches have no <value>. */
  flags: string;
  env?: string;
  /** Default as the user would type it (so help text shows it), or undefined for "not set". */
  default?: string;
  help: string;
  /** What a valid value looks like, for error messages. */
  expected: string;
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

export const SETTINGS = {
  // Synthetic source (SPEC §2).
  seed: setting({
    flags: '--seed <n>',
    env: 'BYNER_SEED',
    default: '42',
    help: 'seed of the synthetic source; the same seed gives the same prices, bit for bit',
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
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
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
    default: 'jsonl',
    help: 'output: jsonl (JSON Lines on stdout)',
    expected: 'jsonl',
    schema: z.enum(['jsonl']),
  }),
  // Storage (SPEC §4).
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
  // Logging.
  logDir: setting({
    flags: '--log-dir <dir>',
    env: 'BYNER_LOG_DIR',
    default: './logs',
    help: "folder for JSON log files (logs/<timestamp>.log); 'none' writes no file",
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
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValue<K extends SettingName> = z.infer<(typeof SETTINGS)[K]['schema']>;
