// Reads one timestamp of a price file as epoch milliseconds: ISO 8601 date-times (offset optional, UTC when
// absent), dates alone (UTC midnight), and epoch seconds or milliseconds told apart by magnitude. Whether a
// series of them increases is the reader's business.

/**
 * Digits-only values below this are epoch seconds, from it on epoch milliseconds. 1e11 s is the year 5138 and
 * 1e11 ms is 1973-03-03, so real seconds and real milliseconds after March 1973 both read right.
 */
export const EPOCH_MS_FROM = 1e11;

/** The accepted forms, for error messages and the README. */
export const TIMESTAMP_FORMS =
  'an ISO 8601 date-time (2024-01-02T10:00:00Z; UTC when it has no offset), a date (2024-01-02), or epoch seconds / milliseconds (digits; milliseconds from 1e11 on)';

const EPOCH = /^-?\d+(\.\d+)?$/;
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;
/** Latest instant a JavaScript Date holds (±8.64e15 ms). */
const MAX_MS = 8.64e15;

/** Date.UTC, also for the years 0-99 (which Date.UTC reads as 1900-1999). */
function utc(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  if (year >= 100) return Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (year: number, month: number) =>
  month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS[month - 1];

/** Epoch milliseconds of an epoch number (seconds or milliseconds, by magnitude); NaN when out of range. */
export function epochToMs(v: number): number {
  const ms = Math.abs(v) < EPOCH_MS_FROM ? v * 1000 : v;
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_MS ? Math.round(ms) : Number.NaN;
}

/** Digits `s[from, from + len)` as a number; -1 when one is not a digit. */
function digits(s: string, from: number, len: number): number {
  let v = 0;
  for (let i = from; i < from + len; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The common forms read without the regular expression (in about a sixth of the time): `2024-01-02`,
 * `2024-01-02T10:00:00`, `…Z`, `…T10:00:00.123Z` (T or space). Undefined for anything else, which parseTimestamp
 * then reads in full; both give the same instant for these forms.
 */
function commonIso(s: string): number | undefined {
  const n = s.length;
  if ((n !== 10 && n !== 19 && n !== 20 && n !== 24) || s[4] !== '-' || s[7] !== '-') return undefined;
  const [year, month, day] = [digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2)];
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (n === 10) return Date.UTC(year, month - 1, day);
  if ((s[10] !== 'T' && s[10] !== ' ') || s[13] !== ':' || s[16] !== ':') return undefined;
  if (n === 20 && s[19] !== 'Z') return undefined;
  if (n === 24 && (s[19] !== '.' || s[23] !== 'Z')) return undefined;
  const [hour, minute, second] = [digits(s, 11, 2), digits(s, 14, 2), digits(s, 17, 2)];
  const ms = n === 24 ? digits(s, 20, 3) : 0;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0)
    return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** Epoch milliseconds of `text`, rounded to the millisecond; NaN when it is none of the accepted forms. */
export function parseTimestamp(text: string): number {
  const s = text.trim();
  const common = commonIso(s);
  if (common !== undefined) return common;
  if (EPOCH.test(s)) return epochToMs(Number(s));
  const m = ISO.exec(s);
  if (m === null) return Number.NaN;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return Number.NaN;
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  let ms = utc(year, month, day, hour, minute, second);
  if (m[7] !== undefined) ms += Math.round(Number(`0.${m[7]}`) * 1000);
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    const offsetH = Number(digits.slice(1, 3));
    const offsetM = digits.length > 3 ? Number(digits.slice(3, 5)) : 0;
    if (offsetH > 23 || offsetM > 59) return Number.NaN;
    ms -= (zone[0] === '-' ? -1 : 1) * (offsetH * 60 + offsetM) * 60_000;
  }
  return Math.abs(ms) <= MAX_MS ? ms : Number.NaN;
}
