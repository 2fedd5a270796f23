// Runs the built `byner` CLI (dist/cli/main.js) as a long-lived child process — a server, an inference run — for
// end-to-end tests and benchmarks: start it and wait for a line of its stdout, stop it with a deadline.
import { type ChildProcess, spawn } from 'node:child_process';
import { builtCli, childEnv, ROOT } from './cli.js';

export interface Child {
  process: ChildProcess;
  pid: number;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal that ended it). */
  exited: Promise<number | NodeJS.Signals>;
}

/**
 * Spawns `node dist/cli/main.js ...args` (the built CLI: `npm run build` first) from the project root, stdout and
 * stderr piped as UTF-8 text, stdin a pipe with `stdin`. Logs: warnings and errors on stderr unless `env` sets
 * BYNER_LOG_LEVEL. What is read from the pipes, and when it has started, is the caller's.
 */
export function spawnByner(args: string[], env: NodeJS.ProcessEnv = {}, stdin = false): ChildProcess {
  const child = spawn(process.execPath, [builtCli(), ...args], {
    cwd: ROOT,
    env: childEnv({ BYNER_LOG_LEVEL: 'warn', ...env }),
    stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  return child;
}

/**
 * Starts `node dist/cli/main.js ...args` (the built CLI: `npm run build` first) and resolves once its stdout has
 * matched `ready` (within `timeoutMs`; at once without `ready`); rejects, with its stderr, if it exits or times
 * out first. Logs: warnings and errors on stderr (BYNER_LOG_LEVEL in `env` to change), no log file. With `stdin`, the
 * child's stdin is a pipe (`process.stdin`: a feed stream reads it).
 */
export async function startByner(
  args: string[],
  ready: RegExp | null,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; stdin?: boolean } = {},
): Promise<Child & { match: RegExpExecArray | null }> {
  const child = spawnByner(args, opts.env, opts.stdin === true);
  let err = '';
  child.stderr?.on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal as NodeJS.Signals))),
  );
  const c: Child = { process: child, pid: child.pid as number, stderr: () => err, exited };
  if (ready === null) {
    child.stdout?.resume();
    return { ...c, match: null };
  }
  let out = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`byner ${args[0]} did not print ${ready} within ${opts.timeoutMs ?? 30_000} ms\n${err}`),
      );
    }, opts.timeoutMs ?? 30_000);
    child.stdout?.on('data', (d: string) => {
      if (out.length < 100_000) out += d;
      const m = ready.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`byner ${args[0]} exited (${code}) before printing ${ready}\n${err}`));
    });
  });
  child.stdout?.resume(); // keep draining (a full pipe would block the child)
  return { ...c, match };
}

/** SIGTERM, then SIGKILL after `ms`; resolves with how it ended. */
export async function stopChild(c: Child, ms = 15_000): Promise<number | NodeJS.Signals> {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return c.exited;
  c.process.kill('SIGTERM');
  const timer = setTimeout(() => c.process.kill('SIGKILL'), ms);
  const end = await c.exited;
  clearTimeout(timer);
  return end;
}
