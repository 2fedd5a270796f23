// Terminal tables: columns right-aligned to their widest cell under a header rule, null shown as '-', numbers with
// three decimals, and no line ending in spaces (rows whose last cells are blank stop at their last text).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTable, scoreRows } from './table.js';

describe('formatTable', () => {
  it('right-aligns every column under a rule; null is "-"; numbers have three decimals, integers none', () => {
    assert.equal(
      formatTable(
        ['model', 'mse', 'n'],
        [
          ['naive', 16.0353, 5],
          ['linear', null, 12],
        ],
      ),
      [' model     mse   n', '------  ------  --', ' naive  16.035   5', 'linear       -  12'].join('\n'),
    );
  });

  it('ends no line in spaces: the rows of a model after its first leave the extra columns blank', () => {
    const rows = scoreRows('lstm', { mse: [1, 2], mae: [0.5, 0.5], mase: [0.25, 0.25], accuracy: null }, [
      '2.137',
      '253.84',
    ]);
    const table = formatTable(['model', 'metric', 'h1', 'h2', 'mean', 'validation MSE', 'fit s'], rows);
    const lines = table.split('\n');
    assert.equal(lines.length, 5);
    for (const line of lines) assert.equal(line, line.trimEnd(), JSON.stringify(line));
    assert.equal(lines[3], '          MAE  0.500  0.500  0.500');
  });
});
