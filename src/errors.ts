// Typed errors with a stable code, shared by every layer. Library code throws these; only the CLI turns
// them into exit codes and messages (see src/cli/main.ts).

export type BynerErrorCode =
  | 'BYNER_CONFIG'
  | 'BYNER_INPUT'
  | 'BYNER_SHAPE'
  | 'BYNER_NOT_FINITE'
  | 'BYNER_STATE'
  | 'BYNER_STORE'
  | 'BYNER_STORE_UNREACHABLE'
  | 'BYNER_STORE_REJECTED'
  | 'BYNER_STORE_TIMEOUT'
  | 'BYNER_INVALID_DOCUMENT'
  | 'BYNER_MODEL'
  | 'BYNER_MODEL_FILE'
  | 'BYNER_NOT_FITTED'
  | 'BYNER_STREAM';

export interface BynerErrorDetails {
  /** What the code expected, in words a user understands (a shape, a range, a format). */
  expected?: string;
  /** What it received instead. */
  received?: string;
  /** How to fix it, when there is something the user can do. */
  hint?: string;
  cause?: unknown;
}

export class BynerError extends Error {
  readonly code: BynerErrorCode;
  readonly expected?: string;
  readonly received?: string;
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
