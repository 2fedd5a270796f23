// `npm run bench:streams [-- --streams N] [-- --json]`: memory of a server with N live streams, each with a
// full replay ring: RSS and heap per stream for a 10,000-tick ring and for the default ring of N streams
// (defaultRingCapacity). Each configuration runs in its own child process over the same stored history.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { SyntheticSource } from '../src/sources/synthetic.js';
import { openStore } from '../src/store/index.js';
import { defaultRingCapacity, startServer } from '../src/stream/server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { ROOT } from '../test/helpers/cli.js';
import { tempDir } from '../test/live-helpers.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback;
const STREAMS = arg('--streams', 100);
const TICKS = 10_000;
const json = args.includes('--json');

interface Measured {
  streams: number;
  ring: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  heapBeforeMb: number;
  heapAfterMb: number;
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** In the child: open the server over the stored streams, measure before and after. */
async function child(dataDir: string, streams: number, ring: number): Promise<void> {
  const store = await openStore({ dataDir });
  gc();
  const before = process.memoryUsage();
  const server = await startServer({
    port: 0,
    store,
    ringCapacity: ring,
    streams: Array.from({ length: streams }, (_, i) => ({
      name: `s${i}`,
      source: new SyntheticSource({ ...DEFAULT_SOURCE, seed: i, intervalMs: 1000 }),
    })),
  });
  gc();
  gc();
  const after = process.memoryUsage();
  const m: Measured = {
    streams,
    ring,
    rssBeforeMb: mb(before.rss),
    rssAfterMb: mb(after.rss),
    heapBeforeMb: mb(before.heapUsed),
    heapAfterMb: mb(after.heapUsed),
  };
  process.stdout.write(`${JSON.stringify(m)}\n`);
  await server.close();
  await store.close();
}

async function main(): Promise<void> {
  if (args.includes('--child')) {
    await child(String(args[args.indexOf('--data') + 1]), arg('--streams', 1), arg('--ring', 10_000));
    return;
  }
  const dir = tempDir('byner-bench-streams-');
  try {
    const store = await openStore({ dataDir: dir.path });
    for (let i = 0; i < STREAMS; i++) {
      const origin = new Date(Date.UTC(2026, 0, 1));
      await store.writeTicks(
        'historical_data',
        syntheticTicks({ ...DEFAULT_SOURCE, seed: i }, { start: 0, count: TICKS, stream: `s${i}`, origin }),
      );
    }
    await store.close();
    const rows: (Measured & { rssPerStreamMb: number; heapPerStreamMb: number })[] = [];
    for (const ring of [10_000, defaultRingCapacity(STREAMS)]) {
      const r = spawnSync(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          join(ROOT, 'bench', 'streams.ts'),
          '--child',
          '--data',
          dir.path,
          '--streams',
          String(STREAMS),
          '--ring',
          String(ring),
        ],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BYNER_LOG_DIR: 'none' } },
      );
      if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
      const m = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Measured;
      rows.push({
        ...m,
        rssPerStreamMb: Math.round(((m.rssAfterMb - m.rssBeforeMb) / STREAMS) * 100) / 100,
        heapPerStreamMb: Math.round(((m.heapAfterMb - m.heapBeforeMb) / STREAMS) * 100) / 100,
      });
    }
    if (json) process.stdout.write(`${JSON.stringify(rows)}\n`);
    else {
      process.stdout.write(`${STREAMS} streams of ${TICKS} stored ticks each, ring filled from the store:\n`);
      for (const r of rows) {
        process.stdout.write(
          `  ring ${String(r.ring).padStart(6)}: RSS +${(r.rssAfterMb - r.rssBeforeMb).toFixed(1)} MB ` +
            `(${r.rssPerStreamMb.toFixed(2)} MB/stream), heap +${(r.heapAfterMb - r.heapBeforeMb).toFixed(1)} MB ` +
            `(${r.heapPerStreamMb.toFixed(2)} MB/stream)\n`,
        );
      }
      const [full, small] = rows;
      process.stdout.write(
        `  default ring (${small.ring}) / 10,000 ring, RSS per stream: ${(small.rssPerStreamMb / full.rssPerStreamMb).toFixed(2)}×\n`,
      );
    }
  } finally {
    dir.remove();
  }
}

await main();
