// Output helpers for commands: writing JSON Lines to stdout with backpressure, and a quiet exit when the
// reader goes away (`byner generate | head`).
import type { Writable } from 'node:stream';

/** Writes text or byte chunks, waiting for 'drain' when the stream is full. Resolves false if the reader closed. */
export async function writeChunks(out: Writable, chunks: Iterable<string | Uint8Array>): Promise<boolean> {
  let closed = false;
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
    else throw e;
  };
  out.on('error', onError);
  try {
    for (const chunk of chunks) {
      if (closed) return false;
      if (!out.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            out.off('drain', done);
            out.off('close', done);
            resolve();
          };
          out.on('drain', done);
          out.on('close', done);
        });
      }
    }
    return !closed;
  } finally {
    out.off('error', onError);
  }
}

/** Groups items into newline-terminated chunks of `size` lines. */
export function* jsonLines<T>(
  items: ArrayLike<T>,
  toJson: (x: T) => unknown,
  size = 2000,
): Generator<string> {
  for (let i = 0; i < items.length; i += size) {
    let s = '';
    const end = Math.min(items.length, i + size);
    for (let j = i; j < end; j++) s += `${JSON.stringify(toJson(items[j]))}\n`;
    yield s;
  }
}
