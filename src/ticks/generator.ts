// Synthetic ticks of DESIGN §2: price[t] = clip(round(A·sin(2π·f·t) + ε[t]), −B, +B), ε ~ N(0, σ), reproducible
// bit for bit per seed and phase-continuous from any start index. Indicators are added by src/indicators.
import { BynerError } from '../errors.js';
import { seedKey, standardNormal } from './noise.js';

/** The synthetic source of DESIGN §2: a noisy sine, rounded and clipped. */
export interface SineSource {
  /** A: sine amplitude (default 8). */
  amplitude: number;
  /** f: cycles per tick (default 0.1, a period of 10 ticks). */
  frequency: number;
  /** σ: standard deviation of the Gaussian noise (default 1.5). */
  noise: number;
  /** B: prices are clipped to [−B, +B] (default 10). */
  bound: number;
  /** Any safe integer; the same seed gives the same prices, bit for bit. */
  seed: number;
}

/** A = 8, f = 0.1, σ = 1.5, B = 10, seed 42. */
export const DEFAULT_SOURCE: SineSource = { amplitude: 8, frequency: 0.1, noise: 1.5, bound: 10, seed: 42 };

/** Round half to even (numpy's rule), so rounding has no bias toward +∞ at .5 ties. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkSource(src: SineSource): void {
  const bad: string[] = [];
  for (const key of ['amplitude', 'frequency', 'noise', 'bound'] as const) {
    if (!Number.isFinite(src[key]) || src[key] < 0) bad.push(`${key}=${src[key]}`);
  }
  if (!Number.isSafeInteger(src.seed)) bad.push(`seed=${src.seed}`);
  if (bad.length > 0) {
    throw new BynerError('BYNER_CONFIG', 'invalid synthetic source', {
      expected: 'finite, non-negative amplitude, frequency, noise and bound, and an integer seed',
      received: bad.join(', '),
    });
  }
}

/** Price of tick `t` alone: a pure function of (source, t). */
function priceAt(src: SineSource, key: number, t: number): number {
  const raw = src.amplitude * Math.sin(2 * Math.PI * src.frequency * t) + src.noise * standardNormal(key, t);
  const p = roundHalfEven(raw);
  // `+ 0` turns −0 into 0 so JSON and the stores never see a negative zero.
  return Math.min(src.bound, Math.max(-src.bound, p)) + 0;
}

/** Prices of ticks start .. start+count−1 into a new Float64Array. */
export function generatePrices(src: SineSource, start: number, count: number): Float64Array {
  checkSource(src);
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(count) || count < 0) {
    throw new BynerError('BYNER_INPUT', 'invalid tick range', {
      expected: 'non-negative integers for start and count',
      received: `start=${start}, count=${count}`,
    });
  }
  const key = seedKey(src.seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = priceAt(src, key, start + i);
  return out;
}

/** A price source that continues from any index: what the live server uses. */
export class SinePriceSource {
  private readonly key: number;
  constructor(readonly source: SineSource) {
    checkSource(source);
    this.key = seedKey(source.seed);
  }
  at(t: number): number {
    return priceAt(this.source, this.key, t);
  }
}

/** Historical ticks are 1 s apart: tick t's timestamp is origin + (t − start) seconds. */
export const TICK_MS = 1000;
