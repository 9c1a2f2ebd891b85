// User and group names to numeric ids for chown. Node has no getpwnam, and
// reading /etc/passwd would miss NSS (LDAP, sssd): getent asks NSS.

import { execFileSync } from 'node:child_process';

export function userId(name: string): number {
  return lookup('passwd', name);
}

export function groupId(name: string): number {
  return lookup('group', name);
}

function lookup(db: 'passwd' | 'group', name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  let line: string;
  try {
    line = execFileSync('getent', [db, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    throw new Error(`no ${db === 'passwd' ? 'user' : 'group'} named ${name}`);
  }
  // name:password:ID:…
  const id = Number(line.split(':')[2]);
  if (!Number.isInteger(id)) throw new Error(`getent ${db} ${name}: unexpected answer`);
  return id;
}
