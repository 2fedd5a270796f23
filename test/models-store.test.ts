// Every model kind through the embedded store's registry: fit, save as a ModelEntry, load by version with
// loadForecaster and loadRegistered (what `byner infer` serves; an entry with one scaler for any stream asked), and
// forecast exactly what the fitted model forecast.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildWindows, rawWindow } from '../src/features/windows.js';
import { syntheticTicks } from '../src/indicators/ticks.js';
import { fitData } from '../src/models/data.js';
import { KIND_NAMES, type ModelKind } from '../src/models/kinds.js';
import { entryFromSaved, type KindOptions, newModel } from '../src/models/registry.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { DEFAULT_SOURCE } from '../src/ticks/generator.js';
import { loadForecaster, loadRegistered } from '../src/train/load.js';

const OPTIONS: { [K in ModelKind]: KindOptions[K] } = {
  naive: {},
  seasonal_naive: { season: 10 },
  linear: {},
  lstm: { network: { layers: [{ units: 5 }], dropout: 0, seed: 1 }, fit: { epochs: 1, workers: 1 } },
};

describe('model kinds in the registry of the embedded store', () => {
  let store: Store;
  before(async () => {
    store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'byner-models-')) });
  });
  after(async () => {
    await store.close();
  });
  const set = buildWindows(
    syntheticTicks(DEFAULT_SOURCE, { start: 0, count: 300, origin: new Date(0) }),
    15,
    5,
  );
  const windows = [200, 201, 250].map((w) => rawWindow(set, w));

  for (const kind of KIND_NAMES) {
    it(`${kind}: saved as an entry, loaded by version, forecasts the same`, async () => {
      const model = newModel(kind, { window: 15, horizon: 5 }, OPTIONS[kind] as never);
      await model.fit(fitData(set, { train: [0, 150], validation: [150, 180] }));
      const version = `${kind}-20260101T000000.000Z`;
      await store.saveModel({
        version,
        created_at: new Date(),
        ...entryFromSaved(await model.save()),
        metrics: {},
        data_range: { stream: 'synthetic', from_seq: 0, to_seq: 299 },
        serving: false,
      });
      const served = await loadForecaster(store, { version });
      const own = await model.forecaster(version);
      assert.equal(served.version, version);
      assert.deepEqual(served.forecast(windows), own.forecast(windows));
      for (const stream of [undefined, 'synthetic', 'another-stream']) {
        const loaded = await loadRegistered(store, version, stream);
        assert.equal(loaded.stream, undefined, 'one scaler: shared by every stream');
        assert.deepEqual(loaded.forecaster.forecast(windows), own.forecast(windows), String(stream));
        await loaded.close();
      }
      await model.dispose();
    });
  }
});
