// `byner import`: the importer against both stores (the MongoDB part on MONGODB_URI or a FerretDB started here,
// else skipped with the reason), and the command end to end: bad files refused with their line and nothing
// stored, re-imports stored once, --append continuing seq and indicators, TA-Lib-exact indicators of floats.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { isBynerError } from '../src/errors.js';
import { importSeries } from '../src/import/importer.js';
import { readPrices } from '../src/import/reader.js';
import { computeIndicators } from '../src/indicators/batch.js';
import { IndicatorStream } from '../src/indicators/streaming.js';
import { openMongoStore } from '../src/store/mongo/mongo-store.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/types.js';
import { INDICATOR_NAMES, type Tick } from '../src/ticks/types.js';
import { byner, ROOT } from './helpers/cli.js';
import { mongoUriForTests } from './helpers/ferretdb.js';
import { talibIndicators } from './helpers/talib.js';

// Before any test is registered: the runner ends a file once its registered tests are done.
const server = await mongoUriForTests();

const T0 = Date.UTC(2024, 0, 1);

/** A float random walk with irregular spacing (1 to 4.5 s): `n` rows from row `from` on. */
function walk(from: number, n: number): { prices: number[]; times: number[] } {
  const prices: number[] = [];
  const times: number[] = [];
  let x = 7;
  let p = 100;
  let t = T0;
  for (let i = 0; i < from + n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    p += (x / 2 ** 32 - 0.5) * 3.7;
    t += 1000 + (x % 8) * 500;
    if (i >= from) {
      prices.push(Number(p.toFixed(6)));
      times.push(t);
    }
  }
  return { prices, times };
}

const csv = (rows: { prices: number[]; times: number[] | null }) =>
  `${rows.times ? 'timestamp,' : ''}price\n${rows.prices
    .map((p, i) => (rows.times ? `${new Date(rows.times[i]).toISOString()},${p}` : String(p)))
    .join('\n')}\n`;

const series = (text: string) => readPrices([text], { source: 'prices.csv' });

const allTicks = (store: Store, stream = 'real') => store.ticksRange('historical_data', stream, 0, 1e9);

/** The stream's saved state is the one a replay of every stored tick gives, at its last tick. */
async function checkState(store: Store, stream = 'real'): Promise<void> {
  const ticks = await allTicks(store, stream);
  const replayed = new IndicatorStream();
  for (const t of ticks) replayed.push(t.price);
  const last = ticks[ticks.length - 1];
  assert.deepEqual(await store.streamState(stream), {
    stream,
    seq: last.seq,
    time: last.timestamp.getTime(),
    gaps: 0,
    indicators: replayed.getState(),
  });
}

/**
 * Checks stored indicators against the batch computation over `prices` (null exactly where it is undefined) and
 * against TA-Lib wherever TA-Lib has a value (its MACD starts at the signal's first index), to 1e-9 relative.
 */
function checkIndicators(ticks: Tick[], prices: number[]): void {
  assert.equal(ticks.length, prices.length);
  const batch = computeIndicators(prices);
  const ta = talibIndicators(prices);
  const near = (got: number, want: number, what: string) =>
    assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);
  let compared = 0;
  ticks.forEach((t, i) => {
    for (const name of INDICATOR_NAMES) {
      const got = t.indicators[name];
      if (Number.isNaN(batch[name][i])) {
        assert.equal(got, null, `${name}[${i}] before warm-up`);
        continue;
      }
      assert.equal(typeof got, 'number', `${name}[${i}]`);
      near(got as number, batch[name][i], `${name}[${i}] vs the whole series`);
      if (!Number.isNaN(ta[name][i])) {
        near(got as number, ta[name][i], `${name}[${i}] vs TA-Lib`);
        compared += 1;
      }
    }
  });
  assert.ok(compared > 0 || prices.length < 10, 'TA-Lib had values to compare');
}

const refusedWith = (message: RegExp) => (e: unknown) => {
  assert.ok(isBynerError(e, 'BYNER_INPUT'), String(e));
  assert.match(e.message, message);
  return true;
};

interface Opened {
  store: Store;
  dispose(): Promise<void>;
}

function importerSuite(name: string, open: (() => Promise<Opened>) | { skip: string }) {
  describe(`importSeries into the ${name} store`, () => {
    const skip = 'skip' in open ? open.skip : false;
    const cases: [string, (store: Store) => Promise<void>][] = [
      [
        'stores a float series from seq 0, timestamps kept, indicators equal to TA-Lib (1e-9)',
        async (store) => {
          const rows = walk(0, 300);
          const r = await importSeries(store, await series(csv(rows)), { stream: 'real', batchSize: 64 });
          assert.deepEqual(r, { already: 0, stored: 300, firstSeq: 0, streamLength: 300 });
          const ticks = await allTicks(store);
          assert.deepEqual(
            ticks.map((t) => [t.seq, t.price, t.timestamp.getTime(), t.stream]),
            rows.prices.map((p, i) => [i, p, rows.times[i], 'real']),
          );
          checkIndicators(ticks, rows.prices);
        },
      ],
      [
        're-importing stores nothing twice; an interrupted import resumes where the stream ends',
        async (store) => {
          const rows = walk(0, 120);
          const whole = await series(csv(rows));
          await importSeries(
            store,
            await series(csv({ prices: rows.prices.slice(0, 50), times: rows.times.slice(0, 50) })),
            {
              stream: 'real',
            },
          );
          const resumed = await importSeries(store, whole, { stream: 'real' });
          assert.deepEqual(resumed, { already: 50, stored: 70, firstSeq: 50, streamLength: 120 });
          const again = await importSeries(store, whole, { stream: 'real' });
          assert.deepEqual(again, { already: 120, stored: 0, firstSeq: 120, streamLength: 120 });
          const ticks = await allTicks(store);
          assert.equal(ticks.length, 120);
          checkIndicators(ticks, rows.prices);
        },
      ],
      [
        'refuses another file for a non-empty stream without --append, naming the line; stores nothing',
        async (store) => {
          const rows = walk(0, 40);
          await importSeries(store, await series(csv(rows)), { stream: 'real' });
          const changed = { prices: [...rows.prices], times: rows.times };
          changed.prices[30] += 0.001;
          await assert.rejects(
            importSeries(store, await series(csv(changed)), { stream: 'real' }),
            refusedWith(
              /already holds other data: line 32 of the file differs from its tick seq 30[\s\S]*hint: .*--append.*another --stream/,
            ),
          );
          assert.equal(await store.countTicks('historical_data', 'real'), 40);
        },
      ],
      [
        '--append continues seq and indicators exactly as over the whole concatenated series',
        async (store) => {
          const first = walk(0, 100);
          const next = walk(100, 80);
          await importSeries(store, await series(csv(first)), { stream: 'real' });
          const r = await importSeries(store, await series(csv(next)), { stream: 'real', append: true });
          assert.deepEqual(r, { already: 0, stored: 80, firstSeq: 100, streamLength: 180 });
          const ticks = await allTicks(store);
          const prices = [...first.prices, ...next.prices];
          assert.deepEqual(
            ticks.map((t) => [t.seq, t.price, t.timestamp.getTime()]),
            prices.map((p, i) => [i, p, [...first.times, ...next.times][i]]),
          );
          checkIndicators(ticks, prices);
          await checkState(store);
        },
      ],
      [
        "--append skips rows equal to the stream's last ticks and refuses earlier rows that differ",
        async (store) => {
          const rows = walk(0, 150);
          await importSeries(
            store,
            await series(csv({ prices: rows.prices.slice(0, 100), times: rows.times.slice(0, 100) })),
            {
              stream: 'real',
            },
          );
          // a grown file: its first 100 rows are the stream's
          const grown = await importSeries(store, await series(csv(rows)), { stream: 'real', append: true });
          assert.deepEqual(grown, { already: 100, stored: 50, firstSeq: 100, streamLength: 150 });
          const same = await importSeries(store, await series(csv(rows)), { stream: 'real', append: true });
          assert.equal(same.stored, 0);
          checkIndicators(await allTicks(store), rows.prices);
          await checkState(store);
          const earlier = { prices: [1.5, 2.5], times: [rows.times[148] - 1, rows.times[149] + 1000] };
          await assert.rejects(
            importSeries(store, await series(csv(earlier)), {
              stream: 'real',
              append: true,
              source: 'late.csv',
            }),
            refusedWith(
              /line 2 of late.csv is not after the last tick of stream "real" \(seq 149, .*\)[\s\S]*hint: --append adds rows after/,
            ),
          );
          const before = { prices: [rows.prices[149]], times: [rows.times[0] - 5000] };
          await assert.rejects(
            importSeries(store, await series(csv(before)), { stream: 'real', append: true }),
            refusedWith(/is not after the last tick/),
          );
          assert.equal(await store.countTicks('historical_data', 'real'), 150);
        },
      ],
      [
        'a file without timestamps: 1 s apart from the start time, then after the last tick with --append',
        async (store) => {
          const text = csv({ prices: [1.25, 2.5, 3.75], times: null });
          await importSeries(store, await series(text), { stream: 'real', startTime: new Date(T0) });
          const again = await importSeries(store, await series(text), { stream: 'real' });
          assert.equal(again.stored, 0, "the same file again: its times start at the stream's first tick");
          await importSeries(store, await series(text), { stream: 'real', append: true });
          await checkState(store);
          const ticks = await allTicks(store);
          assert.deepEqual(
            ticks.map((t) => [t.seq, t.timestamp.getTime() - T0, t.price]),
            [0, 1, 2, 3, 4, 5].map((i) => [i, i * 1000, [1.25, 2.5, 3.75][i % 3]]),
          );
          const fresh = await importSeries(store, await series(text), {
            stream: 'now',
            now: () => T0 + 9999,
          });
          assert.equal(fresh.stored, 3);
          const last = await store.lastTicks('historical_data', 'now', 3);
          assert.deepEqual(
            last.map((t) => t.timestamp.getTime() - T0),
            [7000, 8000, 9000],
            'the last row is now (whole seconds)',
          );
        },
      ],
    ];
    for (const [title, body] of cases) {
      it(title, { skip }, async () => {
        if ('skip' in open) return;
        const { store, dispose } = await open();
        try {
          await body(store);
        } finally {
          await dispose();
        }
      });
    }
  });
}

importerSuite('embedded SQLite', async () => {
  const store = openSqliteStore({ dataDir: mkdtempSync(join(tmpdir(), 'byner-import-')) });
  return { store, dispose: () => store.close() };
});

if ('skip' in server) importerSuite('MongoDB', { skip: server.skip });
else {
  console.error(`import tests: MongoDB via ${server.source}`);
  const admin = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
  after(async () => {
    await admin.close();
    await server.stop();
  });
  const openMongo = async () => {
    const dbName = `byner_import_${randomBytes(4).toString('hex')}`;
    const store = await openMongoStore({ uri: server.uri, dbName, serverSelectionTimeoutMS: 5000 });
    return {
      store,
      dbName,
      dispose: async () => {
        await store.close();
        await admin.db(dbName).dropDatabase();
      },
    };
  };
  importerSuite('MongoDB', openMongo);

  describe('byner import into MongoDB', () => {
    it('stores float prices as BSON doubles, exactly, through the command line', async () => {
      const { store, dbName, dispose } = await openMongo();
      try {
        const dir = mkdtempSync(join(tmpdir(), 'byner-import-'));
        const file = join(dir, 'p.csv');
        const rows = walk(0, 30);
        writeFileSync(file, csv(rows));
        const r = await byner([
          'import',
          file,
          '--stream',
          'real',
          '--mongo-uri',
          server.uri,
          '--db-name',
          dbName,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const raw = await admin
          .db(dbName)
          .collection('historical_data')
          .find({ stream: 'real' }, { promoteValues: false })
          .sort({ seq: 1 })
          .toArray();
        assert.deepEqual(
          raw.map((d) => (d.price as { _bsontype?: string })._bsontype),
          rows.prices.map(() => 'Double'),
        );
        assert.deepEqual(
          (await allTicks(store)).map((t) => t.price),
          rows.prices,
        );
      } finally {
        await dispose();
      }
    });
  });
}

describe('the shipped example series', () => {
  it('reads whole: 8,759 hourly temperatures, floats, timestamps one hour apart', async () => {
    const file = join(ROOT, 'examples', 'series', 'seattle-weather-hourly-normals.csv');
    const s = await readPrices(createReadStream(file), { source: file, column: 'temperature' });
    assert.equal(s.length, 8759);
    assert.equal(s.timeColumn, 'date');
    assert.equal(s.times?.[0], Date.UTC(2010, 0, 1, 1));
    assert.ok(s.times?.every((t, i) => i === 0 || t - s.times![i - 1] === 3_600_000));
    assert.ok(s.prices.some((p) => !Number.isInteger(p)));
  });
});

describe('byner import (command line, embedded store)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'byner-import-cli-'));
  const file = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const stored = async (dataDir: string, stream = 'real') => {
    const store = openSqliteStore({ dataDir });
    try {
      return await allTicks(store, stream);
    } finally {
      await store.close();
    }
  };
  const run = (args: string[], opts: { input?: string } = {}) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'byner-import-data-'));
    return { dataDir, result: byner(['import', ...args, '--data-dir', dataDir], opts) };
  };

  const refused: [string, string, string, RegExp][] = [
    [
      'a non-numeric price',
      'a.csv',
      'date,price\n2024-01-01,1\n2024-01-02,abc\n',
      /line 3 \(column "price"\): expected a finite number, received "abc"/,
    ],
    [
      'a missing price',
      'b.csv',
      'date,price\n2024-01-01,1\n2024-01-02,\n',
      /line 3 .*received an empty cell/,
    ],
    ['no price column', 'c.csv', 'date,amount\n2024-01-01,1\n', /line 1: no price column/],
    [
      'timestamps that do not increase',
      'd.csv',
      'date,price\n2024-01-02,1\n2024-01-01,2\n',
      /line 3 \(column "date"\): expected a time after/,
    ],
    ['an empty file', 'e.csv', '', /e.csv is empty/],
    ['a bad JSON line', 'f.jsonl', '{"price": 1}\n{"price": 2,}\n', /line 2: expected valid JSON/],
  ];
  for (const [name, fileName, text, message] of refused) {
    it(`refuses ${name}: exit 2, the line named, nothing stored`, async () => {
      const { dataDir, result } = run([file(fileName, text), '--stream', 'real']);
      const r = await result;
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.deepEqual(await stored(dataDir), []);
    });
  }

  it('needs --stream, and refuses --start-time for a file with timestamps', async () => {
    const f = file('ok.csv', 'date,price\n2024-01-01,1.5\n');
    const noStream = await run([f]).result;
    assert.equal(noStream.code, 2);
    assert.match(noStream.stderr, /--stream is required for import/);
    const both = run([f, '--stream', 'real', '--start-time', '2024-01-01T00:00:00Z']);
    const r = await both.result;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--start-time: only for a file without timestamps[\s\S]*"date" column/);
    assert.deepEqual(await stored(both.dataDir), []);
  });

  it('takes the write settings: --durable and --max-backlog-mb (a bad value exits 2, nothing stored)', async () => {
    const f = file('w.csv', 'date,price\n2024-01-01,1.5\n2024-01-02,2\n');
    const { dataDir, result } = run([f, '--stream', 'real', '--durable', '--max-backlog-mb', '8']);
    const r = await result;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /store: embedded SQLite at .*synchronous=FULL/);
    assert.equal((await stored(dataDir)).length, 2);
    const bad = run([f, '--stream', 'real', '--max-backlog-mb', '0']);
    const b = await bad.result;
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--max-backlog-mb: expected an integer between 1 and 65,536, received "0"/);
    assert.deepEqual(await stored(bad.dataDir), []);
  });

  it('imports JSON Lines from stdin with --format and --column, then says a re-import stores nothing', async () => {
    const input = '{"t": 1, "close": 2.5, "temp": 1.5}\n{"t": 2, "close": 3, "temp": -0.25}\n';
    const { dataDir, result } = run(
      ['-', '--stream', 'real', '--format', 'jsonl', '--column', 'temp', '--start-time', '2024-01-01'],
      {
        input,
      },
    );
    const r = await result;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stored 2 ticks \(seq 0\.\.1\)/);
    assert.deepEqual(
      (await stored(dataDir)).map((t) => [t.seq, t.price, t.timestamp.toISOString()]),
      [
        [0, 1.5, '2024-01-01T00:00:00.000Z'],
        [1, -0.25, '2024-01-01T00:00:01.000Z'],
      ],
    );
    const again = await byner(
      ['import', '-', '--stream', 'real', '--column', 'temp', '--data-dir', dataDir],
      { input },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already imported: stream "real" holds 2 ticks.*nothing stored/);
  });

  it('--append continues the stream from the command line; a refused append stores nothing', async () => {
    const rows = walk(0, 60);
    const a = file('first.csv', csv({ prices: rows.prices.slice(0, 40), times: rows.times.slice(0, 40) }));
    const b = file('next.csv', csv({ prices: rows.prices.slice(40), times: rows.times.slice(40) }));
    const { dataDir, result } = run([a, '--stream', 'real']);
    assert.equal((await result).code, 0);
    const plain = await byner(['import', b, '--stream', 'real', '--data-dir', dataDir]);
    assert.equal(plain.code, 2, 'another file without --append');
    assert.match(plain.stderr, /already holds other data[\s\S]*use --append/);
    const appended = await byner(['import', b, '--stream', 'real', '--append', '--data-dir', dataDir]);
    assert.equal(appended.code, 0, appended.stderr);
    assert.match(appended.stderr, /stored 20 ticks \(seq 40\.\.59\)/);
    const ticks = await stored(dataDir);
    assert.deepEqual(
      ticks.map((t) => t.price),
      rows.prices,
    );
    checkIndicators(ticks, rows.prices);
    const early = file('early.csv', `timestamp,price\n${new Date(rows.times[10]).toISOString()},1\n`);
    const refused = await byner(['import', early, '--stream', 'real', '--append', '--data-dir', dataDir]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /line 2 of .*early\.csv is not after the last tick of stream "real" \(seq 59/,
    );
    assert.equal((await stored(dataDir)).length, 60);
  });
});
