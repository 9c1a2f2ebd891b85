// Who can read what through socketmap, through real `cloudtable sockmap`
// processes: only configured maps are served unless the operator opts in;
// a secret map (credentials) is refused on an inet listener, which every
// local user can reach, and served on a UNIX socket to the user its owner
// and mode let in (clients run as other users, the test being root); an
// inet listener serving every table is warned about at start; a UNIX
// socket is never connectable with other permissions than configured,
// whatever the umask, and its path may not be a symlink.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { startTestBackend, TEST_ENV } from './helpers/backend.js';
import { CLI, ROOT } from './helpers/cli.js';
import { parseLogs } from './helpers/logs.js';
import { writeConfig } from './helpers/smtpd-peer.js';
import { SockmapClient, startSockmap } from './helpers/sockmap.js';

const HASH = '$2b$10$hIJ4QfMcp.90nJwKqGbKM.MybArjHOTpEtoTV.DgLYAiThuoYmTSe';
const asRoot = process.getuid?.() === 0;

/**
 * One socketmap request over a UNIX socket, from a process running as
 * `user` (plain node, no project code); asynchronous, as the backend runs in
 * this process.
 */
function requestAs(user: string, path: string, request: string): Promise<string> {
  const script = `const s=require('net').connect(process.argv[1]);s.on('error',e=>{process.stdout.write('ERROR '+e.code);process.exit(0)});s.on('connect',()=>s.write(Buffer.byteLength(process.argv[2])+':'+process.argv[2]+','));let b='';s.on('data',d=>{b+=d;const m=/^(\\d+):/.exec(b);if(m&&b.length>=m[0].length+Number(m[1])+1){process.stdout.write(b.slice(m[0].length,m[0].length+Number(m[1])));process.exit(0)}})`;
  const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout);
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout);
  const child = spawn(process.execPath, ['-e', script, path, request], { uid, gid, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('close', () => resolve(out)));
}

describe('socketmap exposure', { skip: asRoot ? false : 'needs root to run clients as other users' }, () => {
  let backend: Backend;
  let dir: string;
  before(async () => {
    backend = await startTestBackend({ aliases: [['root', 'alice']], relaycreds: [['relay1', 'relayuser:RelayPassw0rd']] });
    await replaceTable(backend.store, 'passwd', [['alice', HASH]], 'credentials');
    dir = mkdtempSync(join(tmpdir(), 'cloudtable-exposure-'));
    chmodSync(dir, 0o711); // other users may reach the socket, as in /run/cloudtable
  });
  after(() => backend?.close());

  it('by default: configured maps only; the credentials map refused on inet, served on the UNIX socket to its owner only', async () => {
    const sock = join(dir, 'postfix.sock');
    const config = writeConfig(
      `[upstream]\nurl = "${backend.url}"\n` +
        `[[sockmap.listen]]\naddress = "inet:127.0.0.1:0"\n[[sockmap.listen]]\naddress = "unix:${sock}"\nmode = "0600"\nowner = "nobody"\n` +
        `[sockmap.maps.passwd]\nservice = "credentials"\n[sockmap.maps.aliases]\n`,
    );
    const server = await startSockmap(['--config', config], { anyTable: false, listeners: 2 });
    try {
      const inet = await SockmapClient.connect(server.listeners.find((l) => l.startsWith('inet:'))!);
      assert.equal(await inet.request('passwd', 'alice'), 'PERM map passwd is not served on inet listeners');
      assert.equal(await inet.request('relaycreds', 'relay1'), 'PERM unknown map relaycreds');
      assert.equal(await inet.request('aliases', 'root'), 'OK alice');
      inet.close();

      assert.equal(statSync(sock).mode & 0o777, 0o600);
      assert.equal(await requestAs('nobody', sock, 'passwd alice'), `OK ${HASH}`);
      assert.equal(await requestAs('daemon', sock, 'passwd alice'), 'ERROR EACCES');
      assert.ok(!parseLogs(server.stderr).some((l) => /serve every table|secret maps/.test(String(l.msg))), 'no exposure warning');
    } finally {
      await server.stop();
    }
  });

  it('opting in: every table on inet, with a warning at start; a secret map allowed on inet is warned about too', async () => {
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[sockmap]\nany_table = true\nany_table_inet = true\n[sockmap.maps.passwd]\nservice = "credentials"\nallow_inet = true\n`);
    const server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config], { anyTable: false });
    try {
      const c = await SockmapClient.connect(server.listeners[0]!);
      assert.equal(await c.request('relaycreds', 'relay1'), 'OK relayuser:RelayPassw0rd');
      assert.equal(await c.request('passwd', 'alice'), `OK ${HASH}`);
      c.close();
      const warnings = parseLogs(server.stderr).filter((l) => l.level === 40).map((l) => String(l.msg));
      assert.ok(warnings.some((m) => m.startsWith('inet listeners serve every table')), warnings.join('\n'));
      assert.ok(warnings.some((m) => m.startsWith('secret maps served on inet listeners')), warnings.join('\n'));
    } finally {
      await server.stop();
    }
  });

  it('any_table alone serves unconfigured maps on the UNIX socket, not on inet', async () => {
    const sock = join(dir, 'any.sock');
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[sockmap]\nany_table = true\n[[sockmap.listen]]\naddress = "inet:127.0.0.1:0"\n[[sockmap.listen]]\naddress = "unix:${sock}"\nmode = "0666"\n`);
    const server = await startSockmap(['--config', config], { anyTable: false, listeners: 2 });
    try {
      const inet = await SockmapClient.connect(server.listeners.find((l) => l.startsWith('inet:'))!);
      assert.equal(await inet.request('aliases', 'root'), 'PERM map aliases is not served on inet listeners');
      inet.close();
      assert.equal(await requestAs('daemon', sock, 'aliases root'), 'OK alice');
    } finally {
      await server.stop();
    }
  });

  it('a UNIX socket is never connectable with wider permissions than configured, even under umask 000', async () => {
    const sock = join(dir, 'umask.sock');
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[[sockmap.listen]]\naddress = "unix:${sock}"\nmode = "0600"\n[sockmap.maps.aliases]\n`);
    // A watcher polls the path as fast as it can and reports the mode it first sees there.
    const watcher = spawn(process.execPath, ['-e', `const fs=require('fs');for(;;){try{const s=fs.lstatSync(process.argv[1]);process.stdout.write((s.mode&0o777).toString(8));process.exit(0)}catch{}}`, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let first = '';
    watcher.stdout.on('data', (d: Buffer) => (first += d.toString()));
    const child = spawn('sh', ['-c', 'umask 000; exec "$@"', 'sh', ...CLI, 'sockmap', '--config', config], { cwd: ROOT, env: { ...process.env, ...TEST_ENV } });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      await new Promise((resolve) => watcher.once('exit', resolve));
      assert.equal(first, '600', 'the first mode seen at the socket path');
      assert.equal(lstatSync(sock).mode & 0o777, 0o600);
    } finally {
      watcher.kill();
      child.kill('SIGTERM');
    }
  });

  it('a symlink at the socket path is refused, never followed', async () => {
    const target = join(dir, 'victim');
    writeFileSync(target, 'do not chmod me\n');
    chmodSync(target, 0o600);
    const link = join(dir, 'link.sock');
    symlinkSync(target, link);
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[[sockmap.listen]]\naddress = "unix:${link}"\nmode = "0666"\nowner = "nobody"\n`);
    await assert.rejects(startSockmap(['--config', config], { anyTable: false }), /exists and is not a socket/);
    assert.equal(statSync(target).mode & 0o777, 0o600);
    assert.equal(statSync(target).uid, 0);
  });
});
