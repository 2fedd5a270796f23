// Runs the source contract suite against every kind of the registry (synthetic, replay, feed on stdin and over
// HTTP, paced and not), then what only one kind does: replay's exact reproduction and loop, the feed's parsing,
// malformed lines and an HTTP feed that drops its connection midway.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ticksFromPrices } from '../indicators/ticks.js';
import { openStore } from '../store/index.js';
import type { Store, StoreLogger } from '../store/types.js';
import { StreamProducer } from '../stream/producer.js';
import { DEFAULT_SOURCE, generatePrices } from '../ticks/generator.js';
import { runSourceContract, type SourceFactory } from './contract.js';
import { FeedSource, parseFeedRecord } from './feed.js';
import {
  checkStreams,
  KIND_NAMES,
  type KindDefaults,
  parseStreamSpec,
  streamSpecsFromFile,
} from './registry.js';
import { ReplaySource, replayDelay } from './replay.js';
import { SyntheticSource } from './synthetic.js';

const T0 = Date.UTC(2026, 0, 1);
const N = 40;

// --- one factory per kind (and pace) -------------------------------------------------------------------------

const synthetic = (intervalMs: number): SourceFactory => ({
  kind: 'synthetic',
  async make(from) {
    return {
      source: new SyntheticSource({ ...DEFAULT_SOURCE, intervalMs }),
      expected: Array.from(generatePrices(DEFAULT_SOURCE, from.seq, N)),
    };
  },
});

/** The replayed stream: 30 ticks, 1 s apart, with a gap (seqs 0..19 and 25..34). */
const SOURCE_PRICES = Array.from({ length: 30 }, (_, i) => ((i * 7) % 11) - 5);
const replay = (pace: { intervalMs?: number; speed?: number }): SourceFactory => ({
  kind: 'replay',
  async prepare(store) {
    const ticks = ticksFromPrices(SOURCE_PRICES, { start: 0, stream: 'src', origin: new Date(T0) });
    await store.writeTicks(
      'historical_data',
      ticks.map((t, i) => ({ ...t, seq: i < 20 ? i : i + 5 })),
    );
  },
  async make(from, { store, stream }) {
    return {
      source: await ReplaySource.open(store, { from: 'src', loop: true, ...pace }, stream),
      // Position s mod 30 of the source, looping.
      expected: Array.from({ length: N }, (_, i) => SOURCE_PRICES[(from.seq + i) % 30]),
    };
  },
});

/** Feed lines: the expected prices, with malformed lines, blank lines and the three accepted forms between. */
function feedLines(from: { lastTime: number | null }, prices: number[]): string[] {
  // After now: a bare number is stamped on arrival (now), and a later explicit timestamp must not be before it.
  const base = Math.max(from.lastTime ?? T0, Date.now() + 86_400_000);
  const lines: string[] = [];
  prices.forEach((price, i) => {
    const at = base + (i + 1) * 1000;
    if (i % 3 === 0) lines.push(JSON.stringify({ price, timestamp: new Date(at).toISOString() }));
    else if (i % 3 === 1) lines.push(JSON.stringify({ price, timestamp: at }));
    else lines.push(String(price));
    if (i % 10 === 5) lines.push('not json', '{"price":"7"}', '');
  });
  return lines;
}
const feedPrices = (seq: number) => Array.from({ length: N }, (_, i) => Math.sin(seq + i) * 3);

/** Lines on a stream that stays open (a feed waits for more). */
const stdinFeed: SourceFactory = {
  kind: 'feed',
  async make(from) {
    const input = new PassThrough();
    const expected = feedPrices(from.seq);
    input.write(`${feedLines(from, expected).join('\n')}\n`);
    return { source: new FeedSource({ input }), expected };
  },
};

/** An NDJSON feed over HTTP (127.0.0.1) whose body stays open after the lines. */
function httpFeed(): SourceFactory {
  const bodies = new Map<string, string>();
  let server: Server | undefined;
  const listening = async () => {
    if (server === undefined) {
      server = createServer((req, res) => {
        const body = bodies.get(req.url ?? '');
        if (body === undefined) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(body);
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    }
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  return {
    kind: 'feed',
    async make(from) {
      const url = `${await listening()}/feed-${bodies.size}`;
      const expected = feedPrices(from.seq);
      bodies.set(new URL(url).pathname, `${feedLines(from, expected).join('\n')}\n`);
      return { source: new FeedSource({ url }), expected };
    },
    async dispose() {
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
    },
  };
}

runSourceContract('synthetic (interval 0)', synthetic(0));
runSourceContract('synthetic (interval 20 ms)', synthetic(20));
runSourceContract('replay (interval 0, gaps, loop)', replay({ intervalMs: 0 }));
runSourceContract('replay (speed 200)', replay({ speed: 200 }));
runSourceContract('feed (stdin)', stdinFeed);
runSourceContract('feed (NDJSON over HTTP)', httpFeed());

describe('source registry', () => {
  it('has a contract run for every kind', () => {
    assert.deepEqual([...KIND_NAMES].sort(), ['feed', 'replay', 'synthetic']);
  });
});

// --- replay -------------------------------------------------------------------------------------------------

describe('replay', () => {
  const stores: Store[] = [];
  const dirs: string[] = [];
  const freshStore = async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'byner-replay-'));
    dirs.push(dir);
    const store = await openStore({ dataDir: dir });
    stores.push(store);
    return store;
  };
  after(async () => {
    const { rmSync } = await import('node:fs');
    for (const s of stores) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Runs a producer of `stream` replaying `src` until its head reaches `until` (or its source ends). */
  async function produce(store: Store, stream: string, loop: boolean, until: number) {
    const source = await ReplaySource.open(store, { from: 'src', intervalMs: 0, loop }, stream);
    const producer = await StreamProducer.open({
      store,
      stream,
      source,
      ringCapacity: 10_000,
      alwaysOn: true,
    });
    const end = Date.now() + 20_000;
    try {
      while (producer.headSeq < until && producer.state.state === 'running') {
        assert.ok(Date.now() < end, `head ${producer.headSeq}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await producer.stop();
    }
    return producer;
  }

  it('reproduces the source stream exactly (seqs, prices, order, indicators), then ends', async () => {
    const store = await freshStore();
    const prices = generatePrices(DEFAULT_SOURCE, 0, 2500);
    const ticks = ticksFromPrices(prices, { start: 0, stream: 'src', origin: new Date(T0) });
    await store.writeTicks('historical_data', ticks);
    const producer = await produce(store, 'copy', false, 1_000_000);
    assert.equal(producer.state.state, 'ended');
    assert.equal(producer.headSeq, 2499);
    const copy = await store.ticksAfter('historical_data', 'copy', -1, 10_000);
    const strip = (t: (typeof ticks)[number]) => [t.seq, t.price, t.indicators];
    assert.deepEqual(copy.map(strip), ticks.map(strip));
    // A restart after the end makes nothing more.
    const again = await produce(store, 'copy', false, 1_000_000);
    assert.equal(again.headSeq, 2499);
    assert.equal(await store.countTicks('historical_data', 'copy'), 2500);
  });

  it('loops as new seqs of the replay stream, its indicators continuing over its own history; resumes by seq', async () => {
    const store = await freshStore();
    const prices = [5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8];
    await store.writeTicks(
      'historical_data',
      ticksFromPrices(prices, { start: 0, stream: 'src', origin: new Date(T0) }),
    );
    await produce(store, 'loop', true, 29);
    await produce(store, 'loop', true, 40); // a restart continues where the replay was (seq 30 → position 6)
    const got = await store.ticksAfter('historical_data', 'loop', -1, 1000);
    assert.ok(got.length >= 41);
    got.forEach((t, i) => {
      assert.equal(t.seq, i);
      assert.equal(t.price, prices[i % prices.length], `seq ${i}`);
    });
    const own = ticksFromPrices(
      got.map((t) => t.price),
      { start: 0, stream: 'loop', origin: new Date(T0) },
    );
    assert.deepEqual(
      got.map((t) => t.indicators),
      own.map((t) => t.indicators),
    );
  });

  it('waits the source spacing divided by the speed, or a fixed interval', () => {
    assert.equal(replayDelay(null, T0, { speed: 60 }), 0);
    assert.equal(replayDelay(T0, T0 + 60_000, { speed: 60 }), 1000);
    assert.equal(replayDelay(T0, T0 + 500, {}), 500);
    assert.equal(replayDelay(T0 + 9000, T0, { speed: 2 }), 0, 'never negative (the loop wraps)');
    assert.equal(replayDelay(T0, T0 + 60_000, { intervalMs: 250 }), 250);
    assert.equal(replayDelay(null, T0, { intervalMs: 250 }), 250);
  });

  it('refuses a source stream without ticks, naming the streams that have some', async () => {
    const store = await freshStore();
    await store.writeTicks(
      'historical_data',
      ticksFromPrices([1, 2], { start: 0, stream: 'have', origin: new Date(T0) }),
    );
    await assert.rejects(ReplaySource.open(store, { from: 'none', loop: false }, 'r'), (e: Error) => {
      assert.match(e.message, /stream none has no stored ticks/);
      assert.match(e.message, /have \(2 ticks\)/);
      return true;
    });
    await assert.rejects(
      ReplaySource.open(store, { from: 'have', loop: false }, 'have'),
      /cannot replay itself/,
    );
  });
});

// --- feed ---------------------------------------------------------------------------------------------------

describe('feed', () => {
  it('parses a JSON object, a bare number, ISO and epoch (s or ms) timestamps; says why a line is malformed', () => {
    const ms = Date.UTC(2026, 0, 1, 0, 0, 1);
    const cases: [string, ReturnType<typeof parseFeedRecord>][] = [
      ['{"price": 1.5}', { point: { price: 1.5, timestamp: null } }],
      ['  -2  ', { point: { price: -2, timestamp: null } }],
      ['{"price": 3, "timestamp": "2026-01-01T00:00:01Z"}', { point: { price: 3, timestamp: ms } }],
      [`{"price": 3, "timestamp": ${ms / 1000}}`, { point: { price: 3, timestamp: ms } }],
      [`{"price": 3, "timestamp": ${ms}}`, { point: { price: 3, timestamp: ms } }],
      ['{"price": 3, "timestamp": null}', { point: { price: 3, timestamp: null } }],
      ['', null],
      ['   ', null],
      ['abc', { error: 'not JSON and not a number' }],
      ['{"price": "3"}', { error: 'no finite "price"' }],
      ['{"value": 3}', { error: 'no finite "price"' }],
      ['[3]', { error: 'expected {"price": <number>, "timestamp"?: <ISO or epoch>} or a number' }],
      ['"3"', { error: 'expected {"price": <number>, "timestamp"?: <ISO or epoch>} or a number' }],
      ['1e999', { error: 'not finite' }],
      [
        '{"price": 3, "timestamp": "yesterday"}',
        { error: '"timestamp" is neither an ISO-8601 date-time nor epoch seconds/milliseconds' },
      ],
      [
        '{"price": 3, "timestamp": -5}',
        { error: '"timestamp" is neither an ISO-8601 date-time nor epoch seconds/milliseconds' },
      ],
    ];
    for (const [line, want] of cases) assert.deepEqual(parseFeedRecord(line), want, line);
  });

  it('counts, logs (the first ten, then summaries) and skips malformed lines and timestamps that go back', async () => {
    const warnings: string[] = [];
    const logger: StoreLogger = { info() {}, warn: (_o, m) => warnings.push(String(m)), error() {} };
    const input = new PassThrough();
    const feed = new FeedSource({ input, logger, now: () => T0 + 500 });
    const lines = [
      '{"price": 1, "timestamp": 1767225605}', // T0 + 5 s
      '{"price": 2, "timestamp": 1767225604}', // goes back: malformed
      '3', // no timestamp: now (T0 + 0.5 s) is before the last one, so the last one's time
      ...Array.from({ length: 14 }, () => 'junk'),
      '{"price": 4, "timestamp": 1767225606000}',
    ];
    input.end(`${lines.join('\n')}\n`);
    const got = [];
    for await (const p of feed.points({ seq: 0, lastTime: null }, new AbortController().signal)) got.push(p);
    assert.deepEqual(
      got.map((p) => [p.price, p.timestamp?.getTime()]),
      [
        [1, T0 + 5000],
        [3, T0 + 5000],
        [4, T0 + 6000],
      ],
    );
    assert.deepEqual(feed.stats, { points: 3, malformed: 15, reconnects: 0 });
    assert.equal(warnings.filter((w) => w.includes('skipped a malformed line')).length, 10);
    assert.ok(
      warnings.some((w) => /skipped 1 more malformed lines \(11 in all\)/.test(w)),
      warnings.join('\n'),
    );
  });

  for (const type of ['application/x-ndjson', 'text/event-stream']) {
    it(`reads an HTTP feed (${type}) that drops the connection midway: every point once, in order`, async () => {
      const sse = type === 'text/event-stream';
      const total = 1000;
      const record = (i: number) => JSON.stringify({ price: i, timestamp: T0 + i });
      const frame = (i: number) => (sse ? `id: ${i}\ndata: ${record(i)}\n\n` : `${record(i)}\n`);
      const connections: { lastEventId?: string }[] = [];
      let sent = 0; // records the client got whole (NDJSON has no resume: the server remembers)
      const server = createServer((req, res) => {
        connections.push({ lastEventId: req.headers['last-event-id'] as string | undefined });
        res.writeHead(200, { 'content-type': type });
        if (connections.length === 1) {
          // Half the records, then half a record, then the connection is cut.
          let body = '';
          for (let i = 0; i < total / 2; i++) body += frame(i);
          sent = total / 2;
          res.write(`${body}${frame(sent).slice(0, 9)}`, () => setTimeout(() => res.socket?.destroy(), 50));
          return;
        }
        const start = sse ? Number(req.headers['last-event-id']) + 1 : sent;
        let body = '';
        for (let i = start; i < total; i++) body += frame(i);
        res.write(body); // and the body stays open
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed`;
      const feed = new FeedSource({ url, backoff: { initialMs: 20, maxMs: 200 } });
      const stop = new AbortController();
      const got: number[] = [];
      try {
        for await (const p of feed.points({ seq: 0, lastTime: null }, stop.signal)) {
          got.push(p.price);
          if (got.length === total) break;
        }
      } finally {
        stop.abort();
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
      assert.deepEqual(
        got,
        Array.from({ length: total }, (_, i) => i),
      );
      assert.equal(connections.length, 2);
      assert.equal(feed.stats.reconnects, 1);
      assert.equal(feed.stats.malformed, 0, 'the cut record is dropped, not counted');
      if (sse) assert.equal(connections[1].lastEventId, String(total / 2 - 1));
    });
  }

  it('keeps reconnecting to a feed that is down, with growing waits, until stopped', async () => {
    const server = createServer((_req, res) => res.writeHead(503).end('later'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const warnings: string[] = [];
    const logger: StoreLogger = { info() {}, warn: (_o, m) => warnings.push(String(m)), error() {} };
    const feed = new FeedSource({ url, logger, backoff: { initialMs: 10, maxMs: 40 } });
    const stop = new AbortController();
    const reading = (async () => {
      for await (const _ of feed.points({ seq: 0, lastTime: null }, stop.signal)) assert.fail('no points');
    })();
    const end = Date.now() + 20_000;
    while (feed.stats.reconnects < 4) {
      assert.ok(Date.now() < end, `reconnects ${feed.stats.reconnects}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    stop.abort();
    await reading;
    server.close();
    assert.match(warnings[0], /HTTP 503 later; reconnecting in \d+ ms/);
  });
});

// --- stream definitions ---------------------------------------------------------------------------------------

describe('stream definitions', () => {
  it('parses NAME[:KIND[,key=value|flag...]] and fills options from the kind flags, the spec winning', () => {
    const cases: [
      string[],
      KindDefaults,
      { name: string; kind: string; options: Record<string, unknown> }[],
    ][] = [
      [['synthetic'], {}, [{ name: 'synthetic', kind: 'synthetic', options: {} }]],
      [
        ['a:synthetic,seed=7,interval=0'],
        { synthetic: { seed: 42, interval: 1000, noise: 1.5 } },
        [{ name: 'a', kind: 'synthetic', options: { seed: 7, interval: 0, noise: 1.5 } }],
      ],
      [
        ['co2:replay,from=raw,speed=60,loop'],
        { replay: { interval: 500 } },
        [{ name: 'co2', kind: 'replay', options: { from: 'raw', speed: 60, loop: true } }],
      ],
      [
        ['r:replay'],
        { replay: { from: 'raw', speed: 2, interval: 500, loop: true } },
        [{ name: 'r', kind: 'replay', options: { from: 'raw', speed: 2, loop: true } }],
      ],
      [
        ['r:replay,from=raw,loop=false'],
        { replay: { interval: 250 } },
        [{ name: 'r', kind: 'replay', options: { from: 'raw', loop: false, interval: 250 } }],
      ],
      [
        ['ext:feed', 'web:feed,url=http://127.0.0.1:9/x?a=1'],
        {},
        [
          { name: 'ext', kind: 'feed', options: {} },
          { name: 'web', kind: 'feed', options: { url: 'http://127.0.0.1:9/x?a=1' } },
        ],
      ],
    ];
    for (const [specs, defaults, want] of cases) {
      assert.deepEqual(checkStreams(specs.map(parseStreamSpec), defaults), want, specs.join(' '));
    }
  });

  it('reads the entries of a streams file, JSON values as they are', () => {
    const specs = streamSpecsFromFile(
      {
        streams: [
          { name: 'a', interval: 0 },
          { name: 'b', source: 'replay', from: 'a', loop: true, speed: 0.5 },
        ],
      },
      'f.yaml',
    );
    assert.deepEqual(checkStreams(specs), [
      { name: 'a', kind: 'synthetic', options: { interval: 0 } },
      { name: 'b', kind: 'replay', options: { from: 'a', loop: true, speed: 0.5 } },
    ]);
    for (const bad of [[], {}, 'x', [{ name: 'a', nested: { x: 1 } }], [3]]) {
      assert.throws(() => streamSpecsFromFile(bad, 'f.yaml'), { code: 'BYNER_CONFIG' }, JSON.stringify(bad));
    }
  });

  it('reports every bad definition at once, each with what was expected and received', () => {
    const specs = ['x:nope', 'y:synthetic,seed=1.5', 'y', 'a/b', 'z:replay,speed=0', 'f:feed,url=x'];
    assert.throws(
      () => checkStreams(specs.map(parseStreamSpec)),
      (e: Error) => {
        assert.match(e.message, /invalid stream definitions \(7\)/);
        assert.match(
          e.message,
          /--stream x:nope: unknown source kind: expected one of synthetic, replay, feed/,
        );
        assert.match(e.message, /--stream y:synthetic,seed=1.5: bad seed: expected an integer/);
        assert.match(e.message, /--stream y: stream y defined twice/);
        assert.match(e.message, /--stream a\/b: bad stream name/);
        assert.match(e.message, /--stream z:replay,speed=0: bad speed: expected a number > 0, received "0"/);
        assert.match(e.message, /--stream z:replay,speed=0: replay needs from/);
        assert.match(e.message, /--stream f:feed,url=x: bad url/);
        return true;
      },
    );
    assert.throws(() => parseStreamSpec('a:synthetic,seed=1,seed=2'), /option seed given twice/);
  });
});
