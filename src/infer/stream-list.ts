// Which streams `byner infer --all-streams` forecasts: the server's list (`GET /api/streams`), re-read now and
// then so that new streams are picked up. Reading each stream's ticks is the input's job.
import { BynerError } from '../errors.js';
import { STREAM_NAME } from '../ticks/types.js';

/** Names of the streams to forecast. */
export interface StreamList {
  names(): Promise<string[]>;
}

/** The streams the server at `url` (any URL of it, e.g. its /realtime_data) serves, from `GET /api/streams`. */
export function serverStreams(url: string, timeoutMs = 5000): StreamList {
  const api = new URL('/api/streams', url).toString();
  return {
    async names() {
      let body: unknown;
      try {
        const res = await fetch(api, { signal: AbortSignal.timeout(timeoutMs) });
        if (res.status !== 200) throw new Error(`HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
        body = await res.json();
      } catch (cause) {
        throw new BynerError('BYNER_STREAM', `cannot list the streams at ${api}`, {
          expected: 'HTTP 200 with {"streams": [{"name": …}, …]} (a byner serve of many streams)',
          received: cause instanceof Error ? cause.message : String(cause),
          hint: 'check --url, or name the streams with --streams a,b,c',
          cause,
        });
      }
      const streams = (body as { streams?: unknown })?.streams;
      const names = Array.isArray(streams)
        ? streams.map((s) => (s as { name?: unknown })?.name).filter((n) => typeof n === 'string')
        : [];
      const valid = names.filter((n) => STREAM_NAME.test(n));
      if (!Array.isArray(streams) || valid.length !== streams.length) {
        throw new BynerError('BYNER_STREAM', `${api} answered something other than a list of streams`, {
          expected: '{"streams": [{"name": "<letters, digits, . _ ->", …}, …]}',
          received: JSON.stringify(body).slice(0, 200),
        });
      }
      return valid;
    },
  };
}
