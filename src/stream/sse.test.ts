// The SSE frame encoder byte for byte, the replay ring, and Last-Event-ID parsing (tables of cases).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TickRing } from './ring.js';
import { parseLastEventId } from './server.js';
import { type SseFrame, sseFrame } from './sse.js';

const tick = (seq: number) => ({
  seq,
  frame: Buffer.from(String(seq)),
});

describe('sseFrame', () => {
  const cases: [string, SseFrame, string][] = [
    ['id and data', { id: 7, data: '{"a":1}' }, 'id: 7\ndata: {"a":1}\n\n'],
    [
      'every field in wire order',
      { comment: 'c', retry: 1000, event: 'tick', id: '3', data: 'x' },
      ': c\nretry: 1000\nevent: tick\nid: 3\ndata: x\n\n',
    ],
    ['multi-line data, LF', { data: 'a\nb' }, 'data: a\ndata: b\n\n'],
    ['multi-line data, CRLF and CR', { data: 'a\r\nb\rc' }, 'data: a\ndata: b\ndata: c\n\n'],
    ['empty data line', { data: '' }, 'data: \n\n'],
    ['trailing newline keeps an empty line', { data: 'a\n' }, 'data: a\ndata: \n\n'],
    ['heartbeat comment', { comment: 'heartbeat' }, ': heartbeat\n\n'],
    ['multi-line comment', { comment: 'a\nb' }, ': a\n: b\n\n'],
    ['retry alone', { retry: 0 }, 'retry: 0\n\n'],
    ['unicode data', { data: 'é — ✓' }, 'data: é — ✓\n\n'],
  ];
  for (const [name, frame, bytes] of cases) {
    it(`encodes ${name}`, () => assert.equal(sseFrame(frame), bytes));
  }

  const refused: [string, SseFrame][] = [
    ['LF in id', { id: '1\ndata: injected', data: 'x' }],
    ['CR in id', { id: '1\r', data: 'x' }],
    ['NUL in id', { id: '1\0', data: 'x' }],
    ['LF in event', { event: 'a\nb', data: 'x' }],
    ['CR in event', { event: 'a\rb', data: 'x' }],
    ['a negative retry', { retry: -1 }],
    ['a fractional retry', { retry: 1.5 }],
    ['an empty frame', {}],
  ];
  for (const [name, frame] of refused) {
    it(`refuses ${name}`, () => assert.throws(() => sseFrame(frame), { code: 'BYNER_STREAM' }));
  }
});

describe('TickRing', () => {
  it('keeps the last `capacity` consecutive ticks and forgets older ones', () => {
    const ring = new TickRing(3);
    ring.reset(10);
    for (let s = 10; s < 15; s++) ring.push(tick(s));
    assert.equal(ring.firstSeq, 12);
    assert.equal(ring.nextSeq, 15);
    assert.equal(ring.get(11), undefined);
    assert.equal(ring.get(15), undefined);
    assert.deepEqual(
      [12, 13, 14].map((s) => ring.get(s)?.seq),
      [12, 13, 14],
    );
    assert.throws(() => ring.push(tick(17)), { code: 'BYNER_STATE' });
  });
});

describe('parseLastEventId', () => {
  const head = 100;
  const ok: [string | undefined, number | null][] = [
    [undefined, null],
    ['', null],
    ['0', 0],
    ['57', 57],
    ['100', 100],
  ];
  for (const [header, seq] of ok) {
    it(`accepts ${JSON.stringify(header)}`, () => assert.deepEqual(parseLastEventId(header, head), { seq }));
  }
  const hostile = [
    '-1',
    'abc',
    '1e3',
    ' 5',
    '5 ',
    '0x10',
    '1.5',
    '101',
    '99999999999999999999',
    '9007199254740993',
  ];
  for (const header of hostile) {
    it(`rejects ${JSON.stringify(header)} with a message`, () => {
      const r = parseLastEventId(header, head);
      assert.ok('error' in r && r.error.length > 0 && r.expected.includes('100'), JSON.stringify(r));
    });
  }
  it('rejects several headers and any id on an empty stream', () => {
    assert.ok('error' in parseLastEventId(['1', '2'], head));
    assert.ok('error' in parseLastEventId('0', -1));
  });
});
