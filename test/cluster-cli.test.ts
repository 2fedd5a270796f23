// `--bus` on the command line: refused without MongoDB (the embedded store is each process's own), bus-only options
// refused without it, a malformed URL and an unreachable Redis reported with what was expected and how to fix it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byner } from './helpers/cli.js';
import { freePort } from './helpers/ferretdb.js';

const cases: { name: string; args: string[]; code: number; message: RegExp }[] = [
  {
    name: 'serve --bus without --mongo-uri',
    args: ['serve', '--bus', 'redis://127.0.0.1:6379', '--port', '0'],
    code: 2,
    message:
      /--bus needs MongoDB as the store[\s\S]*expected: --mongo-uri[\s\S]*each would have an embedded file/,
  },
  {
    name: 'infer --bus without --mongo-uri',
    args: ['infer', '--bus', 'redis://127.0.0.1:6379', '--all-streams'],
    code: 2,
    message: /--bus needs MongoDB as the store/,
  },
  {
    name: 'serve --lease-ms without --bus',
    args: ['serve', '--lease-ms', '3000', '--port', '0'],
    code: 2,
    message: /--lease-ms without --bus[\s\S]*hint: add --bus/,
  },
  {
    name: 'infer --group without --bus',
    args: ['infer', '--group', 'g'],
    code: 2,
    message: /--group without --bus/,
  },
  // One --bus setting: the same check for every command that takes it.
  ...[
    ['serve', 'redis://127.0.0.1:6379/db?x=1', '--mongo-uri', 'mongodb://127.0.0.1:1/'],
    ['infer', 'http://127.0.0.1:6379', '--all-streams', '--mongo-uri', 'mongodb://127.0.0.1:1/'],
    ['train', 'redis://', '--queue', '--mongo-uri', 'mongodb://127.0.0.1:1/'],
    ['worker', 'http://127.0.0.1:6379', '--mongo-uri', 'mongodb://127.0.0.1:1/'],
  ].map(([command, url, ...rest]) => ({
    name: `a malformed --bus URL in ${command} (${url})`,
    args: [command, ...rest, '--bus', url],
    code: 2,
    message: /--bus: expected redis:\/\/\[user:password@\]HOST\[:PORT\]\[\/DB\] or rediss:\/\//,
  })),
  {
    name: '--lease-ms out of range',
    args: [
      'serve',
      '--bus',
      'redis://127.0.0.1:6379',
      '--lease-ms',
      '10',
      '--mongo-uri',
      'mongodb://127.0.0.1:1/',
    ],
    code: 2,
    message: /--lease-ms[\s\S]*between 1,500 and 600,000/,
  },
  {
    name: 'infer --bus with --url',
    args: ['infer', '--bus', 'redis://127.0.0.1:6379', '--url', 'http://127.0.0.1:5000/realtime_data'],
    code: 2,
    message: /options of the SSE input with --bus[\s\S]*received: --url/,
  },
];

describe('--bus on the command line', () => {
  for (const c of cases) {
    it(`refuses ${c.name} (exit ${c.code})`, async () => {
      const r = await byner(c.args, { timeoutMs: 60_000 });
      assert.equal(r.code, c.code, r.stderr);
      assert.match(r.stderr, c.message);
    });
  }

  it('says the bus is unreachable, with the URL and a hint (exit 1)', async () => {
    const port = await freePort(); // nothing listens there
    const r = await byner(
      ['serve', '--bus', `redis://127.0.0.1:${port}`, '--mongo-uri', 'mongodb://127.0.0.1:1/', '--port', '0'],
      { timeoutMs: 60_000 },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`cannot reach the bus at redis://127.0.0.1:${port}[\\s\\S]*hint: start redis-server`),
    );
  });
});
