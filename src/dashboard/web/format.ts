// Number formatting of the dashboard: one function per kind of value, so the page and its tests agree on the
// text shown. Pure functions, no DOM.

export const NO_VALUE = '—';

/** Prices and forecasts: two decimals, thousands separated. */
export function formatPrice(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NO_VALUE;
  return value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** Errors (MSE, MAE): three significant decimals below 100, whole numbers above. */
export function formatError(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NO_VALUE;
  const digits = Math.abs(value) >= 100 ? 0 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A fraction 0..1 as a percentage with one decimal. */
export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NO_VALUE;
  return `${(value * 100).toFixed(1)} %`;
}

/** Counts and seqs: whole numbers, thousands separated. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NO_VALUE;
  return Math.round(value).toLocaleString('en-US');
}

/** Mean of the finite values, or null. */
export function meanOf(values: readonly (number | null)[] | undefined): number | null {
  const xs = (values ?? []).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}
