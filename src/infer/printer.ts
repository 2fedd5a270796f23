// What `byner infer` prints per tick (the original's output plus an accuracy line): the recent sequence, the
// forecast, after how many steps the last value is forecast to appear again. Deciding when to print is the pipeline's.
import { roundHalfEven } from '../ticks/generator.js';
import type { ScoreSnapshot } from './scoring.js';

/** 1-based step at which the rounded forecast first equals `value`, or null when it does not within the horizon. */
export function stepsUntilRepeat(value: number, forecast: readonly number[]): number | null {
  const i = forecast.findIndex((f) => roundHalfEven(f) === value);
  return i < 0 ? null : i + 1;
}

const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const pct = (x: number | null) => (x === null ? '  -' : `${Math.round(x * 100)}%`.padStart(4));
const fixed = (x: number | null) => (x === null ? '   -' : x.toFixed(2).padStart(5));

/**
 * One tick: `seq 1234  recent [..]  forecast [..]  last value 3 appears again in 2 steps`, and `(by …)` when `by`
 * says who forecast instead of the stream's model (a fallback baseline).
 */
export function formatTickLine(
  seq: number,
  recent: readonly number[],
  forecast: readonly number[] | null,
  filled: { have: number; need: number },
  by?: string,
): string {
  const head = `seq ${seq}  recent [${recent.map(num).join(', ')}]`;
  if (forecast === null && filled.have < filled.need) {
    return `${head}  (filling the window: ${filled.have}/${filled.need})`;
  }
  if (forecast === null) return `${head}  (no forecast: the model failed or returned a non-finite value)`;
  const last = recent[recent.length - 1];
  const steps = stepsUntilRepeat(last, forecast);
  const when =
    steps === null
      ? `last value ${num(last)} not forecast within ${forecast.length} steps`
      : `last value ${num(last)} appears again in ${steps} step${steps === 1 ? '' : 's'}`;
  const note = by === undefined ? '' : `  (by ${by})`;
  return `${head}  forecast [${forecast.map((f) => f.toFixed(2)).join(', ')}]  ${when}${note}`;
}

/** Per-horizon accuracy and MAE over the window: `  acc@100 h1 25% h2 …  mae 1.21 …  (n 100)`. */
export function formatScoreLine(s: ScoreSnapshot): string {
  const acc = (s.metrics.accuracy_window ?? []).map((a, h) => `h${h + 1} ${pct(a)}`).join(' ');
  const mae = (s.metrics.mae_window ?? []).map(fixed).join(' ');
  return `  accuracy (last ${s.window}) ${acc}   mae ${mae}   scored ${s.scoredWindow[0] ?? 0}/${s.window}`;
}
