// A strict parser of the Prometheus text exposition format (version 0.0.4), for the tests of /metrics: it refuses
// what Prometheus's own parser refuses (bad names, bad escapes, a TYPE after samples, a family split in two, repeated
// series, histograms whose buckets or count do not add up), so a test passes only on output a scraper accepts.
// The npm parsers were not strict or not correct enough: parse-prometheus-text-format drops _sum/_count of labelled
// histograms and merges their label sets, prom2javascript refuses prom-client's `Nan`.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, … for histograms). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

export interface HistogramSeries {
  labels: Record<string, string>;
  /** Upper bound → cumulative count, ascending, ending with +Inf. */
  buckets: [number, number][];
  count: number;
  sum: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** A float as Go's strconv.ParseFloat (which Prometheus uses) reads it, or null. */
function parseValue(text: string): number | null {
  const t = text.toLowerCase();
  if (t === 'nan') return Number.NaN;
  if (t === '+inf' || t === 'inf') return Number.POSITIVE_INFINITY;
  if (t === '-inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return null;
  return Number(text);
}

class ParseError extends Error {
  constructor(line: number, text: string, why: string) {
    super(`line ${line}: ${why}: ${JSON.stringify(text)}`);
  }
}

/** Reads `name{a="x",b="y"}` from the start of `text`; returns it and the rest. */
function readSeries(
  text: string,
  fail: (why: string) => never,
): { name: string; labels: Record<string, string>; rest: string } {
  const nameEnd = text.search(/[{ \t]/);
  const name = nameEnd < 0 ? text : text.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) fail('bad metric name');
  const labels: Record<string, string> = {};
  let i = name.length;
  if (text[i] === '{') {
    i += 1;
    for (;;) {
      if (text[i] === '}') {
        i += 1;
        break;
      }
      const eq = text.indexOf('=', i);
      if (eq < 0) fail('a label without "="');
      const label = text.slice(i, eq);
      if (!LABEL_NAME.test(label) || label.startsWith('__')) fail(`bad label name ${JSON.stringify(label)}`);
      if (label in labels) fail(`label ${label} given twice`);
      if (text[eq + 1] !== '"') fail('a label value must be quoted');
      let value = '';
      let j = eq + 2;
      for (; ; j++) {
        const c = text[j];
        if (c === undefined) fail('an unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const next = text[++j];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else fail(`bad escape \\${next}`);
        } else value += c;
      }
      labels[label] = value;
      i = j + 1;
      if (text[i] === ',') i += 1;
      else if (text[i] !== '}') fail('expected "," or "}" after a label');
    }
  }
  return { name, labels, rest: text.slice(i) };
}

const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;

/** The families of `text`, in order; throws naming the line on anything a Prometheus server would refuse. */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | null = null;
  /** The family a line belongs to: a new one, or the one of the line before (a family is never split). */
  const family = (name: string, lineNo: number, line: string): Family => {
    let f = families.get(name);
    if (f !== undefined && f !== current) throw new ParseError(lineNo, line, `family ${name} is split`);
    if (f === undefined) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    current = f;
    return f;
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    const fail = (why: string): never => {
      throw new ParseError(lineNo, line, why);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (m === null) return; // a comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name)) fail('bad metric name');
      const f = family(name, lineNo, line);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) fail(`unknown type ${rest}`);
        if (f.samples.length > 0) fail('TYPE after samples');
        if (f.type !== 'untyped') fail('TYPE given twice');
        f.type = rest as MetricType;
      } else {
        if (f.help !== '') fail('HELP given twice');
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail('bad escape in HELP');
        f.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      }
      return;
    }
    const { name, labels, rest } = readSeries(line, fail);
    const parts = rest.trim().split(/[ \t]+/);
    if (!/^[ \t]/.test(rest) || parts.length < 1 || parts.length > 2) fail('expected " value [timestamp]"');
    const value = parseValue(parts[0]);
    if (value === null) fail(`bad value ${parts[0]}`);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail(`bad timestamp ${parts[1]}`);
    const suffix = /_(bucket|sum|count)$/.exec(name);
    const base = suffix !== null ? name.slice(0, suffix.index) : name;
    const baseFamily = families.get(base);
    const grouped =
      suffix !== null &&
      baseFamily !== undefined &&
      (baseFamily.type === 'histogram' || (baseFamily.type === 'summary' && suffix[1] !== 'bucket'));
    const f = family(grouped ? base : name, lineNo, line);
    const key = seriesKey(name, labels);
    if (seen.has(key)) fail('the same series twice');
    seen.add(key);
    if (f.type === 'counter' && !(value! >= 0)) fail('a counter must be >= 0');
    if (f.type === 'histogram' && name === f.name) fail('a histogram sample needs _bucket, _sum or _count');
    if (name.endsWith('_bucket') && f.type === 'histogram' && labels.le === undefined)
      fail('a bucket needs le');
    f.samples.push({ name, labels, value: value! });
  });
  for (const f of families.values()) if (f.type === 'histogram') histogramSeries(f);
  return families;
}

/** A histogram family's series (one per label set besides `le`), checked: ascending buckets up to +Inf = count. */
export function histogramSeries(f: Family): HistogramSeries[] {
  const bySet = new Map<string, HistogramSeries>();
  const get = (labels: Record<string, string>) => {
    const { le: _le, ...rest } = labels;
    const key = seriesKey('', rest);
    let h = bySet.get(key);
    if (h === undefined) {
      h = { labels: rest, buckets: [], count: Number.NaN, sum: Number.NaN };
      bySet.set(key, h);
    }
    return h;
  };
  for (const s of f.samples) {
    const h = get(s.labels);
    if (s.name.endsWith('_bucket')) {
      const le = parseValue(s.labels.le);
      if (le === null || Number.isNaN(le)) throw new Error(`${f.name}: bad le ${s.labels.le}`);
      h.buckets.push([le, s.value]);
    } else if (s.name.endsWith('_count')) h.count = s.value;
    else h.sum = s.value;
  }
  for (const h of bySet.values()) {
    const where = `${f.name}${JSON.stringify(h.labels)}`;
    h.buckets.sort((a, b) => a[0] - b[0]);
    const last = h.buckets.at(-1);
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${where}: no +Inf bucket`);
    h.buckets.forEach(([, c], i) => {
      if (i > 0 && c < h.buckets[i - 1][1]) throw new Error(`${where}: bucket counts go down`);
    });
    if (last[1] !== h.count) throw new Error(`${where}: +Inf bucket ${last[1]} ≠ count ${h.count}`);
    if (Number.isNaN(h.sum)) throw new Error(`${where}: no _sum`);
  }
  return [...bySet.values()];
}

const sameLabels = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);

/** The value of the sample `name` with exactly these labels, or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  return family?.samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
}

/** The histogram series of `name` with exactly these labels (besides `le`), or undefined. */
export function histogram(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): HistogramSeries | undefined {
  const f = families.get(name);
  return f === undefined ? undefined : histogramSeries(f).find((h) => sameLabels(h.labels, labels));
}
