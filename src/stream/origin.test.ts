// The Host and cross-site rules as pure decisions: Host parsing, the names answered, same-origin detection, CORS
// origins. test/live-origin.test.ts checks them on a live server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalOrigin, OriginPolicy, parseHostHeader } from './origin.js';

describe('parseHostHeader', () => {
  const cases: [string, { name: string; port: number | null } | null][] = [
    ['127.0.0.1:5000', { name: '127.0.0.1', port: 5000 }],
    ['LocalHost', { name: 'localhost', port: null }],
    ['localhost.:80', { name: 'localhost', port: 80 }],
    ['[::1]:5000', { name: '::1', port: 5000 }],
    ['[::1]', { name: '::1', port: null }],
    ['[::ffff:192.168.1.5]:5000', { name: '192.168.1.5', port: 5000 }],
    ['::1', null],
    ['[::1', null],
    ['[::1]x', null],
    ['host:', null],
    ['host:abc', null],
    ['host:123456', null],
    ['', null],
    ['a b', null],
    ['evil.example/x', null],
    ['user@evil.example', null],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseHostHeader(header), expected);
    });
  }
});

describe('OriginPolicy.checkHost', () => {
  const cases: [
    label: string,
    listen: string,
    allowed: string[],
    host: string | undefined,
    local: string,
    ok: boolean,
  ][] = [
    ['loopback name', '127.0.0.1', [], 'localhost:5000', '127.0.0.1', true],
    ['IPv6 loopback', '127.0.0.1', [], '[::1]:5000', '::1', true],
    ['rebound name', '127.0.0.1', [], 'evil.example:5000', '127.0.0.1', false],
    ['no Host', '127.0.0.1', [], undefined, '127.0.0.1', false],
    [
      'LAN address the connection arrived at (listening on 0.0.0.0)',
      '0.0.0.0',
      [],
      '192.168.1.5:5000',
      '192.168.1.5',
      true,
    ],
    [
      'LAN address over an IPv4-mapped socket (listening on ::)',
      '::',
      [],
      '192.168.1.5',
      '::ffff:192.168.1.5',
      true,
    ],
    ['another LAN address than the one connected to', '0.0.0.0', [], '192.168.1.6', '192.168.1.5', false],
    ['the listen address itself', '0.0.0.0', [], '0.0.0.0:5000', '127.0.0.1', true],
    ['a listen host name', 'box.lan', [], 'BOX.lan:5000', '192.168.1.5', true],
    ['an --allowed-host name', '127.0.0.1', ['dash.example', '[fd00::1]'], 'dash.example', '127.0.0.1', true],
    [
      'an --allowed-host IPv6 address',
      '127.0.0.1',
      ['dash.example', '[fd00::1]'],
      '[fd00::1]:80',
      '127.0.0.1',
      true,
    ],
    [
      'a subdomain of an --allowed-host name',
      '127.0.0.1',
      ['dash.example'],
      'a.dash.example',
      '127.0.0.1',
      false,
    ],
  ];
  for (const [label, listen, allowed, host, local, ok] of cases) {
    it(`${label}: ${ok ? 'answered' : '421'}`, () => {
      const refusal = new OriginPolicy({ listenHost: listen, allowedHosts: allowed }).checkHost(host, local);
      if (ok) assert.equal(refusal, null);
      else {
        assert.equal(refusal?.status, 421);
        assert.match(refusal?.hint ?? '', /--allowed-host/);
      }
    });
  }
});

describe('OriginPolicy.checkSite', () => {
  const policy = new OriginPolicy({
    listenHost: '127.0.0.1',
    corsOrigins: ['https://app.example', 'http://localhost:3000/'],
  });
  const cases: [label: string, headers: Record<string, string>, expected: 'same' | 'cors' | 403][] = [
    ['curl', { host: '127.0.0.1:5000' }, 'same'],
    [
      'the page itself',
      { host: '127.0.0.1:5000', origin: 'http://127.0.0.1:5000', 'sec-fetch-site': 'same-origin' },
      'same',
    ],
    ['the page behind a TLS proxy', { host: 'box.example', origin: 'https://box.example' }, 'same'],
    ['default port spelled out in Host', { host: 'box.example:80', origin: 'http://box.example' }, 'same'],
    ['same name, other port', { host: '127.0.0.1:5000', origin: 'http://127.0.0.1:5001' }, 403],
    ['localhost page against 127.0.0.1', { host: '127.0.0.1:5000', origin: 'http://localhost:5000' }, 403],
    [
      'an allowed origin',
      { host: '127.0.0.1:5000', origin: 'https://app.example', 'sec-fetch-site': 'cross-site' },
      'cors',
    ],
    [
      'an allowed origin, default port spelled out',
      { host: '127.0.0.1:5000', origin: 'https://app.example:443' },
      'cors',
    ],
    [
      'an allowed origin on localhost',
      { host: '127.0.0.1:5000', origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' },
      'cors',
    ],
    ['the allowed name over http', { host: '127.0.0.1:5000', origin: 'http://app.example' }, 403],
    ['Origin null', { host: '127.0.0.1:5000', origin: 'null' }, 403],
    ['cross-site without Origin', { host: '127.0.0.1:5000', 'sec-fetch-site': 'cross-site' }, 403],
    ['same-site without Origin', { host: '127.0.0.1:5000', 'sec-fetch-site': 'same-site' }, 403],
    ['a navigation', { host: '127.0.0.1:5000', 'sec-fetch-site': 'none' }, 'same'],
  ];
  for (const [label, headers, expected] of cases) {
    it(`${label}: ${expected}`, () => {
      const d = policy.checkSite(headers);
      if (expected === 403) {
        assert.equal(d.allowed, false);
        if (!d.allowed) assert.equal(d.refusal.status, 403);
      } else {
        assert.equal(d.allowed, true);
        if (d.allowed) assert.equal(d.corsOrigin !== undefined, expected === 'cors');
      }
    });
  }
});

describe('canonicalOrigin', () => {
  it('serializes origins as browsers do', () => {
    assert.equal(canonicalOrigin('HTTP://App.Example:80'), 'http://app.example');
    assert.equal(canonicalOrigin('https://app.example:8443/'), 'https://app.example:8443');
    assert.equal(canonicalOrigin('http://[::1]:3000'), 'http://[::1]:3000');
  });
  for (const bad of [
    '*',
    'null',
    'app.example',
    'ftp://app.example',
    'http://app.example/path',
    'http://u:p@app.example',
    'http://app.example?x=1',
  ]) {
    it(`refuses ${bad}`, () => {
      assert.throws(
        () => canonicalOrigin(bad),
        (e: Error & { code?: string; received?: string }) =>
          e.code === 'BYNER_CONFIG' && e.received === JSON.stringify(bad),
      );
    });
  }
});
