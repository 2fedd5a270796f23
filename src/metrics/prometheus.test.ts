// The metric definitions: Prometheus naming conventions, bounded label names, and README's table of metrics equal
// to the registry (name, type, labels), so the manual cannot drift from the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { metrics, registry } from './prometheus.js';

/** Every label name a byner metric may have: configured streams, model versions and fixed enums. */
const LABELS = new Set(['stream', 'model', 'reason', 'source', 'collection', 'kind', 'role']);

interface Definition {
  name: string;
  type: string;
  labels: string[];
}

const definitions = (): Definition[] =>
  Object.values(metrics).map((m) => {
    const internal = m as unknown as { name: string; labelNames: string[]; type?: string };
    const type = m.constructor.name.toLowerCase();
    return { name: internal.name, type, labels: [...internal.labelNames] };
  });

describe('metric definitions', () => {
  it('follow Prometheus naming: byner_ prefix, counters end in _total, histograms name their unit', () => {
    for (const d of definitions()) {
      assert.match(d.name, /^byner_[a-z]+(_[a-z]+)*$/, d.name);
      if (d.type === 'counter') assert.match(d.name, /_total$/, `${d.name}: a counter ends in _total`);
      else assert.doesNotMatch(d.name, /_total$/, `${d.name}: only counters end in _total`);
      if (d.type === 'histogram') assert.match(d.name, /_(seconds|bytes)$/, `${d.name}: a unit suffix`);
      for (const label of d.labels) assert.ok(LABELS.has(label), `${d.name}: unbounded label ${label}?`);
    }
  });

  it('are registered once each, in the one registry', async () => {
    const names = definitions().map((d) => d.name);
    assert.equal(new Set(names).size, names.length);
    const registered = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const name of names) assert.ok(registered.has(name), name);
  });

  it("are README's table of metrics, with the same types and labels", () => {
    const readme = readFileSync(join(fileURLToPath(import.meta.url), '..', '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Metrics and health'));
    const rows = section
      .slice(0, section.indexOf('\n## ', 5))
      .split('\n')
      .filter((line) => line.startsWith('| `byner_'))
      .map((line): Definition => {
        const [name, type, labels] = line
          .split('|')
          .slice(1, 4)
          .map((cell) => cell.trim());
        return {
          name: name.replaceAll('`', ''),
          type,
          labels: labels === '' ? [] : labels.split(',').map((l) => l.trim().replaceAll('`', '')),
        };
      });
    const byName = (a: Definition, b: Definition) => (a.name < b.name ? -1 : 1);
    assert.deepEqual(rows.sort(byName), definitions().sort(byName));
  });
});
