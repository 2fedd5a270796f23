// Counter-based Gaussian noise: the value for tick t is a pure function of (seed, t), so any tick can be
// regenerated alone, bit for bit, after a restart or from any start index. Leaves the sine and clipping to
// generator.ts. Hand-written because seeded PRNG libraries are sequential (tick t needs t draws first).

/** lowbias32 (Chris Wellons' hash prospector): a 32-bit avalanche mix with very low bias. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** A 32-bit word from (seed, t, lane): t may be any integer up to 2^53. */
function word(seedMix: number, tLo: number, tHi: number, lane: number): number {
  return mix32(mix32(mix32(seedMix ^ tLo) ^ (tHi + Math.imul(lane, 0x9e3779b9))) + lane);
}

/** Uniform in (0, 1] with 53 random bits, from (seed, t, lane pair). */
function uniform(seedMix: number, tLo: number, tHi: number, lane: number): number {
  const a = word(seedMix, tLo, tHi, lane) >>> 5; // 27 bits
  const b = word(seedMix, tLo, tHi, lane + 1) >>> 6; // 26 bits
  return (a * 67108864 + b + 1) / TWO_POW_53;
}

/** Mixes the user's seed (any safe integer) into a 32-bit key. */
export function seedKey(seed: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  return mix32(lo ^ mix32(hi ^ 0x85ebca6b));
}

/** Standard normal N(0, 1) for tick t under seed key `key` (Box–Muller, cosine branch). */
export function standardNormal(key: number, t: number): number {
  const tLo = t >>> 0;
  const tHi = Math.floor(t / TWO_POW_32) >>> 0;
  const u1 = uniform(key, tLo, tHi, 0);
  const u2 = uniform(key, tLo, tHi, 2);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
