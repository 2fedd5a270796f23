// Runs the real `byner` CLI (src/cli/main.ts through tsx, or the built dist/cli/main.js) as a child process, for
// end-to-end tests.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

/**
 * The built CLI (dist/cli/main.js: a child starts in a fraction of tsx's time), after checking that no source file
 * is newer than its compiled file; otherwise throws, naming the files and saying to run `npm run build`.
 */
export function builtCli(): string {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) {
        if (rel !== join('src', 'dashboard', 'web')) walk(rel); // the page is bundled, not compiled to dist/
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        const out = join(ROOT, 'dist', `${rel.slice('src/'.length, -'.ts'.length)}.js`);
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  walk('src');
  if (stale.length > 0) {
    throw new Error(
      `dist/ is older than ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ` and ${stale.length - 3} more` : ''}: ` +
        'this test runs the built CLI; run `npm run build` first',
    );
  }
  return join(ROOT, 'dist', 'cli', 'main.js');
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment for a child `byner`: this process's, without MONGODB_URI and BYNER_* settings (CI exports
 * MONGODB_URI for the MongoDB suites; a child uses a store only when the test says so), plus `extra`.
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (k !== 'MONGODB_URI' && !k.startsWith('BYNER_')) env[k] = v;
  return { ...env, BYNER_LOG_DIR: 'none', ...extra };
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs `byner <args>` (src/cli/main.ts through tsx) with a fresh data folder unless `env` names one. */
export function byner(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    ...opts,
    cwd: opts.cwd ?? ROOT,
    // A fresh data folder per run unless the test names one: nothing lands in the work tree.
    env: childEnv({ BYNER_DATA_DIR: mkdtempSync(join(tmpdir(), 'byner-data-')), ...opts.env }),
  });
}

/**
 * Runs `command args` to its end and resolves with its exit code and output. A command that has not exited after
 * `timeoutMs` (default 120 s) is killed and fails the test instead of hanging the suite.
 */
export function runProcess(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
