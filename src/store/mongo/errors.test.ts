// Which driver errors the write queue and reads retry (a lost connection) and which they do not (the document or
// the request is at fault), and the URI redaction of log lines.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MongoBulkWriteError,
  MongoInvalidArgumentError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
} from 'mongodb';
import { bulkOutcome, isTransient, redactUri } from './errors.js';

const systemError = (code: string, message: string) => Object.assign(new Error(message), { code });
/** What insertMany throws: the first error of the batch wrapped in a bulk error. */
const bulk = (inner: object) => new MongoBulkWriteError(inner as never, { insertedCount: 0 } as never);

describe('mongodb error classes', () => {
  const cases: [string, unknown, boolean][] = [
    ['a network error', new MongoNetworkError('connection reset'), true],
    ['no server selectable', new MongoServerSelectionError('server selection timed out', {} as never), true],
    ['a network error inside a bulk error', bulk(new MongoNetworkError('closed')), true],
    // a pooled socket the server closed under a write: the driver passes the plain system error through
    [
      'EPIPE inside a bulk error',
      bulk(systemError('EPIPE', 'This socket has been ended by the other party')),
      true,
    ],
    ['ECONNRESET', systemError('ECONNRESET', 'read ECONNRESET'), true],
    ['a server shutting down (code 91)', new MongoServerError({ message: 'shutdown', code: 91 }), true],
    [
      'a duplicate key',
      bulk({ message: 'dup', code: 11000, writeErrors: [{ code: 11000, index: 0, errmsg: 'dup' }] }),
      false,
    ],
    [
      'a document the server refuses (validation, code 121)',
      bulk({ message: 'invalid', code: 121, writeErrors: [{ code: 121, index: 0, errmsg: 'invalid' }] }),
      false,
    ],
    [
      'a document larger than 16 MiB',
      new MongoInvalidArgumentError('Document is larger than the maximum size 16777216'),
      false,
    ],
    ['a programming error', new TypeError('x is not a function'), false],
  ];
  for (const [what, error, transient] of cases) {
    it(`${what} is ${transient ? '' : 'not '}retried`, () => {
      assert.equal(isTransient(error), transient);
    });
  }

  it('sorts the per-document errors of a bulk insert into duplicates and refusals', () => {
    const error = bulk({
      message: 'mixed',
      code: 11000,
      writeErrors: [
        { code: 11000, index: 0, errmsg: 'dup' },
        { code: 121, index: 2, errmsg: 'Document failed validation' },
      ],
    });
    assert.deepEqual(bulkOutcome(error), {
      duplicates: [0],
      refused: [{ index: 2, reason: 'Document failed validation (code 121)' }],
    });
    assert.equal(bulkOutcome(new MongoNetworkError('x')), undefined);
  });

  it('hides passwords in URIs', () => {
    assert.equal(
      redactUri('mongodb://u:secret@h:1/db?password=x&a=1'),
      'mongodb://u:***@h:1/db?password=***&a=1',
    );
  });
});
