// Price series for model tests, made from a seed so that any run can be regenerated: a noisy sine at any level and
// scale, and a Gaussian random walk, as ticks (with their indicators) of a named stream.
import { ticksFromPrices } from '../../src/indicators/ticks.js';
import { seedKey, standardNormal } from '../../src/ticks/noise.js';
import type { Tick } from '../../src/ticks/types.js';

const ORIGIN = new Date(Date.UTC(2026, 0, 1));

/** level + amplitude·sin(2π·t/period) + noise·z[t], not rounded (float prices). */
export function noisySine(
  stream: string,
  count: number,
  o: { level: number; amplitude: number; noise: number; period?: number; seed?: number },
): Tick[] {
  const key = seedKey(o.seed ?? 1);
  const prices = Array.from(
    { length: count },
    (_, t) =>
      o.level +
      o.amplitude * Math.sin((2 * Math.PI * t) / (o.period ?? 10)) +
      o.noise * standardNormal(key, t),
  );
  return ticksFromPrices(prices, { start: 0, stream, origin: ORIGIN });
}

/** A Gaussian random walk from `level` (σ = `step` per tick), not rounded. */
export function randomWalk(
  stream: string,
  count: number,
  o: { level?: number; step?: number; seed?: number } = {},
): Tick[] {
  const key = seedKey(o.seed ?? 2);
  const prices = new Float64Array(count);
  prices[0] = o.level ?? 0;
  for (let t = 1; t < count; t++) prices[t] = prices[t - 1] + (o.step ?? 1) * standardNormal(key, t);
  return ticksFromPrices(prices, { start: 0, stream, origin: ORIGIN });
}
