// Many streams in one server, over real sockets on 127.0.0.1: each stream's clients see only its ticks, the
// default stream byte for byte as a single-stream server sends it, /api/streams and /healthz, unknown streams,
// REST reads per stream, --max-clients counted over all streams, Last-Event-ID per stream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ticksFromPrices } from '../src/indicators/ticks.js';
import { ReplaySource } from '../src/sources/replay.js';
import { SyntheticSource } from '../src/sources/synthetic.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { type StreamConfig, startServer } from '../src/stream/server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { openStream, readSse, tempDir, waitFor } from './live-helpers.js';

const T0 = Date.UTC(2026, 0, 1);
const now = () => T0;
const sine = (seed: number, intervalMs = 0) => new SyntheticSource({ ...DEFAULT_SOURCE, seed, intervalMs });

describe('many streams in one server', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  before(async () => {
    dir = tempDir('byner-streams-');
    store = await openStore({ dataDir: dir.path });
    await store.writeTicks(
      'historical_data',
      ticksFromPrices([1, 2, 3, 4, 5, 6, 7, 8], { start: 0, stream: 'recorded', origin: new Date(T0) }),
    );
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('serves the default stream at /realtime_data byte for byte as a single-stream server; each client sees only its stream', async () => {
    // The reference: today's single-stream server on its own stream name.
    const single = await startServer({ port: 0, store, intervalMs: 0, now, stream: 'alone' });
    const reference = await readSse(`${single.url}/realtime_data`, { until: (e) => e.length >= 50 });
    await single.close();

    const streams: StreamConfig[] = [
      { name: 'first', source: sine(DEFAULT_SOURCE.seed) },
      { name: 'second', source: sine(7) },
      {
        name: 'third',
        source: await ReplaySource.open(store, { from: 'recorded', intervalMs: 0, loop: true }, 'third'),
      },
    ];
    const server = await startServer({ port: 0, store, now, streams });
    try {
      const reads = await Promise.all([
        readSse(`${server.url}/realtime_data`, { until: (e) => e.length >= 50 }),
        readSse(`${server.url}/realtime_data?stream=second`, { until: (e) => e.length >= 300 }),
        readSse(`${server.url}/realtime_data?stream=third`, { until: (e) => e.length >= 300 }),
        readSse(`${server.url}/realtime_data?stream=first`, { until: (e) => e.length >= 300 }),
      ]);
      const cut = (raw: string, n: number) =>
        raw
          .split('\n\n')
          .slice(0, n + 1)
          .join('\n\n');
      assert.equal(
        cut(reads[0].raw, 50),
        cut(reference.raw, 50).replaceAll('"stream":"alone"', '"stream":"first"'),
        'the default stream without ?stream= is what a single-stream server sends',
      );
      for (const [read, name] of [
        [reads[1], 'second'],
        [reads[2], 'third'],
        [reads[3], 'first'],
      ] as const) {
        assert.equal(read.status, 200);
        const ticks = read.events.map((e) => JSON.parse(e.data));
        assert.ok(
          ticks.every((t) => t.stream === name),
          `${name}: only its own ticks`,
        );
        const from = name === 'first' ? ticks[0].seq : 0; // read after the default stream's first client
        assert.deepEqual(
          ticks.map((t) => t.seq),
          ticks.map((_, i) => from + i),
          `${name}: consecutive seqs`,
        );
        assert.deepEqual(
          read.events.map((e) => Number(e.id)),
          ticks.map((t) => t.seq),
        );
      }
      const third = reads[2].events.map((e) => JSON.parse(e.data).price);
      assert.deepEqual(third.slice(0, 20), [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4]);
      // Streams with different seeds differ; the store has each stream's ticks under its own name.
      assert.notDeepEqual(
        reads[1].events.slice(0, 20).map((e) => JSON.parse(e.data).price),
        reads[3].events.slice(0, 20).map((e) => JSON.parse(e.data).price),
      );
      for (const name of ['first', 'second', 'third']) {
        const stored = await store.ticksAfter('historical_data', name, -1, 300);
        assert.ok(stored.length >= 50 && stored.every((t) => t.stream === name));
      }
    } finally {
      await server.close();
    }
  });

  it('lists streams in /api/streams and /healthz; unknown streams get a 404 naming the known ones; REST reads per stream', async () => {
    const streams: StreamConfig[] = [
      { name: 'one', source: sine(1, 3_600_000) },
      { name: 'two', source: sine(2) },
    ];
    const server = await startServer({ port: 0, store, now, streams });
    try {
      await readSse(`${server.url}/realtime_data?stream=two`, { until: (e) => e.length >= 10 });
      const list = (await (await fetch(`${server.url}/api/streams`)).json()) as {
        streams: Record<string, unknown>[];
      };
      assert.deepEqual(
        list.streams.map((s) => [s.name, s.source, s.default, s.state, s.malformed, s.reconnects]),
        [
          ['one', 'synthetic', true, 'running', 0, 0],
          ['two', 'synthetic', false, 'running', 0, 0],
        ],
      );
      const two = list.streams[1] as { head_seq: number; ticks_per_s: number; clients: number };
      assert.ok(two.head_seq >= 9 && two.ticks_per_s > 0, JSON.stringify(two));
      assert.equal(list.streams[0].head_seq, -1, 'an on-demand stream without readers makes nothing');

      const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
      assert.equal(health.stream, 'one');
      assert.equal(health.interval_ms, 3_600_000);
      assert.deepEqual(
        (health.streams as { name: string }[]).map((s) => s.name),
        ['one', 'two'],
      );

      const unknown = await fetch(`${server.url}/realtime_data?stream=three`);
      assert.equal(unknown.status, 404);
      assert.deepEqual(await unknown.json(), {
        error: 'no live stream three',
        expected: 'one of: one, two',
        received: '"three"',
      });
      for (const bad of ['/realtime_data?stream=a%2Fb', '/realtime_data?other=1', '/api/streams?x=1']) {
        assert.equal((await fetch(`${server.url}${bad}`)).status, 400, bad);
      }

      const ticks = async (q: string) =>
        ((await (await fetch(`${server.url}/api/ticks${q}`)).json()) as { ticks: { stream: string }[] })
          .ticks;
      assert.deepEqual(await ticks(''), [], 'the default stream (one) has no ticks');
      const ofTwo = await ticks('?stream=two&limit=5');
      assert.equal(ofTwo.length, 5);
      assert.ok(ofTwo.every((t) => t.stream === 'two'));
      assert.ok(server.headSeq('two') >= two.head_seq);
      assert.throws(() => server.headSeq('three'), /no live stream three/);
    } finally {
      await server.close();
    }
  });

  it('counts --max-clients over all streams; resumes each stream from its own Last-Event-ID', async () => {
    const streams: StreamConfig[] = [
      { name: 'a', source: sine(3, 20) },
      { name: 'b', source: sine(4, 20) },
    ];
    const server = await startServer({ port: 0, store, now, streams, maxClients: 2 });
    const held = [];
    try {
      held.push(await openStream(`${server.url}/realtime_data?stream=a`));
      held.push(await openStream(`${server.url}/realtime_data?stream=b`));
      const refused = await readSse(`${server.url}/realtime_data?stream=b`);
      assert.equal(refused.status, 503);
      assert.match(JSON.parse(refused.raw).expected, /at most 2/);
      await waitFor('ticks on both', () => server.headSeq('a') >= 20 && server.headSeq('b') >= 20);
      for (const h of held) h.close();
      await waitFor('the slots to be freed', () => server.stats().clients === 0);
      for (const name of ['a', 'b']) {
        const r = await readSse(`${server.url}/realtime_data?stream=${name}`, {
          lastEventId: '4',
          until: (e) => e.length >= 20,
        });
        assert.deepEqual(
          r.events.map((e) => Number(e.id)),
          Array.from({ length: r.events.length }, (_, i) => 5 + i),
        );
        assert.ok(r.events.every((e) => JSON.parse(e.data).stream === name));
      }
      // A Last-Event-ID beyond this stream's head is refused even when another stream is that far.
      const ahead = await readSse(`${server.url}/realtime_data?stream=a`, {
        lastEventId: String(server.headSeq('b') + 1000),
      });
      assert.equal(ahead.status, 400);
    } finally {
      for (const h of held) h.close();
      await server.close();
    }
  });

  it('makes ticks without clients only with produceAlways (a feed always stores what arrives)', async () => {
    const streams = async (tag: string): Promise<StreamConfig[]> => [
      { name: `${tag}-sine`, source: sine(11, 10) },
      {
        name: `${tag}-replay`,
        source: await ReplaySource.open(
          store,
          { from: 'recorded', intervalMs: 10, loop: true },
          `${tag}-replay`,
        ),
      },
    ];
    const idle = await startServer({ port: 0, store, now, streams: await streams('idle') });
    const always = await startServer({
      port: 0,
      store,
      now,
      streams: await streams('always'),
      produceAlways: true,
    });
    try {
      await waitFor(
        'ticks without clients',
        () => always.headSeq('always-sine') >= 20 && always.headSeq('always-replay') >= 20,
      );
      assert.equal(idle.headSeq('idle-sine'), -1);
      assert.equal(idle.headSeq('idle-replay'), -1);
    } finally {
      await idle.close();
      await always.close();
    }
  });

  it('refuses bad stream lists: none, repeated names, streams with single-stream options', async () => {
    const cases: [string, Parameters<typeof startServer>[0], RegExp][] = [
      ['no streams', { streams: [] }, /no stream to serve/],
      [
        'a repeated name',
        {
          streams: [
            { name: 'x', source: sine(1) },
            { name: 'x', source: sine(2) },
          ],
        },
        /repeated/,
      ],
      ['a bad name', { streams: [{ name: 'a/b', source: sine(1) }] }, /bad or repeated stream name/],
      [
        'streams and stream',
        { streams: [{ name: 'x', source: sine(1) }], stream: 'y' },
        /streams and stream/,
      ],
    ];
    for (const [what, options, message] of cases) {
      await assert.rejects(startServer({ port: 0, store, ...options }), message, what);
    }
  });
});
