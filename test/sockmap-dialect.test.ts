// Reply encoding per client, for what the real backend cannot hold:
// DynamoDB items stop at 400 KB, Sendmail's reply limit is 1,000,000 bytes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DIALECTS, replyFor } from '../proxy/sockmap/dialect.js';

const found = (value: string) => ({ kind: 'found', value, source: 'upstream' }) as const;

describe('socketmap replies', () => {
  it('sends Sendmail replies of up to 1,000,000 bytes and answers PERM beyond', () => {
    assert.equal(replyFor(found('v'.repeat(999_997)), 'sendmail', 'NOTFOUND').length, 1_000_000);
    assert.match(replyFor(found('v'.repeat(999_998)), 'sendmail', 'NOTFOUND'), /^PERM value too large: a 1000001-byte reply exceeds the 1000000-byte limit of sendmail$/);
    // Escaping counts: 500,000 `%` become 1,000,000 bytes.
    assert.match(replyFor(found('%'.repeat(500_000)), 'sendmail', 'NOTFOUND'), /^PERM value too large: a 1000003-byte/);
    assert.equal(replyFor(found('%'.repeat(500_000)), 'postfix', 'NOTFOUND').slice(0, 4), 'PERM');
  });

  it('counts bytes, not characters', () => {
    assert.equal(replyFor(found('é'.repeat(49_998)), 'postfix', 'NOTFOUND').length, 3 + 49_998);
    assert.match(replyFor(found('é'.repeat(49_999)), 'postfix', 'NOTFOUND'), /^PERM value too large: a 100001-byte reply/);
  });

  it('never answers a bare OK, an empty value, or a failure as not found', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.constantFrom(...DIALECTS), fc.constantFrom('NOTFOUND' as const, 'NOMORE' as const), (value, dialect, nf) => {
        const r = replyFor(found(value), dialect, nf);
        assert.notEqual(r, 'OK');
        assert.notEqual(r, 'OK ');
        assert.ok(r.startsWith('OK ') || r === `${nf} ` || r.startsWith('PERM '), r);
        if (/[\0\r\n]/.test(value)) assert.equal(r, 'PERM stored value contains NUL, CR or LF');
        if (r.startsWith('OK ')) assert.equal(r.slice(3), dialect === 'sendmail' ? value.replaceAll('%', '%%') : value);
      }),
    );
    assert.equal(replyFor({ kind: 'error', reason: 'down\r\nhere', timeout: false }, 'postfix', 'NOTFOUND'), 'TEMP down here');
    assert.equal(replyFor({ kind: 'error', reason: 'slow', timeout: true }, 'sendmail', 'NOMORE'), 'TIMEOUT slow');
  });
});
