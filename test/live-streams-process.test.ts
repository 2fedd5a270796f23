// Many streams in real `byner serve` processes: a feed stream reading JSON lines piped to stdin, kill -9 of a
// multi-stream server with Last-Event-ID resume per stream, streams files (JSON and YAML), and bad stream
// definitions refused with exit code 2.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EventSourceMessage } from 'eventsource-parser';
import { ticksFromPrices } from '../src/indicators/ticks.js';
import { openStore } from '../src/store/index.js';
import { tickToJson } from '../src/ticks/json.js';
import { byner } from './helpers/cli.js';
import { freePort } from './helpers/ferretdb.js';
import { readSse, type ServeChild, spawnServe, tempDir, waitFor } from './live-helpers.js';

const T0 = Date.UTC(2026, 0, 1);

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return (await res.json()) as T;
}

interface StreamRow {
  name: string;
  source: string;
  state: string;
  head_seq: number;
  malformed: number;
}

describe('byner serve with many streams (real processes)', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('byner-streams-proc-');
  });
  after(() => dir.remove());

  it('stores and sends 1,000 JSON lines piped to a feed stream in order, counting the malformed ones', async () => {
    const port = await freePort();
    const dataDir = join(dir.path, 'feed');
    const child = await spawnServe(
      ['--port', String(port), '--stream', 'main', '--stream', 'ext:feed'],
      { BYNER_DATA_DIR: dataDir },
      { stdin: true },
    );
    const base = `http://127.0.0.1:${port}`;
    try {
      const reading = readSse(`${base}/realtime_data?stream=ext`, {
        until: (e) => e.length >= 1000,
        timeoutMs: 60_000,
      });
      await waitFor(
        'the reader to connect',
        async () => (await getJson<{ clients: number }>(`${base}/healthz`)).clients === 1,
      );
      const lines: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const price = Math.round(Math.sin(i / 10) * 1000) / 100;
        if (i % 3 === 0)
          lines.push(JSON.stringify({ price, timestamp: new Date(T0 + i * 1000).toISOString() }));
        else if (i % 3 === 1) lines.push(JSON.stringify({ price, timestamp: (T0 + i * 1000) / 1000 }));
        else lines.push(JSON.stringify({ price, timestamp: T0 + i * 1000 }));
        if (i % 50 === 7)
          lines.push('{"price": null}', 'garbage', `{"price": 1, "timestamp": ${T0 / 1000 - 60}}`);
      }
      // In pieces, as a real feed would write them.
      const text = `${lines.join('\n')}\n`;
      for (let at = 0; at < text.length; at += 4096) {
        child.child.stdin!.write(text.slice(at, at + 4096));
        await new Promise((r) => setImmediate(r));
      }
      const r = await reading;
      assert.equal(r.status, 200);
      const got = r.events.map((e) => JSON.parse(e.data));
      assert.equal(got.length, 1000);
      got.forEach((t, i) => {
        assert.equal(t.seq, i);
        assert.equal(t.stream, 'ext');
        assert.equal(t.price, Math.round(Math.sin(i / 10) * 1000) / 100);
        assert.equal(t.timestamp, new Date(T0 + i * 1000).toISOString());
      });
      const stored = await getJson<{ ticks: { seq: number; price: number }[] }>(
        `${base}/api/ticks?stream=ext&after=-1&limit=1000`.replace('after=-1&', ''),
      );
      assert.equal(stored.ticks.length, 1000);
      assert.deepEqual(
        stored.ticks.map((t) => t.price),
        got.map((t) => t.price),
      );
      const rows = (await getJson<{ streams: StreamRow[] }>(`${base}/api/streams`)).streams;
      const ext = rows.find((s) => s.name === 'ext')!;
      assert.deepEqual([ext.source, ext.head_seq, ext.malformed, ext.state], ['feed', 999, 60, 'running']);
      assert.equal(rows.find((s) => s.name === 'main')?.head_seq, -1, 'no reader of main: nothing made');
      child.child.stdin!.end();
      await waitFor('the feed to end', async () => {
        const s = (await getJson<{ streams: StreamRow[] }>(`${base}/api/streams`)).streams;
        return s.find((x) => x.name === 'ext')?.state === 'ended';
      });
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 0, child.stderr());
      assert.match(child.stderr(), /skipped a malformed line/);
    } finally {
      if (child.child.exitCode === null) child.child.kill('SIGKILL');
    }
    const store = await openStore({ dataDir });
    try {
      assert.equal(await store.countTicks('historical_data', 'ext'), 1000);
    } finally {
      await store.close();
    }
  });

  it('survives kill -9 with every stream resumed from its Last-Event-ID: no gap, no duplicate, as stored', async () => {
    const port = await freePort();
    const dataDir = join(dir.path, 'crash');
    const seed = await openStore({ dataDir });
    await seed.writeTicks(
      'historical_data',
      ticksFromPrices(
        Array.from({ length: 50 }, (_, i) => (i * 13) % 17),
        { start: 0, stream: 'rec', origin: new Date(T0) },
      ),
    );
    await seed.close();
    const args = [
      '--port',
      String(port),
      '--interval',
      '20',
      '--stream',
      's1',
      '--stream',
      's2:synthetic,seed=5,interval=15',
      '--stream',
      'r:replay,from=rec,interval=20,loop',
    ];
    const names = ['s1', 's2', 'r'];
    const events: Record<string, EventSourceMessage[]> = { s1: [], s2: [], r: [] };
    let child: ServeChild = await spawnServe(args, { BYNER_DATA_DIR: dataDir });
    try {
      for (const round of [1, 2, 3]) {
        const target = Object.fromEntries(names.map((n) => [n, events[n].length + 40]));
        const reads = names.map((name) =>
          readSse(`http://127.0.0.1:${port}/realtime_data?stream=${name}`, {
            lastEventId: events[name].at(-1)?.id,
            until: (e) => round === 3 && e.length + events[name].length >= target[name],
            timeoutMs: 60_000,
          }).then((r) => {
            assert.equal(r.status, 200, `${name}: ${r.raw.slice(0, 200)}`);
            return r;
          }),
        );
        if (round < 3) {
          // Kill while all three are mid-stream.
          await waitFor('ticks on every stream', async () => {
            const s = (await getJson<{ streams: StreamRow[] }>(`http://127.0.0.1:${port}/api/streams`))
              .streams;
            return s.every((x) => x.head_seq >= target[x.name] - 1);
          });
          child.child.kill('SIGKILL');
          await child.exited;
        }
        const results = await Promise.all(reads);
        for (const [i, name] of names.entries()) events[name].push(...results[i].events);
        if (round < 3) child = await spawnServe(args, { BYNER_DATA_DIR: dataDir });
      }
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 0, child.stderr());
    } finally {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    }
    const store = await openStore({ dataDir });
    try {
      for (const name of names) {
        const ids = events[name].map((e) => Number(e.id));
        assert.ok(ids.length >= 120, `${name}: ${ids.length} events`);
        assert.deepEqual(
          ids,
          ids.map((_, i) => i),
          `${name}: no gap, no duplicate`,
        );
        const stored = await store.ticksRange('historical_data', name, 0, ids.length - 1);
        assert.deepEqual(
          events[name].map((e) => e.data),
          stored.map((t) => JSON.stringify(tickToJson(t))),
          `${name}: what was sent is what is stored`,
        );
      }
      const replayed = events.r.map((e) => JSON.parse(e.data).price);
      assert.deepEqual(
        replayed,
        replayed.map((_, i) => ((i % 50) * 13) % 17),
        'the replay continues by seq across restarts',
      );
    } finally {
      await store.close();
    }
  });

  it('reads the streams from a JSON or a YAML file', async () => {
    const json = join(dir.path, 'streams.json');
    const yaml = join(dir.path, 'streams.yaml');
    writeFileSync(
      json,
      JSON.stringify([
        { name: 'sine', source: 'synthetic', seed: 3, interval: 0 },
        { name: 'ext', source: 'feed', url: 'http://127.0.0.1:9/never' },
      ]),
    );
    writeFileSync(
      yaml,
      '# two streams\n- name: slow\n  source: synthetic\n  interval: 5000\n- name: fast\n  amplitude: 2\n  interval: 0\n',
    );
    for (const [file, expected] of [
      [
        json,
        [
          ['sine', 'synthetic', true],
          ['ext', 'feed', false],
        ],
      ],
      [
        yaml,
        [
          ['slow', 'synthetic', true],
          ['fast', 'synthetic', false],
        ],
      ],
    ] as const) {
      const port = await freePort();
      const child = await spawnServe(['--port', String(port), '--streams', file], {
        BYNER_DATA_DIR: join(dir.path, `file-${port}`),
      });
      try {
        const rows = (
          await getJson<{ streams: (StreamRow & { default: boolean })[] }>(
            `http://127.0.0.1:${port}/api/streams`,
          )
        ).streams;
        assert.deepEqual(
          rows.map((s) => [s.name, s.source, s.default]),
          expected,
        );
        const health = await getJson<{ interval_ms: number }>(`http://127.0.0.1:${port}/healthz`);
        assert.equal(health.interval_ms, file === json ? 0 : 5000);
      } finally {
        child.child.kill('SIGTERM');
        await child.exited;
      }
    }
  });

  it('refuses bad stream definitions with exit code 2, saying what was expected and received', async () => {
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(bad, 'name: not-a-list\n');
    const broken = join(dir.path, 'broken.json');
    writeFileSync(broken, '[{"name": "a",');
    const cases: [string[], RegExp][] = [
      [
        ['--stream', 'x:nope'],
        /unknown source kind: expected one of synthetic, replay, feed, received "nope"/,
      ],
      [
        ['--stream', 'x:synthetic,speed=2'],
        /unknown option speed for synthetic: expected one of seed, amplitude/,
      ],
      [
        ['--stream', 'x:synthetic,seed=-1'],
        /bad seed: expected an integer between 0 and 2\^53, received "-1"/,
      ],
      [['--stream', 'x:replay'], /replay needs from: expected from=/],
      [['--stream', 'x:replay,from=y,speed=2,interval=5'], /speed and interval both given/],
      [['--stream', 'x', '--stream', 'x:feed'], /stream x defined twice/],
      [['--stream', 'a:feed', '--stream', 'b:feed'], /two feeds read stdin/],
      [['--stream', 'x:feed,url=ftp://h/'], /bad url: expected an http/],
      [['--stream', 'x', '--speed', '2'], /--speed \(replay\)/],
      [['--stream', 'x', '--streams', bad], /both --stream and --streams/],
      [['--streams', bad], /not a list of streams/],
      [['--streams', broken], /not valid JSON/],
      [
        ['--streams', join(dir.path, 'missing.yaml')],
        /cannot read the streams file [^\n]*\n\s+expected: a readable JSON or YAML file\n\s+received: ENOENT/,
      ],
      [['--stream', 'r:replay,from=empty'], /stream empty has no stored ticks/],
    ];
    const results = await Promise.all(
      cases.map(([args]) => byner(['serve', '--port', '0', ...args], { timeoutMs: 60_000 })),
    );
    results.forEach((r, i) => {
      const [args, message] = cases[i];
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stdout, /streaming on/);
    });
  });
});
