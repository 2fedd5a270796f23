// Which forecaster each stream uses: one for every stream (a baseline or a pinned version), or each stream's serving
// model from the registry — the fallback (a baseline) where none serves — followed while running: a newly serving
// model is loaded in the background and takes over between two batches. Forecasting itself is forecasting.ts's.
import type { Forecaster } from '../features/forecaster.js';
import type { ServingPointer, StoreLogger } from '../store/types.js';
import { sleep, withDeadline } from '../util/backoff.js';

/** A loaded model and how to release it (its forecast thread) once no batch uses it. */
export interface LoadedForecaster {
  readonly forecaster: Forecaster;
  /** Set when it forecasts only this stream (a global model, scaled per stream); else shared by every stream. */
  readonly stream?: string;
  close(): Promise<void>;
}

/** A stream changed forecaster. */
export interface Swap {
  stream: string;
  from: string;
  to: string;
}

export interface RegistryOptions {
  /** The registry's serving pointers (Store.servingPointers). */
  pointers: () => Promise<ServingPointer[]>;
  /** Loads a registered version to forecast `stream` (train/load.ts loadRegistered). */
  load: (version: string, stream: string) => Promise<LoadedForecaster>;
  /** Forecasts the streams no model serves. */
  fallback: Forecaster;
  /** How often the pointers are read. Default 250 ms (a new model takes over within one tick at 1 tick/s). */
  pollMs?: number;
  /** Deadline of one read of the pointers; a read that takes longer is given up until the next poll. Default 5 s. */
  readTimeoutMs?: number;
}

export class ForecasterSet {
  /** Stream → its forecaster (a loaded registered version, or the fallback). */
  private readonly assigned = new Map<string, Forecaster>();
  /** Streams whose first forecaster is settled: later changes are swaps (logged, onSwap). */
  private readonly settled = new Set<string>();
  /** Loaded registered versions by version, shared by every stream they serve (by version and stream if not). */
  private readonly models = new Map<string, LoadedForecaster>();
  /** Versions that failed to load: logged once, not tried again. */
  private readonly failed = new Set<string>();
  /** Models no stream uses any more, closed once no batch uses them (release). */
  private readonly retired = new Set<LoadedForecaster>();
  private readonly stopper = new AbortController();
  /** Registry reads and swaps, one at a time. */
  private applying: Promise<void> = Promise.resolve();
  private polling: Promise<void> | null = null;
  private readFailures = 0;

  private constructor(
    private readonly fixed: LoadedForecaster | null,
    private readonly registry: RegistryOptions | null,
    private readonly logger: StoreLogger,
    private readonly onSwap: ((swap: Swap) => void) | undefined,
  ) {}

  /** Every stream forecast by `forecaster` (closed with the set when `close` is given). */
  static fixed(
    forecaster: Forecaster | LoadedForecaster,
    logger: StoreLogger = { info() {}, warn() {}, error() {} },
  ): ForecasterSet {
    const loaded = 'forecaster' in forecaster ? forecaster : { forecaster, close: async () => {} };
    return new ForecasterSet(loaded, null, logger, undefined);
  }

  /** Each stream's serving model, followed while running; `onSwap` hears of each change. */
  static following(
    registry: RegistryOptions,
    logger: StoreLogger,
    onSwap?: (swap: Swap) => void,
  ): ForecasterSet {
    return new ForecasterSet(null, registry, logger, onSwap);
  }

  /** The stream's forecaster now (a swap takes effect with the next batch). */
  get(stream: string): Forecaster {
    if (this.fixed) return this.fixed.forecaster;
    const f = this.assigned.get(stream);
    if (f === undefined) throw new Error(`stream ${stream} was not added to the forecaster set`);
    return f;
  }

  /**
   * Adds streams; resolves once each uses its serving model (loaded) or the fallback. Starts following the
   * registry at the first call.
   */
  async add(streams: readonly string[]): Promise<void> {
    if (this.registry === null) return;
    for (const s of streams) if (!this.assigned.has(s)) this.assigned.set(s, this.registry.fallback);
    await this.refresh();
    for (const s of streams) this.settled.add(s);
    this.polling ??= this.poll();
  }

  /** Closes the models no stream uses any more, except those still forecasting in a batch (`busy`). */
  release(busy: ReadonlySet<Forecaster>): void {
    for (const r of this.retired) {
      if (busy.has(r.forecaster)) continue;
      this.retired.delete(r);
      r.close().catch((e) => this.logger.warn({ err: (e as Error).message }, 'closing a model failed'));
    }
  }

  /** Stops following the registry and closes every model (the pipeline has finished its batches). */
  async close(): Promise<void> {
    this.stopper.abort();
    await this.polling;
    await this.applying.catch(() => {});
    const all = [...this.retired, ...this.models.values()];
    if (this.fixed) all.push(this.fixed);
    this.retired.clear();
    this.models.clear();
    await Promise.all(all.map((l) => l.close().catch(() => {})));
  }

  private async poll(): Promise<void> {
    const pollMs = this.registry?.pollMs ?? 250;
    while (!this.stopper.signal.aborted) {
      // While the registry cannot be read, polls back off (up to 5 s) instead of piling reads onto the store.
      await sleep(
        Math.min(pollMs * 2 ** Math.min(this.readFailures, 10), Math.max(pollMs, 5000)),
        this.stopper.signal,
      );
      if (this.stopper.signal.aborted) break;
      await this.refresh();
    }
  }

  /** Reads the pointers and swaps the streams whose serving model changed; one at a time. */
  private refresh(): Promise<void> {
    this.applying = this.applying.then(() => this.readAndApply()).catch(() => {});
    return this.applying;
  }

  private async readAndApply(): Promise<void> {
    const registry = this.registry as RegistryOptions;
    let pointers: ServingPointer[];
    try {
      pointers = await withDeadline(
        registry.pointers(),
        registry.readTimeoutMs ?? 5000,
        'reading the serving models',
      );
    } catch (error) {
      this.readFailures += 1;
      if (this.readFailures === 1 || this.readFailures % 100 === 0) {
        this.logger.warn(
          { err: (error as Error).message, failures: this.readFailures },
          'cannot read the serving models from the registry; forecasting on with the current ones',
        );
      }
      return;
    }
    if (this.readFailures > 0) this.logger.info({}, 'reading the serving models again');
    this.readFailures = 0;
    const serving = new Map(pointers.map((p) => [p.stream, p.version]));
    for (const [stream, current] of this.assigned) {
      if (this.stopper.signal.aborted) return;
      const version = serving.get(stream);
      if (version === undefined || version === current.version || this.failed.has(version)) continue;
      const next = await this.load(version, stream);
      if (next === null || this.stopper.signal.aborted) continue;
      this.assigned.set(stream, next.forecaster);
      this.retireUnused(current);
      if (!this.settled.has(stream)) continue;
      const swap = { stream, from: current.version, to: version };
      this.logger.info(swap, `stream ${stream}: now forecasting with ${version} (was ${current.version})`);
      this.onSwap?.(swap);
    }
  }

  private async load(version: string, stream: string): Promise<LoadedForecaster | null> {
    const known = this.models.get(version) ?? this.models.get(`${version}\n${stream}`);
    if (known !== undefined) return known;
    try {
      const loaded = await (this.registry as RegistryOptions).load(version, stream);
      if (this.stopper.signal.aborted) {
        await loaded.close();
        return null;
      }
      this.models.set(loaded.stream === undefined ? version : `${version}\n${loaded.stream}`, loaded);
      return loaded;
    } catch (error) {
      this.failed.add(version);
      this.logger.error(
        { model_version: version, err: (error as Error).message },
        `cannot load model ${version}; its streams keep their current forecaster`,
      );
      return null;
    }
  }

  /** A forecaster no stream uses any more: its model is closed once no batch uses it. */
  private retireUnused(previous: Forecaster): void {
    if ([...this.assigned.values()].includes(previous)) return;
    for (const [version, l] of this.models) {
      if (l.forecaster !== previous) continue;
      this.models.delete(version);
      this.retired.add(l);
    }
  }
}
