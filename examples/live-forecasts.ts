// Example 3: serve a synthetic tick stream over Server-Sent Events (`/realtime_data`) with an embedded store in a
// temporary folder, fit the linear model of the ladder on history, forecast the live ticks and print the forecasts
// and their scores, then stop. Usage: node live-forecasts.js [FORECASTS] (default 10).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildWindows,
  DEFAULT_SOURCE,
  fitData,
  newModel,
  openStore,
  runInference,
  type StreamConfig,
  SyntheticSource,
  splitWindows,
  startServer,
  syntheticTicks,
} from 'byner';

const wanted = Number(process.argv[2] ?? 10);
if (!(Number.isInteger(wanted) && wanted >= 1))
  throw new Error(`expected a number of forecasts ≥ 1, received ${process.argv[2]}`);
const fmt = (xs: readonly (number | null)[]) => xs.map((v) => (v === null ? '-' : v.toFixed(2))).join(' ');

// History to fit on: 2,000 ticks (price + six indicators) of the same sine source with another noise seed.
const history = syntheticTicks({ ...DEFAULT_SOURCE, seed: 7 }, { start: 0, count: 2000, origin: new Date() });
const set = buildWindows(history, 60, 5); // 60 ticks × 7 features in, the next 5 prices out
const model = newModel('linear', { window: 60, horizon: 5 });
const report = await model.fit(fitData(set, splitWindows(set.count))); // scaler fitted on the training part only
console.log(`linear model: λ ${report.details.lambda}, validation MSE ${fmt(report.validation_mse ?? [])}`);
const forecaster = await model.forecaster('linear-example');

const dataDir = await mkdtemp(join(tmpdir(), 'byner-example-'));
const store = await openStore({ dataDir });
// One live stream, the sine with its default seed, a tick every 10 ms (more streams: more entries, each its source).
const streams: StreamConfig[] = [
  { name: 'synthetic', source: new SyntheticSource({ ...DEFAULT_SOURCE, intervalMs: 10 }) },
];
const server = await startServer({ port: 0, store, streams }); // 127.0.0.1, a free port
console.log(`streaming on ${server.url}/realtime_data`);

let printed = 0;
let enough: () => void = () => {};
const done = new Promise<void>((resolve) => {
  enough = resolve;
});
const run = runInference({
  url: `${server.url}/realtime_data`,
  store, // ticks, forecasts and scores are stored here
  forecaster,
  out: null, // no built-in terminal lines: this program prints its own
  onTick: (tick, forecast) => {
    // No forecast (null) until the window holds 60 ticks with all six indicators: from tick 83 on.
    if (forecast === null || printed >= wanted) return;
    console.log(`seq ${tick.seq}: price ${tick.price} → next 5: ${fmt(forecast)}`);
    if (++printed === wanted) enough();
  },
});

// Every wait has a deadline: stop after 30 s even if the stream stalls.
const deadline = setTimeout(enough, 30_000);
try {
  await Promise.race([done, run.done]); // run.done rejects if the server refuses the stream or the store fails
  const stats = await run.stop(); // writes what is still held
  const { metrics } = run.scores();
  console.log(`${stats.forecasts} forecasts, ${stats.scored} scored; MSE per horizon ${fmt(metrics.mse)}`);
} finally {
  clearTimeout(deadline);
  for (const s of server.streams())
    console.log(`stream ${s.name} (${s.source}): ${s.head_seq + 1} ticks made`);
  const { unconfirmedTicks } = await server.close(); // within 10 s even if the store were unreachable
  if (unconfirmedTicks > 0) console.log(`${unconfirmedTicks} ticks not confirmed stored`);
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
}
