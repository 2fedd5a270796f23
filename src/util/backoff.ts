// Waiting with deadlines: an abortable sleep, a deadline on a promise, and the reconnect delay (exponential backoff
// with jitter) shared by every client that reconnects (the SSE client of `byner infer`, the HTTP feed source) and
// the forecaster set's registry polling. What to retry is theirs.

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `promise`, or a rejection naming `what` when it has not settled after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface Backoff {
  /** The first delay (or the server's retry hint, when it sent one). */
  initialMs: number;
  /** No delay is longer. */
  maxMs: number;
}

/**
 * The delay before the next attempt after `failures` attempts in a row that got nothing: the base doubled per
 * failure up to `maxMs`, then a random 50–100% of it (jitter: clients cut off together do not come back together).
 */
export function backoffDelay(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  const base = Math.max(backoff.initialMs, 1);
  const delay = Math.min(backoff.maxMs, base * 2 ** Math.min(Math.max(failures, 0), 20));
  return delay * (0.5 + random() / 2);
}

/** An HTTP status the server will keep answering the same way: retrying would not help. */
export const isFatalStatus = (status: number) =>
  status >= 400 && status < 500 && status !== 408 && status !== 429;
