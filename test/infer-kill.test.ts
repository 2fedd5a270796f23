// kill -9 of `byner infer` (the built CLI) 20 times at random moments while `byner serve --interval 0` streams as
// fast as it reads, then a run to a clean stop: the embedded store must hold every tick once and in order, exactly
// one forecast per tick whose window was full, and pass `PRAGMA integrity_check`. The server is not killed here.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { mulberry32 } from '../src/engine/init.js';
import { builtCli, childEnv, ROOT } from './helpers/cli.js';
import { tempDir } from './live-helpers.js';

const ROUNDS = 20;
/** The baseline needs no training; its window is the runner's minimum of 60 ticks. */
const MODEL = 'seasonal_naive';
const SEASON = 10;
const WINDOW = 60;

interface Child {
  process: ChildProcess;
  /** Per-tick lines printed so far. */
  ticks: number;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(main: string, args: string[], dataDir: string): Child {
  const child = spawn(process.execPath, [main, ...args], {
    cwd: ROOT,
    env: childEnv({ BYNER_DATA_DIR: dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const c: Child = {
    process: child,
    ticks: 0,
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('seq ')) c.ticks += 1;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    c.stderr += d;
  });
  return c;
}

/** Waits for `cond`, polling; fails with `what` and the child's log after `ms`. */
async function until(cond: () => boolean, ms: number, what: string, child?: Child): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what}\n${child?.stderr ?? ''}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('kill -9 of byner infer during a fast stream', () => {
  let dir: ReturnType<typeof tempDir>;
  const children: Child[] = [];
  before(() => {
    dir = tempDir('byner-infer-kill-');
  });
  after(async () => {
    for (const c of children) c.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    dir.remove();
  });

  it(`${ROUNDS} kills, then a clean stop: every tick once and in order, one forecast each, the file intact`, async () => {
    const main = builtCli();
    const seed = Number(process.env.BYNER_KILL_SEED ?? Date.now() % 1_000_000);
    const random = mulberry32(seed);
    const serverDir = join(dir.path, 'server');
    const clientDir = join(dir.path, 'client');

    const generate = start(main, ['generate', '--ticks', '2000'], serverDir);
    children.push(generate);
    assert.deepEqual(await generate.exited, { code: 0, signal: null }, generate.stderr);
    const server = start(main, ['serve', '--port', '0', '--interval', '0'], serverDir);
    children.push(server);
    let url = '';
    server.process.stdout?.on('data', (d: string) => {
      url ||= /streaming on (\S+\/realtime_data)/.exec(String(d))?.[1] ?? '';
    });
    await until(() => url !== '', 30_000, 'byner serve to listen', server);

    const infer = () => {
      const c = start(main, ['infer', '--url', url, '--model', MODEL, '--season', String(SEASON)], clientDir);
      children.push(c);
      return c;
    };
    // Each run dies at a random moment: one in four during its start-up (opening the store, re-forecasting stored
    // ticks, connecting), the others while ticks stream, after a random time or a random number of ticks, whichever
    // comes first (the tick bound keeps the file small when the machine is fast).
    const killedAt: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const c = infer();
      const spawned = Date.now();
      const early = random() < 0.25;
      const ms = random() * 600;
      const ticks = early ? 1 : 1 + Math.floor(random() * 1000);
      let streaming = 0;
      await until(
        () => {
          if (streaming === 0 && c.ticks > 0) streaming = Date.now();
          const since = early ? spawned : streaming;
          return (since > 0 && Date.now() - since >= ms) || c.ticks >= ticks || c.process.exitCode !== null;
        },
        60_000,
        `run ${round} to reach its kill point`,
        c,
      );
      c.process.kill('SIGKILL');
      const end = await c.exited;
      assert.equal(end.signal, 'SIGKILL', `run ${round} ended by itself (${end.code}):\n${c.stderr}`);
      killedAt.push(c.ticks);
    }

    // A last run to a clean stop (SIGTERM: it writes what it holds).
    const last = infer();
    await until(() => last.ticks >= 200, 60_000, 'the last run to handle 200 ticks', last);
    last.process.kill('SIGTERM');
    assert.deepEqual(await last.exited, { code: 0, signal: null }, last.stderr);
    assert.match(last.stderr, /resuming after seq \d+/);
    server.process.kill('SIGTERM');
    await server.exited;

    const db = new Database(join(clientDir, 'byner.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const ticks = db
        .prepare("SELECT seq, price FROM inf_historical_db WHERE stream = 'synthetic' ORDER BY seq")
        .all() as { seq: number; price: number }[];
      const first = ticks[0].seq;
      const gaps = ticks.filter((t, i) => t.seq !== first + i);
      assert.deepEqual(gaps.slice(0, 5), [], `ticks from ${first} are not consecutive`);
      const forecasts = db
        .prepare(
          "SELECT seq, COUNT(*) AS n, MIN(forecast) AS forecast FROM inf_predictions WHERE stream = 'synthetic' " +
            'AND model_version = ? GROUP BY seq ORDER BY seq',
        )
        .all(MODEL) as { seq: number; n: number; forecast: string }[];
      // One forecast for each tick from the one that filled the first window.
      const expected = ticks.slice(WINDOW - 1).map((t) => t.seq);
      const got = forecasts.map((f) => f.seq);
      const have = new Set(got);
      const missing = expected.filter((s) => !have.has(s));
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} ticks without a forecast`);
      assert.deepEqual(got, expected);
      assert.ok(
        forecasts.every((f) => f.n === 1),
        'one forecast per tick',
      );
      // Each the baseline's forecast of its window: horizon h repeats the price of tick seq + h − season.
      const price = new Map(ticks.map((t) => [t.seq, t.price]));
      for (const f of forecasts) {
        const want = [1, 2, 3, 4, 5].map((h) => price.get(f.seq + h - SEASON));
        assert.deepEqual(JSON.parse(f.forecast), want, `forecast after seq ${f.seq}`);
      }
      const recovered = children.filter((c) => /re-forecast \d+ stored tick/.test(c.stderr)).length;
      console.error(
        `infer kill test (BYNER_KILL_SEED=${seed}): ${ROUNDS} kills after ${killedAt.join(', ')} printed ticks; ` +
          `${ticks.length} ticks (${first}..${ticks[ticks.length - 1].seq}), ${forecasts.length} forecasts; ` +
          `${recovered} run(s) re-forecast stored ticks`,
      );
    } finally {
      db.close();
    }
  });
});
