// The timestamp forms a price file may use, and the ones refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EPOCH_MS_FROM, parseTimestamp } from './timestamps.js';

const at = (iso: string) => Date.parse(iso);

describe('parseTimestamp', () => {
  const accepted: [string, number][] = [
    ['2024-01-02', at('2024-01-02T00:00:00Z')],
    ['2024-02-29', at('2024-02-29T00:00:00Z')],
    ['2024-01-02T10:00:00Z', at('2024-01-02T10:00:00Z')],
    ['2024-01-02T10:00:00', at('2024-01-02T10:00:00Z')],
    ['2024-01-02 10:00', at('2024-01-02T10:00:00Z')],
    ['2024-01-02T10:00:00.5Z', at('2024-01-02T10:00:00.500Z')],
    ['2024-01-02T10:00:00.123Z', at('2024-01-02T10:00:00.123Z')],
    ['2024-12-31 23:59:59Z', at('2024-12-31T23:59:59Z')],
    ['2024-01-02T10:00:00.12Z', at('2024-01-02T10:00:00.120Z')],
    ['2024-01-02T10:00:00.123+01:00', at('2024-01-02T09:00:00.123Z')],
    ['2024-01-02T10:00:00.1234+02:00', at('2024-01-02T08:00:00.123Z')],
    ['2024-01-02T10:00:00-0130', at('2024-01-02T11:30:00Z')],
    ['2024-01-02T10:00:00+05', at('2024-01-02T05:00:00Z')],
    ['0050-06-01', at('0050-06-01T00:00:00Z')],
    ['1700000000', 1_700_000_000_000],
    ['1700000000.25', 1_700_000_000_250],
    ['1700000000000', 1_700_000_000_000],
    ['0', 0],
    ['-60', -60_000],
    [String(EPOCH_MS_FROM - 1), (EPOCH_MS_FROM - 1) * 1000],
    [String(EPOCH_MS_FROM), EPOCH_MS_FROM],
    ['  2024-01-02  ', at('2024-01-02T00:00:00Z')],
  ];
  for (const [text, ms] of accepted) {
    it(`reads ${JSON.stringify(text)} as ${new Date(ms).toISOString()}`, () => {
      assert.equal(parseTimestamp(text), ms);
    });
  }

  const refused = [
    '',
    'x',
    '2023-02-29',
    '2024-13-01',
    '2024-00-10',
    '2024-01-32',
    '2024-01-02T24:00:00',
    '2024-01-02T10:60',
    '2024-01-02T10:00:00+25:00',
    '2024/01/02',
    '02.01.2024',
    '2024-01-02Z',
    '2024-01-02T10:00:0aZ',
    '2024-01-02T10:00:00.123X',
    '2024-01-02X10:00:00',
    '2024-02-30T00:00:00Z',
    '1e9',
    '99999999999999999999',
  ];
  for (const text of refused) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.ok(Number.isNaN(parseTimestamp(text))));
  }
});
