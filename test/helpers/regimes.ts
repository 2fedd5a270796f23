// A price series whose regime changes, for the drift tests: stretches of a period-7 pattern (regime A, which a
// season-7 "model" forecasts exactly) and of a period-10 pattern (regime B, which the seasonal-naive baseline of
// season 10 forecasts exactly), without noise, so that which forecaster is better in each window follows from the
// series alone.

/** Regime A at tick i: period 7. */
export const regimeA = (i: number) => Math.round(6 * Math.sin((2 * Math.PI * i) / 7));
/** Regime B at tick i: period 10. */
export const regimeB = (i: number) => Math.round(8 * Math.sin((2 * Math.PI * i) / 10));

/** Prices of ticks 0..length−1: regime A, then B from `changes[0]`, A again from `changes[1]`, and so on. */
export function regimePrices(length: number, changes: readonly number[]): number[] {
  return Array.from({ length }, (_, i) => {
    const stretch = changes.filter((c) => c <= i).length;
    return stretch % 2 === 0 ? regimeA(i) : regimeB(i);
  });
}

/**
 * The tick that closes drift window `k` (1-based): windows hold `size` forecasts in the order they complete, the
 * first forecast is made after tick `first`, and a forecast completes with the tick of its last horizon.
 */
export const windowEnd = (k: number, first: number, size: number, horizon: number) =>
  first + size * k - 1 + horizon;

/**
 * The tick at which a regime change makes window `k` the first with targets in the new regime, and its first
 * forecast the first such (its last horizon's target is the change): windows then fall cleanly on either side.
 */
export const changeAtWindow = (k: number, first: number, size: number, horizon: number) =>
  first + size * (k - 1) + horizon;
