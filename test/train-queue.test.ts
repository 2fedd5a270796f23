// The training queue end to end with real processes (the built CLI): `byner train --queue` enqueues, `byner worker`
// processes run the jobs, a worker stopped by SIGTERM or killed with SIGKILL mid-job has its job finished by another
// from the checkpoint in GridFS, and the registered model equals an uninterrupted run's, bit for bit; a global model
// of several streams (`--streams`) is one job, equal to `byner train --streams` run here, and `--model linear` jobs
// per stream (`--stream a,b`) register linear models. On Redis (BYNER_TEST_REDIS_URL, else redis-server started
// here) and MongoDB (MONGODB_URI, else FerretDB started here).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { MongoClient } from 'mongodb';
import { silentLogger } from '../src/log/logger.js';
import { connectRedis } from '../src/queue/connection.js';
import { newJobData, TRAIN_QUEUE } from '../src/queue/jobs.js';
import { startTrainingWorker } from '../src/queue/worker.js';
import { openStore } from '../src/store/index.js';
import type { Tick } from '../src/ticks/types.js';
import { builtCli, childEnv, ROOT, runProcess } from './helpers/cli.js';
import { mongoUriForTests } from './helpers/ferretdb.js';
import { redisUrlForTests } from './helpers/redis.js';
import { noisySine } from './helpers/series.js';

const redis = await redisUrlForTests();
const mongo = 'skip' in redis ? redis : await mongoUriForTests();
const skip = 'skip' in redis ? redis.skip : 'skip' in mongo ? mongo.skip : false;
if (skip) console.error(`training queue: skipped (${skip})`);
const main = skip ? '' : builtCli();

/**
 * Epochs of ≈ 1.5 s on an idle machine (a window of 60, 96 units, 2,000 training windows), so that a signal sent on
 * the log line of epoch 1 lands in epoch 2; one training thread, as in the reference run.
 */
const EPOCHS = 4;
const TRAIN = [
  ...['--ticks', '3000', '--window', '60', '--units', '96', '--epochs', String(EPOCHS), '--patience', '100'],
  ...['--workers', '1', '--force'],
];
/** Well-formed train options, for a job this suite puts on the queue itself. */
const wellFormedOptions = () => ({
  choice: 'lstm' as const,
  ticks: 3000,
  source: { seed: 42, amplitude: 8, frequency: 0.1, noise: 1.5, bound: 10 },
  model: {
    window: 60,
    horizon: 5,
    layers: [{ units: 96, activation: 'relu' as const }],
    dropout: 0.2,
    seed: 42,
  },
  fit: { epochs: EPOCHS, batchSize: 32, patience: 100, learningRate: 0.001, workers: 1 },
  split: { train: 0.7, validation: 0.1, test: 0.2 },
  season: 10,
  force: true,
});
/** Short holds, so that a dead worker's job is retried within a few seconds. */
const WORKER = ['--lock-ms', '3000', '--stalled-ms', '1000'];

interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first match of `re` in stderr (checked as each chunk arrives); fails after `ms`. */
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray>;
}

const procs: Proc[] = [];
function start(args: string[]): Proc {
  const child = spawn(process.execPath, [main, ...args], {
    cwd: ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const waiters: {
    re: RegExp;
    resolve: (m: RegExpMatchArray) => void;
    reject: (e: Error) => void;
  }[] = [];
  const p: Proc = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    waitFor(re, ms) {
      const m = p.stderr.match(re);
      if (m !== null) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms in:\n${p.stderr}`)), ms);
        waiters.push({
          re,
          resolve: (found) => {
            clearTimeout(timer);
            resolve(found);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    },
  };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (p.stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    p.stderr += d;
    for (const w of [...waiters]) {
      const m = p.stderr.match(w.re);
      if (m !== null) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  // A process that is gone will print nothing more: its waits end (and their timers with them).
  child.once('exit', (code, signal) => {
    for (const w of waiters.splice(0))
      w.reject(new Error(`exited (${code ?? signal}) before ${w.re}:\n${p.stderr}`));
  });
  procs.push(p);
  return p;
}

/** A queue and a database of their own per test: a Redis database number and a MongoDB database name. */
let nextDb = 1;
const dbNames: string[] = [];
function cluster() {
  if ('skip' in redis || 'skip' in mongo) throw new Error('no cluster');
  const dbName = `byner_queue_${randomBytes(4).toString('hex')}`;
  dbNames.push(dbName);
  const common = ['--bus', `${redis.url}/${nextDb++}`, '--mongo-uri', mongo.uri, '--db-name', dbName];
  return { dbName, common };
}

/** What a registry entry must share with the uninterrupted run's: every metric and the training history. */
const comparable = (m: Record<string, unknown>) => ({
  test: m.test,
  test_rounded: m.test_rounded,
  baselines: m.baselines,
  validation: m.validation,
  history: m.history,
  serving_decision: m.serving_decision,
});

/** The uninterrupted run of TRAIN (`byner train`, embedded store; computed once): its registry entry's metrics. */
let reference: Promise<ReturnType<typeof comparable>> | null = null;
function uninterrupted() {
  reference ??= (async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'byner-queue-ref-'));
    const common = ['--data-dir', dataDir];
    const r = await runProcess(process.execPath, [
      main,
      'train',
      ...common,
      ...TRAIN,
      '--output-dir',
      'none',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const models = await runProcess(process.execPath, [main, 'models', ...common, '--json']);
    const [entry] = JSON.parse(models.stdout) as { metrics: Record<string, unknown> }[];
    return comparable(entry.metrics);
  })();
  return reference;
}

/** The database's registry, training results and leftover checkpoints, for one version. */
async function stored(dbName: string, version: string) {
  if ('skip' in mongo) throw new Error('no MongoDB');
  const client = new MongoClient(mongo.uri);
  try {
    const db = client.db(dbName);
    const models = await db.collection('models').find({}).toArray();
    return {
      versions: models.map((m) => m.version as string),
      metrics: comparable(models.find((m) => m.version === version)?.metrics ?? {}),
      trMetrics: await db.collection('tr_metrics').countDocuments({ model_version: version }),
      predictions: await db.collection('tr_predictions').countDocuments({ model_version: version }),
      checkpoints: {
        files: await db.collection('checkpoints.files').countDocuments(),
        chunks: await db.collection('checkpoints.chunks').countDocuments(),
        pointers: await db.collection('checkpoint_pointers').countDocuments(),
      },
    };
  } finally {
    await client.close();
  }
}

/** `train --queue` for `stream`: the job id and version it printed. */
async function enqueue(common: string[], stream: string, extra: string[] = []) {
  const r = await runProcess(process.execPath, [
    main,
    'train',
    '--queue',
    ...common,
    ...TRAIN,
    '--stream',
    stream,
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const m = /^job (\S+): stream (\S+), version (\S+), (.*)$/m.exec(r.stdout);
  assert.ok(m, `train --queue prints the job: ${r.stdout}`);
  return { id: m[1], version: m[3], state: m[4] };
}

describe('the training queue', { skip }, () => {
  before(async () => {
    await uninterrupted(); // first, while no worker competes for the cores
  });
  after(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    if (!('skip' in mongo)) {
      const client = new MongoClient(mongo.uri);
      const drop = (name: string) =>
        client
          .db(name)
          .dropDatabase()
          .catch(() => {});
      await Promise.all(dbNames.map(drop));
      await client.close();
      await mongo.stop();
    }
    if (!('skip' in redis)) await redis.stop();
  });

  it('refuses bad options with exit 2, and an unreachable Redis with a message naming it', async () => {
    if ('skip' in mongo) return;
    const bus = ['--bus', 'redis://127.0.0.1:1'];
    const cases: [string[], number, RegExp][] = [
      [
        ['train', '--queue'],
        2,
        /byner train --queue needs --bus \(BYNER_BUS\) and --mongo-uri[\s\S]*embedded store/,
      ],
      [['train', '--queue', ...bus], 2, /needs --mongo-uri \(MONGODB_URI\)/],
      [['train', '--queue', '--bus', 'http://x'], 2, /--bus: expected redis:\/\/\[user:password@\]HOST/],
      [
        ['train', '--stream', 'a,b'],
        2,
        /--stream: several streams only with --queue[\s\S]*--queue --stream A,B,… for one queued job per stream; --streams A,B,… for one global model/,
      ],
      [['train', '--wait'], 2, /--wait only go with --queue/],
      [['train', '--run-id', 'x'], 2, /--run-id only go with --queue/],
      [
        ['train', '--queue', ...bus, '--mongo-uri', mongo.uri, '--stream', 'a', '--streams', 'b,c'],
        2,
        /--stream and --streams: one or the other/,
      ],
      [
        ['train', '--queue', ...bus, '--mongo-uri', mongo.uri, '--streams', 'b,c', '--model', 'all'],
        2,
        /--model all fits the ladder on one stream/,
      ],
      [
        ['train', '--queue', ...bus, '--mongo-uri', mongo.uri, '--model', 'linear', '--units', '8'],
        2,
        /--units: the LSTM's settings, and --model linear fits no LSTM/,
      ],
      [
        ['train', '--queue', ...bus, '--mongo-uri', mongo.uri, '--resume', '--output-dir', 'x'],
        2,
        /--resume, --output-dir do not go with --queue/,
      ],
      [['worker', ...bus], 2, /byner worker needs --mongo-uri/],
      [
        ['worker', ...bus, '--mongo-uri', mongo.uri, '--lock-ms', '10'],
        2,
        /--lock-ms: expected an integer between 500/,
      ],
      [
        ['train', '--queue', ...bus, '--mongo-uri', mongo.uri],
        1,
        /cannot reach the bus at redis:\/\/127\.0\.0\.1:1/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = await runProcess(process.execPath, [main, ...args]);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  it('fails a job with malformed data, or enqueued for another database, for good at once; the worker goes on', async () => {
    const { dbName, common } = cluster();
    if ('skip' in mongo) return;
    const connection = await connectRedis(common[1]);
    const queue = new Queue(TRAIN_QUEUE, { connection });
    const worker = await startTrainingWorker({
      redis: connection,
      mongoUri: mongo.uri,
      dbName,
      maxBacklogBytes: 2 ** 20,
      concurrency: 1,
      lockMs: 3000,
      stalledMs: 1000,
      maxStalled: 1,
      logger: silentLogger,
      logLevel: 'error',
    });
    try {
      const good = JSON.parse(
        JSON.stringify(newJobData('r', ['other'], wellFormedOptions(), 'another_db', new Date())),
      );
      const cases: [string, unknown, RegExp][] = [
        ['malformed', { format: 1, stream: 'x y' }, /holds malformed data[\s\S]*stream/],
        ['other-db', good, /enqueued for MongoDB database another_db, this worker uses byner_queue_/],
      ];
      for (const [id, data, reason] of cases) {
        const job = await queue.add('train', data, { jobId: id, attempts: 3 });
        const deadline = Date.now() + 30_000;
        while ((await job.getState()) !== 'failed') {
          assert.ok(Date.now() < deadline, `job ${id} not failed within 30 s: ${await job.getState()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const failed = await queue.getJob(id);
        assert.match(failed?.failedReason ?? '', reason, id);
        assert.equal(failed?.attemptsMade, 1, `${id}: not retried`);
      }
    } finally {
      await worker.stop();
      await queue.close();
      connection.disconnect();
    }
  });

  it('a worker stopped by SIGTERM puts its job back after the epoch; the next worker finishes it exactly', async () => {
    const { dbName, common } = cluster();
    const first = start(['worker', ...common, ...WORKER]);
    await first.waitFor(/taking training jobs/, 30_000);
    const run = ['--run-id', 'term-test'];
    const job = await enqueue(common, 'queued', run);
    assert.equal(job.state, 'queued');
    assert.match(job.version, /^lstm-\d{8}T\d{6}\.\d{3}Z-queued$/);
    // The same run, stream and options again: the job is found, not added.
    assert.match((await enqueue(common, 'queued', run)).state, /^already on the queue \((waiting|active)\)$/);

    await first.waitFor(new RegExp(`\\[${job.id}\\] epoch 1/${EPOCHS}`), 90_000);
    first.child.kill('SIGTERM');
    const stopped = await first.exited;
    assert.equal(stopped.code, 0, first.stderr);
    const back = /back on the queue \(stopped after epoch (\d+)\)/.exec(first.stderr);
    assert.ok(back, first.stderr);

    // `--wait` on the job already queued: it waits for the next worker and prints the result.
    const waiting = runProcess(process.execPath, [
      main,
      'train',
      '--queue',
      '--wait',
      ...common,
      ...TRAIN,
      '--stream',
      'queued',
      ...run,
    ]);
    const second = start(['worker', ...common, ...WORKER]);
    const resumed = await second.waitFor(/resuming (\S+) after epoch (\d+)/, 90_000);
    assert.deepEqual([resumed[1], resumed[2]], [job.version, back[1]], second.stderr);
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as {
      job: string;
      model_version: string;
      epochs: number;
      test: unknown;
    };
    assert.deepEqual([result.job, result.model_version, result.epochs], [job.id, job.version, EPOCHS]);

    const ref = await uninterrupted();
    const db = await stored(dbName, job.version);
    assert.deepEqual(db.versions, [job.version], 'one model, under the version the job was given');
    assert.deepEqual(db.metrics, ref, 'the registered metrics equal the uninterrupted run’s, bit for bit');
    assert.deepEqual(result.test, ref.test);
    assert.deepEqual([db.trMetrics, db.predictions > 0], [1, true]);
    assert.deepEqual(
      db.checkpoints,
      { files: 0, chunks: 0, pointers: 0 },
      'the finished run’s checkpoint is gone',
    );
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, second.stderr);
  });

  it('a worker killed with SIGKILL during epoch 2: another finishes the job from its checkpoint, with the uninterrupted run’s metrics', async () => {
    const { dbName, common } = cluster();
    const workers = [start(['worker', ...common, ...WORKER]), start(['worker', ...common, ...WORKER])];
    await Promise.all(workers.map((w) => w.waitFor(/taking training jobs/, 30_000)));
    const started = Date.now();
    const job = await enqueue(common, 'killed');
    const epoch1 = new RegExp(`\\[${job.id}\\] epoch 1/${EPOCHS}`);
    // Whichever worker took the job is killed the moment it reports epoch 1 (its checkpoint is stored by then).
    const victim = await Promise.any(workers.map((w) => w.waitFor(epoch1, 90_000).then(() => w)));
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const other = workers.find((w) => w !== victim)!;
    await victim.exited;

    const resumed = await other.waitFor(
      new RegExp(`\\[${job.id}\\] resuming (\\S+) after epoch (\\d+)`),
      90_000,
    );
    const resumedAt = Date.now();
    assert.deepEqual(
      [resumed[1], resumed[2]],
      [job.version, '1'],
      `resumed from epoch 1's checkpoint:\n${other.stderr}`,
    );
    await other.waitFor(
      new RegExp(`\\[${job.id}\\] completed: registered ${job.version.replace(/\./g, '\\.')}`),
      90_000,
    );
    const ref = await uninterrupted();
    const db = await stored(dbName, job.version);
    assert.deepEqual(db.versions, [job.version], 'one model: no partial one, no second version');
    assert.deepEqual(db.metrics, ref, 'the registered metrics equal the uninterrupted run’s, bit for bit');
    assert.deepEqual(db.trMetrics, 1);
    assert.deepEqual(db.checkpoints, { files: 0, chunks: 0, pointers: 0 });
    console.error(
      `training queue: killed ${((killedAt - started) / 1000).toFixed(1)} s after enqueueing; the other worker ` +
        `resumed ${((resumedAt - killedAt) / 1000).toFixed(1)} s after the kill and finished ` +
        `${((Date.now() - killedAt) / 1000).toFixed(1)} s after it; test MSE per horizon ` +
        `${JSON.stringify((db.metrics.test as { mse: number[] }).mse)} (the uninterrupted run's: ` +
        `${JSON.stringify((ref.test as { mse: number[] }).mse)})`,
    );
  });
  /** Two stored streams far apart (a global model's streams must hold ticks: none is seeded). */
  const TWO: Tick[][] = [
    noisySine('low', 1200, { level: 0, amplitude: 8, noise: 1, seed: 1 }),
    noisySine('high', 1300, { level: 5000, amplitude: 300, noise: 30, seed: 2 }),
  ];
  /** A global LSTM whose epochs leave a SIGTERM sent on epoch 1's log line several epochs to land. */
  const GLOBAL_EPOCHS = 8;
  const SMALL = [
    ...['--ticks', '1200', '--window', '20', '--units', '48', '--epochs', String(GLOBAL_EPOCHS)],
    ...['--patience', '100', '--workers', '1', '--force'],
  ];
  async function storeTicks(where: { dataDir: string } | { mongoUri: string; dbName: string }) {
    const store = await openStore(where);
    try {
      for (const t of TWO) await (await store.writeTicks('historical_data', t)).stored();
    } finally {
      await store.close();
    }
  }

  /** A cluster of its own whose MongoDB holds TWO, and a worker taking jobs there. */
  async function withTicksAndWorker() {
    const { dbName, common } = cluster();
    if ('skip' in mongo) throw new Error('no MongoDB');
    await storeTicks({ mongoUri: mongo.uri, dbName });
    const worker = start(['worker', ...common, ...WORKER]);
    await worker.waitFor(/taking training jobs/, 30_000);
    return { dbName, common, worker, uri: mongo.uri };
  }
  const train = (common: string[], args: string[]) =>
    runProcess(process.execPath, [main, 'train', '--queue', ...common, ...args]);

  it('--streams a,b: one job fits one global LSTM of both; stopped by SIGTERM and resumed by another worker, it equals `byner train --streams` here', async () => {
    const { dbName, common, worker: first, uri } = await withTicksAndWorker();
    const queued = await train(common, ['--json', ...SMALL, '--streams', 'low,high']);
    assert.equal(queued.code, 0, queued.stderr);
    const jobs = queued.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { job: string; streams: string[]; versions: string[]; added: boolean });
    assert.equal(jobs.length, 1, `one job for the global model: ${queued.stdout}`);
    const [job] = jobs;
    assert.deepEqual(job.streams, ['low', 'high']);
    assert.match(job.job, /^train\.low\+high\.[0-9a-f]{10}\.\d{8}T\d{9}Z$/);
    assert.equal(job.versions.length, 1);
    const version = job.versions[0];
    assert.match(version, /^lstm-global-\d{8}T\d{6}\.\d{3}Z$/);
    const jobRe = job.job.replace(/[.+]/g, '\\$&');
    await first.waitFor(new RegExp(`\\[${jobRe}\\] epoch 1/${GLOBAL_EPOCHS}`), 90_000);
    first.child.kill('SIGTERM');
    assert.equal((await first.exited).code, 0, first.stderr);
    const back = /back on the queue \(stopped after epoch (\d+)\)/.exec(first.stderr);
    assert.ok(back, first.stderr);
    const worker = start(['worker', ...common, ...WORKER]);
    const resumed = await worker.waitFor(/resuming (\S+) after epoch (\d+)/, 90_000);
    assert.deepEqual([resumed[1], resumed[2]], [version, back[1]], worker.stderr);
    await worker.waitFor(
      new RegExp(`\\[${jobRe}\\] completed: registered ${version.replace(/\./g, '\\.')} \\(serving low: `),
      120_000,
    );

    // The same run here, on the embedded store holding the same ticks.
    const dataDir = mkdtempSync(join(tmpdir(), 'byner-queue-global-'));
    await storeTicks({ dataDir });
    const here = await runProcess(process.execPath, [
      main,
      'train',
      '--data-dir',
      dataDir,
      '--output-dir',
      'none',
      '--json',
      ...SMALL,
      '--streams',
      'low,high',
    ]);
    assert.equal(here.code, 0, here.stderr);
    const local = JSON.parse(here.stdout) as { models: { kind: string; version: string | null }[] };
    const localVersion = local.models.find((m) => m.kind === 'lstm')!.version!;
    const models = await runProcess(process.execPath, [main, 'models', '--data-dir', dataDir, '--json']);
    const localEntry = (
      JSON.parse(models.stdout) as { version: string; metrics: Record<string, unknown> }[]
    ).find((m) => m.version === localVersion)!;

    const client = new MongoClient(uri);
    try {
      const db = client.db(dbName);
      const entries = await db.collection('models').find({}).toArray();
      assert.deepEqual(
        entries.map((m) => m.version),
        [version],
        'one model, under the version the job was given',
      );
      const entry = entries[0];
      assert.deepEqual([entry.config.kind, entry.config.global], ['lstm', true]);
      assert.deepEqual(Object.keys(entry.scaler.streams).sort(), ['high', 'low'], 'one scaler per stream');
      // Everything but the timings of the forecasts.
      const perStream = (m: Record<string, unknown>) =>
        Object.fromEntries(
          Object.entries(m.per_stream as Record<string, Record<string, unknown>>).map(([k, v]) => {
            const { forecast_seconds: _, ...rest } = v;
            return [k, rest];
          }),
        );
      const pick = (m: Record<string, unknown>) => ({
        test: m.test,
        per_stream: perStream(m),
        history: m.history,
        serving_decisions: m.serving_decisions,
      });
      assert.deepEqual(
        pick(entry.metrics),
        pick(localEntry.metrics),
        'the queued global model’s metrics, per stream and pooled, and its history equal the run here, bit for bit',
      );
      assert.equal(
        await db.collection('tr_metrics').countDocuments({ model_version: version }),
        2,
        'one tr_metrics document per stream',
      );
      assert.deepEqual(
        [
          await db.collection('checkpoints.files').countDocuments(),
          await db.collection('checkpoint_pointers').countDocuments(),
        ],
        [0, 0],
        'the finished run’s checkpoint is gone',
      );
    } finally {
      await client.close();
    }
    worker.child.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0, worker.stderr);
  });

  it('--stream a,b --model linear: one job per stream, each registering a linear model; no checkpoint', async () => {
    const { dbName, common, worker, uri } = await withTicksAndWorker();
    const r = await train(common, [
      ...['--wait', '--ticks', '1200', '--window', '20', '--model', 'linear', '--stream', 'low,high'],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /job train\.low\.[0-9a-f]{10}\.\S+: stream low, model linear, version linear-\S+-low, queued/,
    );
    const results = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            streams: string[];
            choice: string;
            models: { kind: string; version: string | null }[];
            serving: Record<string, string | null>;
          },
      );
    assert.deepEqual(results.map((x) => [x.streams, x.choice]).sort(), [
      [['high'], 'linear'],
      [['low'], 'linear'],
    ]);
    const versions = results.map((x) => x.models.find((m) => m.kind === 'linear')!.version!);
    for (const [k, v] of versions.entries())
      assert.match(v, new RegExp(`^linear-\\d{8}T\\S+-${results[k].streams[0]}$`));
    const client = new MongoClient(uri);
    try {
      const db = client.db(dbName);
      const entries = await db.collection('models').find({}).toArray();
      assert.deepEqual(entries.map((m) => m.version).sort(), [...versions].sort());
      assert.ok(entries.every((m) => m.config.kind === 'linear'));
      assert.equal(
        await db.collection('checkpoint_pointers').countDocuments(),
        0,
        'a linear job keeps no checkpoint',
      );
    } finally {
      await client.close();
    }
    worker.child.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0, worker.stderr);
  });
});
