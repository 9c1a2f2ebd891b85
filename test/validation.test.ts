// The shared validators against smtpd's own rules (table.c, to.c, util.c,
// mailaddr.c, expand.c in OpenSMTPD 7.8), case by case.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileSmtpdRegex,
  entryError,
  foldKey,
  hostnameMatch,
  isPatternKey,
  mailaddrMatch,
  netaddrMatch,
  parseMailaddr,
  parseNetaddr,
  parseSockaddr,
  regexMatches,
  relayhostError,
  splitList,
  valueError,
} from '../common/smtpd/index.js';

describe('hostname glob (hostname_match)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['example.org', 'example.org', true],
    ['EXAMPLE.org', 'example.ORG', true],
    ['a.example.org', '*.example.org', true],
    ['a.b.example.org', '*.example.org', false], // no backtracking past the first '.'
    ['example.org', '*.example.org', false],
    ['anything', '*', true],
    ['', '*', false],
    ['mx1.example.org', 'mx*.example.org', true],
    ['www.eexample.org', '*example.org', false], // '*' stops at the first 'e'
    ['mail.example.org', '*example.org', true],
    ['example.org', '*example.org', true],
    ['a.example.org', '**.example.org', true],
    ['example.org', 'example.org*', false],
  ];
  for (const [host, pattern, want] of cases) {
    it(`${JSON.stringify(host)} vs ${JSON.stringify(pattern)} → ${want}`, () => assert.equal(hostnameMatch(host, pattern), want));
  }
});

describe('netaddr (text_to_netaddr, inet_net_pton)', () => {
  it('infers prefix widths like inet_net_pton', () => {
    assert.equal(parseNetaddr('10')?.bits, 8);
    assert.equal(parseNetaddr('10.1')?.bits, 16);
    assert.equal(parseNetaddr('192.168.1')?.bits, 24);
    assert.equal(parseNetaddr('10.0.0.0')?.bits, 32);
    assert.equal(parseNetaddr('172.16')?.bits, 16);
    assert.equal(parseNetaddr('0x0a')?.bits, 8);
    assert.equal(parseNetaddr('10.0.0.0/8')?.bits, 8);
    assert.equal(parseNetaddr('::1')?.bits, 128);
    assert.equal(parseNetaddr('[::1]')?.bits, 128);
    assert.equal(parseNetaddr('[IPv6:2001:db8::]')?.family, 6);
    assert.equal(parseNetaddr('2001:db8::/32')?.bits, 32);
  });
  it('refuses what inet_net_pton refuses', () => {
    for (const bad of ['', 'local', '256.0.0.1', '1.2.3.4.5', '1.2.3.4/33', '1.2.3.4/', '::1/129', '[::1', '[::1]/128', 'fe80::1%eth0', '1..2', 'example.org']) {
      assert.equal(parseNetaddr(bad), undefined, bad);
    }
  });
  const cases: Array<[string, string, boolean]> = [
    ['192.168.1.7', '192.168.1.0/24', true],
    ['192.168.2.7', '192.168.1.0/24', false],
    ['10.1.2.3', '10', true],
    ['10.1.2.3', '10.1', true],
    ['10.2.2.3', '10.1', false],
    ['local', 'local', true],
    ['local', 'LOCAL', true],
    ['[::1]', '::1', true],
    ['[::1]', '[::1]', true],
    ['[2001:db8::5]', '2001:db8::/32', true],
    ['[2001:db9::5]', '2001:db8::/32', false],
    ['[::ffff:10.1.2.3]', '10.0.0.0/8', false], // families differ, as in smtpd
    ['[::ffff:10.1.2.3]', '::ffff:10.0.0.0/104', true],
    ['10.1.2.3', '0.0.0.0/0', true],
    ['[::1]', '::/0', true],
    ['mx.example.org', 'mx.example.org', true], // `from rdns` sends host names
  ];
  for (const [key, entry, want] of cases) {
    it(`${key} in ${entry} → ${want}`, () => assert.equal(netaddrMatch(key, entry), want));
  }
  it('classifies prefixes and non-canonical forms as patterns', () => {
    for (const k of ['10.0.0.0/8', '192.168.1', '10', '[IPv6:::1]', '::0:1', '::1/128', '0x0a000001', '*.example.org', 'user@*.example.org']) assert.ok(isPatternKey(k), k);
    for (const k of ['10.0.0.1', '::1', '[::1]', '2001:db8::1', '::ffff:1.2.3.4', 'local', 'example.org', 'user@example.org', 'alice']) assert.ok(!isPatternKey(k), k);
  });
  it('parses sockaddrs like parse_sockaddr', () => {
    for (const ok of ['192.0.2.1', '::1', '[::1]', '[IPv6:::1]', 'fe80::1%em0', '::1%3', '[::1]junk']) assert.ok(parseSockaddr(ok), ok);
    for (const bad of ['192.0.2', '01.2.3.4', 'host', '::1%em0', '']) assert.ok(!parseSockaddr(bad), bad);
  });
});

describe('mail addresses (text_to_mailaddr, mailaddr_match)', () => {
  const m = (s: string) => parseMailaddr(s)!;
  const cases: Array<[string, string, boolean]> = [
    ['user@example.org', 'user@example.org', true],
    ['user+tag@example.org', 'user@example.org', true],
    ['user+tag@example.org', 'user+tag@example.org', true],
    ['user+other@example.org', 'user+tag@example.org', false],
    ['user@example.org', 'user+tag@example.org', false],
    ['user@example.org', '@example.org', true],
    ['user@example.org', 'user', true],
    ['user+tag@example.org', 'user', true],
    ['user@a.example.org', 'user@*.example.org', true],
    ['user@example.org', 'user@*.example.org', false],
    ['user@example.org', '@', true],
    ['user@', 'user', true],
    ['user@', '@example.org', false],
    ['USER@Example.ORG', 'user@example.org', true],
    ['other@example.org', 'user', false],
  ];
  for (const [addr, entry, want] of cases) {
    it(`${addr} vs ${entry} → ${want}`, () => assert.equal(mailaddrMatch(m(addr), m(entry), '+'), want));
  }
  it('honours another delimiter', () => {
    assert.ok(mailaddrMatch(m('user-tag@example.org'), m('user@example.org'), '-'));
    assert.ok(!mailaddrMatch(m('user-tag@example.org'), m('user@example.org'), '+'));
  });
  it('splits lists like expand_line_split', () => {
    assert.deepEqual(splitList('a, b ,c'), ['a', 'b', 'c']);
    assert.deepEqual(splitList('"|cmd a, b", c'), ['"|cmd a, b"', 'c']);
    assert.deepEqual(splitList('a\\,b, c'), ['a,b', 'c']);
    assert.deepEqual(splitList(',, a ,'), ['a']);
    assert.equal(splitList('"unterminated'), undefined);
    assert.equal(splitList('trailing\\'), undefined);
  });
});

describe('regex (ERE as smtpd compiles it)', () => {
  const matches: Array<[string, string, boolean]> = [
    ['^mx[0-9]+\\.example\\.org$', 'mx12.example.org', true],
    ['^mx[0-9]+\\.example\\.org$', 'mx.example.org', false],
    ['example', 'www.example.org', true],
    ['^(foo|bar)@', 'bar@example.org', true],
    ['^[[:digit:]]{1,3}\\.', '192.0.2.1', true],
    ['^[A-Z]+$', 'abc', true], // folded like smtpd folds table keys
    ['^[[:upper:]]+$', 'abc', false], // the key is folded, the class is not
    ['(?i)^[[:upper:]]+$', 'abc', true],
    ['^[]a]+$', 'a]a', true],
    ['^a\\.b$', 'a.b', true],
    ['^a\\.b$', 'axb', false],
    ['^[^@]+@example\\.org$', 'jöe@example.org', true],
    ['^.{3}$', 'é', false], // two bytes, not one character
    ['^.{2}$', 'é', true],
    ['a{2}', 'baab', true],
    ['^[a\\]+$', 'a\\a', true], // backslash is literal inside brackets
  ];
  for (const [pattern, key, want] of matches) {
    it(`/${pattern}/ on ${key} → ${want}`, () => {
      const r = compileSmtpdRegex(pattern);
      assert.ok(r.ok, r.ok ? '' : r.reason);
      assert.equal(regexMatches(r.regex, key), want);
    });
  }
  for (const bad of ['\\d+', '\\w', 'a\\b', '(a)\\1', '*a', 'a**', 'a+?', 'a|', '()', '(?=a)', 'a{,3}', 'a{', 'a{300}', '[[=a=]]', '[[:foo:]]', '[z-a]', 'a)', '(a', '^*', 'é', '']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(compileSmtpdRegex(bad).ok, false));
  }
});

describe('values (table_parse_lookup)', () => {
  const cases: Array<[Parameters<typeof valueError>[0], string, string, boolean]> = [
    ['alias', 'root', 'alice', true],
    ['alias', 'root', 'alice, bob@example.org, /var/mail/x, "|/usr/bin/cmd arg", :include:/etc/list, error:550 no such user', true],
    ['alias', 'root', 'al ice', false],
    ['alias', 'root', 'error:55 bad', false],
    ['alias', 'root', 'include:relative', false],
    ['alias', 'root', '"|unterminated', false],
    // smtpd's alias_is_filter() takes a bare | (and "|"): an empty command, which fails only at delivery. Taken alike.
    ['alias', 'root', '|', true],
    ['alias', 'root', '"|"', true],
    ['alias', 'root', 'alice, |', true],
    ['alias', 'root', 'a@', false],
    ['credentials', 'alice', 'alice:$2b$10$abcdefghijklmnopqrstuv', true],
    ['credentials', 'alice', '$6$salt$hash', true],
    ['credentials', 'alice', ':hash', false],
    ['credentials', 'alice', 'user:', false],
    ['credentials', 'alice', 'ab', false],
    ['userinfo', 'joe', '1000:100:/home/joe', true],
    ['userinfo', 'joe', '1000:100:', true],
    ['userinfo', 'joe', '-1:100:/home/joe', false],
    ['userinfo', 'joe', '1000:/home/joe', false],
    ['userinfo', 'joe', 'x:100:/home/joe', false],
    ['userinfo', 'joe', '4294967296:100:/home/joe', false],
    ['netaddr', 'k', '192.168.0.0/16', true],
    ['netaddr', 'k', 'nope', false],
    ['source', 'k', '192.0.2.1', true],
    ['source', 'k', '[2001:db8::1]', true],
    ['source', 'k', '192.0.2.0/24', false],
    ['mailaddr', 'k', 'user@example.org', true],
    ['mailaddrmap', 'alice', 'alice@example.org, @example.net, bob', true],
    ['mailaddrmap', 'alice', '"alice@example.org', false],
    ['addrname', '192.0.2.1', 'mx.example.org', true],
    ['addrname', 'mx', 'mx.example.org', false],
    ['relayhost', 'example.org', 'smtp+tls://label@mx.example.org:587', true],
    ['relayhost', 'example.org', 'mx.example.org', true],
    ['relayhost', 'example.org', 'smtps://[2001:db8::1]', true],
    ['relayhost', 'example.org', 'lmtp://localhost:24', true],
    ['relayhost', 'example.org', 'lmtp://localhost', false],
    ['relayhost', 'example.org', 'smtp://label@mx.example.org', false],
    ['relayhost', 'example.org', 'http://mx.example.org', false],
    ['relayhost', 'example.org', 'smtp://mx.example.org:0', false],
    ['relayhost', 'example.org', 'smtp://-mx.example.org', false],
    ['domain', 'example.org', 'example.org', true],
    ['string', 'k', 'anything at all', true],
  ];
  for (const [service, key, value, ok] of cases) {
    it(`${service} ${JSON.stringify(value.slice(0, 60))} → ${ok ? 'taken' : 'refused'}`, () => {
      const err = valueError(service, key, value);
      assert.equal(err === undefined, ok, err);
    });
  }
  it('checks keys: length, line breaks, regex syntax', () => {
    assert.equal(entryError('alias', 'x'.repeat(1023), 'a'), undefined);
    assert.ok(entryError('alias', 'x'.repeat(1024), 'a'));
    assert.ok(entryError('alias', 'a\nb', 'a'));
    assert.ok(entryError('regex', '\\d', 'x'));
    assert.equal(entryError('regex', '^a', 'x'), undefined);
  });
  it('folds keys as smtpd lowercase() does (ASCII only)', () => {
    assert.equal(foldKey('Alice@Example.ORG'), 'alice@example.org');
    assert.equal(foldKey('ÉCOLE'), 'École');
  });
});

describe('relay URLs', () => {
  it('accepts address literals', () => assert.equal(relayhostError('smtp://[192.0.2.1]:2525'), undefined));
});
