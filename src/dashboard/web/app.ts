// The dashboard page: the stream chosen in its selector (`?stream=` in the URL; the list from /api/streams), its
// ticks from the browser's EventSource on /realtime_data?stream=, its forecasts, metrics and model from the REST
// reads, all held in fixed-size rings and drawn at most once per animation frame.
// Formatting is format.ts's, the charts' look is charts.ts's, checking the JSON is api.ts's.
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import {
  getJson,
  type LiveForecast,
  type LiveMetrics,
  type LiveTick,
  listOf,
  type ModelInfo,
  type PublicModelJson,
  parseForecast,
  parseMetrics,
  parseStreamEntry,
  parseTick,
  type StreamEntry,
  type TripleJson,
} from './api.js';
import { followWidth, mseChart, priceChart } from './charts.js';
import { formatCount, formatError, formatPercent, formatPrice, meanOf } from './format.js';
import { ForecastTable, NumberRing, RateMeter } from './ring.js';

const HORIZON = 5;
/** Ticks held (the widest "ticks shown" choice). */
const TICKS = 1000;
/** Windowed-MSE samples held for the small chart. */
const METRIC_SAMPLES = 300;
const POLL_FAST_MS = 250;
const POLL_IDLE_MS = 2000;
const MODEL_REFRESH_MS = 10_000;
const PRICE_HEIGHT = 300;
const MSE_HEIGHT = 170;

const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
  const el = document.querySelector<T>(selector);
  if (el === null) throw new Error(`dashboard markup lacks ${selector}`);
  return el;
};
const byTestId = (id: string) => $(`[data-testid="${id}"]`);
const setText = (el: HTMLElement, text: string) => {
  if (el.textContent !== text) el.textContent = text;
};

// --- state: bounded by construction ------------------------------------------------------------------------
const seqs = new NumberRing(TICKS);
const prices = new NumberRing(TICKS);
const forecasts = new ForecastTable(TICKS + 24, HORIZON);
const mseSeqs = new NumberRing(METRIC_SAMPLES);
const mseByHorizon = Array.from({ length: HORIZON }, () => new NumberRing(METRIC_SAMPLES));
const rate = new RateMeter(2048);
let latestForecast: LiveForecast | null = null;
let latestMetrics: LiveMetrics | null = null;
let modelInfo: ModelInfo | null = null;
let modelFetchedFor: string | null = null;
let modelFetchedAt = 0;
let gaps = 0;
let missing = 0;
let invalid = 0;
let streamName = '';
let renders = 0;
let restOk: boolean | null = null;
/** When the last tick arrived (performance.now()); polls stay fast while ticks came within POLL_IDLE_MS. */
let lastTickAt = Number.NEGATIVE_INFINITY;
/** The stream shown; null until /api/streams answered (then the server's default stream is read). */
let currentStream: string | null = null;
/** Bumped on every switch of stream: answers that arrive for an earlier stream are dropped. */
let generation = 0;

/** `stream=<name>` for the URLs of the stream shown (nothing for the server's default before the list came). */
const streamQuery = (): string =>
  currentStream === null ? '' : `stream=${encodeURIComponent(currentStream)}`;
const withStream = (path: string): string => {
  const q = streamQuery();
  return q === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${q}`;
};

// --- drawing, coalesced to one pass per animation frame ----------------------------------------------------
const priceEl = $('#price-chart');
const mseEl = $('#mse-chart');
const horizonSelect = $<HTMLSelectElement>('#horizon');
const spanSelect = $<HTMLSelectElement>('#span');
const price = priceChart(priceEl, PRICE_HEIGHT);
const mse = mseChart(mseEl, MSE_HEIGHT);
followWidth(price, priceEl, PRICE_HEIGHT);
followWidth(mse, mseEl, MSE_HEIGHT);

let frameRequested = false;
function invalidate(): void {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    render();
  });
}

function priceData(): uPlot.AlignedData {
  const h = Number(horizonSelect.value) || 1;
  const n = Math.min(Number(spanSelect.value) || 120, seqs.length);
  const from = seqs.length - n;
  const x: number[] = [];
  const actual: (number | null)[] = [];
  const past: (number | null)[] = [];
  const ahead: (number | null)[] = [];
  for (let i = from; i < seqs.length; i++) {
    const s = seqs.at(i);
    x.push(s);
    actual.push(prices.at(i));
    past.push(forecasts.get(s - h, h));
    ahead.push(null);
  }
  const f = latestForecast;
  if (f !== null && x.length > 0) {
    // The latest forecast starts from the price it was made after (when shown) and runs 5 ticks ahead.
    const anchor = x.lastIndexOf(f.seq);
    if (anchor >= 0) ahead[anchor] = actual[anchor];
    for (let k = 1; k <= HORIZON; k++) {
      const s = f.seq + k;
      if (s < x[0]) continue;
      let i = x.length - 1;
      while (i >= 0 && x[i] > s) i -= 1;
      if (i >= 0 && x[i] === s) ahead[i] = f.forecast[k - 1];
      else {
        x.splice(i + 1, 0, s);
        actual.splice(i + 1, 0, null);
        past.splice(i + 1, 0, null);
        ahead.splice(i + 1, 0, f.forecast[k - 1]);
      }
    }
  }
  return [x, actual, past, ahead];
}

function mseData(): uPlot.AlignedData {
  const x: number[] = [];
  for (let i = 0; i < mseSeqs.length; i++) x.push(mseSeqs.at(i));
  const ys = mseByHorizon.map((ring) => {
    const ys: (number | null)[] = [];
    for (let i = 0; i < ring.length; i++) {
      const v = ring.at(i);
      ys.push(Number.isFinite(v) ? v : null);
    }
    return ys;
  });
  return [x, ...ys];
}

function render(): void {
  renders += 1;
  const data = priceData();
  price.setData(data);
  priceEl.dataset.points = String(data[0].length);
  priceEl.dataset.renders = String(renders);

  const lastSeq = seqs.last();
  const lastPrice = prices.last();
  const priceText = byTestId('last-price');
  setText(priceText, formatPrice(lastPrice));
  priceText.dataset.value = lastPrice === undefined ? '' : String(lastPrice);
  priceText.dataset.seq = lastSeq === undefined ? '' : String(lastSeq);
  setText(byTestId('last-price-seq'), formatCount(lastSeq));
  setText(byTestId('last-seq'), formatCount(lastSeq));
  setText(byTestId('stream-name'), streamName || '—');
  setText(byTestId('gaps'), missing > 0 ? `${gaps} (${formatCount(missing)} ticks)` : String(gaps));

  const f = latestForecast;
  const table = byTestId('forecast');
  table.dataset.seq = f === null ? '' : String(f.seq);
  setText(byTestId('forecast-seq'), formatCount(f?.seq));
  setText(byTestId('forecast-model'), f?.model_version || '—');
  for (let k = 1; k <= HORIZON; k++) {
    const cell = byTestId(`forecast-${k}`);
    const v = f?.forecast[k - 1];
    setText(cell, formatPrice(v));
    cell.dataset.value = v === undefined ? '' : String(v);
    setText(byTestId(`forecast-seq-${k}`), formatCount(f === null ? null : f.seq + k));
  }
  renderMetrics();
  renderDrift();
  if (mseSeqs.length > 0) mse.setData(mseData());
}

/** The drift line: whether the serving model is worse than the seasonal-naive baseline, with both window MSEs. */
function renderDrift(): void {
  const box = byTestId('drift');
  const d = latestMetrics?.drift ?? null;
  box.hidden = d === null;
  box.dataset.state = d === null ? 'none' : d.active ? 'active' : 'ok';
  const raw = (x: number | null | undefined) => (x === null || x === undefined ? '' : String(x));
  box.dataset.modelMse = raw(d?.model_mse);
  box.dataset.baselineMse = raw(d?.baseline_mse);
  box.dataset.fallback = d?.fallback ?? '';
  if (d === null) return;
  setText(byTestId('drift-badge'), d.active ? 'DRIFT' : 'no drift');
  const mses =
    d.model_mse === null
      ? `no window of ${formatCount(d.window)} forecasts closed yet`
      : `window MSE ${formatError(d.model_mse)} vs seasonal naive ${formatError(d.baseline_mse)} ` +
        `(last ${formatCount(d.window)} forecasts)`;
  const text = d.active
    ? `${d.model_version} worse than the seasonal-naive baseline in ${d.worse_windows} consecutive windows ` +
      `since seq ${formatCount(d.since_seq)}: ${mses}; ` +
      (d.fallback === null ? 'still forecasting with it' : `forecasting with ${d.fallback} meanwhile`)
    : `${d.model_version}: ${mses}; drift after ${d.windows_needed} worse windows` +
      (d.worse_windows > 0 ? ` (${d.worse_windows} so far)` : '');
  setText(byTestId('drift-text'), text);
}

function renderMetrics(): void {
  const m = latestMetrics;
  const body = $<HTMLTableSectionElement>('#metrics-body');
  if (m !== null && m.window !== null) setText($('#window-head'), `last ${formatCount(m.window)} forecasts`);
  if (body.rows.length !== HORIZON) {
    body.replaceChildren(
      ...Array.from({ length: HORIZON }, (_, h) => {
        const tr = document.createElement('tr');
        const th = document.createElement('th');
        th.scope = 'row';
        th.textContent = `t+${h + 1}`;
        tr.append(th, ...Array.from({ length: 7 }, () => document.createElement('td')));
        return tr;
      }),
    );
  }
  const get = (name: string, h: number) => m?.metrics[name]?.[h] ?? null;
  for (let h = 0; h < HORIZON; h++) {
    const cells = body.rows[h].cells;
    setText(cells[1], formatError(get('mse', h)));
    setText(cells[2], formatError(get('mae', h)));
    setText(cells[3], formatPercent(get('accuracy', h)));
    setText(cells[4], formatError(get('mse_window', h)));
    setText(cells[5], formatError(get('mae_window', h)));
    setText(cells[6], formatPercent(get('accuracy_window', h)));
    setText(cells[7], formatCount(m?.scored[h] ?? null));
  }
  const skipped = byTestId('non-finite');
  const n = m?.non_finite_forecasts ?? null;
  setText(skipped, formatCount(n));
  skipped.dataset.value = n === null ? '' : String(n);
  skipped.dataset.state = n !== null && n > 0 ? 'warn' : 'ok';
}

// --- the model panel (changes rarely: rebuilt when the answer changes) -------------------------------------
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function metricsTable(model: PublicModelJson): HTMLElement {
  const rows: [string, TripleJson | undefined][] = [
    [`LSTM ${model.version}`, model.metrics.test],
    ['naive (last value)', model.metrics.baselines?.naive],
    ['seasonal naive', model.metrics.baselines?.seasonal_naive],
  ];
  const table = el('table', undefined, { class: 'numbers', 'data-testid': 'model-metrics' });
  table.append(el('caption', 'Test split, mean over the 5 horizons'));
  const head = el('tr');
  head.append(el('th', 'forecaster', { scope: 'col' }));
  for (const name of ['MSE', 'MAE', 'accuracy']) head.append(el('th', name, { scope: 'col' }));
  table.append(el('thead'));
  table.tHead!.append(head);
  const body = el('tbody');
  for (const [name, m] of rows) {
    const tr = el('tr');
    tr.append(el('th', name, { scope: 'row' }));
    tr.append(el('td', formatError(meanOf(m?.mse))));
    tr.append(el('td', formatError(meanOf(m?.mae))));
    tr.append(el('td', formatPercent(meanOf(m?.accuracy))));
    body.append(tr);
  }
  table.append(body);
  return table;
}

function modelFacts(model: PublicModelJson): HTMLElement {
  const dl = el('dl');
  const add = (k: string, v: string) => dl.append(el('dt', k), el('dd', v));
  add('trained', model.created_at ? new Date(model.created_at).toLocaleString('en-GB') : '—');
  if (model.data_range) {
    const r = model.data_range;
    add('on ticks', `${r.stream} ${formatCount(r.from_seq)}–${formatCount(r.to_seq)}`);
  }
  add('registry', model.serving ? 'serving model' : 'stored, not serving');
  return dl;
}

function renderModel(): void {
  const box = $('#model');
  const info = modelInfo;
  const parts: HTMLElement[] = [];
  if (latestForecast === null || info === null) {
    parts.push(el('p', 'Waiting for forecasts (is `byner infer` running?)'));
  } else {
    // A baseline forecasting while the stream's model drifts (byner infer --fallback).
    const drift = latestMetrics?.drift;
    const fallback = drift?.fallback === info.version ? drift : null;
    const head = el('p');
    head.append(el('strong', info.version ?? '—', { 'data-testid': 'model-version' }), ' ');
    if (info.kind === 'baseline') {
      const what =
        fallback === null
          ? 'baseline forecaster (no trained model)'
          : `fallback baseline while ${fallback.model_version} drifts`;
      head.append(el('span', what, { class: 'tag' }));
    }
    if (info.kind === 'unknown') head.append(el('span', 'not in the registry', { class: 'tag' }));
    parts.push(head);
    if (info.kind === 'baseline' && info.serving === null && fallback === null) {
      parts.push(
        el('p', 'Train a model with `byner train` to see its test metrics against the baselines here.'),
      );
    }
    if (info.model !== null) parts.push(modelFacts(info.model), metricsTable(info.model));
    if (info.serving !== null) {
      const why = fallback === null ? 'not forecasting here' : 'drifting: scored, not shown';
      parts.push(el('p', `The registry's serving model is ${info.serving.version} (${why}):`));
      parts.push(metricsTable(info.serving));
    }
  }
  box.replaceChildren(...parts);
}

// --- ticks: EventSource, with a backfill from the REST API so the chart starts full ------------------------
function accept(t: LiveTick): void {
  const last = seqs.last();
  if (last !== undefined && t.seq <= last) return; // replayed or reordered: already have it
  if (last !== undefined && t.seq > last + 1) {
    gaps += 1;
    missing += t.seq - last - 1;
  }
  seqs.push(t.seq);
  lastTickAt = performance.now();
  prices.push(t.price);
  if (t.stream) streamName = t.stream;
}

function setStreamState(state: 'connecting' | 'connected' | 'reconnecting' | 'closed'): void {
  const pill = byTestId('stream-state');
  pill.dataset.state = state;
  setText(pill, state === 'connecting' ? 'connecting…' : state === 'reconnecting' ? 'reconnecting…' : state);
}

let source: EventSource | null = null;
function connect(): void {
  setStreamState('connecting');
  let backfilled = false;
  const held: LiveTick[] = [];
  const es = new EventSource(withStream('/realtime_data'));
  source = es;
  es.onopen = () => setStreamState('connected');
  es.onerror = () => {
    if (source !== es) return;
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream (e.g. a restarted server without our Last-Event-ID): start afresh.
      setStreamState('closed');
      es.close();
      setTimeout(() => {
        if (source !== es) return;
        seqs.clear();
        prices.clear();
        connect();
      }, 3000);
    } else setStreamState('reconnecting');
  };
  es.onmessage = (event: MessageEvent<string>) => {
    if (source !== es) return;
    let tick: LiveTick | null = null;
    try {
      tick = parseTick(JSON.parse(event.data));
    } catch {
      tick = null;
    }
    if (tick === null) {
      invalid += 1;
      return;
    }
    rate.mark(performance.now());
    if (backfilled) {
      accept(tick);
      invalidate();
      return;
    }
    held.push(tick);
    if (held.length > TICKS) held.shift();
    if (held.length === 1) {
      backfill(tick.seq).finally(() => {
        if (source !== es) return;
        backfilled = true;
        for (const t of held) accept(t);
        held.length = 0;
        invalidate();
      });
    }
  };
}

/** Loads the ticks just before the first live one (up to TICKS of them). */
async function backfill(firstSeq: number): Promise<void> {
  if (firstSeq === 0 || seqs.length > 0) return;
  const from = Math.max(0, firstSeq - TICKS);
  const path =
    from > 0
      ? `/api/ticks?after=${from - 1}&limit=${firstSeq - from}`
      : `/api/ticks?limit=${Math.min(TICKS, 1000)}`;
  const asked = generation;
  try {
    const body = await getJson(withStream(path));
    if (asked !== generation) return;
    for (const t of listOf(body, 'ticks', parseTick)) if (t.seq < firstSeq) accept(t);
  } catch {
    // The chart then starts with the live ticks only.
  }
}

// --- forecasts, metrics, model: REST polls, a few a second at most -----------------------------------------
async function pollOnce(): Promise<void> {
  const head = seqs.last();
  const have = latestForecast?.seq;
  const limit =
    have === undefined || head === undefined ? 1000 : Math.min(1000, Math.max(1, head - have + 2));
  const version = latestForecast?.model_version;
  const filter = version ? `&model_version=${encodeURIComponent(version)}` : '';
  const asked = generation;
  const [fBody, mBody] = await Promise.all([
    getJson(withStream(`/api/forecasts/latest?limit=${limit}${filter}`)),
    getJson(withStream(`/api/metrics/latest?limit=${latestMetrics === null ? METRIC_SAMPLES : 1}${filter}`)),
  ]);
  if (asked !== generation) return; // the stream was switched meanwhile
  for (const f of listOf(fBody, 'forecasts', parseForecast)) {
    if (f.forecast.length !== HORIZON) continue;
    forecasts.set(f.seq, f.forecast);
    if (latestForecast === null || f.seq >= latestForecast.seq) latestForecast = f;
  }
  for (const m of listOf(mBody, 'metrics', parseMetrics)) {
    if (latestMetrics !== null && m.timestamp <= latestMetrics.timestamp) continue;
    latestMetrics = m;
    const w = m.metrics.mse_window;
    if (m.last_seq !== null && w !== undefined && (mseSeqs.last() ?? -1) < m.last_seq) {
      mseSeqs.push(m.last_seq);
      for (let h = 0; h < HORIZON; h++) mseByHorizon[h].push(w[h] ?? Number.NaN);
    }
  }
  const v = latestForecast?.model_version ?? null;
  if (v !== null && (v !== modelFetchedFor || performance.now() - modelFetchedAt > MODEL_REFRESH_MS)) {
    modelFetchedFor = v;
    modelFetchedAt = performance.now();
    const body = (await getJson(
      withStream(`/api/dashboard/model?version=${encodeURIComponent(v)}`),
    )) as ModelInfo;
    if (asked !== generation) return;
    const changed = JSON.stringify(body) !== JSON.stringify(modelInfo);
    modelInfo = body;
    if (changed) renderModel();
  }
}

async function pollLoop(): Promise<void> {
  try {
    await pollOnce();
    restOk = true;
  } catch {
    restOk = false;
  }
  setText(byTestId('rest-state'), restOk ? 'ok' : 'unreachable');
  invalidate();
  // While ticks flow (or the API failed) a few polls a second; on a quiet stream, one every 2 s.
  // (Judged by time, not by a new seq since the last poll: a busy page may see no tick between two polls.)
  const live = performance.now() - lastTickAt < POLL_IDLE_MS;
  setTimeout(pollLoop, live || restOk === false ? POLL_FAST_MS : POLL_IDLE_MS);
}

// --- the stream selector -----------------------------------------------------------------------------------
const streamSelect = $<HTMLSelectElement>('#stream-select');

/** Forgets everything shown of the previous stream. */
function resetState(): void {
  generation += 1;
  seqs.clear();
  prices.clear();
  forecasts.clear();
  mseSeqs.clear();
  for (const ring of mseByHorizon) ring.clear();
  latestForecast = null;
  latestMetrics = null;
  modelInfo = null;
  modelFetchedFor = null;
  gaps = 0;
  missing = 0;
  invalid = 0;
  streamName = currentStream ?? '';
  lastTickAt = Number.NEGATIVE_INFINITY;
}

/** Shows another stream: its ticks, forecasts, metrics and model; the URL says which (`?stream=`). */
function switchStream(name: string): void {
  if (name === currentStream) return;
  currentStream = name;
  const url = new URL(location.href);
  url.searchParams.set('stream', name);
  history.replaceState(null, '', url);
  source?.close();
  source = null;
  resetState();
  renderModel();
  connect();
  invalidate();
}

/** Fills the selector from /api/streams; the stream of `?stream=` when it is one of them, else the default. */
async function loadStreams(): Promise<void> {
  let streams: StreamEntry[] = [];
  try {
    streams = listOf(await getJson('/api/streams'), 'streams', parseStreamEntry);
  } catch {
    // An older server: its one stream, without a selector.
  }
  const wanted = new URLSearchParams(location.search).get('stream');
  const chosen = streams.find((st) => st.name === wanted) ?? streams.find((st) => st.default) ?? streams[0];
  streamSelect.replaceChildren(
    ...streams.map((st) => {
      const option = document.createElement('option');
      option.value = st.name;
      option.textContent = st.source ? `${st.name} (${st.source})` : st.name;
      return option;
    }),
  );
  streamSelect.hidden = streams.length === 0;
  if (chosen === undefined) return;
  streamSelect.value = chosen.name;
  currentStream = chosen.name;
  streamName = chosen.name;
  if (wanted !== null && wanted !== chosen.name) {
    // Not a stream of this server: show the default one, and say so in the URL.
    const url = new URL(location.href);
    url.searchParams.set('stream', chosen.name);
    history.replaceState(null, '', url);
  }
}
streamSelect.addEventListener('change', () => switchStream(streamSelect.value));

// --- start -------------------------------------------------------------------------------------------------
horizonSelect.addEventListener('change', () => {
  const legend = priceEl.querySelectorAll('.u-legend .u-series')[2]?.querySelector('.u-label');
  if (legend) legend.textContent = `past forecast t+${horizonSelect.value}`;
  invalidate();
});
spanSelect.addEventListener('change', invalidate);
setInterval(() => {
  setText(byTestId('tick-rate'), rate.rate(performance.now()).toFixed(0));
  byTestId('tick-rate').dataset.invalid = String(invalid);
}, 500);
void loadStreams().finally(() => {
  connect();
  void pollLoop();
});
