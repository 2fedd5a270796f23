// `npm run bench:ticks [-- --json] [-- --ticks N]`: ticks/s for generating synthetic ticks with their six
// indicators, batch (whole arrays) and streaming (one tick at a time, as the live server does), in one run.
import os from 'node:os';
import { computeIndicators } from '../src/indicators/batch.js';
import { IndicatorStream } from '../src/indicators/streaming.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { DEFAULT_SOURCE, generatePrices, SinePriceSource } from '../src/ticks/generator.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const n = Number(args[args.indexOf('--ticks') + 1]) || 1_000_000;
const REPEATS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs fn REPEATS times after one warm-up; returns the median ticks/s. */
function measure(fn: () => number): number {
  let sink = fn();
  const rates: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    sink += fn();
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  if (Number.isNaN(sink)) console.error('(unreachable: keeps the work alive)');
  return median(rates);
}

const batch = measure(() => {
  const cols = computeIndicators(generatePrices(DEFAULT_SOURCE, 0, n));
  return cols.signal[n - 1];
});
const streaming = measure(() => {
  const src = new SinePriceSource(DEFAULT_SOURCE);
  const s = new IndicatorStream();
  let last = 0;
  for (let t = 0; t < n; t++) last = s.push(src.at(t)).ma ?? 0;
  return last;
});
const objects = measure(() => {
  const ticks = syntheticTicks(DEFAULT_SOURCE, { start: 0, count: n, origin: new Date(0) });
  return ticks.length;
});

const result = {
  ticks: n,
  batch_ticks_per_s: Math.round(batch),
  streaming_ticks_per_s: Math.round(streaming),
  tick_objects_ticks_per_s: Math.round(objects),
  goal_batch_ticks_per_s: 2_000_000,
  batch_over_goal: Number((batch / 2_000_000).toFixed(2)),
  streaming_over_batch: Number((streaming / batch).toFixed(2)),
  cores: os.availableParallelism(),
  node: process.version,
};
if (json) console.log(JSON.stringify(result));
else {
  const f = (x: number) => `${(x / 1e6).toFixed(2)} M ticks/s`;
  console.log(
    `generate ${n.toLocaleString('en')} ticks with indicators (median of ${REPEATS}, ${result.cores} cores, node ${process.version})`,
  );
  console.log(`  batch (arrays):            ${f(batch)}   (${result.batch_over_goal}x the 2 M/s goal)`);
  console.log(`  streaming (one at a time): ${f(streaming)}   (${result.streaming_over_batch}x batch)`);
  console.log(`  batch + Tick objects:      ${f(objects)}`);
}
