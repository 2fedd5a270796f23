// Live scoring (DESIGN §8): as actual prices arrive, scores every earlier forecast per horizon — running and windowed
// (last N) MSE, MAE and exact-match accuracy of the rounded forecast — per stream and model version, as metrics
// documents. Storing the documents is the writer's job.
import { BynerError } from '../errors.js';
import type { MetricsDoc, MetricValues } from '../store/types.js';
import { roundHalfEven } from '../ticks/generator.js';

/** Sums of one horizon's errors over a set of scored forecasts. */
class Sums {
  n = 0;
  sq = 0;
  abs = 0;
  hits = 0;
  add(sq: number, abs: number, hit: number): void {
    this.n += 1;
    this.sq += sq;
    this.abs += abs;
    this.hits += hit;
  }
}

/** Last `size` scores of one horizon (a sliding window), summed afresh on each snapshot (no drift). */
class Window {
  private readonly sq: Float64Array;
  private readonly abs: Float64Array;
  private readonly hit: Uint8Array;
  private next = 0;
  constructor(readonly size: number) {
    this.sq = new Float64Array(size);
    this.abs = new Float64Array(size);
    this.hit = new Uint8Array(size);
  }
  add(sq: number, abs: number, hit: number): void {
    const i = this.next++ % this.size;
    this.sq[i] = sq;
    this.abs[i] = abs;
    this.hit[i] = hit;
  }
  sums(): Sums {
    const s = new Sums();
    const n = Math.min(this.next, this.size);
    for (let i = 0; i < n; i++) s.add(this.sq[i], this.abs[i], this.hit[i]);
    return s;
  }
}

/** A forecaster's scores on one stream so far: running and over the last `window` forecasts. */
export interface ScoreSnapshot {
  /** Per horizon: running `mse`, `mae`, `accuracy` (0..1), and the same over the window as `*_window`. */
  metrics: MetricValues;
  /** Scored forecasts per horizon, in total and in the window. */
  scored: number[];
  /** Scored forecasts per horizon within the window. */
  scoredWindow: number[];
  /** Forecasts the windowed metrics cover (at most). */
  window: number;
}

export class Scorer {
  private readonly pending = new Map<number, readonly number[]>();
  private readonly running: Sums[];
  private readonly windows: Window[];

  constructor(
    readonly horizon: number,
    readonly window = 100,
  ) {
    if (!Number.isSafeInteger(horizon) || horizon < 1 || !Number.isSafeInteger(window) || window < 1) {
      throw new BynerError('BYNER_CONFIG', 'invalid scorer', {
        expected: 'integer horizon and window >= 1',
        received: `horizon ${horizon}, window ${window}`,
      });
    }
    this.running = Array.from({ length: horizon }, () => new Sums());
    this.windows = Array.from({ length: horizon }, () => new Window(window));
  }

  /** Forecasts still waiting for some of their actual values. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Registers the forecast made after tick `seq`: value h−1 is the forecast of tick seq + h. */
  addForecast(seq: number, forecast: readonly number[]): void {
    if (forecast.length !== this.horizon || !forecast.every(Number.isFinite)) {
      throw new BynerError('BYNER_SHAPE', `forecast after seq ${seq} is not ${this.horizon} finite numbers`, {
        expected: `${this.horizon} finite numbers`,
        received: JSON.stringify(forecast),
      });
    }
    this.pending.set(seq, forecast);
  }

  /** The actual price of tick `seq` arrived: scores it against each earlier forecast; returns how many. */
  observe(seq: number, actual: number): number {
    let scored = 0;
    for (let h = 1; h <= this.horizon; h++) {
      const f = this.pending.get(seq - h);
      if (f === undefined) continue;
      const err = f[h - 1] - actual;
      const hit = roundHalfEven(f[h - 1]) === actual ? 1 : 0;
      this.running[h - 1].add(err * err, Math.abs(err), hit);
      this.windows[h - 1].add(err * err, Math.abs(err), hit);
      scored += 1;
    }
    // Forecasts whose last target is this tick (or was skipped by a gap) are done.
    for (const s of this.pending.keys()) {
      if (s + this.horizon > seq) break;
      this.pending.delete(s);
    }
    return scored;
  }

  snapshot(): ScoreSnapshot {
    const ratio = (a: number, n: number) => (n === 0 ? null : a / n);
    const pick = (sums: Sums[]) => ({
      mse: sums.map((s) => ratio(s.sq, s.n)),
      mae: sums.map((s) => ratio(s.abs, s.n)),
      accuracy: sums.map((s) => ratio(s.hits, s.n)),
    });
    const run = pick(this.running);
    const windowed = this.windows.map((w) => w.sums());
    const win = pick(windowed);
    return {
      metrics: { ...run, mse_window: win.mse, mae_window: win.mae, accuracy_window: win.accuracy },
      scored: this.running.map((s) => s.n),
      scoredWindow: windowed.map((s) => s.n),
      window: this.window,
    };
  }
}

/** One model version's scores on one stream. */
interface VersionScores {
  scorer: Scorer;
  /** Forecasts skipped as not finite. */
  nonFinite: number;
  /** Changed since its last metrics document. */
  dirty: boolean;
  /** No longer forecasting this stream: dropped once its last forecasts are scored (and documented). */
  retired: boolean;
}

/**
 * One stream's scores, per model version: each version's forecasts are scored against the stream's ticks by a
 * Scorer of its own, so every metrics document (`inf_metrics`) is one stream's and one version's. A version that
 * stops forecasting (a newer model took over) keeps scoring its last forecasts as their targets arrive.
 */
export class StreamScores {
  private readonly versions = new Map<string, VersionScores>();
  private lastSeq: number | null = null;
  /** Some version's numbers changed since the last documents. */
  private changed = false;

  constructor(
    readonly stream: string,
    /** Forecasts in the windowed metrics. */
    readonly window: number,
  ) {}

  private of(version: string, horizon: number): VersionScores {
    let v = this.versions.get(version);
    if (v === undefined || v.scorer.horizon !== horizon) {
      v = { scorer: new Scorer(horizon, this.window), nonFinite: 0, dirty: false, retired: false };
      this.versions.set(version, v);
    }
    v.retired = false;
    return v;
  }

  /** The actual price of tick `seq` arrived: scores every version's earlier forecasts; returns how many pairs. */
  observe(seq: number, price: number): number {
    this.lastSeq = seq;
    let scored = 0;
    for (const v of this.versions.values()) {
      const n = v.scorer.observe(seq, price);
      if (n > 0) {
        v.dirty = true;
        this.changed = true;
      }
      scored += n;
    }
    return scored;
  }

  /** The forecast `version` made after tick `seq`. */
  addForecast(version: string, seq: number, forecast: readonly number[]): void {
    this.of(version, forecast.length).scorer.addForecast(seq, forecast);
  }

  /** A forecast of `version` skipped as not finite (counted in its documents). */
  countNonFinite(version: string, horizon: number): void {
    const v = this.of(version, horizon);
    v.nonFinite += 1;
    v.dirty = true;
    this.changed = true;
  }

  /** `version` forecasts this stream no more (a newer model took over). */
  retire(version: string): void {
    const v = this.versions.get(version);
    if (v !== undefined) v.retired = true;
  }

  /** Whether some version's numbers changed since the last documents. */
  get dirty(): boolean {
    return this.changed;
  }

  snapshot(version: string): ScoreSnapshot | null {
    return this.versions.get(version)?.scorer.snapshot() ?? null;
  }

  /** The metrics documents of the versions whose numbers changed since the last call. */
  takeDocs(): MetricsDoc[] {
    const docs: MetricsDoc[] = [];
    this.changed = false;
    for (const [version, v] of this.versions) {
      if (v.dirty) {
        v.dirty = false;
        const s = v.scorer.snapshot();
        docs.push({
          timestamp: new Date(),
          metrics: s.metrics,
          forecast_horizon: v.scorer.horizon,
          model_version: version,
          stream: this.stream,
          last_seq: this.lastSeq,
          window: s.window,
          scored: s.scored,
          scored_window: s.scoredWindow,
          non_finite_forecasts: v.nonFinite,
        });
      }
      if (v.retired && v.scorer.pendingCount === 0) this.versions.delete(version);
    }
    return docs;
  }
}
