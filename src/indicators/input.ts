// Parses user price files for `byner indicators`: CSV with a header (a `price` or `close` column, optional
// `timestamp`/`date`) or JSON Lines (a `price` field). Every bad row is an error naming its line; nothing is
// returned unless the whole input is valid. Reading files and stdin is the CLI's job.
import { parse } from 'csv-parse/sync';
import { BynerError, describe } from '../errors.js';

export interface PriceRows {
  prices: number[];
  /** The row's timestamp exactly as given, when the input has one. */
  timestamps: (string | undefined)[];
  format: 'csv' | 'jsonl';
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function badRow(line: number, what: string, received: unknown, hint?: string): BynerError {
  return new BynerError('BYNER_INPUT', `line ${line}: ${what}`, {
    expected: what,
    received: describe(received),
    hint,
  });
}

function toPrice(v: unknown, line: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && NUMBER.test(v.trim())) {
    const n = Number(v.trim());
    if (Number.isFinite(n)) return n;
  }
  throw badRow(line, 'a finite number in the price column', v);
}

export function parsePriceText(text: string, source = 'input'): PriceRows {
  const body = text.replace(/^\uFEFF/, '');
  const firstLine = body.split(/\r?\n/).find((l) => l.trim() !== '');
  if (firstLine === undefined) {
    throw new BynerError('BYNER_INPUT', `${source} is empty`, {
      expected: 'CSV with a header row (price or close column) or JSON Lines with a "price" field',
      received: 'no data',
    });
  }
  const rows = firstLine.trim().startsWith('{') ? parseJsonLines(body) : parseCsv(body, source);
  if (rows.prices.length === 0) {
    throw new BynerError('BYNER_INPUT', `${source} has a header but no price rows`, {
      expected: 'at least one row',
      received: '0 rows',
    });
  }
  return rows;
}

function parseJsonLines(text: string): PriceRows {
  const out: PriceRows = { prices: [], timestamps: [], format: 'jsonl' };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw badRow(i + 1, 'valid JSON', raw, (e as Error).message);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || !('price' in obj)) {
      throw badRow(i + 1, 'a JSON object with a "price" field', obj);
    }
    const rec = obj as Record<string, unknown>;
    out.prices.push(toPrice(rec.price, i + 1));
    const ts = rec.timestamp ?? rec.date;
    out.timestamps.push(ts === undefined || ts === null ? undefined : String(ts));
  }
  return out;
}

function parseCsv(text: string, source: string): PriceRows {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      delimiter: [',', ';', '\t'],
      info: true,
      relax_quotes: false,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new BynerError(
      'BYNER_INPUT',
      `${source}: malformed CSV${err.lines ? ` at line ${err.lines}` : ''}`,
      {
        expected: 'comma-, semicolon- or tab-separated values with the same number of columns on every row',
        received: err.message,
      },
    );
  }
  const [header, ...rows] = records;
  const names = header.record.map((h) => h.toLowerCase());
  const priceCol = names.indexOf('price') >= 0 ? names.indexOf('price') : names.indexOf('close');
  if (priceCol < 0) {
    throw new BynerError(
      'BYNER_INPUT',
      `${source}: line ${header.info.lines}: no price column in the CSV header`,
      {
        expected: 'a header row with a "price" or "close" column (and optionally "timestamp" or "date")',
        received: `columns ${JSON.stringify(header.record)}`,
        hint: 'add a header line such as: timestamp,price',
      },
    );
  }
  const tsCol = names.indexOf('timestamp') >= 0 ? names.indexOf('timestamp') : names.indexOf('date');
  const out: PriceRows = { prices: [], timestamps: [], format: 'csv' };
  for (const { record, info } of rows) {
    out.prices.push(toPrice(record[priceCol], info.lines));
    out.timestamps.push(tsCol >= 0 && record[tsCol] !== '' ? record[tsCol] : undefined);
  }
  return out;
}
