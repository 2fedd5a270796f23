// The store input: a stream's stored ticks (`historical_data` by default) read page by page after the seq the
// pipeline resumes from, without a server: for the metrics benchmark (bench/metrics.ts) and tests. Ends when the
// stored ticks end.
import type { Store, TickCollection } from '../store/types.js';
import type { OpenStream, TickInput } from './input.js';

export interface StoreInputOptions {
  store: Store;
  /** Default `historical_data`. */
  collection?: TickCollection;
  /** Ticks read and handed on at once. Default 500. */
  pageSize?: number;
}

export class StoreInput implements TickInput {
  private stopped = false;

  constructor(private readonly options: StoreInputOptions) {}

  async open(stream: string, target: OpenStream): Promise<void> {
    const { store } = this.options;
    const collection = this.options.collection ?? 'historical_data';
    const pageSize = this.options.pageSize ?? 500;
    let after = target.after() ?? -1;
    while (!this.stopped) {
      const page = await store.ticksAfter(collection, stream, after, pageSize);
      if (page.length === 0 || this.stopped) return;
      target.counts.events += page.length;
      await target.sink(page.map((tick) => ({ stream, tick })));
      after = page[page.length - 1].seq;
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
