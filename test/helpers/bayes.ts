// The Bayes-optimal forecast of the synthetic source (DESIGN §2): the expected clipped, rounded price of a tick,
// E[clip(round(A·sin(2πf·u) + ε), −B, B)] with ε ~ N(0, σ²), which depends only on the tick's phase. The noise is
// independent from tick to tick, so no model can do better in mean squared error, at any horizon.
import type { SineSource } from '../../src/ticks/generator.js';

/** Φ via erfc (Numerical Recipes' Chebyshev fit, fractional error < 1.2e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** E[price of tick u]: Σ_k k·P(clip(round(μ + ε), −B, B) = k), μ = A·sin(2πf·u). */
export function expectedPrice(
  source: Pick<SineSource, 'amplitude' | 'frequency' | 'noise' | 'bound'>,
  u: number,
): number {
  const { amplitude: A, frequency: f, noise: s, bound: B } = source;
  const mu = A * Math.sin(2 * Math.PI * f * u);
  let e = 0;
  for (let k = -B; k <= B; k++) {
    const lo = k === -B ? 0 : normalCdf((k - 0.5 - mu) / s);
    const hi = k === B ? 1 : normalCdf((k + 0.5 - mu) / s);
    e += k * (hi - lo);
  }
  return e;
}
