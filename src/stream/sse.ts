// The one SSE frame encoder (WHATWG "server-sent events" wire format): every byte the server sends on an event
// stream comes from `sseFrame`. Writing frames to sockets, pacing and backpressure are hub.ts's job.
import { BynerError, describe } from '../errors.js';

export interface SseFrame {
  /** `id:` field; must not contain CR, LF or NUL (a browser would drop or split it). */
  id?: string | number;
  /** `event:` field; must not contain CR or LF. */
  event?: string;
  /** `data:` payload; split on CR LF, CR and LF into one `data:` line each. */
  data?: string;
  /** `retry:` reconnection hint in milliseconds (an integer ≥ 0). */
  retry?: number;
  /** A comment line (`: text`), e.g. a heartbeat; CR/LF split it into several comment lines. */
  comment?: string;
}

const NEWLINE = /\r\n|\r|\n/;
const FORBIDDEN_IN_FIELD = /[\r\n\0]/;

function checkField(name: 'id' | 'event', value: string): void {
  if (FORBIDDEN_IN_FIELD.test(value)) {
    throw new BynerError('BYNER_STREAM', `SSE ${name} must be a single line`, {
      expected: `an ${name} without CR, LF or NUL`,
      received: describe(value),
      hint: 'a line break would end the field and inject whatever follows as another field',
    });
  }
}

/**
 * Encodes one frame: `: comment`, `retry:`, `event:`, `id:`, then one `data:` line per data line, each line
 * ended by LF and the frame by an empty line. Throws BYNER_STREAM for a multi-line id or event, or a bad retry.
 * A frame with nothing but a comment is a heartbeat: clients ignore it but it proves the connection lives.
 */
export function sseFrame(frame: SseFrame): string {
  let out = '';
  if (frame.comment !== undefined) {
    for (const line of frame.comment.split(NEWLINE)) out += `: ${line}\n`;
  }
  if (frame.retry !== undefined) {
    if (!Number.isSafeInteger(frame.retry) || frame.retry < 0) {
      throw new BynerError('BYNER_STREAM', 'SSE retry must be a whole number of milliseconds', {
        expected: 'an integer >= 0',
        received: describe(frame.retry),
      });
    }
    out += `retry: ${frame.retry}\n`;
  }
  if (frame.event !== undefined) {
    checkField('event', frame.event);
    out += `event: ${frame.event}\n`;
  }
  if (frame.id !== undefined) {
    const id = String(frame.id);
    checkField('id', id);
    out += `id: ${id}\n`;
  }
  if (frame.data !== undefined) {
    for (const line of frame.data.split(NEWLINE)) out += `data: ${line}\n`;
  }
  if (out === '') {
    throw new BynerError('BYNER_STREAM', 'empty SSE frame', {
      expected: 'at least one of comment, retry, event, id, data',
      received: 'none',
    });
  }
  return `${out}\n`;
}
