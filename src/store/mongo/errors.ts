// Classifies MongoDB driver errors (connection lost vs. duplicate key vs. the rest) and hides passwords in
// URIs. Deciding what to do about each class is the adapter's and the write queue's job.

import {
  MongoBulkWriteError,
  MongoError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
} from 'mongodb';

/** Server codes meaning "not now, try again": shutdown in progress, not primary, host unreachable. */
const TRANSIENT_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/** Socket errors of a connection the server (or the network) dropped; the driver sometimes passes them bare. */
const SOCKET_CODES = new Set([
  'EPIPE',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Connection-level failures worth retrying: network errors, no server selectable, server shutting down. */
export function isTransient(error: unknown, depth = 0): boolean {
  if (depth > 3 || !(error instanceof Error)) return false;
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
  if (
    error instanceof MongoError &&
    (error.hasErrorLabel('ResetPool') || error.hasErrorLabel('NetworkError'))
  ) {
    return true;
  }
  if (
    error instanceof MongoServerError &&
    typeof error.code === 'number' &&
    TRANSIENT_CODES.has(error.code)
  ) {
    return !(error instanceof MongoBulkWriteError && [error.writeErrors].flat().length > 0);
  }
  // insertMany wraps a network error in a MongoBulkWriteError whose errorResponse is the original error.
  const inner = (error as { errorResponse?: unknown }).errorResponse ?? error.cause;
  return inner !== error && isTransient(inner, depth + 1);
}

export const DUPLICATE_KEY = 11000;

/**
 * For an unordered insertMany error with per-document errors: which documents were already stored (duplicate
 * key) and which the server refused for good (any other per-document error); every other document was stored.
 */
export function bulkOutcome(error: unknown) {
  if (!(error instanceof MongoBulkWriteError)) return undefined;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  if (writeErrors.length === 0) return undefined;
  const duplicates: number[] = [];
  const refused: { index: number; reason: string }[] = [];
  for (const w of writeErrors) {
    if (w.code === DUPLICATE_KEY) duplicates.push(w.index);
    else refused.push({ index: w.index, reason: `${w.errmsg ?? 'refused'} (code ${w.code})` });
  }
  return { duplicates, refused };
}

/** `mongodb://user:secret@host/db` → `mongodb://user:***@host/db`; also hides `password=` query values. */
export function redactUri(uri: string): string {
  return uri
    .replace(/^(mongodb(?:\+srv)?:\/\/)([^@/]*?):([^@/]*)@/i, '$1$2:***@')
    .replace(/([?&](?:password|authMechanismProperties)=)[^&]*/gi, '$1***');
}
