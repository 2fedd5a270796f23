// Deadlines for store reads: a signal that aborts after a time (or with a caller's signal), a sleep and a run
// that give up when it aborts. Which deadline a read gets is its caller's choice (a REST route, the store).

import { BynerError } from '../errors.js';

export interface Deadline {
  signal: AbortSignal;
  /** Clears the timer and the link to the parent signal (call when the work is done). */
  dispose(): void;
}

/** A signal that aborts after `ms` with `reason()`, or as soon as `parent` aborts, with the parent's reason. */
export function deadline(ms: number, reason: () => unknown, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  const timer = controller.signal.aborted ? undefined : setTimeout(() => controller.abort(reason()), ms);
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (leaving no timer behind). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or a rejection with `signal`'s reason as soon as it aborts (the promise itself goes on). */
export async function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return promise;
  signal.throwIfAborted();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Runs a read with a signal that aborts after `ms` with BYNER_STORE_TIMEOUT ("<what> took longer than <ms> ms"):
 * the read is given up (a store read releases what it held) and this rejects at the deadline, even if the read
 * ignores its signal.
 */
export async function readWithin<T>(
  ms: number,
  what: string,
  read: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const d = deadline(
    ms,
    () =>
      new BynerError('BYNER_STORE_TIMEOUT', `${what} took longer than ${ms} ms`, {
        hint: 'the store is slow or unreachable, or writes are waiting to be stored; retry later',
      }),
  );
  try {
    return await untilAborted(read(d.signal), d.signal);
  } finally {
    d.dispose();
  }
}
