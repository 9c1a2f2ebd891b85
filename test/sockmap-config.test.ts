// The [sockmap] configuration section: defaults, and a clear error for each kind of mistake.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig, ConfigError } from '../proxy/config.js';
import { sockmapConfig } from '../proxy/commands/sockmap.js';
import { writeConfig } from './helpers/smtpd-peer.js';

describe('sockmap configuration', () => {
  it('defaults to one Postfix listener on 127.0.0.1, only configured maps, PERM for unknown maps', () => {
    const c = buildConfig({}).sockmap;
    assert.deepEqual(c.listen, [{ address: 'inet:127.0.0.1:8788', dialect: 'postfix', mode: 0o660 }]);
    assert.equal(c.anyTable, false);
    assert.equal(c.anyTableInet, false);
    assert.equal(c.unknownMap, 'PERM');
    assert.equal(c.maxRequestBytes, 65536);
  });

  it('reads listeners and maps', () => {
    const c = buildConfig({
      sockmap: {
        listen: [{ address: 'unix:/run/x.sock', dialect: 'sendmail', mode: '0600', group: 'smmsp' }, { address: 'inet:[::1]:9' }],
        maps: { virtuser: { table: 'virtual', fold_case: true, not_found: 'NOMORE' }, domains: { service: 'domain' } },
      },
    }).sockmap;
    assert.deepEqual(c.listen[0], { address: 'unix:/run/x.sock', dialect: 'sendmail', mode: 0o600, group: 'smmsp' });
    assert.deepEqual(c.maps.virtuser, { table: 'virtual', service: 'string', foldCase: true, notFound: 'NOMORE', allowInet: false });
    assert.deepEqual(c.maps.domains, { table: 'domains', service: 'domain', foldCase: false, notFound: 'NOTFOUND', allowInet: false });
  });

  it('refuses each kind of mistake with a message naming the key', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ listen: [{ address: 'tcp:1.2.3.4:5' }] }, /sockmap\.listen\[0\]\.address: .*inet:HOST:PORT or unix:PATH/],
      [{ listen: [{ address: 'inet:::1:25' }] }, /IPv6 address in brackets/],
      [{ listen: [{ address: 'inet:127.0.0.1:70000' }] }, /not a port number/],
      [{ listen: [{ address: 'unix:/x', dialect: 'exim' }] }, /dialect must be one of postfix, sendmail/],
      [{ listen: [{ address: 'unix:/x', mode: '0999' }] }, /mode/],
      [{ listen: [] }, /non-empty list/],
      [{ maps: { virtual: { table: 'no/such' } } }, /sockmap\.maps\.virtual\.table/],
      [{ maps: { virtual: { service: 'alias-ish' } } }, /not a table\(5\) service/],
      [{ maps: { virtual: { not_found: 'MISSING' } } }, /not_found must be one of NOTFOUND, NOMORE/],
      [{ unknown_map: 'TEMP' }, /unknown_map must be one of PERM, NOTFOUND/],
      [{ max_inflight: 0 }, /max_inflight must be an integer/],
      [{ listener: [] }, /unknown key listener/],
    ];
    for (const [sockmap, message] of bad) assert.throws(() => buildConfig({ sockmap }), (err: Error) => err instanceof ConfigError && message.test(err.message), JSON.stringify(sockmap));
  });

  it('lets --listen replace the configured listeners, with --dialect', () => {
    const file = writeConfig(`[[sockmap.listen]]\naddress = "unix:/run/a.sock"\n`);
    assert.deepEqual(sockmapConfig({ config: file }).sockmap.listen.map((l) => l.address), ['unix:/run/a.sock']);
    const c = sockmapConfig({ config: file, listen: ['inet:127.0.0.1:1', 'unix:/run/b.sock'], dialect: 'sendmail' });
    assert.deepEqual(c.sockmap.listen.map((l) => [l.address, l.dialect]), [['inet:127.0.0.1:1', 'sendmail'], ['unix:/run/b.sock', 'sendmail']]);
    assert.throws(() => sockmapConfig({ listen: ['nowhere'] }), /--listen\.address: nowhere: a listen address is/);
    assert.throws(() => sockmapConfig({ dialect: 'sendmail' }), /--dialect applies to --listen/);
  });
});
