// The forecasts of live inference: a batch's full windows in one call (in parts when the forecaster can: its forecast
// thread takes a share at once), a failing batch retried window by window, and every forecast checked before
// anything scores, prints or stores it. Which windows come, and what happens to the forecasts, is runner.ts's job.
import type { Forecaster, ForecastJob } from '../features/forecaster.js';
import type { StoreLogger } from '../store/types.js';

/** The run's counters the forecasts add to. */
export interface ForecastCounts {
  /** Forecasts that threw, or came back as something other than `horizon` numbers. */
  forecastErrors: number;
  /** Forecasts holding a NaN or ±Infinity: skipped, never scored or stored. */
  nonFinite: number;
}

/** One tick's window to forecast (null while the window fills: no forecast). */
export interface WindowItem {
  readonly seq: number;
  readonly window: readonly (readonly number[])[] | null;
}

/** A batch's forecasts under way: `work()` does this thread's part, `finish()` returns one entry per item. */
export interface BatchJob {
  readonly threaded: boolean;
  work(): void;
  /** Per item: its forecast, or null (no full window, the forecast failed, or it was not finite). */
  finish(): (number[] | null)[];
}

export class ForecastBatches {
  /** `kind model_version` of the problems logged already: each is logged once, then only counted. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly forecaster: Forecaster,
    private readonly counts: ForecastCounts,
    private readonly logger: StoreLogger,
    private readonly stream: string,
  ) {}

  /** Starts forecasting the items' full windows; see BatchJob. */
  start(items: readonly WindowItem[]): BatchJob {
    const { forecaster } = this;
    const full = items.filter((a) => a.window !== null);
    const windows = full.map((a) => a.window as readonly (readonly number[])[]);
    const oneByOne = (): (number[] | null)[] =>
      windows.map((w, i) => {
        try {
          return forecaster.forecast([w])[0];
        } catch (error) {
          this.counts.forecastErrors += 1;
          this.logger.warn(
            { seq: full[i].seq, err: (error as Error).message },
            'forecast failed; skipping this tick',
          );
          return null;
        }
      });
    let job: ForecastJob | null = null;
    if (windows.length > 1 && forecaster.forecastStart) {
      try {
        job = forecaster.forecastStart(windows);
      } catch {
        job = null;
      }
    }
    return {
      threaded: job?.threaded ?? false,
      work() {
        try {
          job?.work();
        } catch {
          // finish() tries this thread's part again (settling the forecast thread's), then one by one
        }
      },
      finish: () => {
        let results: (number[] | null)[] = [];
        if (windows.length > 0) {
          try {
            results = job ? job.finish() : forecaster.forecast(windows);
            if (!Array.isArray(results) || results.length !== windows.length) throw new Error('wrong count');
          } catch {
            results = oneByOne();
          }
        }
        let k = 0;
        return items.map((a) => {
          if (a.window === null) return null;
          const f = results[k++];
          return f === null ? null : this.check(a.seq, f);
        });
      },
    };
  }

  /** The forecast when it is `horizon` finite numbers; otherwise null, counted, and logged once per model version. */
  private check(seq: number, forecast: unknown): number[] | null {
    const { version, horizon } = this.forecaster;
    const numbers = Array.isArray(forecast) && forecast.length === horizon;
    if (numbers && forecast.every(Number.isFinite)) return forecast as number[];
    const shown = Array.isArray(forecast) ? `[${forecast.join(', ')}]` : String(forecast);
    const where = { model_version: version, stream: this.stream, seq, forecast: shown };
    if (numbers && forecast.every((x) => typeof x === 'number')) {
      this.counts.nonFinite += 1;
      this.reportOnce(
        'non_finite',
        where,
        `model ${version} returned a non-finite forecast (NaN or Infinity) after seq ${seq}: skipped, not scored ` +
          'or stored, counted in non_finite_forecasts (logged once per model version)',
      );
    } else {
      this.counts.forecastErrors += 1;
      this.reportOnce(
        'shape',
        where,
        `model ${version} returned a forecast that is not ${horizon} numbers after seq ${seq}: skipped ` +
          '(logged once per model version)',
      );
    }
    return null;
  }

  private reportOnce(kind: string, obj: object, msg: string): void {
    const key = `${kind} ${this.forecaster.version}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.logger.warn(obj, msg);
  }
}
