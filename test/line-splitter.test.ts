// The line splitter of the smtpd front end: lines across chunks, and
// overlong lines cut and reported once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineSplitter } from '../proxy/smtpd/line-splitter.js';

function split(chunks: Buffer[], max = 16): { lines: string[]; overlong: number[] } {
  const lines: string[] = [];
  const overlong: number[] = [];
  const s = new LineSplitter(max, (l) => lines.push(l), (n) => overlong.push(n));
  for (const c of chunks) s.push(c);
  return { lines, overlong };
}

describe('line splitter', () => {
  it('splits lines across and within chunks, keeping UTF-8 cut between chunks whole', () => {
    const bytes = Buffer.from('a|é\nb\n\nccc');
    const chunks = [bytes.subarray(0, 3), bytes.subarray(3, 4), bytes.subarray(4)];
    assert.deepEqual(split(chunks), { lines: ['a|é', 'b', ''], overlong: [] });
  });

  it('discards overlong lines, whole or split, and goes on', () => {
    const r = split([Buffer.from('x'.repeat(10)), Buffer.from('x'.repeat(10)), Buffer.from('y\nok\n' + 'z'.repeat(20) + '\nfine\n')]);
    assert.deepEqual(r.lines, ['ok', 'fine']);
    assert.deepEqual(r.overlong, [21, 20]);
  });

  it('yields the same lines however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 12 }).filter((s) => !s.includes('\n')), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(prev, p));
          prev = p;
        }
        chunks.push(bytes.subarray(prev));
        assert.deepEqual(split(chunks, 64).lines, lines);
      }),
    );
  });
});
