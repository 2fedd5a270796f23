// `byner demo` (npm start) as a newcomer runs it: live forecasts in the terminal within seconds (the baseline
// serves while the LSTM trains in a child process), the dashboard URL printed, Ctrl-C stopping everything cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { childEnv, ROOT } from './helpers/cli.js';

describe('byner demo', () => {
  it('prints the dashboard URL and live forecasts at once, switches to the trained model, stops cleanly on SIGINT', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'byner-demo-'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        join(ROOT, 'src/cli/main.ts'),
        'demo',
        '--port',
        '0',
        '--ticks',
        '3000',
      ],
      // The training child reads its settings from the environment: a small network trains in seconds.
      {
        cwd: dir,
        env: childEnv({ BYNER_DATA_DIR: join(dir, 'data'), BYNER_UNITS: '16', BYNER_EPOCHS: '40' }),
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const started = Date.now();
    while (!/forecast \[/.test(stdout) && Date.now() - started < 60_000 && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (Date.now() - started) / 1000;
    assert.match(stdout, /forecast \[/, `no forecast after ${seconds} s\n${stderr}`);
    console.log(`  first live forecast after ${seconds.toFixed(1)} s`);
    const url = /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr)?.[1];
    assert.ok(url, stderr);
    assert.match(stderr, /forecasting with seasonal_naive/);
    assert.match(stderr, /training one in the background/);
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /byner/);
    const forecasts = (await (await fetch(`${url}/api/forecasts/latest`)).json()) as { forecasts: unknown[] };
    assert.equal(forecasts.forecasts.length, 1);
    // Once the trained model is registered as serving, the demo switches to it and keeps forecasting.
    const switched = Date.now();
    let version = '';
    while (!version.startsWith('lstm-') && Date.now() - switched < 90_000 && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 500));
      const latest = (await (await fetch(`${url}/api/forecasts/latest`)).json()) as {
        forecasts: { model_version: string }[];
      };
      version = latest.forecasts[0]?.model_version ?? '';
    }
    assert.match(version, /^lstm-/, `no forecast by the trained model\n${stderr.slice(-3000)}`);
    assert.match(stderr, /now forecasting with the trained model lstm-/);
    assert.equal(child.exitCode, null, 'the demo keeps running after the switch');
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    assert.equal(code, 0, stderr.slice(-2000));
    assert.match(stderr, /SIGINT: stopping/);
  });
});
