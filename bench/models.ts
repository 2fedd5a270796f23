// `npm run bench:models [-- --json] [-- --quick]`: the model ladder side by side on the default job's data (10,000
// synthetic ticks, seed 42, 60×7 windows, 70/10/20 split): fit seconds, forecast p50 per window, test MSE and
// accuracy of naive, seasonal_naive, linear and lstm, and of a global linear model fitted on that stream and a
// second one (seed 7), scored on the default stream's test windows. `--quick` caps the LSTM at 3 epochs (not the
// recorded job).
import os from 'node:os';
import { ErrorAccumulator, mean } from '../src/features/metrics.js';
import { buildWindows, rawWindow, splitWindows } from '../src/features/windows.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { fitData, type ScaledWindows, scaledWindows, targetValues } from '../src/models/data.js';
import { GlobalModel } from '../src/models/global.js';
import { KIND_NAMES, type ModelKind } from '../src/models/kinds.js';
import { type KindOptions, newModel } from '../src/models/registry.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const WINDOW = 60;
const HORIZON = 5;
const TIMED_WINDOWS = 300;

const OPTIONS: { [K in ModelKind]: KindOptions[K] } = {
  naive: {},
  seasonal_naive: { season: 10 },
  linear: {},
  // DESIGN §5 defaults (the engine's): 50 epochs at most, batch 32, patience 5, Adam 0.001, seed 42.
  lstm: {
    fit: quick ? { epochs: 3 } : {},
    onEpoch: (e) => {
      if (!json || process.stderr.isTTY)
        console.error(
          `  lstm epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)}, validation ${e.valLoss?.toFixed(4)}`,
        );
    },
  },
};

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const ticks = syntheticTicks(DEFAULT_SOURCE, { start: 0, count: 10_000, origin: new Date(0) });
const set = buildWindows(ticks, WINDOW, HORIZON);
const split = splitWindows(set.count);
const data = fitData(set, split);
const actual = targetValues(set, split.test);
const nTest = split.test[1] - split.test[0];

const rows = [];
for (const kind of KIND_NAMES) {
  if (!json) console.error(`fitting ${kind} on ${data.train.x.n} windows …`);
  const model = newModel(kind, { window: WINDOW, horizon: HORIZON }, OPTIONS[kind] as never);
  let t0 = performance.now();
  const report = await model.fit(data);
  const fitSeconds = (performance.now() - t0) / 1000;
  const x = scaledWindows(set, split.test, model.scaler!);
  t0 = performance.now();
  const predicted = model.predict(x);
  const batchSeconds = (performance.now() - t0) / 1000;
  const m = new ErrorAccumulator(HORIZON).add(predicted, actual, nTest).result();
  // One window at a time: `predict` on a scaled window (calling thread), and the live forecaster on a raw one
  // (the LSTM's with its forecast thread, as `byner infer` serves it).
  const per = WINDOW * x.features;
  const one = (i: number): ScaledWindows => ({ ...x, n: 1, x: x.x.subarray(i * per, (i + 1) * per) });
  const predictMs: number[] = [];
  for (let i = 0; i < TIMED_WINDOWS + 20; i++) {
    t0 = performance.now();
    model.predict(one(i % nTest));
    if (i >= 20) predictMs.push(performance.now() - t0);
  }
  const live = await model.forecaster(`${kind}-bench`);
  const raws = Array.from({ length: TIMED_WINDOWS }, (_, i) => [rawWindow(set, split.test[0] + i)]);
  const liveMs: number[] = [];
  for (let i = 0; i < TIMED_WINDOWS + 20; i++) {
    t0 = performance.now();
    live.forecast(raws[i % TIMED_WINDOWS]);
    if (i >= 20) liveMs.push(performance.now() - t0);
  }
  await model.dispose();
  rows.push({
    kind,
    fit_seconds: Number(fitSeconds.toFixed(3)),
    forecast_p50_ms: Number(p50(predictMs).toFixed(4)),
    live_forecast_p50_ms: Number(p50(liveMs).toFixed(4)),
    test_batch_seconds: Number(batchSeconds.toFixed(3)),
    test_mse: m.mse.map((v) => Number(v.toFixed(4))),
    test_mse_mean: Number(mean(m.mse).toFixed(4)),
    test_accuracy_mean: Number(mean(m.accuracy).toFixed(4)),
    validation_mse_mean: Number(mean(report.validation_mse ?? [Number.NaN]).toFixed(4)),
    chosen: report.details.lambda ?? report.details.epochs ?? null,
  });
}

// A global linear model: the default stream and a second synthetic stream (seed 7), each split 70/10/20 and scaled
// by its own scaler, pooled for one fit; scored on the default stream's test windows like the rows above.
{
  if (!json) console.error('fitting a global linear model on 2 streams …');
  const other = buildWindows(
    syntheticTicks({ ...DEFAULT_SOURCE, seed: 7 }, { start: 0, count: 10_000, origin: new Date(0) }),
    WINDOW,
    HORIZON,
  );
  const otherSplit = splitWindows(other.count);
  let t0 = performance.now();
  const { model } = await GlobalModel.fit(newModel('linear', { window: WINDOW, horizon: HORIZON }), [
    { stream: 'synthetic', set, train: split.train, validation: split.validation },
    { stream: 'seed7', set: other, train: otherSplit.train, validation: otherSplit.validation },
  ]);
  const fitSeconds = (performance.now() - t0) / 1000;
  const view = await model.forStream('synthetic');
  const x = scaledWindows(set, split.test, view.scaler!);
  t0 = performance.now();
  const predicted = view.predict(x);
  const batchSeconds = (performance.now() - t0) / 1000;
  const m = new ErrorAccumulator(HORIZON).add(predicted, actual, nTest).result();
  const v = scaledWindows(set, split.validation, view.scaler!);
  const val = new ErrorAccumulator(HORIZON)
    .add(view.predict(v), targetValues(set, split.validation), v.n)
    .result();
  rows.push({
    kind: 'global:linear',
    fit_seconds: Number(fitSeconds.toFixed(3)),
    // Per-window latency is the linear row's: the same model, another scaler.
    forecast_p50_ms: null,
    live_forecast_p50_ms: null,
    test_batch_seconds: Number(batchSeconds.toFixed(3)),
    test_mse: m.mse.map((e) => Number(e.toFixed(4))),
    test_mse_mean: Number(mean(m.mse).toFixed(4)),
    test_accuracy_mean: Number(mean(m.accuracy).toFixed(4)),
    validation_mse_mean: Number(mean(val.mse).toFixed(4)),
    chosen: (await model.save()).config.lambda ?? null,
  });
  await model.dispose();
}

const result = {
  ticks: ticks.length,
  windows: { train: data.train.x.n, validation: data.validation?.x.n ?? 0, test: nTest },
  quick,
  models: rows,
  cores: os.availableParallelism(),
  node: process.version,
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(
    `${result.ticks} ticks → ${result.windows.train} / ${result.windows.validation} / ${result.windows.test} windows; ` +
      `${result.cores} cores, Node ${result.node}${quick ? ' (--quick: LSTM capped at 3 epochs)' : ''}`,
  );
  console.log('kind            fit s    p50 ms (predict / live)   test MSE (mean)   accuracy   λ or epochs');
  for (const r of rows) {
    console.log(
      `${r.kind.padEnd(15)} ${r.fit_seconds.toFixed(2).padStart(6)}   ${(r.forecast_p50_ms?.toFixed(4) ?? '-').padStart(8)} / ${(r.live_forecast_p50_ms?.toFixed(4) ?? '-').padStart(8)}      ` +
        `${r.test_mse_mean.toFixed(4).padStart(8)}       ${(100 * r.test_accuracy_mean).toFixed(1).padStart(5)}%   ${r.chosen}`,
    );
  }
}
