// Reads a price file (CSV with a header row, or JSON Lines) in one streaming pass into compact typed arrays,
// validating every row: prices finite, timestamps valid and strictly increasing. It throws one error listing the
// bad lines, so callers write nothing unless the whole file is valid. Opening files and storing rows is the caller's.
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsvRecord } from 'csv-parse/sync';
import { BynerError, describe } from '../errors.js';
import { epochToMs, parseTimestamp, TIMESTAMP_FORMS } from './timestamps.js';

export const PRICE_FORMATS = ['csv', 'jsonl'] as const;
export type PriceFormat = (typeof PRICE_FORMATS)[number];

/** Column (CSV, any case) or field (JSON Lines) names tried in order when no `column` is given. */
const PRICE_COLUMNS = ['price', 'close', 'value'] as const;
const TIME_COLUMNS = ['timestamp', 'date', 'time'] as const;

/** A validated price series, 16 bytes a row plus 4 for its line number. */
export interface PriceSeries {
  format: PriceFormat;
  /** The column or field the prices came from, and the timestamps' (undefined when the file has none). */
  priceColumn: string;
  timeColumn: string | undefined;
  length: number;
  /** (length) finite prices, in file order. */
  prices: Float64Array;
  /** (length) epoch milliseconds, strictly increasing; null when the file has no timestamps. */
  times: Float64Array | null;
  /** (length) 1-based line of each row in the file, for messages about a row found wrong later. */
  lines: Uint32Array;
}

export interface ReadOptions {
  /** The file's name in messages ("stdin" for standard input). */
  source: string;
  /** Default: from the file name (formatFromName), else JSON Lines when the first line starts with `{`. */
  format?: PriceFormat;
  /** The price column or field; default: the first of PRICE_COLUMNS present. */
  column?: string;
  /** Called after each chunk with the bytes read so far. */
  onProgress?: (bytes: number) => void;
}

/** The format a file name implies: .csv/.tsv/.txt are CSV, .jsonl/.ndjson/.json JSON Lines; else undefined. */
export function formatFromName(name: string): PriceFormat | undefined {
  const ext = /\.([A-Za-z]+)$/.exec(name)?.[1]?.toLowerCase();
  if (ext === 'csv' || ext === 'tsv' || ext === 'txt') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson' || ext === 'json') return 'jsonl';
  return undefined;
}

/** Reads and validates a whole price file from its chunks (bytes or text). */
export async function readPrices(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  options: ReadOptions,
): Promise<PriceSeries> {
  const reader = new PriceReader(options);
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  for await (const chunk of chunks) {
    if (typeof chunk === 'string') {
      bytes += Buffer.byteLength(chunk);
      reader.push(chunk);
    } else {
      bytes += chunk.length;
      reader.push(decoder.write(chunk));
    }
    options.onProgress?.(bytes);
  }
  reader.push(decoder.end());
  return reader.end();
}

/** A growable typed array: doubles its buffer when full, so a row costs its element size and no object. */
class Column<T extends Float64Array | Uint32Array> {
  private buf: T;
  length = 0;

  constructor(private readonly make: (n: number) => T) {
    this.buf = make(1024);
  }

  push(v: number): void {
    if (this.length === this.buf.length) {
      const bigger = this.make(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = v;
  }

  /** The filled part (a copy trimmed to size, so the doubled slack is freed). */
  done(): T {
    return this.buf.slice(0, this.length) as T;
  }
}

type ProblemKind = 'price' | 'timestamp' | 'order' | 'fields' | 'json';

const HINTS: Record<ProblemKind, string> = {
  price:
    'prices are plain numbers with a dot as the decimal separator (no thousands separators, no NaN); another column: --column NAME',
  timestamp: `timestamps are ${TIMESTAMP_FORMS}`,
  order:
    'rows must be in time order with one row per instant: sort the file by time and remove repeated timestamps',
  fields: 'every row needs as many fields as the header: check the separator and the quoting',
  json: 'JSON Lines has one JSON object per line',
};

/** Lists shown in an error; the rest are counted. */
const SHOWN_PROBLEMS = 10;

/** Collects invalid rows: the first few in full, the rest counted. */
class Problems {
  readonly shown: string[] = [];
  count = 0;
  private readonly kinds = new Set<ProblemKind>();

  add(kind: ProblemKind, line: number, what: string, expected: string, received: string): void {
    this.count += 1;
    this.kinds.add(kind);
    if (this.shown.length < SHOWN_PROBLEMS)
      this.shown.push(`line ${line}${what}: expected ${expected}, received ${received}`);
  }

  error(source: string): BynerError {
    const more = this.count > this.shown.length ? [`… and ${this.count - this.shown.length} more`] : [];
    return new BynerError(
      'BYNER_INPUT',
      `${source}: ${this.count} invalid row${this.count === 1 ? '' : 's'}; nothing was written\n  ${[...this.shown, ...more].join('\n  ')}`,
      { hint: [...this.kinds].map((k) => HINTS[k]).join('; ') },
    );
  }
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const shown = (v: unknown) => (v === '' ? 'an empty cell' : describe(v));

/** Validates rows one at a time into the typed columns. */
class SeriesBuilder {
  readonly problems = new Problems();
  private readonly prices = new Column((n) => new Float64Array(n));
  private readonly times = new Column((n) => new Float64Array(n));
  private readonly lines = new Column((n) => new Uint32Array(n));
  /** Whether rows carry timestamps: known from the CSV header or the first JSON line. */
  hasTimes: boolean | undefined;
  private lastTime = Number.NEGATIVE_INFINITY;
  private lastTimeLine = 0;

  constructor(
    readonly priceWhat: () => string,
    readonly timeWhat: () => string,
  ) {}

  get rows(): number {
    return this.lines.length + this.problems.count;
  }

  /** `time` is undefined when the row has no timestamp (or the file has none). */
  add(line: number, price: unknown, time: unknown): void {
    const p = toPrice(price);
    let bad = false;
    if (Number.isNaN(p)) {
      this.problems.add('price', line, this.priceWhat(), 'a finite number', shown(price));
      bad = true;
    }
    let t = Number.NaN;
    if (this.hasTimes) {
      t = toTime(time);
      if (time === undefined || time === null || time === '') {
        this.problems.add(
          'timestamp',
          line,
          this.timeWhat(),
          'a timestamp (the other rows have one)',
          'none',
        );
        bad = true;
      } else if (Number.isNaN(t)) {
        this.problems.add('timestamp', line, this.timeWhat(), 'a timestamp', shown(time));
        bad = true;
      } else {
        if (t <= this.lastTime) {
          this.problems.add(
            'order',
            line,
            this.timeWhat(),
            `a time after ${new Date(this.lastTime).toISOString()} (line ${this.lastTimeLine})`,
            `${shown(time)} = ${new Date(t).toISOString()}`,
          );
          bad = true;
        }
        this.lastTime = t;
        this.lastTimeLine = line;
      }
    }
    // Once a row is bad the series will not be returned: only keep counting.
    if (bad || this.problems.count > 0) return;
    this.prices.push(p);
    if (this.hasTimes) this.times.push(t);
    this.lines.push(line);
  }

  series(format: PriceFormat, priceColumn: string, timeColumn: string | undefined): PriceSeries {
    return {
      format,
      priceColumn,
      timeColumn,
      length: this.lines.length,
      prices: this.prices.done(),
      times: this.hasTimes ? this.times.done() : null,
      lines: this.lines.done(),
    };
  }
}

function toPrice(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : Number.NaN;
  if (typeof v !== 'string') return Number.NaN;
  const s = v.trim();
  if (!NUMBER.test(s)) return Number.NaN;
  const n = Number(s);
  return Number.isFinite(n) ? n : Number.NaN;
}

function toTime(v: unknown): number {
  if (typeof v === 'number') return epochToMs(v);
  if (typeof v === 'string') return parseTimestamp(v);
  return Number.NaN;
}

/** One format's handling of lines (after the first non-blank one decided the format). */
interface LineParser {
  line(text: string, no: number): void;
  /** Throws what only the end can tell (an unterminated quote, no rows). */
  end(): void;
  readonly priceColumn: string;
  readonly timeColumn: string | undefined;
}

class PriceReader {
  private rest = '';
  private lineNo = 0;
  private started = false;
  private parser: LineParser | undefined;
  private format: PriceFormat | undefined;
  readonly builder: SeriesBuilder;

  constructor(private readonly options: ReadOptions) {
    this.format = options.format ?? formatFromName(options.source);
    this.builder = new SeriesBuilder(
      () => this.what(this.parser?.priceColumn),
      () => this.what(this.parser?.timeColumn),
    );
  }

  private what(column: string | undefined): string {
    return column === undefined ? '' : ` (${this.format === 'csv' ? 'column' : 'field'} "${column}")`;
  }

  /** Splits text into lines (LF or CRLF); a partial last line waits for the next chunk. */
  push(chunk: string): void {
    let s = this.rest + chunk;
    if (!this.started && s.length > 0) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    let start = 0;
    for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n', start)) {
      const end = nl > start && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.line(s.slice(start, end));
      start = nl + 1;
    }
    this.rest = s.slice(start);
  }

  private line(text: string): void {
    const no = ++this.lineNo;
    if (this.parser === undefined) {
      if (text.trim() === '') return;
      this.format ??= text.trimStart().startsWith('{') ? 'jsonl' : 'csv';
      this.parser =
        this.format === 'csv'
          ? new CsvParser(this.builder, this.options, text, no)
          : new JsonLinesParser(this.builder, this.options);
      if (this.format === 'csv') return; // that line was the header
    }
    this.parser.line(text, no);
  }

  end(): PriceSeries {
    if (this.rest !== '') this.line(this.rest.endsWith('\r') ? this.rest.slice(0, -1) : this.rest);
    this.rest = '';
    const { source } = this.options;
    if (this.parser === undefined) {
      throw new BynerError('BYNER_INPUT', `${source} is empty`, {
        expected: `CSV with a header row (a ${PRICE_COLUMNS.join(', ')} column) or JSON Lines with a "price" field`,
        received: 'no data',
      });
    }
    this.parser.end();
    if (this.builder.problems.count > 0) throw this.builder.problems.error(source);
    if (this.builder.rows === 0) {
      throw new BynerError('BYNER_INPUT', `${source} has a header but no rows`, {
        expected: 'at least one row of prices after the header',
        received: '0 rows',
      });
    }
    return this.builder.series(this.format!, this.parser.priceColumn, this.parser.timeColumn);
  }
}

const DELIMITERS = [',', ';', '\t'] as const;

/** The separator a header line uses: the most frequent of `,` `;` tab outside quotes (`,` when none). */
function detectDelimiter(header: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const c of header) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && counts.has(c)) counts.set(c, counts.get(c)! + 1);
  }
  let best = ',';
  for (const d of DELIMITERS) if (counts.get(d)! > counts.get(best)!) best = d;
  return best;
}

const quotes = (s: string) => {
  let n = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) n++;
  return n;
};

/**
 * CSV rows. Lines without a double quote are split on the separator directly; a record with quotes (which may
 * span lines) goes to csv-parse. csv-parse's streaming parser with line numbers (`info`) reads the benchmark's
 * 1,000,000-row file in 2.1 – 3.1 s, this split in 0.27 s (docs/BENCHMARKS.md, Import), and price files are
 * almost always unquoted numbers.
 */
class CsvParser implements LineParser {
  private readonly delimiter: string;
  private readonly width: number;
  private readonly priceAt: number;
  private readonly timeAt: number;
  readonly priceColumn: string;
  readonly timeColumn: string | undefined;
  /** A quoted record still open at the end of a line: its text so far and first line. */
  private pending: { text: string; line: number } | undefined;

  constructor(
    private readonly builder: SeriesBuilder,
    private readonly options: ReadOptions,
    header: string,
    headerLine: number,
  ) {
    this.delimiter = detectDelimiter(header);
    const names = (this.fields(header, headerLine, true) ?? []).map((n) => n.trim());
    const lower = names.map((n) => n.toLowerCase());
    this.width = names.length;
    const { source, column } = options;
    const wanted = column === undefined ? [...PRICE_COLUMNS] : [column.toLowerCase()];
    this.priceAt = wanted.map((w) => lower.indexOf(w)).find((i) => i >= 0) ?? -1;
    const cols = `columns ${JSON.stringify(names)} (separator ${JSON.stringify(this.delimiter)})`;
    if (this.priceAt < 0) {
      throw new BynerError(
        'BYNER_INPUT',
        `${source}: line ${headerLine}: no price column in the CSV header`,
        {
          expected:
            column === undefined
              ? `a header row with a column named ${PRICE_COLUMNS.join(', ')} (any case), or --column NAME`
              : `a column named "${column}" (any case), as --column says`,
          received: cols,
          hint:
            column === undefined
              ? 'name the price column with --column, e.g. --column close; the first line must be the header'
              : 'check the --column name against the header',
        },
      );
    }
    if (lower.indexOf(lower[this.priceAt]) !== lower.lastIndexOf(lower[this.priceAt])) {
      throw new BynerError(
        'BYNER_INPUT',
        `${source}: line ${headerLine}: two columns are named "${names[this.priceAt]}"`,
        {
          expected: 'one price column',
          received: cols,
          hint: 'rename one of them in the header',
        },
      );
    }
    this.timeAt = TIME_COLUMNS.map((w) => lower.indexOf(w)).find((i) => i >= 0 && i !== this.priceAt) ?? -1;
    this.priceColumn = names[this.priceAt];
    this.timeColumn = this.timeAt >= 0 ? names[this.timeAt] : undefined;
    builder.hasTimes = this.timeAt >= 0;
  }

  /** The fields of one record (quoted ones through csv-parse); null, with a problem noted, when malformed. */
  private fields(text: string, line: number, header = false): string[] | null {
    if (text.indexOf('"') < 0) return text.split(this.delimiter);
    try {
      const [record] = parseCsvRecord(text, { delimiter: this.delimiter, trim: true }) as string[][];
      return record ?? [''];
    } catch (e) {
      if (header) {
        throw new BynerError('BYNER_INPUT', `${this.options.source}: line ${line}: malformed CSV header`, {
          expected: 'comma-, semicolon- or tab-separated column names',
          received: (e as Error).message,
        });
      }
      this.builder.problems.add('fields', line, '', 'well-formed CSV quoting', (e as Error).message);
      return null;
    }
  }

  line(text: string, no: number): void {
    if (this.pending !== undefined) {
      this.pending.text += `\n${text}`;
      if (quotes(text) % 2 === 0) return;
      const { text: record, line } = this.pending;
      this.pending = undefined;
      this.record(record, line);
      return;
    }
    if (text.trim() === '') return;
    if (text.indexOf('"') >= 0 && quotes(text) % 2 === 1) {
      this.pending = { text, line: no };
      return;
    }
    this.record(text, no);
  }

  private record(text: string, line: number): void {
    const f = this.fields(text, line);
    if (f === null) return;
    if (f.length !== this.width) {
      this.builder.problems.add(
        'fields',
        line,
        '',
        `${this.width} fields separated by ${JSON.stringify(this.delimiter)}, as in the header`,
        `${f.length}: ${describe(text)}`,
      );
      return;
    }
    this.builder.add(line, f[this.priceAt], this.timeAt >= 0 ? f[this.timeAt].trim() : undefined);
  }

  end(): void {
    if (this.pending !== undefined) {
      this.builder.problems.add(
        'fields',
        this.pending.line,
        '',
        'a closing double quote',
        'a quoted field that runs to the end of the file',
      );
    }
  }
}

/** JSON Lines rows: one object per non-blank line. */
class JsonLinesParser implements LineParser {
  priceColumn: string;
  timeColumn: string | undefined;

  constructor(
    private readonly builder: SeriesBuilder,
    private readonly options: ReadOptions,
  ) {
    this.priceColumn = options.column ?? PRICE_COLUMNS[0];
  }

  line(text: string, no: number): void {
    const raw = text.trim();
    if (raw === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      this.builder.problems.add('json', no, '', 'valid JSON', `${describe(raw)} (${(e as Error).message})`);
      return;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      this.builder.problems.add('json', no, '', 'a JSON object', describe(obj));
      return;
    }
    const rec = obj as Record<string, unknown>;
    if (this.builder.hasTimes === undefined) {
      // the first row decides the fields: the price's (unless --column names it) and the timestamp's
      if (this.options.column === undefined)
        this.priceColumn = PRICE_COLUMNS.find((k) => k in rec) ?? PRICE_COLUMNS[0];
      this.timeColumn = TIME_COLUMNS.find(
        (k) => k !== this.priceColumn && rec[k] !== undefined && rec[k] !== null,
      );
      this.builder.hasTimes = this.timeColumn !== undefined;
    }
    if (this.timeColumn === undefined) {
      const extra = TIME_COLUMNS.find(
        (k) => k !== this.priceColumn && rec[k] !== undefined && rec[k] !== null,
      );
      if (extra !== undefined) {
        const received = `a "${extra}" field`;
        this.builder.problems.add('timestamp', no, '', 'no timestamp (the first line has none)', received);
        return;
      }
    }
    if (!(this.priceColumn in rec)) {
      const expected =
        this.options.column === undefined
          ? `a "${this.priceColumn}" field (or one of ${PRICE_COLUMNS.join(', ')} in the first line)`
          : `a "${this.priceColumn}" field, as --column says`;
      this.builder.problems.add('price', no, '', expected, `fields ${JSON.stringify(Object.keys(rec))}`);
      return;
    }
    this.builder.add(
      no,
      rec[this.priceColumn],
      this.timeColumn === undefined ? undefined : rec[this.timeColumn],
    );
  }

  end(): void {}
}
