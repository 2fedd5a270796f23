// Drift live: a stream whose regime changes halfway (test/helpers/regimes.ts) forecast by a model that is exact in
// the first regime. The pipeline on the stored stream warns once, after `--drift-windows` windows past the change
// and not before, and its inf_metrics documents carry the drift; with fallback the stored forecasts come from the
// seasonal-naive baseline during the episode and from the model before and after. The CLI does the same over SSE
// with a registered model, and refuses bad --drift-windows and --fallback values with exit 2.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeasonalNaiveForecaster } from '../src/features/forecaster.js';
import { buildWindows } from '../src/features/windows.js';
import { ticksFromPrices } from '../src/indicators/ticks.js';
import type { DriftState } from '../src/infer/drift.js';
import { ForecasterSet } from '../src/infer/forecasters.js';
import { runPipeline } from '../src/infer/pipeline.js';
import { StoreInput } from '../src/infer/store-input.js';
import { fitData } from '../src/models/data.js';
import { entryFromSaved, newModel } from '../src/models/registry.js';
import { openStore } from '../src/store/index.js';
import type { MetricsDoc } from '../src/store/types.js';
import type { Tick } from '../src/ticks/types.js';
import { byner } from './helpers/cli.js';
import { changeAtWindow, regimePrices, windowEnd } from './helpers/regimes.js';
import { startStreamsServer } from './helpers/streams-server.js';
import { spawnInfer, tempDir } from './live-helpers.js';

/** The first forecast: the six indicators are all defined from tick 24, and a window holds 60 ticks. */
const FIRST = 83;
const TICKS = 1500;
/** Window 6 is the first with targets in regime B, window 12 the first back in regime A (drift windows of 100). */
const FIRST_B = 6;
const FIRST_A = 12;
/** With 3 drift windows: the episode starts at the close of the third window in regime B, ends at the first in A. */
const START = windowEnd(FIRST_B + 2, FIRST, 100, 5);
const END = windowEnd(FIRST_A, FIRST, 100, 5);
const regime = (stream: string): Tick[] =>
  ticksFromPrices(
    regimePrices(TICKS, [changeAtWindow(FIRST_B, FIRST, 100, 5), changeAtWindow(FIRST_A, FIRST, 100, 5)]),
    { start: 0, stream, origin: new Date(Date.UTC(2026, 0, 1)) },
  );

interface Logged {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}
const recorder = () => {
  const logged: Logged[] = [];
  const at = (level: string) => (obj: object, msg?: string) =>
    logged.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  return { logged, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
};

const driftOf = (doc: MetricsDoc) => doc.drift as DriftState | undefined;

describe('drift on a stream whose regime changes halfway', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('byner-drift-');
  });
  after(() => dir.remove());

  /**
   * The pipeline over the stored stream to its end, the season-7 model `weekly` forecasting it. Pages of 50 ticks
   * and a write every 50: metrics documents all along the stream, whatever the timers do.
   */
  async function replay(name: string, fallback: boolean) {
    const store = await openStore({ dataDir: join(dir.path, name) });
    await store.writeTicks('historical_data', regime('regime'));
    const { logged, logger } = recorder();
    const stats = await runPipeline({
      store,
      input: new StoreInput({ store, pageSize: 50 }),
      writer: { batchSize: 50 },
      forecasters: ForecasterSet.fixed(new SeasonalNaiveForecaster(5, 7, 'weekly')),
      streams: ['regime'],
      drift: { windows: 3, season: 10, fallback },
      logger,
    }).done;
    return { store, logged, stats: stats.streams.get('regime')! };
  }

  it('drift warning raised on a series whose regime changes halfway and not before it; inf_metrics carry it', async () => {
    const { store, logged, stats } = await replay('plain', false);
    try {
      const warnings = logged.filter((l) => l.level === 'warn');
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(warnings[0].obj.seq, START);
      assert.match(
        warnings[0].msg,
        /^regime: DRIFT: model weekly forecast worse than the seasonal-naive baseline in 3 consecutive windows of 100 forecasts/,
      );
      assert.ok(
        logged.some((l) => l.level === 'info' && l.obj.seq === END && /drift over/.test(l.msg)),
        JSON.stringify(logged.filter((l) => l.level === 'info')),
      );
      assert.equal(stats.driftEpisodes, 1);
      assert.equal(stats.fallbackForecasts, 0);

      // Without fallback every forecast is the model's.
      const forecasts = await store.recentForecasts('regime', 10_000);
      assert.equal(forecasts[0].seq, FIRST);
      assert.deepEqual(new Set(forecasts.map((f) => f.model_version)), new Set(['weekly']));

      // The documents: inactive up to the start, active from it until the end, over after; the MSEs of the last window.
      const docs = (await store.recentMetrics('inf_metrics', 10_000, { stream: 'regime' })).filter(
        (d) => driftOf(d)?.window_end_seq !== null,
      );
      assert.ok(docs.length > 0, 'documents with a closed window');
      for (const doc of docs) {
        const d = driftOf(doc)!;
        const seq = doc.last_seq as number;
        assert.equal(d.active, seq >= START && seq < END, `seq ${seq}: ${JSON.stringify(d)}`);
        assert.equal(d.since_seq, d.active ? START : null);
        assert.deepEqual(
          [d.model_version, d.baseline, d.window, d.windows_needed],
          ['weekly', 'seasonal_naive', 100, 3],
        );
        if (d.window_end_seq! < changeAtWindow(FIRST_B, FIRST, 100, 5)) {
          assert.equal(d.model_mse, 0, 'regime A: the model is exact');
          assert.ok(d.baseline_mse! > 0, `regime A: the baseline errs (${JSON.stringify(d)})`);
        }
      }
      const last = driftOf(docs[docs.length - 1])!;
      assert.deepEqual([last.active, last.episodes, last.model_mse, last.fallback], [false, 1, 0, null]);
    } finally {
      await store.close();
    }
  });

  it('with fallback: the baseline forecasts during the episode (stored once per seq), the model before and after', async () => {
    const { store, stats } = await replay('fallback', true);
    try {
      const forecasts = await store.recentForecasts('regime', 10_000);
      assert.deepEqual(
        forecasts.map((f) => f.seq),
        Array.from({ length: TICKS - FIRST }, (_, i) => FIRST + i),
        'one forecast per tick',
      );
      const seasonal = new SeasonalNaiveForecaster(5, 10);
      const weekly = new SeasonalNaiveForecaster(5, 7);
      for (const f of forecasts) {
        const during = f.seq >= START && f.seq < END;
        assert.equal(f.model_version, during ? 'seasonal_naive' : 'weekly', `seq ${f.seq}`);
        // Each forecast is its forecaster's of the stored input window.
        assert.deepEqual(
          f.forecast,
          (during ? seasonal : weekly).forecast([f.input_sequence])[0],
          `seq ${f.seq}`,
        );
      }
      assert.equal(stats.fallbackForecasts, END - START);
      assert.equal(stats.forecasts, TICKS - FIRST);
      // The model is scored all along (its documents go on during the episode), and so is the baseline while it
      // forecasts; both carry the drift.
      const docs = await store.recentMetrics('inf_metrics', 10_000, { stream: 'regime' });
      const lastOf = (v: string) => docs.filter((d) => d.model_version === v).pop()!;
      assert.deepEqual(lastOf('weekly').scored, [1416, 1415, 1414, 1413, 1412]);
      assert.equal((lastOf('seasonal_naive').scored as number[])[0], END - START);
      const during = docs.filter((d) => (d.last_seq as number) >= START && (d.last_seq as number) < END);
      assert.deepEqual(
        [...new Set(during.map((d) => d.model_version))].sort(),
        ['seasonal_naive', 'weekly'],
        'documents of the model and of the baseline during the episode',
      );
      for (const d of during) {
        const drift = driftOf(d);
        assert.deepEqual(
          [drift?.active, drift?.fallback],
          [true, 'seasonal_naive'],
          `${d.model_version} ${d.last_seq}`,
        );
      }
    } finally {
      await store.close();
    }
  });

  it('the CLI: byner infer --fallback with a registered model that serves the stream, over SSE', async () => {
    const ticks = regime('regime');
    const dataDir = join(dir.path, 'cli');
    // The model: the season-7 seasonal naive of the model ladder, fitted (its scaler) on regime A, serving the stream.
    const store = await openStore({ dataDir });
    const model = newModel('seasonal_naive', { window: 60, horizon: 5 }, { season: 7 });
    const set = buildWindows(ticks.slice(0, 500), 60, 5);
    await model.fit(fitData(set, { train: [0, set.count] }));
    await store.saveModel({
      version: 'weekly-1',
      created_at: new Date(),
      ...entryFromSaved(await model.save()),
      metrics: {},
      data_range: { stream: 'regime', from_seq: 0, to_seq: 499 },
      serving: true,
    });
    await model.dispose();
    await store.close();

    const server = await startStreamsServer([{ name: 'regime', ticks, intervalMs: 0 }]);
    const infer = spawnInfer(
      ['--url', server.url, '--stream', 'regime', '--fallback', '--drift-windows', '3'],
      { BYNER_DATA_DIR: dataDir },
    );
    try {
      await infer.until(() => /drift over/.test(infer.stderr()), 90_000, 'the end of the drift episode');
      infer.child.kill('SIGTERM');
      assert.equal(await infer.exited, 0, infer.stderr());
    } finally {
      if (infer.child.exitCode === null) infer.child.kill('SIGKILL');
      await server.close();
    }
    const stdout = infer.stdout();
    const stderr = infer.stderr();
    assert.match(stderr, /regime: forecasting with weekly-1/);
    assert.match(
      stderr,
      /regime: DRIFT: model weekly-1 forecast worse than the seasonal-naive baseline in 3 consecutive windows/,
    );
    assert.match(stderr, /forecasting with the seasonal_naive baseline until the model is better again/);
    // The printed lines say who forecast during the episode.
    const line = (seq: number) => stdout.split('\n').find((l) => l.startsWith(`seq ${seq} `)) ?? '';
    for (const seq of [START - 1, START, END - 1, END]) {
      const during = seq >= START && seq < END;
      assert.equal(line(seq).endsWith('(by seasonal_naive: weekly-1 drifts)'), during, line(seq));
      assert.match(line(seq), /forecast \[/);
    }
    assert.match(
      stdout,
      /\d+ ticks, \d+ forecasts, 1 drift episode\(s\) \(400 forecasts by a fallback baseline\)/,
    );
    const stored = await openStore({ dataDir });
    try {
      const forecasts = await stored.recentForecasts('regime', 10_000);
      assert.equal(forecasts[0].seq, FIRST);
      assert.ok(forecasts[forecasts.length - 1].seq >= END, 'stopped after the episode ended');
      for (const f of forecasts) {
        assert.equal(
          f.model_version,
          f.seq >= START && f.seq < END ? 'seasonal_naive' : 'weekly-1',
          `seq ${f.seq}`,
        );
      }
      const [latest] = await stored.recentMetrics('inf_metrics', 1, {
        stream: 'regime',
        modelVersion: 'weekly-1',
      });
      assert.deepEqual(
        [driftOf(latest)?.model_version, driftOf(latest)?.episodes, driftOf(latest)?.windows_needed],
        ['weekly-1', 1, 3],
      );
    } finally {
      await stored.close();
    }
  });

  it('the CLI refuses bad --drift-windows values and drift options with a baseline: exit 2, expected and received', async () => {
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; message: RegExp }[] = [
      {
        args: ['--drift-windows', '0'],
        message: /--drift-windows: expected an integer between 1 and 1,000, received "0"/,
      },
      {
        args: ['--drift-windows', '1001'],
        message: /--drift-windows: expected an integer between 1 and 1,000, received "1001"/,
      },
      {
        args: ['--drift-windows', '2.5'],
        message: /--drift-windows: expected an integer between 1 and 1,000, received "2.5"/,
      },
      {
        args: ['--drift-windows', 'many'],
        message: /--drift-windows: expected an integer between 1 and 1,000, received "many"/,
      },
      {
        args: [],
        env: { BYNER_DRIFT_WINDOWS: '-1' },
        message:
          /BYNER_DRIFT_WINDOWS \(environment\): expected an integer between 1 and 1,000, received "-1"/,
      },
      {
        args: ['--model', 'naive', '--fallback'],
        message: /--fallback with --model naive: a baseline forecasts already/,
      },
      {
        args: ['--model', 'seasonal_naive', '--drift-windows', '2'],
        message: /--drift-windows with --model seasonal_naive: a baseline is not watched/,
      },
    ];
    for (const c of cases) {
      const r = await byner(['infer', '--url', 'http://127.0.0.1:9/realtime_data', ...c.args], {
        env: c.env,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 2, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.message);
    }
  });
});
