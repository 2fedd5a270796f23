// `infer --bus --group NAME`: the workers of a group share the streams, each forecast by the one worker holding its
// inference lease (src/bus/pool.ts); a dead worker's streams are taken over and resumed from the store within
// `leaseMs` (leaseTtlMs). Reading the streams is bus-input.ts's job, forecasting them the pipeline's.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LogFollower } from '../bus/follow.js';
import { TickHistory } from '../bus/history.js';
import { leaseTtlMs } from '../bus/lease.js';
import { ROSTER_KEYS, Roster } from '../bus/members.js';
import { LeasePool } from '../bus/pool.js';
import type { Bus, BusStatus } from '../bus/redis.js';
import { TickLog } from '../bus/ticks.js';
import type { Store, StoreLogger } from '../store/types.js';
import { BusInput } from './bus-input.js';
import type { PipelineRun } from './pipeline.js';

/** The Redis key of a stream's inference lease in a group. */
export const inferLeaseKey = (group: string, stream: string) => `byner:lease:infer:${group}:{${stream}}`;

/** The streams the running serve processes are configured with (`infer --bus --all-streams`). */
export function registeredStreams(bus: Bus): () => Promise<string[]> {
  const roster = new Roster(bus.redis, ROSTER_KEYS.streams);
  return () => roster.live();
}

export interface SharedInferenceOptions {
  bus: Bus;
  store: Store;
  group: string;
  /** A dead worker's streams are forecast by another within about this long (`--lease-ms`; see leaseTtlMs). */
  leaseMs: number;
  /** The streams to share out (read every lease round). */
  names: () => Promise<readonly string[]> | readonly string[];
  /** This worker's name among the group (default host:pid:random). */
  owner?: string;
  logger?: StoreLogger;
}

/** What /healthz of an infer worker says about the bus. */
export interface InferBusStatus {
  bus: string;
  state: BusStatus['state'];
  group: string;
  owner: string;
  /** The streams whose inference lease this worker holds. */
  forecasting: string[];
  /** Live workers of the group at the last lease round. */
  members: number;
  /** Interruptions of live reading (the tick logs could not be read) and their total length. */
  outages: number;
  outage_s: number;
}

/** The bus side of a worker: its input (give it to runPipeline with `dynamic: true`), then `share(run)`. */
export class SharedInference {
  readonly input: BusInput;
  readonly owner: string;
  private readonly follower: LogFollower;
  private pool: LeasePool | null = null;

  constructor(private readonly options: SharedInferenceOptions) {
    const { bus, store } = options;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const log = new TickLog(bus.redis, 1);
    this.follower = new LogFollower({ bus, history: new TickHistory(log, store), logger: options.logger });
    this.input = new BusInput({ follower: this.follower, log, store, logger: options.logger });
  }

  /** Starts taking this worker's share of the streams into `run` (added on a lease, removed when it goes). */
  share(run: PipelineRun): void {
    const { group, leaseMs } = this.options;
    this.pool ??= new LeasePool({
      redis: this.options.bus.redis,
      role: `infer:${group}`,
      owner: this.owner,
      ttlMs: leaseTtlMs(leaseMs),
      keyOf: (stream) => inferLeaseKey(group, stream),
      names: this.options.names,
      start: (stream) => run.add([stream]),
      stop: (stream, why) =>
        run.remove(stream, why === 'lost' ? {} : { drainMs: Math.max(500, leaseMs / 2) }),
      logger: this.options.logger,
    });
    this.pool.start();
  }

  /** What /healthz says about the bus: its URL and state, the group, this worker, the live reading's outages. */
  status(): InferBusStatus {
    const f = this.follower.stats;
    const down = f.downSince === null ? 0 : Date.now() - f.downSince;
    return {
      bus: this.options.bus.url,
      state: this.options.bus.status().state,
      group: this.options.group,
      owner: this.owner,
      forecasting: this.held(),
      members: this.pool?.stats.members ?? 0,
      outages: f.outages + (f.downSince === null ? 0 : 1),
      outage_s: Math.round((f.outageMs + down) / 100) / 10,
    };
  }

  /** The streams this worker forecasts now. */
  held(): string[] {
    return this.pool?.held() ?? [];
  }

  /** Gives every stream back (after the pipeline stored what it holds, within the lease time) and stops reading. */
  async close(): Promise<void> {
    await this.pool?.close();
    await this.follower.close();
  }
}
