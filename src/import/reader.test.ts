// The price-file reader: every accepted CSV / JSON Lines variant, every refused input (with its line), and chunk
// boundaries anywhere (bytes of one character split across reads).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBynerError } from '../errors.js';
import { formatFromName, type PriceSeries, type ReadOptions, readPrices } from './reader.js';

const T = (iso: string) => Date.parse(iso);
const read = (text: string | Buffer[], options: Partial<ReadOptions> = {}) =>
  readPrices(typeof text === 'string' ? [text] : text, { source: 'prices.csv', ...options });

interface Accepted {
  name: string;
  text: string;
  options?: Partial<ReadOptions>;
  expect: Partial<Omit<PriceSeries, 'prices' | 'times' | 'lines'>> & {
    prices: number[];
    times: number[] | null;
    lines?: number[];
  };
}

const DAY1 = T('2024-01-01T00:00:00Z');
const accepted: Accepted[] = [
  {
    name: 'comma-separated, price column, ISO timestamps with and without offset',
    text: 'timestamp,price\n2024-01-01T00:00:00Z,1.5\n2024-01-01T01:00:01+01:00,2\n2024-01-01T00:00:02,-3.25e2\n',
    expect: {
      format: 'csv',
      priceColumn: 'price',
      timeColumn: 'timestamp',
      prices: [1.5, 2, -325],
      times: [DAY1, DAY1 + 1000, DAY1 + 2000],
    },
  },
];
accepted.push(
  {
    name: 'semicolon-separated, close column in another case, dates alone',
    text: 'Date;Open;Close\n2024-01-01;1;10.5\n2024-01-02;2;11\n',
    expect: {
      priceColumn: 'Close',
      timeColumn: 'Date',
      prices: [10.5, 11],
      times: [DAY1, DAY1 + 86_400_000],
      lines: [2, 3],
    },
  },
  {
    name: 'tab-separated, value column, epoch seconds',
    text: 'time\tvalue\n1700000000\t0.1\n1700000001.5\t0.2\n',
    expect: { priceColumn: 'value', timeColumn: 'time', prices: [0.1, 0.2], times: [1.7e12, 1.7e12 + 1500] },
  },
  {
    name: 'epoch milliseconds, irregular spacing',
    text: 'timestamp,price\n1700000000000,1\n1700000000007,2\n1700000093000,3\n',
    expect: { prices: [1, 2, 3], times: [1.7e12, 1.7e12 + 7, 1.7e12 + 93_000] },
  },
  {
    name: 'no timestamp column',
    text: 'price\n1\n2.5\n',
    expect: { timeColumn: undefined, prices: [1, 2.5], times: null },
  },
  {
    name: '--column names another column (any case); date still found',
    text: 'date,pressure,temperature\n2010-01-01T01:00:00,1016.6,4.0\n2010-01-01T02:00:00,1016.6,3.9\n',
    options: { column: 'Temperature' },
    expect: {
      priceColumn: 'temperature',
      prices: [4, 3.9],
      times: [T('2010-01-01T01:00:00Z'), T('2010-01-01T02:00:00Z')],
    },
  },
  {
    name: 'price wins over close and value; timestamp over date and time',
    text: 'value,close,price,time,date,timestamp\n1,2,3,x,y,5\n',
    expect: { priceColumn: 'price', timeColumn: 'timestamp', prices: [3], times: [5000] },
  },
  {
    name: 'quoted fields, a separator and a newline inside quotes, escaped quotes',
    text: 'date,note,price\n"2024-01-01","a, b",1\n2024-01-02,"line\nbreak ""quoted""","2"\n2024-01-03,,3\n',
    expect: { prices: [1, 2, 3], times: [DAY1, DAY1 + 86_400_000, DAY1 + 2 * 86_400_000], lines: [2, 3, 5] },
  },
  {
    name: 'CRLF, a byte-order mark, blank lines, spaces around values, no final newline',
    text: '\uFEFFdate , price\r\n\r\n2024-01-01 , 1 \r\n   \r\n2024-01-02,+2.\r\n2024-01-03,.5',
    expect: {
      priceColumn: 'price',
      prices: [1, 2, 0.5],
      lines: [3, 5, 6],
      times: [DAY1, DAY1 + 864e5, DAY1 + 1728e5],
    },
  },
  {
    name: 'JSON Lines: price and an ISO timestamp',
    text: '{"timestamp":"2024-01-01T00:00:00.000Z","price":7,"seq":0}\n\n{"timestamp":"2024-01-01T00:00:01.000Z","price":-0.5}\n',
    options: { source: 'ticks.jsonl' },
    expect: {
      format: 'jsonl',
      priceColumn: 'price',
      timeColumn: 'timestamp',
      prices: [7, -0.5],
      times: [DAY1, DAY1 + 1000],
      lines: [1, 3],
    },
  },
  {
    name: 'JSON Lines detected from the content: close, epoch milliseconds as numbers, numeric strings',
    text: '{"date":1700000000000,"close":"1.25"}\n{"date":"1700000001000","close":2}\n',
    options: { source: 'stdin' },
    expect: {
      format: 'jsonl',
      priceColumn: 'close',
      timeColumn: 'date',
      prices: [1.25, 2],
      times: [1.7e12, 1.7e12 + 1000],
    },
  },
  {
    name: 'JSON Lines: --column field, no timestamps',
    text: '{"temp":1.5,"other":"x"}\n{"temp":2}\n',
    options: { source: 'x.ndjson', column: 'temp' },
    expect: { priceColumn: 'temp', timeColumn: undefined, prices: [1.5, 2], times: null },
  },
  {
    name: '--format csv for a file named .json',
    text: 'price\n3\n',
    options: { source: 'odd.json', format: 'csv' },
    expect: { format: 'csv', prices: [3], times: null },
  },
);

describe('readPrices: accepted files', () => {
  for (const c of accepted) {
    it(c.name, async () => {
      const s = await read(c.text, c.options);
      const { prices, times, lines, ...rest } = c.expect;
      assert.deepEqual(Array.from(s.prices), prices);
      assert.deepEqual(s.times === null ? null : Array.from(s.times), times);
      if (lines) assert.deepEqual(Array.from(s.lines), lines);
      for (const [k, v] of Object.entries(rest)) assert.equal(s[k as keyof PriceSeries], v, k);
      assert.equal(s.length, prices.length);
    });
  }

  it('gives the same series whatever the chunk boundaries (one byte at a time, inside a UTF-8 character)', async () => {
    const text = 'date,note,price\n2024-01-01,"é€ ""x""\r\nz",1.5\r\n2024-01-02,ü,2\n';
    const whole = await read(text);
    const bytes = Buffer.from(text);
    const oneByOne = await read(Array.from(bytes, (b) => Buffer.from([b])));
    assert.deepEqual(oneByOne, whole);
    assert.deepEqual(Array.from(whole.prices), [1.5, 2]);
  });

  it('reads 100,000 rows into arrays of exactly that length', async () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => `${i},${i / 8}`);
    const s = await read(`time,price\n${rows.join('\n')}\n`);
    assert.equal(s.prices.length, 100_000);
    assert.equal(s.times?.length, 100_000);
    assert.equal(s.prices[99_999], 99_999 / 8);
    assert.equal(s.lines[99_999], 100_001);
  });
});

describe('formatFromName', () => {
  const names: [string, string | undefined][] = [
    ['a.csv', 'csv'],
    ['A.TSV', 'csv'],
    ['a.txt', 'csv'],
    ['a.jsonl', 'jsonl'],
    ['a.ndjson', 'jsonl'],
    ['a.json', 'jsonl'],
    ['stdin', undefined],
    ['data.prices', undefined],
  ];
  for (const [name, format] of names)
    it(`${name} → ${format}`, () => assert.equal(formatFromName(name), format));
});

describe('readPrices: refused input (BYNER_INPUT naming the line; nothing returned)', () => {
  const refused: [string, string, RegExp, Partial<ReadOptions>?][] = [
    [
      'a non-numeric price',
      'price\n1\n2\nabc\n4\n',
      /line 4 \(column "price"\): expected a finite number, received "abc"/,
    ],
    ['an empty price cell', 'timestamp,price\n1,1\n2,\n', /line 3 .*received an empty cell/],
    ['NaN and Infinity', 'price\nNaN\nInfinity\n', /2 invalid rows[\s\S]*line 2 [\s\S]*line 3 /],
    [
      'a decimal comma',
      'date;close\n2024-01-01;1,5\n',
      /line 2 \(column "close"\).*"1,5"[\s\S]*hint: .*dot as the decimal separator/,
    ],
    ['a number with a unit', 'price\n12 USD\n', /line 2 .*"12 USD"/],
    [
      'no price column',
      'timestamp,amount\nx,1\n',
      /line 1: no price column[\s\S]*received: columns \["timestamp","amount"\][\s\S]*--column/,
    ],
    [
      'a --column not in the header',
      'date,price\n2024-01-01,1\n',
      /line 1: no price column[\s\S]*a column named "close"/,
      { column: 'close' },
    ],
    ['two price columns', 'price,Price\n1,2\n', /two columns are named "price"/],
    [
      'a row with too many fields',
      'date,price\n2024-01-01,1,234.5\n',
      /line 2: expected 2 fields separated by ",".*received 3/,
    ],
    ['a row with too few fields', 'date,x,price\n2024-01-01,1\n', /line 2: expected 3 fields/],
    [
      'an invalid timestamp',
      'date,price\n2024-01-01,1\n2024-02-30,2\n',
      /line 3 \(column "date"\): expected a timestamp, received "2024-02-30"[\s\S]*hint: timestamps are/,
    ],
    [
      'a missing timestamp',
      'date,price\n2024-01-01,1\n,2\n',
      /line 3 .*expected a timestamp \(the other rows have one\), received none/,
    ],
    [
      'a repeated timestamp',
      'date,price\n2024-01-01,1\n2024-01-01,2\n',
      /line 3 \(column "date"\): expected a time after 2024-01-01T00:00:00.000Z \(line 2\)/,
    ],
    [
      'a decreasing timestamp',
      'time,price\n5,1\n6,2\n4,3\n7,4\n',
      /1 invalid row;[\s\S]*line 4 .*received "4"[\s\S]*hint: rows must be in time order/,
    ],
    [
      'the same instant written twice',
      'timestamp,price\n2024-01-01T01:00:00Z,1\n2024-01-01T02:00:00+01:00,2\n',
      /line 3 /,
    ],
    ['an unterminated quote', 'price,note\n1,"abc\n2,x\n', /line 2: expected a closing double quote/],
    ['an empty file', '', /prices.csv is empty/],
    ['blank lines only', '\n \r\n\n', /prices.csv is empty/],
    ['a header with no rows', 'price\n\n', /has a header but no rows/],
    ['bad JSON', '{"price": 1}\n{"price": 2\n', /line 2: expected valid JSON/, { source: 'x.jsonl' }],
    [
      'a JSON array line',
      '{"price": 1}\n[2]\n',
      /line 2: expected a JSON object, received array\(1\)/,
      { source: 'x.jsonl' },
    ],
    [
      'a JSON line without the price field',
      '{"price": 1}\n\n{"close": 2}\n',
      /line 3: expected a "price" field/,
      { source: 'x.jsonl' },
    ],
    [
      'a JSON "NaN" price',
      '{"price": 1}\n{"price": "NaN"}\n',
      /line 2 \(field "price"\): expected a finite number, received "NaN"/,
      { source: 'x.jsonl' },
    ],
    ['a JSON null price', '{"price": null}\n', /line 1 .*received null/, { source: 'x.jsonl' }],
    [
      'a JSON timestamp missing later',
      '{"time": 1, "price": 1}\n{"price": 2}\n',
      /line 2 \(field "time"\): expected a timestamp \(the other rows have one\)/,
      { source: 'x.jsonl' },
    ],
    [
      'a JSON timestamp appearing later',
      '{"price": 1}\n{"price": 2, "date": "2024-01-01"}\n',
      /line 2: expected no timestamp \(the first line has none\)/,
      { source: 'x.jsonl' },
    ],
    [
      'CSV read as JSON Lines (--format jsonl)',
      'price\n1\n',
      /line 1: expected valid JSON/,
      { format: 'jsonl' },
    ],
  ];
  for (const [name, text, message, options] of refused) {
    it(name, async () => {
      await assert.rejects(read(text, options), (e: unknown) => {
        assert.ok(isBynerError(e, 'BYNER_INPUT'), String(e));
        assert.match(e.message, message);
        return true;
      });
    });
  }

  it('lists the first 10 bad lines and counts the others', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? 'x' : String(i)));
    await assert.rejects(read(`price\n${rows.join('\n')}\n`), (e: Error) => {
      assert.match(e.message, /prices.csv: 13 invalid rows; nothing was written/);
      assert.equal(e.message.match(/^ {2}line \d+/gm)?.length, 10);
      assert.match(e.message, /… and 3 more/);
      return true;
    });
  });
});
