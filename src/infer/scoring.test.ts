// Live scoring against a hand-computed example, the sliding window, the scores per stream and model version, and
// the per-tick line of `byner infer`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTickLine, stepsUntilRepeat } from './printer.js';
import { Scorer, StreamScores } from './scoring.js';

describe('Scorer', () => {
  it('scores every earlier forecast per horizon as actual values arrive (hand-computed)', () => {
    // Horizon 2. Forecast after tick 10: [1.4, 2.6] for ticks 11, 12. After tick 11: [3, 0.5] for ticks 12, 13.
    // Actual: tick 11 = 1, tick 12 = 3, tick 13 = 1.
    // h1: tick 11: 1.4 − 1 = 0.4 (round 1 = 1 hit); tick 12: 3 − 3 = 0 (hit).     → mse 0.08, mae 0.2, acc 1
    // h2: tick 12: 2.6 − 3 = −0.4 (round 3 = 3 hit); tick 13: 0.5 − 1 = −0.5 (round half to even 0 ≠ 1 miss).
    //                                                 → mse (0.16 + 0.25)/2 = 0.205, mae 0.45, acc 0.5
    const s = new Scorer(2, 100);
    s.addForecast(10, [1.4, 2.6]);
    assert.equal(s.observe(11, 1), 1);
    s.addForecast(11, [3, 0.5]);
    assert.equal(s.observe(12, 3), 2);
    assert.equal(s.observe(13, 1), 1);
    const m = s.snapshot();
    const close = (a: (number | null)[], b: number[]) => {
      for (const [i, x] of a.entries()) assert.ok(Math.abs((x as number) - b[i]) < 1e-12, `${a} vs ${b}`);
    };
    close(m.metrics.mse, [0.08, 0.205]);
    close(m.metrics.mae, [0.2, 0.45]);
    close(m.metrics.accuracy, [1, 0.5]);
    close(m.metrics.mse_window, [0.08, 0.205]);
    assert.deepEqual(m.scored, [2, 2]);
    assert.equal(s.pendingCount, 0);
  });

  it('keeps windowed metrics over the last N scores only, and null before any score', () => {
    const s = new Scorer(1, 3);
    assert.deepEqual(s.snapshot().metrics.mse, [null]);
    // Errors 10, 0, 0, 0: running MSE 25, windowed (last 3) 0.
    [10, 0, 0, 0].forEach((err, i) => {
      s.addForecast(i, [err]);
      s.observe(i + 1, 0);
    });
    const m = s.snapshot();
    assert.deepEqual(m.metrics.mse, [25]);
    assert.deepEqual(m.metrics.mse_window, [0]);
    assert.deepEqual(m.metrics.accuracy_window, [1]);
    assert.deepEqual(m.scoredWindow, [3]);
  });

  it('drops forecasts whose targets fell in a gap', () => {
    const s = new Scorer(3);
    s.addForecast(1, [0, 0, 0]);
    assert.equal(s.observe(9, 0), 0);
    assert.equal(s.pendingCount, 0);
  });

  it('rejects a forecast of the wrong length or with NaN', () => {
    const s = new Scorer(2);
    assert.throws(() => s.addForecast(1, [1]), { code: 'BYNER_SHAPE' });
    assert.throws(() => s.addForecast(1, [1, Number.NaN]), { code: 'BYNER_SHAPE' });
  });
});

describe('tick line', () => {
  it('says after how many steps the last value is forecast to appear again', () => {
    assert.equal(stepsUntilRepeat(3, [1.2, 2.4, 3.4, 3]), 3);
    assert.equal(stepsUntilRepeat(3, [1, 2]), null);
    assert.equal(
      formatTickLine(7, [1, 2, 3], [2.9, 1, 3], { have: 60, need: 60 }),
      'seq 7  recent [1, 2, 3]  forecast [2.90, 1.00, 3.00]  last value 3 appears again in 1 step',
    );
    assert.match(formatTickLine(7, [5], null, { have: 3, need: 60 }), /filling the window: 3\/60/);
    assert.match(formatTickLine(7, [5], null, { have: 60, need: 60 }), /no forecast: the model failed/);
  });
});

describe('StreamScores', () => {
  it("scores each model version's forecasts apart: one metrics document per stream and version", () => {
    const s = new StreamScores('co2', 100);
    s.addForecast('old', 10, [1, 2]);
    assert.equal(s.observe(11, 1), 1);
    s.retire('old'); // a newer model takes over: the old one's last forecast is still scored
    s.addForecast('new', 11, [5, 5]);
    assert.equal(s.observe(12, 2), 2, 'old h2 and new h1');
    s.countNonFinite('new', 2);
    const docs = s.takeDocs();
    assert.deepEqual(
      docs.map((d) => [d.stream, d.model_version, d.last_seq, d.scored, d.non_finite_forecasts]),
      [
        ['co2', 'old', 12, [1, 1], 0],
        ['co2', 'new', 12, [1, 0], 1],
      ],
    );
    assert.deepEqual(docs[0].metrics.mae, [0, 0]);
    assert.deepEqual(docs[1].metrics.mse, [9, null]);
    assert.equal(s.dirty, false);
    assert.equal(
      s.snapshot('old'),
      null,
      'a retired version goes once its forecasts are scored and documented',
    );
    assert.deepEqual(s.snapshot('new')?.scored, [1, 0]);
    assert.deepEqual(s.takeDocs(), [], 'nothing changed since');
  });
});
