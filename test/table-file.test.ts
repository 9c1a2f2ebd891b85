// The table file reader against smtpd's table(5) rules and against the real
// postmap(1): the entries it reads from a file are the ones postmap stores.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseTableStream, type ParsedLine, type ParseOptions } from '../proxy/load/table-file.js';

async function parse(text: string | Buffer[], o: Partial<ParseOptions> = {}): Promise<ParsedLine[]> {
  const chunks = typeof text === 'string' ? [Buffer.from(text)] : text;
  const out: ParsedLine[] = [];
  for await (const p of parseTableStream(Readable.from(chunks), { format: 'smtpd', foldCase: true, ...o })) out.push(p);
  return out;
}

const entries = (ps: ParsedLine[]) => ps.map((p) => ('error' in p ? [p.line, 'ERROR', p.error] : [p.line, p.key, p.value]));

describe('smtpd table(5) files', () => {
  it('reads key value, key: value and key:value, folding keys, keeping values (one separator, then spaces and tabs, as smtpd 7.5+)', async () => {
    const text = '# aliases\n\nroot: Alice\nPostmaster   root\nabuse:root, Security@Example.org\n  indented\tvalue with  spaces  \nmulti:: x\nspaced : y\n';
    assert.deepEqual(entries(await parse(text)), [
      [3, 'root', 'Alice'],
      [4, 'postmaster', 'root'],
      [5, 'abuse', 'root, Security@Example.org'],
      [6, 'indented', 'value with  spaces'],
      [7, 'multi', ': x'],
      [8, 'spaced', ': y'],
    ]);
  });

  it('reads a key in brackets to its "]" (IPv6 addresses), as smtpd 7.5+', async () => {
    assert.deepEqual(entries(await parse('[2001:DB8::1] mx1.example.org\n[::1]:localhost\n[::2 broken\n')), [
      [1, '[2001:db8::1]', 'mx1.example.org'],
      [2, '[::1]', 'localhost'],
      [3, 'ERROR', '"[::2 broken": a key starting with "[" must end with "]"'],
    ]);
    assert.deepEqual(entries(await parse('[::1]\n')), [[1, '[::1]', '']]);
  });

  it('a list of relay URLs needs # @list, as in smtpd; without it the refusal says why', async () => {
    const urls = 'smtp+tls://mx1.example.org:587\nsmtps://mx2.example.org\nsmtp+tls://mx3.example.org\n';
    assert.deepEqual(entries(await parse(`# @list\n${urls}`)).map((e) => e[1]), ['smtp+tls://mx1.example.org:587', 'smtps://mx2.example.org', 'smtp+tls://mx3.example.org']);
    const without = entries(await parse(urls));
    assert.equal(without[2]![1], 'ERROR');
    assert.match(String(without[2]![2]), /"smtp\+tls" is already on line 1 \(a list of URLs\? smtpd reads one as key:value too unless the file starts with "# @list"\)/);
  });

  it('reads a list when the first entry has no separator, whole lines as keys', async () => {
    assert.deepEqual(entries(await parse('example.org\n*.Example.NET\n\n# comment\nwith space\n')), [
      [1, 'example.org', ''],
      [2, '*.example.net', ''],
      [5, 'with space', ''],
    ]);
  });

  it('honours a # @list comment before the first entry (IPv6 prefixes contain colons)', async () => {
    assert.deepEqual(entries(await parse('#   @list\n2001:db8::/32\n::1\n')), [
      [2, '2001:db8::/32', ''],
      [3, '::1', ''],
    ]);
    // without it the colon makes a key-value table, as in smtpd
    assert.deepEqual(entries(await parse('2001:db8::/32\n')), [[1, '2001', 'db8::/32']]);
  });

  it('reports a key without a value in a key-value table, with its line', async () => {
    assert.deepEqual(entries(await parse('root alice\nlonely\nnext:\n')), [
      [1, 'root', 'alice'],
      [2, 'ERROR', '"lonely" has no value, but this is a key-value table (line 1 made it one)'],
      [3, 'ERROR', '"next" has no value'],
    ]);
  });

  it('reports a repeated key (after folding) with both lines', async () => {
    assert.deepEqual(entries(await parse('Root alice\nroot bob\n')), [
      [1, 'root', 'alice'],
      [2, 'ERROR', '"root" is already on line 1'],
    ]);
    assert.deepEqual(entries(await parse('Root alice\nroot bob\n', { foldCase: false })), [
      [1, 'Root', 'alice'],
      [2, 'root', 'bob'],
    ]);
  });

  it('splits at LF only, across chunk boundaries; CRLF files work; invalid UTF-8 is an error on its line', async () => {
    const chunks = [Buffer.from('ro'), Buffer.from('ot ali'), Buffer.from('ce\r\nbob: b'), Buffer.from([0xc3]), Buffer.from([0xa9, 0x62, 0x0a]), Buffer.from('bad '), Buffer.from([0xff, 0x0a]), Buffer.from('last x')];
    assert.deepEqual(entries(await parse(chunks)), [
      [1, 'root', 'alice'],
      [2, 'bob', 'béb'],
      [3, 'ERROR', 'not valid UTF-8'],
      [4, 'last', 'x'],
    ]);
  });

  it('keeps a CR inside a line (the admin function refuses it) and an empty file is empty', async () => {
    assert.deepEqual(entries(await parse('a b\rc\n')), [[1, 'a', 'b\rc']]);
    assert.deepEqual(await parse(''), []);
  });
});

describe('JSON Lines files', () => {
  const jl = { format: 'jsonl' } as const;

  it('carries any key and value exactly, never folded; comments and empty lines skipped; a list entry may leave out the value', async () => {
    const text = '# table x\n{"key":"Key With Spaces: and \\"quotes\\"","value":"  padded\\ttab  "}\n\n{"key":"é★"}\n';
    assert.deepEqual(entries(await parse(text, jl)), [
      [2, 'Key With Spaces: and "quotes"', '  padded\ttab  '],
      [4, 'é★', ''],
    ]);
  });

  it('reports what is not an entry, and repeated keys, with their lines', async () => {
    assert.deepEqual(entries(await parse('{"key":"a","value":"1"}\nnot json\n[1]\n{"key":"b","value":2}\n{"key":"a","value":"3"}\n{"key":""}\n', jl)), [
      [1, 'a', '1'],
      [2, 'ERROR', 'not a JSON object (expected {"key": "…", "value": "…"})'],
      [3, 'ERROR', 'expected {"key": "…", "value": "…"} with a string key'],
      [4, 'ERROR', '"b": the value must be a string'],
      [5, 'ERROR', '"a" is already on line 1'],
      [6, 'ERROR', 'empty key'],
    ]);
  });
});

describe('postmap source files', () => {
  const pm = { format: 'postmap' } as const;

  it('reads key whitespace value, continuation lines joined as postmap joins them, comments inside', async () => {
    const text = 'Key1 value one\ncont first\n  second part\n# comment\n\n\tthird\nk2:  tail   \n';
    assert.deepEqual(entries(await parse(text, pm)), [
      [1, 'key1', 'value one'],
      [2, 'cont', 'first  second part\tthird'],
      [7, 'k2:', 'tail'],
    ]);
  });

  it('keeps quoted keys with their quotes, and refuses an unbalanced quote', async () => {
    assert.deepEqual(entries(await parse('"A b" spaced\n"q\\"x" quoted\nab"c d"e mixed\n"open x\n', pm)), [
      [1, '"a b"', 'spaced'],
      [2, '"q\\"x"', 'quoted'],
      [3, 'ab"c d"e', 'mixed'],
      [4, 'ERROR', 'unbalanced double quote in the key'],
    ]);
  });

  it('reports a key without a value, and a continuation with nothing to continue', async () => {
    assert.deepEqual(entries(await parse('  orphan\nnovalue\nok yes\n', pm)), [
      [1, 'ERROR', 'a line starting with whitespace continues an entry, but no entry comes before it'],
      [2, 'ERROR', '"novalue" has no value (expected format: key whitespace value)'],
      [3, 'ok', 'yes'],
    ]);
  });

  it('stores what the real postmap stores', async (t) => {
    let postmap: string;
    try {
      postmap = execFileSync('sh', ['-c', 'command -v postmap'], { encoding: 'utf8' }).trim();
    } catch {
      if (process.env.CI) throw new Error('postmap not found: install the Debian package "postfix" (.ci/run does)');
      t.skip('postmap not installed (Debian package "postfix")');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'cloudtable-postmap-'));
    writeFileSync(join(dir, 'main.cf'), '');
    const text = 'Key1 value one\n"A b" spaced\n"q\\"x" quoted\ncont first\n  second part\n# c\n\tthird\nK2    tail   \nwindows crlf\r\n';
    writeFileSync(join(dir, 't'), text);
    execFileSync(postmap, ['-c', dir, `hash:${join(dir, 't')}`]);
    const dumped = execFileSync(postmap, ['-c', dir, '-s', `hash:${join(dir, 't')}`], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)]);
    const ours = (await parse(text, pm)).map((p) => ('error' in p ? ['ERROR', p.error] : [p.key, p.value]));
    assert.deepEqual(
      ours.sort((a, b) => a[0]!.localeCompare(b[0]!)),
      dumped.sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );
  });
});
