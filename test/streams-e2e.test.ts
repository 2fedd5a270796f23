// The whole many-streams path in real processes on one embedded store: `byner import` of the example weather series,
// `byner serve` with a synthetic stream, a replay of the imported series and a stdin-feed stream, SSE clients of each
// stream, `byner infer --all-streams` (a registered linear model serving the synthetic stream, the seasonal-naive
// baseline the others), kill -9 of infer and a restart. Checks what is stored: every tick of every stream once and
// in order, exactly one forecast per tick whose window was full (the forecaster's forecast of that window), and
// scored inf_metrics per stream. Runs the built CLI (`npm run build` first).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type Forecaster, SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { featureRow } from '../src/infer/window.js';
import { openStore } from '../src/store/index.js';
import { rowsFromBytes } from '../src/store/rows.js';
import { SQLITE_FILE } from '../src/store/sqlite/sqlite-store.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { INDICATOR_NAMES, type Tick } from '../src/ticks/types.js';
import { loadForecaster } from '../src/train/load.js';
import { builtCli, childEnv, ROOT, runProcess } from './helpers/cli.js';
import { freePort } from './helpers/ferretdb.js';
import { registerLinear } from './helpers/models.js';
import { type Child, startByner, stopChild } from './helpers/processes.js';
import { readSse, tempDir, waitFor } from './live-helpers.js';

const STREAMS = ['syn', 'weather-live', 'ext'] as const;
const WEATHER_CSV = join(ROOT, 'examples', 'series', 'seattle-weather-hourly-normals.csv');
const LINEAR = 'linear-syn-e2e';
const WINDOW = 60;
const T0 = Date.UTC(2026, 0, 1);

/** Forecasts stored per stream so far (a reader beside the two writers). */
function forecastCounts(db: Database.Database): Record<string, number> {
  const rows = db.prepare('SELECT stream, count(*) AS n FROM inf_predictions GROUP BY stream').all() as {
    stream: string;
    n: number;
  }[];
  return Object.fromEntries(STREAMS.map((s) => [s, rows.find((r) => r.stream === s)?.n ?? 0]));
}

interface TickRow {
  seq: number;
  timestamp: number;
  price: number;
  [indicator: string]: number | null;
}

const asTick = (stream: string, r: TickRow): Tick => ({
  seq: r.seq,
  stream,
  timestamp: new Date(r.timestamp),
  price: r.price,
  indicators: Object.fromEntries(INDICATOR_NAMES.map((n) => [n, r[n]])) as Tick['indicators'],
});

describe('many streams end to end: byner serve + byner infer --all-streams on one store', () => {
  let dir: ReturnType<typeof tempDir>;
  const children: Child[] = [];
  let feeding: NodeJS.Timeout | undefined;
  before(() => {
    dir = tempDir('byner-streams-e2e-');
  });
  after(async () => {
    clearInterval(feeding);
    for (const c of children) await stopChild(c, 5000);
    dir.remove();
  });

  it('forecasts every tick of a synthetic, a weather replay and a feed stream once, across a kill -9 of infer', async () => {
    const dataDir = dir.path;
    // The replay's source stream: the example series, imported as a user does.
    const imported = await runProcess(
      process.execPath,
      [builtCli(), 'import', WEATHER_CSV, '--stream', 'weather', '--column', 'temperature'],
      { env: childEnv({ BYNER_DATA_DIR: dataDir }) },
    );
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /stream "weather" holds 8759 ticks/);
    // A linear model that serves the synthetic stream.
    const store = await openStore({ dataDir });
    const history = syntheticTicks(
      { ...DEFAULT_SOURCE, seed: 77 },
      { start: 0, count: 600, stream: 'syn', origin: new Date(T0) },
    );
    await registerLinear(store, LINEAR, history);
    const linear = await loadForecaster(store, { version: LINEAR });
    await store.close();

    const port = await freePort();
    const serve = await startByner(
      [
        'serve',
        '--port',
        String(port),
        '--stream',
        'syn:synthetic,seed=3,interval=20',
        '--stream',
        'weather-live:replay,from=weather,interval=20',
        '--stream',
        'ext:feed',
      ],
      /streaming on (\S+\/realtime_data)/,
      { env: { BYNER_DATA_DIR: dataDir }, stdin: true, timeoutMs: 60_000 },
    );
    children.push(serve);
    const url = serve.match?.[1] as string;
    serve.process.stdin?.on('error', () => {}); // a write racing the server's exit
    // The feed: a price every 20 ms on serve's stdin, stored whether or not anyone reads (also while infer is down).
    let fed = 0;
    feeding = setInterval(() => {
      const price = Math.round(500 * Math.sin(fed / 9) + 100 * Math.sin(fed / 2)) / 100;
      fed += 1;
      serve.process.stdin?.write(`${JSON.stringify({ price })}\n`);
    }, 20);

    const infer = () =>
      startByner(['infer', '--all-streams', '--url', url], null, {
        env: { BYNER_DATA_DIR: dataDir, BYNER_LOG_LEVEL: 'info' },
      }).then((c) => {
        children.push(c);
        return c;
      });
    const reader = new Database(join(dataDir, SQLITE_FILE), { readonly: true, fileMustExist: true });
    try {
      const first = await infer();
      // Other clients of each stream, beside infer's connections: each gets its own stream's ticks, in order.
      const reads = await Promise.all(
        [...STREAMS, null].map((s) =>
          readSse(s === null ? url : `${url}?stream=${s}`, {
            until: (events) => events.length >= 30,
            timeoutMs: 30_000,
          }),
        ),
      );
      for (const [i, read] of reads.entries()) {
        const stream = STREAMS[i] ?? STREAMS[0]; // without ?stream=: the first configured one
        assert.equal(read.status, 200, `${stream}: ${read.raw.slice(0, 200)}`);
        assert.ok(read.events.length >= 30, `${stream}: ${read.events.length} events within 30 s`);
        const ticks = read.events.map((e) => JSON.parse(e.data) as { seq: number; stream: string });
        for (const [k, t] of ticks.entries()) {
          assert.equal(t.stream, stream, `a client of ${stream} got a tick of ${t.stream}`);
          assert.equal(t.seq, ticks[0].seq + k, `${stream}: consecutive seqs`);
          assert.equal(read.events[k].id, String(t.seq), `${stream}: event id = seq`);
        }
      }
      await waitFor(
        'forecasts of every stream before the kill',
        () => Object.values(forecastCounts(reader)).every((n) => n >= 80),
        60_000,
      );
      first.process.kill('SIGKILL');
      assert.equal(await first.exited, 'SIGKILL', first.stderr());
      const atKill = forecastCounts(reader);
      const fedAtKill = fed;
      await waitFor('the feed to go on while infer is down', () => fed >= fedAtKill + 25, 30_000);

      const second = await infer();
      await waitFor(
        'forecasts of every stream after the restart',
        () => {
          const n = forecastCounts(reader);
          return STREAMS.every((s) => n[s] >= atKill[s] + 80);
        },
        60_000,
      );
      assert.equal(await stopChild(second), 0, second.stderr());
      for (const s of STREAMS) assert.match(second.stderr(), new RegExp(`${s}: resuming after seq \\d+`));
      clearInterval(feeding);
      assert.equal(await stopChild(serve), 0, serve.stderr());
    } finally {
      reader.close();
    }

    const db = new Database(join(dataDir, SQLITE_FILE), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const baseline = new SeasonalNaiveForecaster(5, 10);
      for (const stream of STREAMS) {
        const forecaster: Forecaster = stream === 'syn' ? linear : baseline;
        const received = db
          .prepare('SELECT * FROM inf_historical_db WHERE stream = ? ORDER BY seq')
          .all(stream) as TickRow[];
        const sent = new Map(
          (
            db.prepare('SELECT * FROM historical_data WHERE stream = ? ORDER BY seq').all(stream) as TickRow[]
          ).map((r) => [r.seq, r]),
        );
        assert.ok(received.length > 200, `${stream}: ${received.length} ticks received`);
        received.forEach((r, i) => {
          assert.equal(r.seq, received[0].seq + i, `${stream}: ticks received in order, without a gap`);
          assert.deepEqual(r, sent.get(r.seq), `${stream}: tick ${r.seq} as the server stored and sent it`);
        });
        // A forecast for every tick that ends 60 received ticks with every indicator, and for no other.
        const rows = received.map((r) => featureRow(asTick(stream, r)));
        const expected: number[] = [];
        for (let i = WINDOW - 1; i < rows.length; i++)
          if (rows.slice(i - WINDOW + 1, i + 1).every((x) => x !== null)) expected.push(received[i].seq);
        const forecasts = db
          .prepare(
            'SELECT seq, model_version, input_sequence, forecast FROM inf_predictions WHERE stream = ? ORDER BY seq',
          )
          .all(stream) as { seq: number; model_version: string; input_sequence: Buffer; forecast: string }[];
        assert.deepEqual(
          forecasts.map((f) => f.seq),
          expected,
          `${stream}: exactly one forecast per tick with a full window`,
        );
        for (const f of forecasts) {
          const at = f.seq - received[0].seq;
          const window = rowsFromBytes(f.input_sequence);
          assert.deepEqual(window, rows.slice(at - WINDOW + 1, at + 1), `${stream} ${f.seq}: its window`);
          assert.equal(f.model_version, forecaster.version, `${stream} ${f.seq}: forecast by`);
          assert.deepEqual(JSON.parse(f.forecast), forecaster.forecast([window])[0], `${stream} ${f.seq}`);
        }
        // Scored: the run's last metrics document of the stream has scored every horizon.
        const last = db
          .prepare(
            `SELECT doc FROM inf_metrics WHERE json_extract(doc, '$.stream') = ? AND model_version = ?
             ORDER BY rowid DESC LIMIT 1`,
          )
          .pluck()
          .get(stream, forecaster.version) as string | undefined;
        assert.ok(last !== undefined, `${stream}: inf_metrics documents of ${forecaster.version}`);
        const doc = JSON.parse(last) as { scored: number[]; metrics: { mse: number[] } };
        assert.equal(doc.scored.length, 5, `${stream}: ${last}`);
        assert.ok(
          doc.scored.every((n) => n >= 50),
          `${stream}: every horizon scored: ${last}`,
        );
        assert.ok(doc.metrics.mse.every(Number.isFinite), `${stream}: ${last}`);
      }
    } finally {
      db.close();
    }
  });
});
