// End-to-end tests of the `byner` command line as a user runs it: generate | indicators round trip, input
// errors with line numbers and exit codes, configuration precedence and validation, logging.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INDICATOR_NAMES } from '../src/ticks/types.js';
import { builtCli, byner, childEnv, runProcess } from './helpers/cli.js';
import { findFerretDB, startFerretDB } from './helpers/ferretdb.js';

const lines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));

describe('byner generate | byner indicators', () => {
  it('gives back the same indicator values (1e-9) as the generator wrote, for 10,000 ticks', async () => {
    const gen = await byner(['generate', '--ticks', '10000', '--seed', '1', '--format', 'jsonl']);
    assert.equal(gen.code, 0, gen.stderr);
    const ticks = lines(gen.stdout);
    assert.equal(ticks.length, 10_000);
    assert.deepEqual(Object.keys(ticks[0]), ['timestamp', 'price', 'indicators', 'seq', 'stream']);
    assert.deepEqual(Object.keys(ticks[0].indicators), [...INDICATOR_NAMES]);
    assert.equal(ticks[0].indicators.ma, null);
    assert.equal(ticks[9999].seq, 9999);
    assert.equal(Date.parse(ticks[1].timestamp) - Date.parse(ticks[0].timestamp), 1000);

    const back = await byner(['indicators'], { input: gen.stdout });
    assert.equal(back.code, 0, back.stderr);
    const rows = lines(back.stdout);
    assert.equal(rows.length, ticks.length);
    let worst = 0;
    rows.forEach((r, i) => {
      assert.equal(r.price, ticks[i].price);
      assert.equal(r.timestamp, ticks[i].timestamp);
      for (const n of INDICATOR_NAMES) {
        const a = r.indicators[n];
        const b = ticks[i].indicators[n];
        if (b === null) assert.equal(a, null, `${n}[${i}]`);
        else worst = Math.max(worst, Math.abs(a - b));
      }
    });
    assert.ok(worst <= 1e-9, `largest difference ${worst}`);
  });

  it('is reproducible for a seed and start time, and continues from --start-index', async () => {
    const args = [
      'generate',
      '--format',
      'jsonl',
      '--ticks',
      '50',
      '--seed',
      '3',
      '--start-time',
      '2026-01-01T00:00:00Z',
    ];
    const a = await byner(args);
    const b = await byner(args);
    assert.equal(a.stdout, b.stdout);
    const tail = await byner([...args.slice(0, 4), '20', '--seed', '3', '--start-index', '30']);
    assert.deepEqual(
      lines(tail.stdout).map((t) => [t.seq, t.price]),
      lines(a.stdout)
        .slice(30)
        .map((t) => [t.seq, t.price]),
    );
    assert.equal(lines(a.stdout)[0].timestamp, '2026-01-01T00:00:00.000Z');
  });
});

describe('byner generate into the store', () => {
  it('stores only into an empty stream, --append continues seq, phase and indicators exactly, state saved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-gen-'));
    const env = { BYNER_DATA_DIR: dir };
    const first = await byner(['generate', '--ticks', '300', '--seed', '5'], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /store: embedded SQLite at/);
    assert.match(first.stderr, /stored 300 ticks \(seq 0\.\.299\)/);
    const again = await byner(['generate', '--ticks', '300', '--seed', '5'], { env });
    assert.match(again.stderr, /nothing stored: historical_data already holds 300 tick/);
    const more = await byner(['generate', '--ticks', '200', '--seed', '5', '--append'], { env });
    assert.match(more.stderr, /stored 200 ticks \(seq 300\.\.499\)/);
    const stats = await byner(['db', 'stats', '--json'], { env });
    assert.equal(JSON.parse(stats.stdout).historical_data, 500);

    const { openStore } = await import('../src/store/index.js');
    const store = await openStore({ dataDir: dir });
    const stored = await store.ticksAfter('historical_data', 'synthetic', -1, 1000);
    // Each run saved the stream's state after its ticks (the append started from the first run's).
    const { IndicatorStream } = await import('../src/indicators/streaming.js');
    const replayed = new IndicatorStream();
    for (const t of stored) replayed.push(t.price);
    assert.deepEqual(await store.streamState('synthetic'), {
      stream: 'synthetic',
      seq: 499,
      time: stored[499].timestamp.getTime(),
      gaps: 0,
      indicators: replayed.getState(),
    });
    await store.close();
    const whole = lines(
      (await byner(['generate', '--format', 'jsonl', '--ticks', '500', '--seed', '5'])).stdout,
    );
    assert.deepEqual(
      stored.map((t) => [t.seq, t.price, t.indicators]),
      whole.map((t) => [t.seq, t.price, t.indicators]),
    );
    for (let i = 1; i < stored.length; i++) {
      assert.equal(stored[i].timestamp.getTime() - stored[i - 1].timestamp.getTime(), 1000);
    }
  });
});

describe('options that do not apply are refused, not ignored', () => {
  const cases: [string, string[], RegExp][] = [
    [
      '--start-index into the store',
      ['generate', '--ticks', '5', '--start-index', '100'],
      /--start-index: only with --format jsonl/,
    ],
    [
      '--append with JSON Lines',
      ['generate', '--ticks', '5', '--append', '--format', 'jsonl'],
      /--append: only with --format store/,
    ],
    [
      '--start-time with --append',
      ['generate', '--ticks', '5', '--append', '--start-time', '2026-01-01'],
      /--start-time: not with --append/,
    ],
    [
      '--durable with MongoDB',
      ['generate', '--ticks', '5', '--durable', '--mongo-uri', 'mongodb://127.0.0.1:9/'],
      /--durable applies to the embedded store only/,
    ],
    [
      '--durable with JSON Lines',
      ['generate', '--ticks', '5', '--durable', '--format', 'jsonl'],
      /--durable: only with --format store/,
    ],
    [
      '--metrics-host without --metrics-port',
      ['infer', '--metrics-host', '0.0.0.0'],
      /--metrics-host without --metrics-port/,
    ],
    [
      '--allowed-host without --metrics-port (infer)',
      ['infer', '--allowed-host', 'scraper.example'],
      /--allowed-host without --metrics-port/,
    ],
    [
      'a bad --metrics-port',
      ['infer', '--metrics-port', '70000'],
      /--metrics-port: expected an integer between 0 and 65535/,
    ],
    [
      'an unusable --log-dir',
      ['--log-dir', '/proc/byner-nope', 'generate', '--ticks', '1', '--format', 'jsonl'],
      /--log-dir: cannot create/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: exit 2 with a message`, async () => {
      const r = await byner(args, { timeoutMs: 20_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});

describe('byner indicators input', () => {
  it('reads CSV with a close column and writes its timestamps as ISO 8601', async () => {
    const csv = `date;close\n${Array.from({ length: 30 }, (_, i) => `2026-01-${String(i + 1).padStart(2, '0')};${100 + Math.sin(i)}`).join('\n')}\n`;
    const r = await byner(['indicators'], { input: csv });
    assert.equal(r.code, 0, r.stderr);
    const rows = lines(r.stdout);
    assert.equal(rows.length, 30);
    assert.equal(rows[0].timestamp, '2026-01-01T00:00:00.000Z');
    assert.equal(rows[29].indicators.signal !== null, true);
    assert.equal(rows[8].indicators.ma, null);
  });

  it('reads a file argument, and another column with --column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-cli-'));
    const f = join(dir, 'p.csv');
    writeFileSync(f, 'price,temp\n1,4.5\n2,5\n3,-1\n');
    const r = await byner(['indicators', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      lines(r.stdout).map((x) => x.price),
      [1, 2, 3],
    );
    assert.deepEqual(
      Object.keys(lines(r.stdout)[0]),
      ['price', 'indicators'],
      'no timestamp when the file has none',
    );
    const temp = await byner(['indicators', f, '--column', 'temp']);
    assert.deepEqual(
      lines(temp.stdout).map((x) => x.price),
      [4.5, 5, -1],
    );
    const missing = await byner(['indicators', join(dir, 'nope.csv')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope\.csv/);
  });

  const bad: [string, string, RegExp][] = [
    [
      'a non-numeric price in CSV',
      'price\n1\n2\nabc\n4\n',
      /line 4 \(column "price"\): expected a finite number, received "abc"/,
    ],
    ['NaN in CSV', 'timestamp,price\n1,1\n2,NaN\n', /line 3 /],
    ['an empty price cell', 'timestamp,price\n1,1\n2,\n', /line 3 /],
    ['timestamps out of order', 'timestamp,price\n2,1\n1,2\n', /line 3 .*expected a time after/],
    ['a missing price column', 'timestamp,amount\nx,1\n', /line 1: no price column/],
    ['empty input', '', /stdin is empty/],
    ['a header with no rows', 'price\n', /a header but no rows/],
    ['bad JSON on a JSON Lines line', '{"price": 1}\n{"price": 2\n', /line 2: expected valid JSON/],
    ['a JSON line without price', '{"price": 1}\n\n{"close": 2}\n', /line 3: expected a "price" field/],
    ['a JSON string price', '{"price": 1}\n{"price": "NaN"}\n', /line 2 .*finite number/],
  ];
  for (const [name, input, message] of bad) {
    it(`rejects ${name}: exit 2, a message naming the line, nothing on stdout`, async () => {
      const r = await byner(['indicators'], { input });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    });
  }
});

describe('configuration', () => {
  it('takes flags over environment over defaults, and reports every bad value at once', async () => {
    const viaEnv = await byner(
      ['generate', '--format', 'jsonl', '--ticks', '5', '--start-time', '2026-01-01'],
      {
        env: { BYNER_SEED: '9' },
      },
    );
    const viaFlag = await byner(
      ['generate', '--format', 'jsonl', '--ticks', '5', '--start-time', '2026-01-01', '--seed', '9'],
      {
        env: { BYNER_SEED: '1' },
      },
    );
    assert.equal(viaEnv.stdout, viaFlag.stdout);
    const r = await byner(['generate', '--ticks', '0', '--frequency', 'fast'], { env: { BYNER_SEED: 'x' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--ticks: expected an integer between 1 and 50,000,000, received "0"/);
    assert.match(r.stderr, /--frequency: expected a number >= 0, received "fast"/);
    assert.match(r.stderr, /BYNER_SEED \(environment\): expected an integer/);
    const unknown = await byner(['generate', '--tics', '5']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option '--tics'/);
  });

  it('validates --max-backlog-mb, and --durable makes the embedded store sync fully (and says so)', async () => {
    const bad = await byner(['generate', '--ticks', '5', '--max-backlog-mb', '0'], {
      env: { BYNER_MAX_BACKLOG_MB: '64' },
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max-backlog-mb: expected an integer between 1 and 65,536, received "0"/);
    const badEnv = await byner(['generate', '--ticks', '5'], { env: { BYNER_MAX_BACKLOG_MB: 'lots' } });
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /BYNER_MAX_BACKLOG_MB \(environment\): expected an integer/);
    const durable = await byner(['generate', '--ticks', '5', '--durable', '--max-backlog-mb', '8']);
    assert.equal(durable.code, 0, durable.stderr);
    assert.match(durable.stderr, /store: embedded SQLite at .*synchronous=FULL/);
    const normal = await byner(['generate', '--ticks', '5']);
    assert.match(normal.stderr, /store: embedded SQLite at .*synchronous=NORMAL/);
  });

  const ferret = findFerretDB();
  it('hands --max-backlog-mb to the MongoDB store (its start-up line says so)', {
    skip: 'path' in ferret ? false : ferret.reason,
  }, async () => {
    const server = await startFerretDB();
    try {
      const r = await byner(['generate', '--ticks', '5', '--mongo-uri', server.uri, '--max-backlog-mb', '3']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /store: MongoDB at .*\(write backlog up to 3 MiB\)/);
    } finally {
      await server.stop();
    }
  });

  it('writes JSON logs to logs/<timestamp>.log and honours --quiet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-logs-'));
    const r = await byner(['--verbose', 'generate', '--format', 'jsonl', '--ticks', '3'], {
      env: { BYNER_LOG_DIR: dir },
    });
    assert.equal(r.code, 0);
    assert.match(r.stderr, /wrote 3 ticks/);
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    const entries = lines(readFileSync(join(dir, files[0]), 'utf8'));
    assert.ok(entries.some((e) => /wrote 3 ticks/.test(e.msg) && e.name === 'generate'));
    const q = await byner(['--quiet', 'generate', '--ticks', '100']);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stderr, '');
    const v = await byner(['generate', '--ticks', '100']);
    assert.match(v.stderr, /stored 100 ticks/);
  });
});

describe('npx byner in the project folder (how the README runs it)', () => {
  it('runs the built command: dist/cli/main.js is executable after the build', async () => {
    const r = await runProcess('npx', ['--no-install', 'byner', '--version'], { env: childEnv() });
    assert.equal(r.code, 0, `npx byner --version: ${r.stderr} (mode of ${builtCli()})`);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
