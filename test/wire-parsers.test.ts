// Direct tests of the two wire parsers: the socketmap netstring reader
// (proxy/sockmap/netstring.ts) and smtpd's table request lines
// (proxy/smtpd/protocol.ts), with the bytes the real clients send and the
// malformed ones they must survive.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SERVICES } from '../common/contract/lookup.js';
import { parseConfigLine, parseRequest } from '../proxy/smtpd/protocol.js';
import { NetstringReader, netstring, type Frame } from '../proxy/sockmap/netstring.js';

const frames = (r: NetstringReader): Frame[] => {
  const out: Frame[] = [];
  for (let f = r.next(); f !== undefined; f = r.next()) out.push(f);
  return out;
};
const text = (fs: Frame[]): string[] => fs.map((f) => ('payload' in f ? f.payload.toString('utf8') : `error: ${f.error}`));

describe('netstring reader', () => {
  it('reads requests whole, split at every byte, or many in one read', () => {
    const wire = Buffer.from(netstring('virtual alice@example.org') + netstring('aliases root') + netstring(''));
    const whole = new NetstringReader(1000);
    whole.push(wire);
    assert.deepEqual(text(frames(whole)), ['virtual alice@example.org', 'aliases root', '']);
    const split = new NetstringReader(1000);
    const got: Frame[] = [];
    for (const b of wire) {
      split.push(Buffer.from([b]));
      got.push(...frames(split));
    }
    assert.deepEqual(text(got), ['virtual alice@example.org', 'aliases root', '']);
    assert.equal(split.buffered, 0);
  });

  it('property: any payloads, cut anywhere, come out as sent', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (payloads, cuts) => {
        const wire = Buffer.from(payloads.map(netstring).join(''));
        const r = new NetstringReader(10_000);
        const at = [...new Set(cuts.map((c) => (wire.length === 0 ? 0 : c % wire.length)))].sort((a, b) => a - b);
        let from = 0;
        const got: Frame[] = [];
        for (const c of [...at, wire.length]) {
          r.push(wire.subarray(from, c));
          from = c;
          got.push(...frames(r));
        }
        assert.deepEqual(text(got), payloads);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses what is not a netstring, once, and reads nothing after it', () => {
    const cases: Array<[string, RegExp]> = [
      ['abc', /does not start with a length/],
      ['3x', /not followed by ":"/],
      ['3:abc;', /not terminated by ","/],
      ['99999999999999:', /longer than 1000 bytes/],
      [':', /does not start with a length/],
    ];
    for (const [bytes, why] of cases) {
      const r = new NetstringReader(1000);
      r.push(Buffer.from(`${bytes}3:abc,`));
      const fs = frames(r);
      assert.equal(fs.length, 1, bytes);
      assert.match(text(fs)[0]!, why);
      assert.equal(r.failed, true);
      r.push(Buffer.from('3:abc,'));
      assert.equal(r.next(), undefined);
    }
  });

  it('holds no more than one payload plus the unread input', () => {
    const r = new NetstringReader(100);
    r.push(Buffer.from('100:'));
    r.push(Buffer.alloc(60, 0x61));
    assert.equal(r.next(), undefined);
    assert.equal(r.buffered, 60);
    r.push(Buffer.alloc(40, 0x61));
    r.push(Buffer.from(','));
    assert.equal(text(frames(r))[0], 'a'.repeat(100));
    assert.equal(r.buffered, 0);
  });
});

describe('smtpd request parser', () => {
  it('parses the lines smtpd 7.8 sends', () => {
    assert.deepEqual(parseRequest('table|0.1|1700000000.123456|aliases|lookup|alias|00000001|root'), {
      ok: true,
      request: { op: 'lookup', id: '00000001', table: 'aliases', service: 'alias', key: 'root' },
    });
    assert.deepEqual(parseRequest('table|0.1|1700000000.123456|users|check|auth|0000000a|bob:pa|ss'), {
      ok: true,
      request: { op: 'check', id: '0000000a', table: 'users', service: 'auth', key: 'bob:pa|ss' },
    });
    assert.deepEqual(parseRequest('table|0.1|1700000000.1|relays|fetch|relayhost|00000002'), { ok: true, request: { op: 'fetch', id: '00000002', table: 'relays', service: 'relayhost' } });
    assert.deepEqual(parseRequest('table|0.1|1700000000.1|aliases|update|00000003'), { ok: true, request: { op: 'update', id: '00000003', table: 'aliases' } });
    assert.deepEqual(parseRequest('table|0.1|1|t|lookup|alias|00000004|'), { ok: true, request: { op: 'lookup', id: '00000004', table: 't', service: 'alias', key: '' } });
  });

  it('refuses malformed lines, keeping the op and id when they can still be answered', () => {
    assert.deepEqual(parseRequest('table|0.1|1|t|lookup|nosuch|00000005|k'), { ok: false, reason: 'unknown service nosuch', op: 'lookup', id: '00000005' });
    assert.deepEqual(parseRequest('table|0.2|1|t|lookup|alias|00000006|k'), { ok: false, reason: 'unsupported protocol version 0.2' });
    assert.deepEqual(parseRequest('nonsense'), { ok: false, reason: 'not a table request' });
    assert.deepEqual(parseRequest('table|0.1|1|t|lookup|alias|bad id!|k'), { ok: false, reason: 'malformed lookup id' });
    assert.deepEqual(parseRequest('table|0.1|1|t|lookup|alias'), { ok: false, reason: 'malformed lookup request' });
    assert.deepEqual(parseRequest('table|0.1|1|t|frobnicate|x'), { ok: false, reason: 'unknown operation frobnicate' });
    assert.deepEqual(parseRequest('table|0.1|1|t|update|'), { ok: false, reason: 'malformed update id' });
  });

  it('property: any line parses as the plain reading of the protocol says (fields split at the first bars, the key keeping the rest)', () => {
    // The obvious reading, written for clarity, not speed: the parser must agree with it on every line.
    const expected = (line: string): unknown => {
      const f = line.split('|');
      if (f[0] !== 'table' || f.length < 6) return { ok: false, reason: 'not a table request' };
      const [, version, , table, op] = f as [string, string, string, string, string];
      if (version !== '0.1') return { ok: false, reason: `unsupported protocol version ${version}` };
      const isId = (id: string) => /^[0-9A-Za-z]{1,32}$/.test(id);
      const services = new Set<string>(SERVICES);
      if (op === 'update') {
        const id = f.slice(5).join('|');
        return isId(id) ? { ok: true, request: { op, id, table } } : { ok: false, reason: 'malformed update id' };
      }
      if (op === 'fetch') {
        if (f.length < 7) return { ok: false, reason: 'malformed fetch request' };
        const [service, id] = [f[5]!, f.slice(6).join('|')];
        if (!isId(id)) return { ok: false, reason: 'malformed fetch id' };
        if (!services.has(service)) return { ok: false, reason: `unknown service ${service}`, op, id };
        return { ok: true, request: { op, id, table, service } };
      }
      if (op === 'check' || op === 'lookup') {
        if (f.length < 8) return { ok: false, reason: `malformed ${op} request` };
        const [service, id, key] = [f[5]!, f[6]!, f.slice(7).join('|')];
        if (!isId(id)) return { ok: false, reason: `malformed ${op} id` };
        if (!services.has(service)) return { ok: false, reason: `unknown service ${service}`, op, id };
        return { ok: true, request: { op, id, table, service, key } };
      }
      return { ok: false, reason: `unknown operation ${op}` };
    };
    const field = fc.oneof(fc.constantFrom('table', '0.1', '', 'lookup', 'update', 'alias', 'x y', 'Ω'), fc.string({ maxLength: 6 }));
    const id = fc.oneof(fc.constantFrom('0000000a', 'f'.repeat(32), 'f'.repeat(33), '', 'a-b', 'A_z', 'Ω', 'a[', '@', '`z', '/0', ':9', ' a'), fc.stringMatching(/^[0-9A-Za-z]{1,33}$/));
    // Lines shaped like requests (each field drawn near its boundaries, cut short at any field), and lines of anything.
    const shaped = fc
      .tuple(
        // Mostly valid, so that the later fields are reached.
        fc.constantFrom('table', 'table', 'table', 'tables'),
        fc.constantFrom('0.1', '0.1', '0.1', '0.2', ''),
        fc.constantFrom('1700000000.1', ''),
        fc.constantFrom('aliases', ''),
        fc.constantFrom('lookup', 'check', 'fetch', 'update', 'frob', ''),
        fc.constantFrom('alias', 'auth', 'relayhost', 'relayhost', 'nosuch', ''),
        id,
        fc.string({ maxLength: 8 }),
        fc.oneof(fc.constant(8), fc.integer({ min: 1, max: 8 })),
      )
      .map(([...f]) => f.slice(0, f.pop() as number).join('|'));
    fc.assert(
      fc.property(fc.oneof(shaped, fc.array(field, { maxLength: 10 }).map((f) => f.join('|'))), (line) => {
        assert.deepEqual(parseRequest(line), expected(line), line);
      }),
      { numRuns: 5000 },
    );
  });

  it('parses the handshake lines', () => {
    assert.deepEqual(parseConfigLine('config|smtpd-version|7.8.0'), { ok: true, key: 'smtpd-version', value: '7.8.0' });
    assert.deepEqual(parseConfigLine('config|ready'), { ok: true, ready: true });
    assert.deepEqual(parseConfigLine('config|'), { ok: false, reason: 'malformed config line' });
    assert.deepEqual(parseConfigLine('table|0.1|x'), { ok: false, reason: 'expected a config| line during the handshake' });
  });
});
