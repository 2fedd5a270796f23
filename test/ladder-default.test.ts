// The model ladder on the default job (10,000 ticks of the default synthetic source, seed 42, the DESIGN §5 LSTM):
// one `--model all` run, the only full-size LSTM fit of the suite (≈ 90 s on two calm cores, minutes on busy ones).
// The linear model's test MSE is within 5% of the LSTM's, both within 5% of the Bayes-optimal forecast's on the
// same test windows (DESIGN §2); the run's other figures and what it registered are checked on the same run.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorAccumulator, mean } from '../src/features/metrics.js';
import { buildWindows, splitWindows } from '../src/features/windows.js';
import { silentLogger } from '../src/log/logger.js';
import { targetValues } from '../src/models/data.js';
import { KIND_NAMES } from '../src/models/kinds.js';
import { openStore, type Store } from '../src/store/index.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { type LadderSummary, trainLadder } from '../src/train/ladder.js';
import { TIE_TOLERANCE } from '../src/train/serving.js';
import { expectedPrice } from './helpers/bayes.js';
import { ladderOptions } from './helpers/ladder.js';

const TIMEOUT = 40 * 60_000;

describe('the ladder on the default job', { timeout: TIMEOUT }, () => {
  let store: Store;
  let run: LadderSummary;
  /** Test MSE per horizon of the Bayes-optimal forecast on the run's test windows. */
  let bayes: number[];
  const testMse = (kind: string) => mean(run.models.find((m) => m.kind === kind)!.streams.synthetic.test.mse);

  before(
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'byner-default-ladder-'));
      store = await openStore({ dataDir: dir });
      run = await trainLadder(store, ladderOptions(dir), { logger: silentLogger });
      const set = buildWindows(await store.lastTicks('historical_data', 'synthetic', 10_000), 60, 5);
      const test = splitWindows(set.count).test;
      const n = test[1] - test[0];
      const forecast = new Float64Array(n * 5);
      for (let i = 0; i < n; i++) {
        for (let h = 0; h < 5; h++)
          forecast[i * 5 + h] = expectedPrice(DEFAULT_SOURCE, set.seqs[test[0] + i + 60 + h]);
      }
      bayes = new ErrorAccumulator(5).add(forecast, targetValues(set, test), n).result().mse;
    },
    { timeout: TIMEOUT },
  );
  after(() => store?.close());

  it('linear: test MSE within 5% of the LSTM’s; both within 5% of the Bayes-optimal forecast on the same windows', (t) => {
    const [linear, lstm, floor] = [testMse('linear'), testMse('lstm'), mean(bayes)];
    t.diagnostic(
      `test MSE: linear ${linear.toFixed(4)}, lstm ${lstm.toFixed(4)} (${run.models[3].details.epochs} epochs), ` +
        `Bayes-optimal ${floor.toFixed(4)} (per horizon ${bayes.map((v) => v.toFixed(3)).join(' ')})`,
    );
    assert.equal(run.windows.synthetic.test, 1983);
    assert.ok(Math.abs(linear / lstm - 1) <= 0.05, `linear ${linear} vs LSTM ${lstm}`);
    assert.ok(linear / floor <= 1.05, `linear ${linear} vs Bayes ${floor}`);
    assert.ok(lstm / floor <= 1.05, `LSTM ${lstm} vs Bayes ${floor}`);
    assert.ok(floor > 2 && floor < 2.5, `the Bayes-optimal MSE near DESIGN §2's 2.253: ${floor}`);
  });

  it('the baselines trail far behind, and the scale-free error says so', () => {
    assert.ok(testMse('seasonal_naive') > 1.5 * testMse('linear'));
    assert.ok(testMse('naive') > 10 * testMse('seasonal_naive'));
    const mase = (kind: string) =>
      mean(run.models.find((m) => m.kind === kind)!.streams.synthetic.test.mase as number[]);
    assert.ok(mase('linear') < mase('seasonal_naive') && mase('seasonal_naive') < mase('naive'));
    for (const m of run.models) assert.equal(m.streams.synthetic.test.accuracy?.length, 5, 'integer prices');
  });

  it('registers every kind, and the simplest within 1% of the lowest validation MSE serves', async () => {
    const val = run.models.map((m) => mean(m.streams.synthetic.validation_mse));
    const lowest = Math.min(...val);
    const winner = KIND_NAMES.find((_, i) => val[i] <= lowest * (1 + TIE_TOLERANCE));
    assert.equal(run.serving.synthetic, run.models.find((m) => m.kind === winner)!.version);
    assert.equal((await store.servingModel('synthetic'))?.version, run.serving.synthetic);
    const entries = await store.listModels();
    assert.deepEqual(
      entries.map((e) => e.config.kind),
      ['naive', 'seasonal_naive', 'linear', 'lstm'],
    );
    const stats = await store.stats();
    assert.deepEqual([stats.tr_metrics, stats.tr_predictions], [4, 4 * 1983]);
  });
});
