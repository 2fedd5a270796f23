// The checks behind /healthz: named probes (the store answers; the bus, when there is one), each run with a short
// deadline, one run at a time however often /healthz is asked. What a probe asks is its owner's business; the
// servers (server.ts, status-server.ts) put the results in their answers.
import type { Bus } from '../bus/redis.js';
import { readWithin } from '../store/deadline.js';
import type { Store } from '../store/types.js';

/** A probe: resolves when the dependency answers; it should give up when `signal` aborts. */
export type HealthCheck = (signal: AbortSignal) => Promise<unknown>;

export interface CheckResult {
  ok: boolean;
  /** How long the probe took (ms), or the deadline when it did not answer. */
  ms: number;
  /** Why it failed. */
  error?: string;
}

/** Default deadline of each probe (ms): /healthz answers within about this long whatever hangs. */
export const HEALTH_DEADLINE_MS = 1000;

/** The store answers: one small read (the serving pointers) that does not wait for queued writes. */
export const storeCheck =
  (store: Store): HealthCheck =>
  (signal) =>
    store.servingPointers({ signal });

/** The bus answers: one PING (the connection fails fast while Redis is unreachable). */
export const busCheck =
  (bus: Bus): HealthCheck =>
  () =>
    bus.redis.ping();

export class HealthChecks {
  private running: Promise<Record<string, CheckResult>> | undefined;

  constructor(
    private readonly checks: Readonly<Record<string, HealthCheck>>,
    private readonly deadlineMs = HEALTH_DEADLINE_MS,
  ) {}

  /** Runs every probe at once, each within the deadline; callers during a run share its results. */
  run(): Promise<Record<string, CheckResult>> {
    this.running ??= this.runAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runAll(): Promise<Record<string, CheckResult>> {
    const names = Object.keys(this.checks);
    const results = await Promise.all(
      names.map(async (name): Promise<CheckResult> => {
        const t0 = performance.now();
        try {
          await readWithin(this.deadlineMs, `the ${name} check`, this.checks[name]);
          return { ok: true, ms: Math.round(performance.now() - t0) };
        } catch (error) {
          const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
          return { ok: false, ms: Math.round(performance.now() - t0), error: message };
        }
      }),
    );
    return Object.fromEntries(names.map((name, i) => [name, results[i]]));
  }
}

/** `ok` when every check passed, else `degraded` (the process runs, but something it needs does not answer). */
export const healthStatus = (checks: Record<string, CheckResult>): 'ok' | 'degraded' =>
  Object.values(checks).every((c) => c.ok) ? 'ok' : 'degraded';
