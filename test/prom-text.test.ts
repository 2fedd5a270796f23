// The strict Prometheus text parser of the metrics tests (test/helpers/prom-text.ts): what it refuses, what it
// reads, and that it reads the registry's own output as prom-client's JSON view of it says.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metrics, metricsText, registry } from '../src/metrics/prometheus.js';
import { histogram, parsePrometheusText, sampleValue } from './helpers/prom-text.js';

const VALID = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"} 3
# A comment
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9
# TYPE lag gauge
lag Nan
# TYPE rpc_seconds histogram
rpc_seconds_bucket{le="0.05",op="a"} 1
rpc_seconds_bucket{le="1",op="a"} 3
rpc_seconds_bucket{le="+Inf",op="a"} 4
rpc_seconds_sum{op="a"} 7.5
rpc_seconds_count{op="a"} 4
rpc_seconds_bucket{le="0.05",op="b"} 0
rpc_seconds_bucket{le="1",op="b"} 0
rpc_seconds_bucket{le="+Inf",op="b"} 0
rpc_seconds_sum{op="b"} 0
rpc_seconds_count{op="b"} 0
`;

const REFUSED: [string, string, RegExp][] = [
  ['no final newline', 'x 1', /newline/],
  ['a bad metric name', '1x 1\n', /bad metric name/],
  ['a bad label name', 'x{1a="v"} 1\n', /bad label name/],
  ['an unquoted label value', 'x{a=v} 1\n', /quoted/],
  ['an unterminated label value', 'x{a="v} 1\n', /unterminated|expected/],
  ['a bad escape', 'x{a="\\t"} 1\n', /bad escape/],
  ['a label given twice', 'x{a="1",a="2"} 1\n', /twice/],
  ['no value', 'x{a="1"}\n', /value/],
  ['a bad value', 'x 1,5\n', /bad value/],
  ['a bad timestamp', 'x 1 soon\n', /bad timestamp/],
  ['a TYPE after samples', 'x 1\n# TYPE x counter\n', /TYPE after samples/],
  ['an unknown type', '# TYPE x meter\nx 1\n', /unknown type/],
  ['a split family', 'x{a="1"} 1\ny 2\nx{a="2"} 1\n', /split/],
  ['the same series twice', 'x{a="1",b="2"} 1\nx{b="2",a="1"} 1\n', /twice/],
  ['a negative counter', '# TYPE x_total counter\nx_total -1\n', /counter/],
  ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
  [
    'a histogram whose buckets go down',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    /go down/,
  ],
  [
    'a histogram count that is not its +Inf bucket',
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
    /count/,
  ],
];

describe('Prometheus text parser (tests)', () => {
  it('reads labels with escapes, values (NaN as prom-client writes it), timestamps and labelled histograms', () => {
    const f = parsePrometheusText(VALID);
    assert.equal(f.get('http_requests_total')?.type, 'counter');
    assert.equal(f.get('http_requests_total')?.help, 'The total number of HTTP requests.');
    assert.equal(sampleValue(f, 'http_requests_total', { method: 'post', code: '400' }), 3);
    assert.equal(
      sampleValue(f, 'http_requests_total', { method: 'post' }),
      undefined,
      'labels match exactly',
    );
    assert.equal(
      f.get('msdos_file_access_time_seconds')?.samples[0].labels.error,
      'Cannot find file:\n"FILE.TXT"',
    );
    assert.equal(f.get('msdos_file_access_time_seconds')?.samples[0].labels.path, 'C:\\DIR\\FILE.TXT');
    assert.ok(Number.isNaN(sampleValue(f, 'lag')));
    assert.deepEqual(histogram(f, 'rpc_seconds', { op: 'a' }), {
      labels: { op: 'a' },
      buckets: [
        [0.05, 1],
        [1, 3],
        [Number.POSITIVE_INFINITY, 4],
      ],
      count: 4,
      sum: 7.5,
    });
    assert.equal(histogram(f, 'rpc_seconds', { op: 'b' })?.count, 0);
  });

  for (const [name, text, message] of REFUSED) {
    it(`refuses ${name}`, () => {
      assert.throws(() => parsePrometheusText(text), message);
    });
  }

  it("reads the registry's output as prom-client's JSON says it is, series by series", async () => {
    metrics.ticksProduced.inc({ stream: 'parser-check' }, 3);
    metrics.storeWriteSeconds.observe({ collection: 'parser-check' }, 0.02);
    const families = parsePrometheusText(await metricsText());
    let compared = 0;
    for (const metric of await registry.getMetricsAsJSON()) {
      for (const v of metric.values) {
        const name = (v as { metricName?: string }).metricName ?? metric.name;
        const labels = Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)]));
        const parsed = sampleValue(families, name, labels);
        assert.notEqual(parsed, undefined, `${name}${JSON.stringify(labels)} is in the text`);
        if (Number.isNaN(v.value)) assert.ok(Number.isNaN(parsed));
        else assert.equal(parsed, v.value, `${name}${JSON.stringify(labels)}`);
        compared += 1;
      }
    }
    assert.ok(compared > 20, `${compared} series compared`);
    assert.equal(sampleValue(families, 'byner_ticks_produced_total', { stream: 'parser-check' }), 3);
    assert.equal(histogram(families, 'byner_store_write_seconds', { collection: 'parser-check' })?.count, 1);
  });
});
