// Health: the socketmap health map (end to end through the function, for
// monitoring and `postmap -q`), and `cloudtable status` reporting what a
// running proxy serves, from its metrics endpoint.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { buildConfig, ConfigError } from '../proxy/config.js';
import { netstring } from '../proxy/sockmap/netstring.js';
import { TEST_ENV, startTestBackend } from './helpers/backend.js';
import { runCli } from './helpers/cli.js';
import { refusedPort } from './helpers/fault-servers.js';
import { isMetricsListening, metricsBase, waitForLog } from './helpers/logs.js';
import { findPostmap, Postmap } from './helpers/postfix.js';
import { sleep } from './helpers/resolver.js';
import { SockmapClient, startSockmap, type RunningSockmap } from './helpers/sockmap.js';
import { writeConfig } from './helpers/smtpd-peer.js';

const POSTMAP = findPostmap();

describe('health', () => {
  let backend: Backend;
  let server: RunningSockmap;
  let client: SockmapClient;
  let metrics: string;
  let generation: number;

  before(async () => {
    backend = await startTestBackend();
    generation = await replaceTable(backend.store, 'aliases', [['root', 'alice']], 'alias');
    // max_staleness_s long: no background generation check runs while the
    // last test counts the requests its health checks made.
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[breaker]\nfailures = 1000\n[cache]\nmax_staleness_s = 3600\n[sockmap]\nhealth_map = "health"\n`);
    server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config, '--metrics', '127.0.0.1:0']);
    metrics = metricsBase(await waitForLog(() => server.stderr, isMetricsListening));
    client = await SockmapClient.connect(server.listeners[0]!);
  });
  after(async () => {
    client?.close();
    await server?.stop();
    await backend?.close();
  });

  it('the health map answers OK with the generation the function serves, TEMP with the cause when it cannot', async () => {
    assert.match(await client.request('health', 'aliases'), new RegExp(`^OK table aliases generation ${generation}, answered in \\d+ ms$`));
    assert.match(await client.request('health', 'nosuchtable'), /^TEMP HTTP 404 unknown-table/);
    assert.equal(await client.request('health', 'not a table'), 'PERM the health map is asked for a table name');
    // Other maps are untouched by it.
    assert.equal(await client.request('aliases', 'root'), 'OK alice');
  });

  it('real Postfix: postmap -q TABLE socketmap:…:health', { skip: POSTMAP ? false : 'postmap not installed' }, async () => {
    const r = await new Postmap(POSTMAP!).query('aliases', server.listeners[0]!, 'health');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^table aliases generation ${generation}, answered in \\d+ ms\\n$`));
  });

  it('cloudtable status: the admin view, then the proxy: upstream, circuit, cache, generation served against the active one', async () => {
    const urls = ['--admin', backend.url, '--upstream', backend.url];
    let r = await runCli(['status', ...urls, '--proxy', metrics], TEST_ENV);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^  aliases: generation ${generation} \\(epoch \\d+\\), service alias, 1 entries`, 'm'));
    const proxy = new RegExp(`^proxy ${metrics}: upstream ${backend.url}, circuit closed; cache 1 entries, [\\d.]+ MiB of 64\\.0 MiB; in flight: 0 lookups, 0 requests; requests to the function: ok \\d+(, function-error \\d+)?; hedges sent \\d+, won \\d+, refused by the budget \\d+; failovers 0; endpoints us-east-1 \\d+ ms \\(ejected 0 times, 0 slow calls\\); [\\d.]+ MiB resident$`, 'm');
    assert.match(r.stdout, proxy);
    assert.match(r.stdout, new RegExp(`^  aliases: generation ${generation}; lookups 0 hit, 0 negative, 1 miss, 0 stale, 0 error, 0 timeout$`, 'm'));

    // A new generation: until the proxy hears of it, status shows it behind.
    const next = await replaceTable(backend.store, 'aliases', [['root', 'bob']], 'alias');
    // --metrics, the old name of --proxy, still works.
    r = await runCli(['status', ...urls, '--metrics', metrics], TEST_ENV);
    assert.match(r.stdout, new RegExp(`^  aliases: generation ${generation} \\(the active one is ${next}\\);`, 'm'));
  });

  it('cloudtable status exits 69 when a proxy cannot be read, after printing the rest', async () => {
    const gone = `http://127.0.0.1:${await refusedPort()}`;
    const r = await runCli(['status', '--admin', backend.url, '--upstream', backend.url, '--proxy', gone], TEST_ENV);
    assert.equal(r.code, 69);
    assert.match(r.stdout, /^ {2}aliases: generation/m);
    assert.match(r.stdout, new RegExp(`^proxy ${gone}: cannot read its metrics: `, 'm'));
  });

  it('the health map reports a failing function, and a verdict is reused for a second', async () => {
    await backend.close();
    await sleep(1100); // the last OK verdict expires
    const t0 = performance.now();
    client.write(Array.from({ length: 20 }, () => netstring('health aliases')).join(''));
    const down = await client.next(20);
    for (const d of down) assert.match(d, /^TEMP .*ECONNREFUSED/);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
    const requests = await runCli(['status', '--admin', backend.url, '--proxy', metrics], TEST_ENV);
    const failed = /requests to the function: [^;]*network (\d+)/.exec(requests.stdout);
    assert.equal(failed?.[1], '1', `20 concurrent checks make one request: ${requests.stdout} ${requests.stderr}`);
  });

  it('sockmap.health_map: a map name, not one of the configured maps', () => {
    assert.equal(buildConfig({ sockmap: { health_map: 'health' } }).sockmap.healthMap, 'health');
    assert.equal(buildConfig({}).sockmap.healthMap, undefined);
    assert.throws(() => buildConfig({ sockmap: { health_map: 'a b' } }), ConfigError);
    assert.throws(() => buildConfig({ sockmap: { health_map: 'x', maps: { x: {} } } }), /also a configured map/);
  });
});
