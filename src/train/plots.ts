// Training and backtest plots as PNG files (forecasts, loss per epoch, error per horizon, error per fold, a fold's
// forecasts): Vega-Lite → SVG → resvg. Draws only what it is handed: no data access, no fitting, no scoring.
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { FoldErrorRow, FoldSeries } from '../backtest/record.js';
import { BynerError, describe } from '../errors.js';

/** A chart as Vega-Lite understands it; the builders below return these. */
export type ChartSpec = vegaLite.TopLevelSpec;

export interface ForecastWindow {
  /** Prices up to and including the forecast origin; only the last `HISTORY_TICKS` are drawn. */
  history: number[];
  /** The true next values (horizon 1..h). */
  actual: number[];
  /** The forecast of the same values; same length as `actual`. */
  predicted: number[];
  /** Panel title; defaults to "test window <n>". */
  label?: string;
}

export interface LossHistory {
  /** Training MSE per epoch, epoch 1 first. */
  loss: number[];
  /** Validation MSE per epoch; same length as `loss`. */
  val_loss: number[];
  /** The epoch kept (1-based, the number on the x axis), drawn as a vertical rule. */
  bestEpoch?: number;
}

export interface HorizonErrorRow {
  /** Model or baseline name, e.g. "lstm", "naive", "seasonal naive". */
  model: string;
  /** Test MSE per horizon, horizon 1 first; every row has the same length. */
  mse: number[];
}

/** Most windows drawn by `plotForecasts` (one panel each). */
export const MAX_FORECAST_WINDOWS = 5;
/** History ticks drawn before the forecast origin. */
export const HISTORY_TICKS = 20;

const FONT = 'DejaVu Sans';
const FONT_FILE = join(
  dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')),
  'ttf',
  'DejaVuSans.ttf',
);
/** Plot-area width; with axes and padding the image is about 900 px wide. */
const PLOT_WIDTH = 800;

const SERIES = ['history', 'actual', 'predicted'] as const;
const SERIES_COLORS = ['#4c78a8', '#2a9d3f', '#e4572e'];

const CONFIG: vegaLite.Config = {
  font: FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 17, anchor: 'start', offset: 12 },
  axis: { labelFontSize: 13, titleFontSize: 14, titlePadding: 10, gridColor: '#e6e6e6' },
  legend: {
    labelFontSize: 13,
    titleFontSize: 13,
    symbolSize: 160,
    labelLimit: 0,
    orient: 'top',
    direction: 'horizontal',
    columnPadding: 24,
  },
  header: { labelFontSize: 14, labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelPadding: 4 },
  view: { stroke: '#bbbbbb' },
};

// Vega's legend `layout` (passed through by Vega-Lite, whose types mangle it): stack legends vertically.
const STACKED_LEGENDS = {
  ...CONFIG.legend,
  layout: { top: { direction: 'vertical', anchor: 'start' } },
} as unknown as vegaLite.Config['legend'];

// ---------------------------------------------------------------------------------------------------------
// Validation

function inputError(what: string, expected: string, received: string): BynerError {
  return new BynerError('BYNER_INPUT', `plots: invalid ${what}`, { expected, received });
}

/** A non-empty array of finite numbers (non-negative when `nonNegative`). */
function checkNumbers(what: string, values: unknown, nonNegative = false, minLength = 1): number[] {
  if (!Array.isArray(values) || values.length < minLength)
    throw inputError(what, `an array of at least ${minLength} number(s)`, describe(values));
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (nonNegative && v < 0))
      throw inputError(`${what}[${i}]`, nonNegative ? 'a finite number ≥ 0' : 'a finite number', describe(v));
  });
  return values;
}

function checkSameLength(what: string, expected: number, values: number[]): void {
  if (values.length !== expected)
    throw inputError(what, `${expected} values (same length as its partner)`, `${values.length} values`);
}

// ---------------------------------------------------------------------------------------------------------
// Specs (pure; exported so tests can render them without touching the disk)

/** Up to 5 panels: the last `HISTORY_TICKS` prices, then the actual and predicted next values. */
export function forecastSpec(windows: ForecastWindow[]): ChartSpec {
  if (!Array.isArray(windows) || windows.length < 1 || windows.length > MAX_FORECAST_WINDOWS)
    throw inputError('forecast windows', `1 to ${MAX_FORECAST_WINDOWS} windows`, describe(windows));
  const rows: {
    panel: string;
    order: number;
    series: string;
    step: number;
    price: number;
    marker: boolean;
  }[] = [];
  const labels = new Set<string>();
  windows.forEach((w, k) => {
    const name = `windows[${k}]`;
    if (w === null || typeof w !== 'object') throw inputError(name, 'an object', describe(w));
    const history = checkNumbers(`${name}.history`, w.history);
    const actual = checkNumbers(`${name}.actual`, w.actual);
    const predicted = checkNumbers(`${name}.predicted`, w.predicted);
    checkSameLength(`${name}.predicted`, actual.length, predicted);
    if (w.label !== undefined && (typeof w.label !== 'string' || w.label.trim() === ''))
      throw inputError(`${name}.label`, 'a non-empty string or undefined', describe(w.label));
    const panel = w.label ?? `test window ${k + 1}`;
    if (labels.has(panel))
      throw inputError(`${name}.label`, 'a label unique among the windows', describe(panel));
    labels.add(panel);
    const shown = history.slice(-HISTORY_TICKS);
    const origin = shown[shown.length - 1];
    const add = (series: string, step: number, price: number, marker: boolean): void => {
      rows.push({ panel, order: k, series, step, price, marker });
    };
    for (const [i, p] of shown.entries()) add('history', i - shown.length + 1, p, false);
    // Actual and predicted lines start at the origin so each reads as a continuation of the history.
    for (const [series, values] of [
      ['actual', actual],
      ['predicted', predicted],
    ] as const) {
      add(series, 0, origin, false);
      for (const [i, p] of values.entries()) add(series, i + 1, p, true);
    }
  });
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: [...SERIES], range: SERIES_COLORS },
    legend: { symbolType: 'stroke', symbolStrokeWidth: 3 },
  } as const;
  const x = {
    field: 'step',
    type: 'quantitative',
    title: 'step (ticks relative to the forecast origin)',
    axis: { tickMinStep: 1, format: 'd' },
  } as const;
  const y = { field: 'price', type: 'quantitative', title: 'price', scale: { zero: false } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Multi-step forecasts on ${windows.length} test window${windows.length > 1 ? 's' : ''}`,
    config: CONFIG,
    data: { values: rows },
    facet: {
      row: { field: 'panel', type: 'nominal', title: null, sort: { field: 'order' } },
    },
    spacing: 16,
    spec: {
      width: PLOT_WIDTH - 40,
      height: 120,
      layer: [
        {
          mark: { type: 'line', strokeWidth: 2 },
          encoding: {
            x,
            y,
            color,
            detail: { field: 'series' },
            strokeDash: {
              field: 'series',
              type: 'nominal',
              title: null,
              scale: {
                domain: [...SERIES],
                range: [
                  [1, 0],
                  [1, 0],
                  [6, 3],
                ],
              },
            },
          },
        },
        {
          transform: [{ filter: 'datum.marker' }],
          mark: { type: 'point', filled: true, size: 60, opacity: 1 },
          encoding: {
            x,
            y,
            color,
            shape: {
              field: 'series',
              type: 'nominal',
              title: null,
              scale: { domain: [...SERIES], range: ['circle', 'circle', 'triangle-up'] },
            },
          },
        },
        {
          mark: { type: 'rule', strokeDash: [2, 3], color: '#888888' },
          encoding: { x: { datum: 0, type: 'quantitative' } },
        },
      ],
    },
    resolve: { scale: { y: 'shared' } },
  } as ChartSpec;
}

/** Train and validation MSE per epoch (x from 1), with a rule at the best epoch when given. */
export function lossCurveSpec(history: LossHistory): ChartSpec {
  if (history === null || typeof history !== 'object')
    throw inputError('loss history', 'an object {loss, val_loss, bestEpoch?}', describe(history));
  const loss = checkNumbers('loss history.loss', history.loss, true);
  const valLoss = checkNumbers('loss history.val_loss', history.val_loss, true);
  checkSameLength('loss history.val_loss', loss.length, valLoss);
  const { bestEpoch } = history;
  if (bestEpoch !== undefined && !(Number.isInteger(bestEpoch) && bestEpoch >= 1 && bestEpoch <= loss.length))
    throw inputError('loss history.bestEpoch', `an integer epoch in 1..${loss.length}`, describe(bestEpoch));
  const rows = loss.flatMap((l, i) => [
    { epoch: i + 1, set: 'train', mse: l },
    { epoch: i + 1, set: 'validation', mse: valLoss[i] },
  ]);
  const layer: unknown[] = [
    {
      mark: { type: 'line', strokeWidth: 2, point: loss.length <= 60 ? { size: 30, filled: true } : false },
      encoding: {
        x: {
          field: 'epoch',
          type: 'quantitative',
          title: 'epoch',
          scale: { domain: [1, Math.max(2, loss.length)], nice: false },
          axis: { tickMinStep: 1, format: 'd' },
        },
        y: { field: 'mse', type: 'quantitative', title: 'MSE loss', scale: { zero: false } },
        color: {
          field: 'set',
          type: 'nominal',
          title: null,
          scale: { domain: ['train', 'validation'], range: ['#4c78a8', '#e4572e'] },
        },
      },
    },
  ];
  if (bestEpoch !== undefined) {
    const best = { epoch: bestEpoch, label: `best epoch ${bestEpoch} (val ${fmt(valLoss[bestEpoch - 1])})` };
    // Label on the side of the rule that has more room.
    const leftSide = bestEpoch > (loss.length + 1) / 2;
    layer.push(
      {
        data: { values: [best] },
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5, color: '#333333' },
        encoding: { x: { field: 'epoch', type: 'quantitative' } },
      },
      {
        data: { values: [best] },
        mark: {
          type: 'text',
          align: leftSide ? 'right' : 'left',
          dx: leftSide ? -6 : 6,
          y: 12,
          fontSize: 13,
          color: '#333333',
        },
        encoding: { x: { field: 'epoch', type: 'quantitative' }, text: { field: 'label' } },
      },
    );
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Training and validation loss per epoch',
    config: CONFIG,
    width: PLOT_WIDTH,
    height: 380,
    data: { values: rows },
    layer,
  } as ChartSpec;
}

/** Per-horizon test MSE for the model and each baseline, with a dashed Bayes-limit rule when given. */
export function horizonErrorsSpec(rows: HorizonErrorRow[], bayesMse?: number): ChartSpec {
  if (!Array.isArray(rows) || rows.length < 1)
    throw inputError('horizon error rows', 'at least one {model, mse} row', describe(rows));
  const names = new Set<string>();
  let horizons = 0;
  const values = rows.flatMap((r, k) => {
    const name = `rows[${k}]`;
    if (r === null || typeof r !== 'object') throw inputError(name, 'an object {model, mse}', describe(r));
    if (typeof r.model !== 'string' || r.model.trim() === '' || names.has(r.model))
      throw inputError(`${name}.model`, 'a non-empty, unique model name', describe(r.model));
    names.add(r.model);
    const mse = checkNumbers(`${name}.mse`, r.mse, true);
    if (k === 0) horizons = mse.length;
    checkSameLength(`${name}.mse`, horizons, mse);
    return mse.map((m, h) => ({ model: r.model, horizon: h + 1, mse: m }));
  });
  if (bayesMse !== undefined && !(typeof bayesMse === 'number' && Number.isFinite(bayesMse) && bayesMse > 0))
    throw inputError('bayesMse', 'a finite number > 0 or undefined', describe(bayesMse));
  const layer: unknown[] = [
    {
      // Lines with points on a log scale (bars cannot start at 0 on a log axis).
      mark: { type: 'line', point: { size: 80, filled: true }, strokeWidth: 2.5 },
      encoding: {
        x: { field: 'horizon', type: 'ordinal', title: 'horizon (ticks ahead)', axis: { labelAngle: 0 } },
        // Log scale: the naive baseline is ~50x worse than the others, which would flatten them to nothing.
        y: { field: 'mse', type: 'quantitative', title: 'test MSE (log scale)', scale: { type: 'log' } },
        color: {
          field: 'model',
          type: 'nominal',
          title: null,
          sort: [...names],
          scale: { scheme: 'tableau10' },
        },
      },
    },
  ];
  if (bayesMse !== undefined) {
    const bayes = { mse: bayesMse, label: `Bayes limit (MSE ${fmt(bayesMse)})` };
    layer.push({
      data: { values: [bayes] },
      mark: { type: 'rule', strokeWidth: 2, color: '#222222' },
      encoding: {
        y: { field: 'mse', type: 'quantitative' },
        // Labelled in the legend: a label inside the plot would cross the baselines' bars.
        strokeDash: {
          field: 'label',
          type: 'nominal',
          title: null,
          scale: { range: [[8, 5]] },
          legend: {
            symbolType: 'stroke',
            symbolStrokeColor: '#222222',
            symbolStrokeWidth: 2,
            symbolSize: 700,
          },
        },
      },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Test MSE per forecast horizon',
    // Model legend and Bayes-limit legend stacked, not side by side.
    config: {
      ...CONFIG,
      legend: STACKED_LEGENDS,
    },
    width: PLOT_WIDTH,
    height: 380,
    data: { values },
    layer,
  } as ChartSpec;
}

/** Names of `rows[k].model`: non-empty and unique. */
function checkModelNames(rows: { model: unknown }[], what: string): string[] {
  const names: string[] = [];
  rows.forEach((r, k) => {
    if (r === null || typeof r !== 'object') throw inputError(`${what}[${k}]`, 'an object', describe(r));
    if (typeof r.model !== 'string' || r.model.trim() === '' || names.includes(r.model))
      throw inputError(`${what}[${k}].model`, 'a non-empty, unique model name', describe(r.model));
    names.push(r.model);
  });
  return names;
}

/**
 * Each model's mean MSE per backtest fold, one line per model (log scale when every value is > 0), `best` named
 * in the legend. `foldLabels` (one per fold) name the folds on the x axis.
 */
export function foldErrorsSpec(
  rows: FoldErrorRow[],
  options: { best?: string; foldLabels?: string[] } = {},
): ChartSpec {
  if (!Array.isArray(rows) || rows.length < 1)
    throw inputError('fold error rows', 'at least one {model, mse} row', describe(rows));
  const names = checkModelNames(rows, 'rows');
  const folds = checkNumbers('rows[0].mse', rows[0].mse, true).length;
  for (const [k, r] of rows.entries())
    checkSameLength(`rows[${k}].mse`, folds, checkNumbers(`rows[${k}].mse`, r.mse, true));
  const { best, foldLabels } = options;
  if (best !== undefined && !names.includes(best))
    throw inputError('best', `one of the models (${names.join(', ')})`, describe(best));
  if (foldLabels !== undefined) {
    if (
      !Array.isArray(foldLabels) ||
      foldLabels.length !== folds ||
      foldLabels.some((l) => typeof l !== 'string')
    )
      throw inputError('foldLabels', `${folds} strings (one per fold)`, describe(foldLabels));
  }
  const label = (name: string) => (name === best ? `${name} (best)` : name);
  const foldName = (k: number) => foldLabels?.[k] ?? `${k + 1}`;
  const values = rows.flatMap((r) =>
    r.mse.map((mse, k) => ({ model: label(r.model), fold: foldName(k), order: k, mse })),
  );
  const log = values.every((v) => v.mse > 0);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Mean MSE per backtest fold (${folds} fold${folds > 1 ? 's' : ''}, earliest first)`,
    config: CONFIG,
    width: PLOT_WIDTH,
    height: 380,
    data: { values },
    mark: { type: 'line', point: { size: 80, filled: true }, strokeWidth: 2.5 },
    encoding: {
      x: {
        field: 'fold',
        type: 'ordinal',
        title: 'fold (ticks forecast)',
        sort: { field: 'order' },
        axis: { labelAngle: 0 },
      },
      y: {
        field: 'mse',
        type: 'quantitative',
        title: `mean MSE over the horizons${log ? ' (log scale)' : ''}`,
        scale: log ? { type: 'log' } : { zero: true },
      },
      color: {
        field: 'model',
        type: 'nominal',
        title: null,
        sort: names.map(label),
        scale: { scheme: 'tableau10' },
      },
    },
  } as ChartSpec;
}

const FOLD_SERIES_COLORS = ['#2a9d3f', '#e4572e', '#4c78a8'];
/** Ticks per panel of `foldForecastSpec` at most, unless that takes more panels than FOLD_PANELS. */
const FOLD_PANEL_TICKS = 100;
const FOLD_PANELS = 5;

/**
 * A model's forecasts over a backtest fold (up to 3 horizons, e.g. 1 and the last) against the actual prices, in
 * stacked panels of consecutive ticks so that each cycle stays visible.
 */
export function foldForecastSpec(series: FoldSeries): ChartSpec {
  if (series === null || typeof series !== 'object')
    throw inputError('fold series', 'an object {model, fold, actual, forecasts}', describe(series));
  if (typeof series.model !== 'string' || series.model.trim() === '')
    throw inputError('fold series.model', 'a non-empty model name', describe(series.model));
  if (!Number.isInteger(series.fold) || series.fold < 0)
    throw inputError('fold series.fold', 'an integer ≥ 0', describe(series.fold));
  const seqsOf = (what: string, s: { seqs: unknown; prices: unknown }) => {
    const seqs = checkNumbers(`${what}.seqs`, s?.seqs);
    checkSameLength(`${what}.prices`, seqs.length, checkNumbers(`${what}.prices`, s?.prices));
    return seqs;
  };
  const actualSeqs = seqsOf('fold series.actual', series.actual);
  if (!Array.isArray(series.forecasts) || series.forecasts.length < 1 || series.forecasts.length > 3)
    throw inputError('fold series.forecasts', '1 to 3 horizons', describe(series.forecasts));
  const first = Math.min(...actualSeqs);
  const ticks = Math.max(...actualSeqs) - first + 1;
  const perPanel = Math.ceil(ticks / Math.min(FOLD_PANELS, Math.ceil(ticks / FOLD_PANEL_TICKS)));
  const panelOf = (seq: number) => Math.max(0, Math.floor((seq - first) / perPanel));
  const panelName = (k: number) =>
    `seq ${first + k * perPanel}–${Math.min(first + ticks, first + (k + 1) * perPanel) - 1}`;
  const rows: { series: string; seq: number; price: number; order: number; panel: string }[] = [];
  const add = (name: string, seq: number, price: number) => {
    const k = panelOf(seq);
    rows.push({ series: name, seq, price, order: k, panel: panelName(k) });
  };
  for (const [i, seq] of actualSeqs.entries()) add('actual', seq, series.actual.prices[i]);
  const names = ['actual'];
  series.forecasts.forEach((f, k) => {
    if (!Number.isInteger(f?.horizon) || f.horizon < 1)
      throw inputError(`fold series.forecasts[${k}].horizon`, 'an integer ≥ 1', describe(f?.horizon));
    const name = `forecast ${f.horizon} tick${f.horizon > 1 ? 's' : ''} ahead`;
    if (names.includes(name))
      throw inputError(`fold series.forecasts[${k}].horizon`, 'a horizon not drawn yet', describe(f.horizon));
    names.push(name);
    for (const [i, seq] of seqsOf(`fold series.forecasts[${k}]`, f).entries()) add(name, seq, f.prices[i]);
  });
  const panels = panelOf(first + ticks - 1) + 1;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${series.model}: forecasts against actual prices over fold ${series.fold + 1} (${ticks} ticks)`,
    config: CONFIG,
    data: { values: rows },
    facet: { row: { field: 'panel', type: 'nominal', title: null, sort: { field: 'order' } } },
    spacing: 16,
    spec: {
      width: PLOT_WIDTH,
      height: panels > 2 ? 110 : 160,
      mark: { type: 'line', strokeWidth: 1.8 },
      encoding: {
        x: {
          field: 'seq',
          type: 'quantitative',
          title: 'seq of the tick forecast',
          scale: { zero: false, nice: false },
          axis: { format: 'd', tickMinStep: 1 },
        },
        y: { field: 'price', type: 'quantitative', title: 'price', scale: { zero: false } },
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: names, range: FOLD_SERIES_COLORS.slice(0, names.length) },
          legend: { symbolType: 'stroke', symbolStrokeWidth: 3 },
        },
        strokeDash: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: {
            domain: names,
            range: names.map(
              (_, k) =>
                [
                  [1, 0],
                  [6, 3],
                  [2, 2],
                ][k],
            ),
          },
        },
      },
    },
    resolve: { scale: { x: 'independent', y: 'shared' } },
  } as ChartSpec;
}

const fmt = (v: number): string => v.toFixed(3);

// ---------------------------------------------------------------------------------------------------------
// Rendering

/** Vega-Lite spec → SVG text. Text widths come from Vega's font-independent estimate (no canvas). */
export async function specToSvg(spec: ChartSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface RenderedPng {
  png: Buffer;
  width: number;
  height: number;
  /** RGBA, row-major, `width * height * 4` bytes. */
  pixels: Buffer;
}

/** SVG → PNG on white with the bundled DejaVu Sans only, so text renders the same on every machine. */
export function renderSvgToPng(svg: string): RenderedPng {
  const image = new Resvg(svg, {
    font: { fontFiles: [FONT_FILE], loadSystemFonts: false, defaultFontFamily: FONT },
    background: 'white',
  }).render();
  return { png: image.asPng(), width: image.width, height: image.height, pixels: image.pixels };
}

async function writeChart(file: string, spec: ChartSpec): Promise<string> {
  if (typeof file !== 'string' || file.trim() === '')
    throw inputError('plot file', 'a path ending in .png', describe(file));
  const { png } = renderSvgToPng(await specToSvg(spec));
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, png);
  } catch (cause) {
    throw new BynerError('BYNER_INPUT', `plots: cannot write ${file}`, {
      expected: 'a writable file path',
      received: describe(file),
      hint: 'choose an output folder you can write to',
      cause,
    });
  }
  return file;
}

// ---------------------------------------------------------------------------------------------------------
// Public API: each writes one PNG (creating its folder) and resolves to the file path.

/** `multi_step_forecasts.png`: one panel per test window (at most 5). */
export async function plotForecasts(file: string, windows: ForecastWindow[]): Promise<string> {
  return writeChart(file, forecastSpec(windows));
}

/** `loss_curve.png`: train and validation MSE per epoch. */
export async function plotLossCurve(file: string, history: LossHistory): Promise<string> {
  return writeChart(file, lossCurveSpec(history));
}

/** `horizon_errors.png`: per-horizon test MSE of the model and baselines, optional Bayes limit. */
export async function plotHorizonErrors(
  file: string,
  rows: HorizonErrorRow[],
  bayesMse?: number,
): Promise<string> {
  return writeChart(file, horizonErrorsSpec(rows, bayesMse));
}

/** `backtest_folds.png`: each model's mean MSE per fold. */
export async function plotFoldErrors(
  file: string,
  rows: FoldErrorRow[],
  options: { best?: string; foldLabels?: string[] } = {},
): Promise<string> {
  return writeChart(file, foldErrorsSpec(rows, options));
}

/** `backtest_last_fold.png`: a model's forecasts over a fold against the actual prices. */
export async function plotFoldForecasts(file: string, series: FoldSeries): Promise<string> {
  return writeChart(file, foldForecastSpec(series));
}
