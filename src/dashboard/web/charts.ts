// The dashboard's two uPlot charts and their sizing: labelled axes, page colours, width following the card.
// What data they show is app.ts's business.
import uPlot from 'uplot';

const AXIS = {
  stroke: '#16191d',
  grid: { stroke: '#e3e6eb', width: 1 },
  ticks: { stroke: '#c3c8d0', width: 1 },
};
const FONT = '12px system-ui, sans-serif';
const LABEL_FONT = '600 12px system-ui, sans-serif';

/** Okabe-Ito colours (tell-apart with colour-blindness); one per horizon. */
export const HORIZON_COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#8a6d00'];
export const COLOURS = { actual: '#1f3b73', past: '#d55e00', latest: '#b0008a' };

const fmt = (digits: number) => (_u: uPlot, v: number | null) => (v === null ? '—' : v.toFixed(digits));
const axis = (label: string, size?: number): uPlot.Axis => ({
  ...AXIS,
  label,
  font: FONT,
  labelFont: LABEL_FONT,
  ...(size === undefined ? {} : { size }),
});

/** A chart of one value per tick (x = seq): the options the price and the MSE charts share. */
function seqChart(el: HTMLElement, height: number, yLabel: string, series: uPlot.Series[]): uPlot {
  return new uPlot(
    {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: false } },
      axes: [axis('tick (seq)'), axis(yLabel, 56)],
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
      series: [{ label: 'seq', value: fmt(0) }, ...series],
    },
    [[], ...series.map(() => [])],
    el,
  );
}

export function priceChart(el: HTMLElement, height: number): uPlot {
  return seqChart(el, height, 'price', [
    { label: 'actual', stroke: COLOURS.actual, width: 2, value: fmt(2) },
    { label: 'past forecast t+1', stroke: COLOURS.past, width: 1.5, value: fmt(2) },
    {
      label: 'latest forecast',
      stroke: COLOURS.latest,
      width: 2,
      dash: [6, 4],
      points: { show: true, size: 6, stroke: COLOURS.latest, fill: '#ffffff' },
      value: fmt(2),
    },
  ]);
}

export function mseChart(el: HTMLElement, height: number): uPlot {
  return seqChart(
    el,
    height,
    'MSE (price²)',
    HORIZON_COLOURS.map((stroke, i) => ({ label: `t+${i + 1}`, stroke, width: 1.5, value: fmt(3) })),
  );
}

/** Keeps the chart as wide as its container (the card), whatever the window does. */
export function followWidth(chart: uPlot, el: HTMLElement, height: number): void {
  let last = -1;
  new ResizeObserver(() => {
    const width = Math.max(200, Math.floor(el.clientWidth));
    if (width === last) return;
    last = width;
    chart.setSize({ width, height });
  }).observe(el);
}
