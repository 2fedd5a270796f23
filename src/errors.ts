// Typed errors with a stable code, shared by every layer. Library code throws these; only the CLI turns
// them into exit codes and messages (see src/cli/main.ts).

/**
 * Every error code, with what it means. The codes are stable: match on `error.code`, never on the message. The
 * `byner` command exits with 2 for `BYNER_CONFIG` and `BYNER_INPUT` (bad flags, settings or input), 1 for the others.
 */
export const BYNER_ERROR_CODES = {
  BYNER_CONFIG: 'a setting, option or flag is invalid, or options that do not go together were combined',
  BYNER_INPUT:
    'input data is unusable: a malformed price file, ticks out of order, too little data for the task',
  BYNER_SHAPE: 'an array has the wrong shape or length (the message gives the expected and received shapes)',
  BYNER_NOT_FINITE: 'a NaN or ±Infinity where finite numbers are required (prices, windows, weights)',
  BYNER_STATE:
    'a call in the wrong state: a second fit while one runs, invalid saved state, a missing checkpoint',
  BYNER_STORE: 'the store failed an operation, or was used after close',
  BYNER_STORE_UNREACHABLE: 'the store cannot be opened or reached (MongoDB down, data folder not writable)',
  BYNER_STORE_REJECTED: 'the store refused some documents of a write for good; the others were stored',
  BYNER_STORE_TIMEOUT: 'a store read did not finish by its deadline',
  BYNER_INVALID_DOCUMENT: 'a document handed to the store fails validation (the whole write is refused)',
  BYNER_MODEL: 'a model cannot be used: not in the registry, an unsupported architecture, kernels not built',
  BYNER_MODEL_FILE: 'saved model files are missing, truncated, corrupted or inconsistent with their config',
  BYNER_NOT_FITTED: 'predict, save or forecaster was called on a model that was never fitted',
  BYNER_BUS_UNREACHABLE: 'the Redis of --bus cannot be reached at start (down, wrong address or password)',
  BYNER_STREAM:
    'the event stream is unusable: not an SSE response, refused by the server, invalid SSE fields',
  BYNER_BUS: 'the bus (Redis) failed an operation, or answered something unexpected',
} as const;

/** One of the stable codes of {@link BYNER_ERROR_CODES}. */
export type BynerErrorCode = keyof typeof BYNER_ERROR_CODES;

/** The optional parts of a BynerError besides its code and message. */
export interface BynerErrorDetails {
  /** What the code expected, in words a user understands (a shape, a range, a format). */
  expected?: string;
  /** What it received instead. */
  received?: string;
  /** How to fix it, when there is something the user can do. */
  hint?: string;
  /** The underlying error (Error `cause`). */
  cause?: unknown;
}

/**
 * The one error type byner's library code throws. `message` holds the summary, then `expected:`, `received:` and
 * `hint:` lines; the same parts are fields, and `code` says what went wrong (see {@link BYNER_ERROR_CODES}).
 */
export class BynerError extends Error {
  /** What went wrong, stable across versions: see {@link BYNER_ERROR_CODES}. */
  readonly code: BynerErrorCode;
  /** What was expected (a shape, a range, a format), when the error is about a value. */
  readonly expected?: string;
  /** What was received instead. */
  readonly received?: string;
  /** How to fix it, when there is something the user can do. */
  readonly hint?: string;

  constructor(code: BynerErrorCode, message: string, details: BynerErrorDetails = {}) {
    const parts = [message];
    if (details.expected !== undefined) parts.push(`expected: ${details.expected}`);
    if (details.received !== undefined) parts.push(`received: ${details.received}`);
    if (details.hint !== undefined) parts.push(`hint: ${details.hint}`);
    super(parts.join('\n  '), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'BynerError';
    this.code = code;
    this.expected = details.expected;
    this.received = details.received;
    this.hint = details.hint;
  }
}

/** True when `e` is a BynerError (with the given code, when one is given); narrows its type. */
export const isBynerError = (e: unknown, code?: BynerErrorCode): e is BynerError =>
  e instanceof BynerError && (code === undefined || e.code === code);

/** Short description of a value for "received:" lines: type and a clipped rendering. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  return typeof value;
}
