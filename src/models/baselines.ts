// The two baselines as models of the ladder: naive (last value) and seasonal naive (value one season ago). Their
// fit only records the scaler; they read prices back out of scaled windows. Live, they serve raw windows exactly.
import { BynerError } from '../errors.js';
import {
  checkSeason,
  NaiveForecaster,
  SeasonalNaiveForecaster,
  seasonalLag,
} from '../features/forecaster.js';
import type { MinMaxScaler } from '../features/scaler.js';
import type { JsonObject } from '../store/types.js';
import type { ScaledWindows } from './data.js';
import { BaseModel, type ModelShape } from './model.js';

/** JSON of a baseline's only file: baselines have no parameters, but a registry entry holds at least one file. */
const BASELINE_FILE = 'baseline.json';

const baselineFiles = (config: JsonObject) => ({
  config,
  files: { [BASELINE_FILE]: new TextEncoder().encode(`${JSON.stringify(config)}\n`) },
});

/** Price (feature 0) of row `row` of window i, unscaled. */
function priceAt(x: ScaledWindows, i: number, row: number): number {
  return x.scaler.unscale(x.x[(i * x.window + row) * x.features], 0);
}

export class NaiveModel extends BaseModel {
  constructor(shape: ModelShape) {
    super('naive', shape);
  }

  protected async fitChecked(): Promise<JsonObject> {
    return {};
  }

  protected predictChecked(x: ScaledWindows): Float64Array {
    const H = this.horizon;
    const out = new Float64Array(x.n * H);
    for (let i = 0; i < x.n; i++) out.fill(priceAt(x, i, x.window - 1), i * H, (i + 1) * H);
    return out;
  }

  protected async saveChecked() {
    return baselineFiles({});
  }

  static fromSaved(shape: ModelShape, scaler: MinMaxScaler): NaiveModel {
    return new NaiveModel(shape).restore(scaler);
  }

  override async forecaster(version: string): Promise<NaiveForecaster> {
    this.requireFitted('forecast');
    return new NaiveForecaster(this.horizon, version);
  }
}

/** Options of the `seasonal_naive` kind. */
export interface SeasonalNaiveOptions {
  /** Season in ticks (default 10); at most the window. */
  season?: number;
}

export class SeasonalNaiveModel extends BaseModel {
  readonly season: number;

  constructor(shape: ModelShape, options: SeasonalNaiveOptions = {}) {
    super('seasonal_naive', shape);
    this.season = options.season ?? 10;
    checkSeason(this.season);
    if (this.season > this.window) {
      throw new BynerError('BYNER_CONFIG', 'seasonal_naive: the season is longer than the window', {
        expected: `a season of at most ${this.window} ticks (the window)`,
        received: String(this.season),
        hint: 'use a longer window or a shorter season',
      });
    }
  }

  protected async fitChecked(): Promise<JsonObject> {
    return {};
  }

  protected predictChecked(x: ScaledWindows): Float64Array {
    const H = this.horizon;
    const out = new Float64Array(x.n * H);
    for (let i = 0; i < x.n; i++) {
      for (let h = 1; h <= H; h++)
        out[i * H + h - 1] = priceAt(x, i, x.window - 1 - seasonalLag(h, this.season));
    }
    return out;
  }

  protected async saveChecked() {
    return baselineFiles({ season: this.season });
  }

  static fromSaved(config: ModelShape & JsonObject, scaler: MinMaxScaler): SeasonalNaiveModel {
    const season = typeof config.season === 'number' ? config.season : Number.NaN;
    return new SeasonalNaiveModel(config, { season }).restore(scaler);
  }

  override async forecaster(version: string): Promise<SeasonalNaiveForecaster> {
    this.requireFitted('forecast');
    return new SeasonalNaiveForecaster(this.horizon, this.season, version);
  }
}
