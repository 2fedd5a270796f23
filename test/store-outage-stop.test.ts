// Stopping during a store outage: kills FerretDB (SIGKILL) while `serve`'s producer and `infer`'s writer wait for the
// store, then checks that both stop within their stop deadline and say how many documents were not stored.
// Each test needs its own server to stop, so MONGODB_URI cannot stand in; skips loudly without a ferretdb binary.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { isBynerError } from '../src/errors.js';
import { SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { runInference } from '../src/infer/runner.js';
import { SyntheticSource } from '../src/sources/synthetic.js';
import { type MongoStore, openMongoStore } from '../src/store/mongo/mongo-store.js';
import { type RunningServer, startServer } from '../src/stream/server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { childEnv, ROOT } from './helpers/cli.js';
import { type FerretDB, findFerretDB, startFerretDB } from './helpers/ferretdb.js';
import { sleep, tempDir, until } from './live-helpers.js';

const found = findFerretDB();
const skip =
  'path' in found
    ? false
    : `stop-during-outage tests SKIPPED: they must stop their own server, so MONGODB_URI cannot stand in: ${found.reason}`;

const STOP_MS = 1000;
/** Slack over the stop deadline for a loaded machine; an unbounded stop never finishes. */
const SLACK_MS = 6000;
const HUNG: unique symbol = Symbol('hung');

/** `promise`'s outcome and how long it took, or HUNG when it has not settled by the deadline plus slack. */
async function timed<T>(
  promise: Promise<T>,
): Promise<{ ms: number; outcome: PromiseSettledResult<T> | typeof HUNG }> {
  const started = performance.now();
  const outcome = await Promise.race([
    promise.then(
      (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
      (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
    ),
    sleep(STOP_MS + SLACK_MS).then((): typeof HUNG => HUNG),
  ]);
  return { ms: performance.now() - started, outcome };
}

/** The CLI's stop deadline (SERVER_DEFAULTS.stopTimeoutMs, DRAIN_TIMEOUT_MS). */
const CLI_STOP_MS = 10_000;

/** `byner <args>` as a child process (through tsx), its output kept, and how it exited. */
function byner(args: string[], dataDir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
    cwd: ROOT,
    env: childEnv({ BYNER_DATA_DIR: dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exited };
}

/** SIGTERMs a CLI child and waits for its exit: its code and how long the stop took, or HUNG (then kills it). */
async function stopCli(
  cli: ReturnType<typeof byner>,
): Promise<{ ms: number; code: number | null | typeof HUNG }> {
  const started = performance.now();
  cli.child.kill('SIGTERM');
  const code = await Promise.race([cli.exited, sleep(CLI_STOP_MS + SLACK_MS).then((): typeof HUNG => HUNG)]);
  if (code === HUNG) cli.child.kill('SIGKILL');
  return { ms: performance.now() - started, code };
}

const openStore = (uri: string, dbName: string) =>
  openMongoStore({ uri, dbName, serverSelectionTimeoutMS: 500, backoff: { initialMs: 50, maxMs: 200 } });

describe('stopping during a mongodb outage', { skip }, () => {
  let ferret: FerretDB | undefined;
  let store: MongoStore | undefined;
  const servers: RunningServer[] = [];
  const dirs: (() => void)[] = [];
  // Each test's FerretDB comes back so that its store can store its backlog and close, then goes for good.
  afterEach(async () => {
    await ferret?.restart().catch(() => {});
    await store?.close({ timeoutMs: 10_000 }).catch(() => {});
    await ferret?.stop();
    store = undefined;
    ferret = undefined;
  });
  after(async () => {
    for (const s of servers) await s.close().catch(() => {});
    for (const remove of dirs) remove();
  });

  /** A server of one synthetic stream (a tick every 20 ms, readers or not) on an embedded store in `dataDir`. */
  const syntheticServer = async (dataDir: string) => {
    const running = await startServer({
      port: 0,
      storeOptions: { dataDir },
      streams: [{ name: 'synthetic', source: new SyntheticSource({ ...DEFAULT_SOURCE, intervalMs: 20 }) }],
      produceAlways: true,
    });
    servers.push(running);
    return running;
  };

  it('serve: close() finishes within its stop deadline and reports the ticks not confirmed stored', async () => {
    ferret = await startFerretDB();
    const s = await openStore(ferret.uri, 'byner_stop_serve');
    store = s;
    const running = await startServer({
      port: 0,
      store: s,
      streams: [{ name: 'synthetic', source: new SyntheticSource({ ...DEFAULT_SOURCE, intervalMs: 20 }) }],
      produceAlways: true,
      stopTimeoutMs: STOP_MS,
    });
    servers.push(running);
    await until(() => running.headSeq() >= 3, 20_000, 'ticks stored before the outage');
    await ferret.crash();
    await until(() => s.writeStats().pending > 0, 20_000, 'a batch of ticks waiting for the store');
    const { ms, outcome } = await timed(running.close());
    assert.notEqual(outcome, HUNG, `close() had not finished ${STOP_MS + SLACK_MS} ms into the outage`);
    assert.ok(
      outcome !== HUNG && outcome.status === 'fulfilled',
      `close() failed: ${JSON.stringify(outcome)}`,
    );
    assert.ok(ms < STOP_MS + SLACK_MS, `close() took ${ms.toFixed(0)} ms`);
    assert.ok(
      outcome.value.unconfirmedTicks >= 1,
      `reported ${outcome.value.unconfirmedTicks} unconfirmed ticks`,
    );
  });

  it('infer: stop() finishes within the writer stop deadline and fails with BYNER_STORE naming what was not stored', async () => {
    ferret = await startFerretDB();
    const dir = tempDir('byner-stop-infer-');
    dirs.push(dir.remove);
    // The server's ticks live in an embedded store: only inference's store goes down.
    const running = await syntheticServer(dir.path);
    const s = await openStore(ferret.uri, 'byner_stop_infer');
    store = s;
    const run = runInference({
      url: `${running.url}/realtime_data`,
      store: s,
      forecaster: new SeasonalNaiveForecaster(5, 10),
      writer: { flushDelayMs: 5, stopTimeoutMs: STOP_MS },
    });
    await until(() => run.stats.writes.ticks >= 3, 20_000, 'ticks stored before the outage');
    await ferret.crash();
    await until(() => s.writeStats().pending > 0, 20_000, 'inference documents waiting for the store');
    const { ms, outcome } = await timed(run.stop());
    assert.notEqual(outcome, HUNG, `stop() had not finished ${STOP_MS + SLACK_MS} ms into the outage`);
    assert.ok(outcome !== HUNG && outcome.status === 'rejected', 'stop() reports the documents not stored');
    const error = outcome.reason;
    assert.ok(isBynerError(error, 'BYNER_STORE'), String(error));
    assert.match(error.message, /[1-9]\d* tick\(s\).* not confirmed stored/);
    assert.ok(ms < STOP_MS + SLACK_MS, `stop() took ${ms.toFixed(0)} ms`);
  });

  it('infer: stop() stays bounded when the outage has filled both backlogs and the reader waits for space', async () => {
    ferret = await startFerretDB();
    const dir = tempDir('byner-stop-full-');
    dirs.push(dir.remove);
    const running = await syntheticServer(dir.path);
    const s = await openMongoStore({
      uri: ferret.uri,
      dbName: 'byner_stop_full',
      serverSelectionTimeoutMS: 500,
      backoff: { initialMs: 50, maxMs: 200 },
      maxBacklogBytes: 2 ** 15,
    });
    store = s;
    const maxPendingBytes = 2 ** 15;
    const run = runInference({
      url: `${running.url}/realtime_data`,
      store: s,
      forecaster: new SeasonalNaiveForecaster(5, 10),
      writer: { flushDelayMs: 5, stopTimeoutMs: STOP_MS, maxPendingBytes },
    });
    await until(() => run.stats.writes.ticks >= 3, 20_000, 'ticks stored before the outage');
    await ferret.crash();
    await until(
      () => run.stats.writes.pendingBytes > maxPendingBytes,
      30_000,
      'the writer full, its reader waiting for space',
    );
    const { ms, outcome } = await timed(run.stop());
    assert.notEqual(outcome, HUNG, `stop() had not finished ${STOP_MS + SLACK_MS} ms into the outage`);
    assert.ok(outcome !== HUNG && outcome.status === 'rejected', 'stop() reports the documents not stored');
    assert.match(String(outcome.reason), /[1-9]\d* tick\(s\).* not confirmed stored/);
    assert.ok(ms < STOP_MS + SLACK_MS, `stop() took ${ms.toFixed(0)} ms`);
  });

  /** The CLI cases: the arguments (a server to read from is started first for infer), and when it is under way. */
  const CLI_CASES: {
    command: string;
    what: string;
    start: (uri: string, dir: string) => Promise<string[]>;
    ready: (out: { stdout: string }) => boolean | Promise<boolean>;
    stderr: RegExp;
  }[] = [
    {
      command: 'serve',
      what: 'the ticks not stored',
      start: async (uri) => [
        'serve',
        '--port',
        '0',
        '--interval',
        '20',
        '--produce-always',
        '--mongo-uri',
        uri,
      ],
      ready: async (out) => {
        const url = /streaming on (\S+)\/realtime_data/.exec(out.stdout)?.[1];
        if (url === undefined) return false;
        const body = (await (await fetch(`${url}/api/streams`)).json()) as {
          streams: { head_seq: number }[];
        };
        return body.streams[0].head_seq >= 3;
      },
      stderr: /stopped with [1-9]\d* live tick\(s\) not confirmed stored/,
    },
    {
      command: 'infer',
      what: 'what was not stored',
      start: async (uri, dir) => {
        const running = await syntheticServer(join(dir, 'server'));
        return ['infer', '--url', `${running.url}/realtime_data`, '--model', 'naive', '--mongo-uri', uri];
      },
      ready: (out) => out.stdout.split('\nseq ').length > 5,
      stderr: /[1-9]\d* tick\(s\), \d+ forecast\(s\) and \d+ metrics document\(s\) not confirmed stored/,
    },
  ];
  for (const c of CLI_CASES) {
    it(`byner ${c.command}: SIGTERM during the outage exits 1 within the stop deadline, naming ${c.what}`, async () => {
      const db = await startFerretDB();
      ferret = db;
      const dir = tempDir(`byner-stop-${c.command}-cli-`);
      dirs.push(dir.remove);
      const cli = byner(await c.start(db.uri, dir.path), dir.path);
      try {
        await until(() => c.ready(cli.out), 30_000, `${c.command} under way before the outage`);
        await db.crash();
        await sleep(1000); // its next writes wait for the store
        const { ms, code } = await stopCli(cli);
        const waited = `${CLI_STOP_MS + SLACK_MS} ms after SIGTERM:\n${cli.out.stderr}`;
        assert.notEqual(code, HUNG, `${c.command} had not exited ${waited}`);
        assert.equal(code, 1, cli.out.stderr);
        assert.match(cli.out.stderr, c.stderr);
        assert.ok(ms < CLI_STOP_MS + SLACK_MS, `the stop took ${ms.toFixed(0)} ms`);
      } finally {
        cli.child.kill('SIGKILL');
      }
    });
  }
});
