// Training and backtest plots: each function writes a real, non-blank PNG of plausible size with its labels in it, and
// rejects bad inputs with BYNER_INPUT. Whether a chart *looks* right is checked by eye, not here.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isBynerError } from '../errors.js';
import {
  type ChartSpec,
  type ForecastWindow,
  foldErrorsSpec,
  foldForecastSpec,
  forecastSpec,
  type HorizonErrorRow,
  horizonErrorsSpec,
  type LossHistory,
  lossCurveSpec,
  plotFoldErrors,
  plotFoldForecasts,
  plotForecasts,
  plotHorizonErrors,
  plotLossCurve,
  renderSvgToPng,
  specToSvg,
} from './plots.js';

const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'byner-train-plots-'));
  dirs.push(d);
  return d;
};
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

// Small deterministic data shaped like the real thing (DESIGN §2: sine of amplitude 8, period 10 ticks).
const sine = (t: number) => Math.round(8 * Math.sin(2 * Math.PI * 0.1 * t));
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const testWindow = (origin: number): ForecastWindow => ({
  history: range(60, origin - 59).map(sine),
  actual: range(5, origin + 1).map((t) => sine(t) + ((t % 3) - 1)),
  predicted: range(5, origin + 1).map((t) => 8 * Math.sin(2 * Math.PI * 0.1 * t)),
});
const WINDOWS = [
  testWindow(100),
  testWindow(153),
  testWindow(207),
  testWindow(261),
  { ...testWindow(318), label: 'last window' },
];
const LOSS: LossHistory = {
  loss: range(30).map((i) => 0.02 + 0.3 * Math.exp(-i / 4)),
  val_loss: range(30).map((i) => 0.025 + 0.28 * Math.exp(-i / 4) + 0.00005 * Math.max(0, i - 18) ** 2),
  bestEpoch: 19,
};
const ROWS: HorizonErrorRow[] = [
  { model: 'lstm', mse: [2.41, 2.47, 2.52, 2.55, 2.61] },
  { model: 'naive', mse: [6.2, 17.9, 32.5, 45.1, 52.3] },
  { model: 'seasonal naive', mse: [4.6, 4.5, 4.7, 4.6, 4.5] },
];

const FOLD_ROWS = [
  { model: 'naive', mse: [77.0, 74.2, 80.1, 78.6, 79.2] },
  { model: 'seasonal_naive', mse: [4.36, 4.13, 4.73, 4.14, 4.33] },
  { model: 'linear', mse: [2.22, 2.18, 2.36, 2.14, 2.36] },
];
const FOLD_OPTIONS = {
  best: 'linear',
  foldLabels: ['8016–8415', '8412–8811', '8808–9207', '9204–9603', '9600–9999'],
};
// 400 ticks forecast (seq 1000..1403) by 400 windows at horizons 1 and 5, forecasts a little off.
const FOLD_SERIES = {
  model: 'linear',
  fold: 4,
  actual: { seqs: range(404, 1000), prices: range(404, 1000).map(sine) },
  forecasts: [1, 5].map((horizon) => ({
    horizon,
    seqs: range(400, 999 + horizon),
    prices: range(400, 999 + horizon).map((t) => 0.9 * sine(t)),
  })),
};

interface Case {
  name: string;
  file: string;
  write: (file: string) => Promise<string>;
  spec: () => ChartSpec;
  /** Text that must appear in the SVG (titles, axis titles, legend labels). */
  texts: string[];
}
const CASES: Case[] = [
  {
    name: 'plotForecasts',
    file: 'multi_step_forecasts.png',
    write: (f) => plotForecasts(f, WINDOWS),
    spec: () => forecastSpec(WINDOWS),
    texts: [
      'step (ticks relative to the forecast origin)',
      'price',
      'history',
      'actual',
      'predicted',
      'test window 1',
      'last window',
    ],
  },
  {
    name: 'plotLossCurve',
    file: 'loss_curve.png',
    write: (f) => plotLossCurve(f, LOSS),
    spec: () => lossCurveSpec(LOSS),
    texts: [
      'epoch',
      'MSE loss',
      'train',
      'validation',
      `best epoch 19 (val ${LOSS.val_loss[18].toFixed(3)})`,
    ],
  },
  {
    name: 'plotHorizonErrors',
    file: 'horizon_errors.png',
    write: (f) => plotHorizonErrors(f, ROWS, 2.253),
    spec: () => horizonErrorsSpec(ROWS, 2.253),
    texts: ['test MSE (log scale)', 'lstm', 'naive', 'seasonal naive', 'Bayes limit (MSE 2.253)'],
  },
  {
    name: 'plotFoldErrors',
    file: 'backtest_folds.png',
    write: (f) => plotFoldErrors(f, FOLD_ROWS, FOLD_OPTIONS),
    spec: () => foldErrorsSpec(FOLD_ROWS, FOLD_OPTIONS),
    texts: [
      'mean MSE over the horizons (log scale)',
      'fold (ticks forecast)',
      'naive',
      'seasonal_naive',
      'linear (best)',
      '8016–8415',
      '9600–9999',
    ],
  },
  {
    name: 'plotFoldForecasts',
    file: 'backtest_last_fold.png',
    write: (f) => plotFoldForecasts(f, FOLD_SERIES),
    spec: () => foldForecastSpec(FOLD_SERIES),
    texts: [
      'linear: forecasts against actual prices over fold 5 (404 ticks)',
      'seq of the tick forecast',
      'actual',
      'forecast 1 tick ahead',
      'forecast 5 ticks ahead',
      'seq 1000–1080',
      'seq 1324–1403',
    ],
  },
];

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from the IHDR chunk, which must come first. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, 'PNG signature');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR', 'first chunk is IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Fraction of pixels that are not (near) white. */
function inkFraction(pixels: Buffer): number {
  let ink = 0;
  for (let i = 0; i < pixels.length; i += 4)
    if (pixels[i] < 240 || pixels[i + 1] < 240 || pixels[i + 2] < 240) ink++;
  return ink / (pixels.length / 4);
}

describe('train/plots', () => {
  for (const c of CASES) {
    it(`${c.name} writes a PNG of plausible size into a new folder`, async () => {
      const file = join(await tempDir(), 'train_output', 'nested', c.file);
      assert.equal(await c.write(file), file);
      const png = await readFile(file);
      const { width, height } = pngSize(png);
      assert.ok(width > 300 && width <= 1000, `width ${width} px (about 900 expected)`);
      assert.ok(height > 300 && height <= 1400, `height ${height} px`);
      assert.ok(png.length > 10_000, `file size ${png.length} bytes (a blank PNG is far smaller)`);
    });

    it(`${c.name}: the chart has its labels, in DejaVu Sans, and is not blank`, async () => {
      const svg = await specToSvg(c.spec());
      for (const text of c.texts) assert.ok(svg.includes(`>${text}<`), `SVG text ${JSON.stringify(text)}`);
      assert.match(svg, /font-family="DejaVu Sans"/);
      const { pixels, width, height } = renderSvgToPng(svg);
      assert.equal(pixels.length, width * height * 4);
      const ink = inkFraction(pixels);
      assert.ok(ink > 0.03 && ink < 0.6, `non-white pixels: ${(ink * 100).toFixed(1)}%`);
    });
  }

  it('renders text with the bundled font only (no system fonts needed)', () => {
    const svg = (text: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40">` +
      `<text x="10" y="30" font-family="DejaVu Sans" font-size="24">${text}</text></svg>`;
    assert.equal(inkFraction(renderSvgToPng(svg('')).pixels), 0, 'background is white');
    assert.ok(inkFraction(renderSvgToPng(svg('price')).pixels) > 0.02, 'glyphs are drawn');
  });

  it('is deterministic: the same input gives the same bytes', async () => {
    const dir = await tempDir();
    const [a, b] = await Promise.all(
      ['a.png', 'b.png'].map(async (f) => readFile(await plotLossCurve(join(dir, f), LOSS))),
    );
    assert.deepEqual(a, b);
  });

  it('draws a loss curve without a best epoch and a horizon chart without a Bayes limit', async () => {
    const loss = lossCurveSpec({ loss: [0.5], val_loss: [0.6] });
    assert.ok(!(await specToSvg(loss)).includes('best epoch'));
    const bars = await specToSvg(horizonErrorsSpec(ROWS.slice(0, 1)));
    assert.ok(!bars.includes('Bayes limit'));
  });

  const nan = Number.NaN;
  // Validation comes first, so nothing is ever written here.
  const NOWHERE = join(tmpdir(), 'byner-plots-never-written', 'x.png');
  const BAD: [string, () => Promise<unknown>][] = [
    ['no windows', () => plotForecasts(NOWHERE, [])],
    ['6 windows', () => plotForecasts(NOWHERE, [...WINDOWS, testWindow(400)])],
    ['empty history', () => plotForecasts(NOWHERE, [{ ...testWindow(100), history: [] }])],
    ['NaN in history', () => plotForecasts(NOWHERE, [{ ...testWindow(100), history: [1, nan, 2] }])],
    [
      'actual/predicted lengths differ',
      () => plotForecasts(NOWHERE, [{ ...testWindow(100), predicted: [1, 2] }]),
    ],
    [
      'Infinity in predicted',
      () => plotForecasts(NOWHERE, [{ ...testWindow(100), predicted: [1, 2, 3, 4, 1 / 0] }]),
    ],
    ['empty label', () => plotForecasts(NOWHERE, [{ ...testWindow(100), label: ' ' }])],
    [
      'duplicate labels',
      () => plotForecasts(NOWHERE, [testWindow(100), { ...testWindow(200), label: 'test window 1' }]),
    ],
    ['loss/val_loss lengths differ', () => plotLossCurve(NOWHERE, { loss: [1, 2], val_loss: [1] })],
    ['empty loss', () => plotLossCurve(NOWHERE, { loss: [], val_loss: [] })],
    ['negative loss', () => plotLossCurve(NOWHERE, { loss: [1, -2], val_loss: [1, 2] })],
    ['NaN val_loss', () => plotLossCurve(NOWHERE, { loss: [1, 2], val_loss: [1, nan] })],
    ['bestEpoch 0 (1-based)', () => plotLossCurve(NOWHERE, { ...LOSS, bestEpoch: 0 })],
    ['bestEpoch past the end', () => plotLossCurve(NOWHERE, { ...LOSS, bestEpoch: 31 })],
    ['fractional bestEpoch', () => plotLossCurve(NOWHERE, { ...LOSS, bestEpoch: 2.5 })],
    ['no rows', () => plotHorizonErrors(NOWHERE, [])],
    ['rows of different horizons', () => plotHorizonErrors(NOWHERE, [ROWS[0], { model: 'b', mse: [1, 2] }])],
    ['duplicate model', () => plotHorizonErrors(NOWHERE, [ROWS[0], ROWS[0]])],
    ['empty model name', () => plotHorizonErrors(NOWHERE, [{ model: '', mse: [1] }])],
    ['NaN mse', () => plotHorizonErrors(NOWHERE, [{ model: 'a', mse: [1, nan] }])],
    ['NaN bayesMse', () => plotHorizonErrors(NOWHERE, ROWS, nan)],
    ['negative bayesMse', () => plotHorizonErrors(NOWHERE, ROWS, -1)],
    ['empty file name', () => plotLossCurve('', LOSS)],
    ['no fold rows', () => plotFoldErrors(NOWHERE, [])],
    [
      'fold rows of different fold counts',
      () => plotFoldErrors(NOWHERE, [FOLD_ROWS[0], { model: 'b', mse: [1, 2] }]),
    ],
    ['a best model not among the rows', () => plotFoldErrors(NOWHERE, FOLD_ROWS, { best: 'lstm' })],
    ['fold labels of the wrong count', () => plotFoldErrors(NOWHERE, FOLD_ROWS, { foldLabels: ['1'] })],
    ['NaN fold mse', () => plotFoldErrors(NOWHERE, [{ model: 'a', mse: [1, nan] }])],
    [
      'actual seqs and prices of different lengths',
      () => plotFoldForecasts(NOWHERE, { ...FOLD_SERIES, actual: { seqs: [1, 2, 3], prices: [1, 2] } }),
    ],
    ['no forecast horizons', () => plotFoldForecasts(NOWHERE, { ...FOLD_SERIES, forecasts: [] })],
    [
      'the same horizon twice',
      () =>
        plotFoldForecasts(NOWHERE, {
          ...FOLD_SERIES,
          forecasts: [FOLD_SERIES.forecasts[0], FOLD_SERIES.forecasts[0]],
        }),
    ],
    [
      'NaN in a forecast',
      () =>
        plotFoldForecasts(NOWHERE, {
          ...FOLD_SERIES,
          forecasts: [{ horizon: 1, seqs: [1000, 1001], prices: [1, nan] }],
        }),
    ],
    ['a negative fold', () => plotFoldForecasts(NOWHERE, { ...FOLD_SERIES, fold: -1 })],
  ];
  for (const [name, call] of BAD) {
    it(`rejects ${name} with BYNER_INPUT, saying what was expected and received`, async () => {
      await assert.rejects(call, (e: unknown) => {
        assert.ok(isBynerError(e, 'BYNER_INPUT'), String(e));
        assert.ok(e.expected && e.received, e.message);
        return true;
      });
    });
  }
});
