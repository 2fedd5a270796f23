// Helpers of the live suites (test/live-*.test.ts): a raw SSE reader over node:http that keeps the exact body
// bytes, and temp dirs. Parsing for assertions uses eventsource-parser, like the real client.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { PricePoint, PriceSource } from '../src/sources/types.js';
import { childEnv, ROOT } from './helpers/cli.js';

export interface SseRead {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body exactly as received (de-chunked). */
  raw: string;
  events: EventSourceMessage[];
  /** True when the server ended the body cleanly (not aborted). */
  ended: boolean;
}

/**
 * GETs `url` and reads until `until(events)` holds (then aborts), the server ends the body, or `timeoutMs` passes.
 */
export function readSse(
  url: string,
  options: {
    lastEventId?: string;
    until?: (events: EventSourceMessage[], raw: string) => boolean;
    timeoutMs?: number;
  } = {},
): Promise<SseRead> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const req = request(url, { headers, agent: false });
    const out: SseRead = { status: 0, headers: {}, raw: '', events: [], ended: false };
    const parser = createParser({ onEvent: (e) => out.events.push(e) });
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(out);
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 10_000);
    req.on('response', (res) => {
      out.status = res.statusCode ?? 0;
      out.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        out.raw += chunk;
        if (out.status === 200) parser.feed(chunk);
        if (options.until?.(out.events, out.raw)) finish();
      });
      res.on('end', () => {
        out.ended = true;
        finish();
      });
      res.on('error', () => finish());
    });
    req.on('error', (e) => (settled ? undefined : reject(e)));
    req.end();
  });
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until it holds; fails naming `what` after `ms`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  ms = 20_000,
  what = 'a condition',
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** An event stream held open until `close()`: its status once the response head arrived. */
export interface HeldStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: () => string;
  close: () => void;
}

/** Opens `url` as an event stream and resolves once the response head arrived; reads (and keeps) the body. */
export function openStream(url: string, headers: Record<string, string> = {}): Promise<HeldStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
    let body = '';
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no response from ${url} within 10 s`));
    }, 10_000);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: () => body,
        close: () => req.destroy(),
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}

/** Polls `cond` every 10 ms until it holds; fails with `what` after `ms`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A `byner infer` child process: what it has printed and logged so far. */
export interface InferChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  exited: Promise<number | null>;
  /** `until(cond, ms, what)`, failing with what the child has logged. */
  until: (cond: () => boolean, ms: number, what: string) => Promise<void>;
}

/** Starts `byner infer <args>` (src/cli/main.ts through tsx) with `env` added to the child's environment. */
export function spawnInfer(args: string[], env: NodeJS.ProcessEnv = {}): InferChild {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'infer', ...args],
    {
      cwd: ROOT,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitUntil = (cond: () => boolean, ms: number, what: string) =>
    until(cond, ms, what).catch((e: Error) => {
      throw new Error(`${e.message}; byner infer logged:\n${err}`);
    });
  return { child, stdout: () => out, stderr: () => err, exited, until: waitUntil };
}

/** A `byner serve` child process; `stderr()` is what it has logged so far. */
export interface ServeChild {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  exited: Promise<number | null>;
}

/**
 * Starts `byner serve <args>`, by default src/cli/main.ts through tsx (`options.main`: another entry, e.g. an
 * installed package's dist/cli/main.js); resolves once it listens. With `options.stdin`, the child's stdin is a
 * pipe (`child.stdin`: a feed stream reads it).
 */
/** Starts `byner <args>` (src/cli/main.ts through tsx, or `options.main`) and collects what it logs. */
export function spawnByner(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { stdin?: boolean; main?: string } = {},
): ServeChild {
  const main = options.main ?? join(ROOT, 'src', 'cli', 'main.ts');
  const node = main.endsWith('.ts') ? ['--import', 'tsx', main] : [main];
  const child = spawn(process.execPath, [...node, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

export function spawnServe(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { stdin?: boolean; main?: string } = {},
): Promise<ServeChild> {
  const started = spawnByner(['serve', ...args], env, options);
  const { child, exited } = started;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`byner serve did not listen within 60 s: ${started.stderr()}`));
    }, 60_000);
    child.stdout?.on('data', (d) => {
      if (String(d).includes('streaming on')) {
        clearTimeout(timer);
        resolve(started);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`byner serve exited with ${code}: ${started.stderr()}`));
    });
  });
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (Host included); an event stream is closed once its head arrived. */
export function ask(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      if (res.headers['content-type']?.startsWith('text/event-stream')) {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        req.destroy();
        return;
      }
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.end();
  });
}

/**
 * A price source of `n` prices (`price(i)`) that starts only when released, so that every client can connect
 * first, then ends. Not on demand: it makes its prices whether or not anyone reads.
 */
export class GatedSource implements PriceSource {
  readonly kind = 'gated';
  readonly onDemand = false;
  readonly stats = { points: 0, malformed: 0, reconnects: 0 };
  private open: () => void = () => {};
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  constructor(
    private readonly n: number,
    private readonly price: (i: number) => number = (i) => (i % 7) - 3,
  ) {}
  release(): void {
    this.open();
  }
  async *points(_from: unknown, signal: AbortSignal): AsyncIterable<PricePoint> {
    await Promise.race([this.gate, new Promise((resolve) => signal.addEventListener('abort', resolve))]);
    for (let i = 0; i < this.n && !signal.aborted; i++) {
      this.stats.points += 1;
      yield { price: this.price(i) };
    }
  }
}
