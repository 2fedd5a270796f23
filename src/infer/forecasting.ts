// The forecasts of live inference: the full windows of a batch grouped by forecaster, one call per forecaster
// (windows of several streams served by one model go through the engine together; in parts when the forecaster
// can, its forecast thread taking a share at once), a failing call retried window by window, and every forecast
// checked before anything scores, prints or stores it. Which windows come, and what happens next, is the pipeline's.
import type { Forecaster, ForecastJob } from '../features/forecaster.js';
import type { StoreLogger } from '../store/types.js';

/** Why a window got no forecast: it threw or had the wrong shape, or it held a NaN or ±Infinity. */
export type SkipKind = 'forecastErrors' | 'nonFinite';

/** One tick's window to forecast (null while the window fills: no forecast), and who forecasts it. */
export interface WindowItem {
  readonly stream: string;
  readonly seq: number;
  readonly window: readonly (readonly number[])[] | null;
  readonly forecaster: Forecaster;
}

/** A batch's forecasts under way: `work()` does this thread's part, `finish()` returns one entry per item. */
export interface BatchJob {
  readonly threaded: boolean;
  /** The forecasters at work in this batch (a swapped-out model is closed only when no batch uses it). */
  readonly forecasters: ReadonlySet<Forecaster>;
  work(): void;
  /** Per item: its forecast, or null (no full window, the forecast failed, or it was not finite). */
  finish(): (number[] | null)[];
}

/** One forecaster's share of a batch. */
interface Group {
  forecaster: Forecaster;
  /** Indexes of the batch's items with a full window. */
  items: number[];
  job: ForecastJob | null;
}

export class ForecastBatches {
  /** `kind model_version` of the problems logged already: each is logged once, then only counted. */
  private readonly reported = new Set<string>();

  /** `onSkip` counts each window left without a forecast (its item says the stream and the forecaster). */
  constructor(
    private readonly logger: StoreLogger,
    private readonly onSkip: (item: WindowItem, kind: SkipKind) => void,
  ) {}

  /** Starts forecasting the items' full windows, one call per forecaster; see BatchJob. */
  start(items: readonly WindowItem[]): BatchJob {
    const byForecaster = new Map<Forecaster, Group>();
    items.forEach((a, i) => {
      if (a.window === null) return;
      let g = byForecaster.get(a.forecaster);
      if (g === undefined) {
        g = { forecaster: a.forecaster, items: [], job: null };
        byForecaster.set(a.forecaster, g);
      }
      g.items.push(i);
    });
    const groups = [...byForecaster.values()];
    const windowsOf = (g: Group) => g.items.map((i) => items[i].window as readonly (readonly number[])[]);
    for (const g of groups) {
      if (g.items.length > 1 && g.forecaster.forecastStart) {
        try {
          g.job = g.forecaster.forecastStart(windowsOf(g));
        } catch {
          g.job = null; // finish() forecasts this group again, then window by window
        }
      }
    }
    return {
      threaded: groups.some((g) => g.job?.threaded === true),
      forecasters: new Set(byForecaster.keys()),
      work() {
        for (const g of groups) {
          try {
            g.job?.work();
          } catch {
            // finish() tries this thread's part again (settling the forecast thread's), then one by one
          }
        }
      },
      finish: () => {
        const out: (number[] | null)[] = items.map(() => null);
        for (const g of groups) {
          const results = this.groupResults(g, windowsOf(g), items);
          g.items.forEach((i, k) => {
            const f = results[k];
            out[i] = f === null ? null : this.check(items[i], f);
          });
        }
        return out;
      },
    };
  }

  /** The group's forecasts (one call), or window by window when that call fails. */
  private groupResults(
    g: Group,
    windows: readonly (readonly (readonly number[])[])[],
    items: readonly WindowItem[],
  ): (unknown[] | null)[] {
    try {
      const results = g.job ? g.job.finish() : g.forecaster.forecast(windows);
      if (!Array.isArray(results) || results.length !== windows.length) throw new Error('wrong count');
      return results;
    } catch {
      return windows.map((w, k) => {
        try {
          return g.forecaster.forecast([w])[0];
        } catch (error) {
          const item = items[g.items[k]];
          this.onSkip(item, 'forecastErrors');
          this.logger.warn(
            { stream: item.stream, seq: item.seq, err: (error as Error).message },
            'forecast failed; skipping this tick',
          );
          return null;
        }
      });
    }
  }

  /** The forecast when it is `horizon` finite numbers; otherwise null, counted, and logged once per model version. */
  private check(item: WindowItem, forecast: unknown): number[] | null {
    const { version, horizon } = item.forecaster;
    const { stream, seq } = item;
    const numbers = Array.isArray(forecast) && forecast.length === horizon;
    if (numbers && forecast.every(Number.isFinite)) return forecast as number[];
    const shown = Array.isArray(forecast) ? `[${forecast.join(', ')}]` : String(forecast);
    const where = { model_version: version, stream, seq, forecast: shown };
    if (numbers && forecast.every((x) => typeof x === 'number')) {
      this.onSkip(item, 'nonFinite');
      this.reportOnce(
        'non_finite',
        version,
        where,
        `model ${version} returned a non-finite forecast (NaN or Infinity) after seq ${seq}: skipped, not scored ` +
          'or stored, counted in non_finite_forecasts (logged once per model version)',
      );
    } else {
      this.onSkip(item, 'forecastErrors');
      this.reportOnce(
        'shape',
        version,
        where,
        `model ${version} returned a forecast that is not ${horizon} numbers after seq ${seq}: skipped ` +
          '(logged once per model version)',
      );
    }
    return null;
  }

  private reportOnce(kind: string, version: string, obj: object, msg: string): void {
    const key = `${kind} ${version}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.logger.warn(obj, msg);
  }
}
