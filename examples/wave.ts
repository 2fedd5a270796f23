// The series examples 1 and 2 share: a noisy wave of your own, cut into engine windows of two features per step
// (the value and its change). Stands for any data you bring; byner's own ticks and indicators are example 3's.

/** Time steps per window, features per step, and values forecast after each window. */
export const WINDOW = 24;
export const FEATURES = 2;
export const HORIZON = 5;

/** Value t of the wave: a period of 25 steps plus a small deterministic wobble. */
export function wave(t: number): number {
  return Math.sin((2 * Math.PI * t) / 25) + 0.1 * Math.sin(t * 1.7 + Math.cos(t * 0.3));
}

/** Writes the window whose first step is t0 into `out` at `offset`: rows of [value, value − previous value]. */
export function writeWindow(out: Float32Array, offset: number, t0: number): void {
  for (let r = 0; r < WINDOW; r++) {
    const t = t0 + r;
    out[offset + r * FEATURES] = wave(t);
    out[offset + r * FEATURES + 1] = wave(t) - wave(t - 1);
  }
}

/** The HORIZON values after the window that starts at t0. */
export function nextValues(t0: number): number[] {
  return Array.from({ length: HORIZON }, (_, h) => wave(t0 + WINDOW + h));
}
