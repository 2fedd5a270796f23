// `npm run bench:open [-- --json] [-- --streams S] [-- --ticks N] [-- --ring R] [-- --embedded-only]`: how long
// StreamProducer.open takes for streams of N stored ticks, on the embedded store and on FerretDB (when installed
// and not --embedded-only), in one run: by a full replay of the stored ticks (the store's stream states hidden)
// and from the saved stream states. Opens the S streams one after the other, as `byner serve` does at start.
import os from 'node:os';
import { join } from 'node:path';
import { syntheticTicks } from '../src/indicators/ticks.js';
import type { PriceSource } from '../src/sources/types.js';
import { openStore, type Store, type StoreOptions, seedTicks } from '../src/store/index.js';
import { StreamProducer } from '../src/stream/producer.js';
import { defaultRingCapacity } from '../src/stream/server.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { findFerretDB, startFerretDB } from '../test/helpers/ferretdb.js';
import { tempDir } from '../test/live-helpers.js';

const args = process.argv.slice(2);
function arg(name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${name}: expected an integer >= 1, received ${JSON.stringify(args[at + 1])}`);
  }
  return value;
}
const json = args.includes('--json');
const STREAMS = arg('--streams', 10);
const TICKS = arg('--ticks', 50_000);
const RING = arg('--ring', defaultRingCapacity(STREAMS));
const log = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);

/** A source that makes nothing: the producer opens and waits for readers. */
const idle = (): PriceSource => ({
  kind: 'idle',
  onDemand: true,
  stats: { points: 0, malformed: 0, reconnects: 0 },
  async *points() {},
});

/** The store without its stream states: what opening costs without them (a full replay). */
const withoutStates = (store: Store): Store =>
  new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'streamState') return async () => null;
      if (key === 'writeStreamState') return async () => {};
      return Reflect.get(target, key, receiver);
    },
  });

const names = Array.from({ length: STREAMS }, (_, i) => `s${i}`);

/** Opens (and stops) every stream in turn; ms per open. */
async function openAll(store: Store): Promise<number[]> {
  const ms: number[] = [];
  for (const stream of names) {
    const started = performance.now();
    const producer = await StreamProducer.open({ store, stream, source: idle(), ringCapacity: RING });
    ms.push(performance.now() - started);
    if (producer.headSeq !== TICKS - 1) throw new Error(`${stream}: head ${producer.headSeq}`);
    await producer.stop();
  }
  return ms;
}

interface Result {
  fullMs: number[];
  stateMs: number[];
}

async function measure(label: string, options: StoreOptions): Promise<Result> {
  const store = await openStore(options);
  try {
    const seeding = performance.now();
    for (const stream of names) {
      await seedTicks(store, {
        stream,
        count: TICKS,
        makeTicks: (start, count) =>
          syntheticTicks(DEFAULT_SOURCE, { start, count, stream, origin: new Date(Date.UTC(2026, 0, 1)) }),
      });
    }
    log(
      `${label}: seeded ${STREAMS} × ${TICKS} ticks in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
    );
    const fullMs = await openAll(withoutStates(store));
    await openAll(store); // a full replay that saves each stream's state (not counted)
    const stateMs = await openAll(store);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    log(
      `${label}: open of one stream of ${TICKS} ticks (ring ${RING}): full replay ${(sum(fullMs) / STREAMS).toFixed(1)} ms, ` +
        `from its state ${(sum(stateMs) / STREAMS).toFixed(1)} ms (${(sum(fullMs) / sum(stateMs)).toFixed(1)}× faster); ` +
        `all ${STREAMS} streams: ${(sum(fullMs) / 1000).toFixed(2)} s → ${(sum(stateMs) / 1000).toFixed(2)} s`,
    );
    return { fullMs, stateMs };
  } finally {
    await store.close();
  }
}

const dir = tempDir('byner-bench-open-');
const results: Record<string, Result | null> = {};
try {
  results.embedded = await measure('embedded store', { dataDir: join(dir.path, 'data') });
  const ferret = args.includes('--embedded-only') ? { reason: '--embedded-only' } : findFerretDB();
  if ('path' in ferret) {
    const db = await startFerretDB();
    try {
      results.ferretdb = await measure('FerretDB', { mongoUri: db.uri, dbName: 'byner_bench_open' });
    } finally {
      await db.stop();
    }
  } else {
    log(`FerretDB: skipped (${ferret.reason})`);
    results.ferretdb = null;
  }
} finally {
  dir.remove();
}
if (json) {
  const mean = (xs: number[]) => Number((xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2));
  const row = (r: Result | null) =>
    r === null ? null : { full_replay_ms: mean(r.fullMs), from_state_ms: mean(r.stateMs) };
  process.stdout.write(
    `${JSON.stringify({
      streams: STREAMS,
      ticks_per_stream: TICKS,
      ring: RING,
      open_embedded: row(results.embedded),
      open_ferretdb: row(results.ferretdb),
      cpus: os.cpus().length,
      node: process.version,
    })}\n`,
  );
}
