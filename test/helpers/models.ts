// Registers a fitted model of the model ladder as the serving model of a stream, for tests and benchmarks that run
// `byner infer` against a store. Fitting and saving are the models' and the store's.
import { buildWindows, splitWindows } from '../../src/features/windows.js';
import { fitData } from '../../src/models/data.js';
import { entryFromSaved, newModel } from '../../src/models/registry.js';
import type { Store } from '../../src/store/types.js';
import type { Tick } from '../../src/ticks/types.js';

/** Fits a ridge (`linear`) model of 60-tick windows and 5 horizons on `ticks` and makes it serve their stream. */
export async function registerLinear(store: Store, version: string, ticks: readonly Tick[]): Promise<void> {
  const stream = ticks[0].stream;
  const set = buildWindows(ticks, 60, 5);
  const model = newModel('linear', { window: 60, horizon: 5 });
  try {
    await model.fit(fitData(set, splitWindows(set.count)));
    await store.saveModel({
      version,
      created_at: new Date(),
      ...entryFromSaved(await model.save()),
      metrics: {},
      data_range: { stream, from_seq: ticks[0].seq, to_seq: ticks[ticks.length - 1].seq },
      streams: [stream],
      serving: true,
    });
  } finally {
    await model.dispose();
  }
}
