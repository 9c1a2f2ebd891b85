// The local backend's identities file (`cloudtable backend --identities
// FILE`): further key pairs, each standing for an IAM principal, and the
// reader's per-table read access, so that what AWS decides from IAM can be
// tried locally. TOML (or JSON):
//
//   [[identities]]
//   access_key_id = "AKIDMAIL1"
//   secret_access_key = "…"
//   arn = "arn:aws:iam::000000000000:role/mail-1"
//
//   [read_access]
//   passwd = ["arn:aws:iam::000000000000:role/mail-1"]

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { checkReadAccess, type ReadAccess } from '../../lambda/read-access.js';
import { principalOf, type LocalIdentity } from '../../lambda/local/sigv4-verify.js';

export interface LocalIdentities {
  identities: LocalIdentity[];
  readAccess?: ReadAccess;
}

export function loadLocalIdentities(path: string): LocalIdentities {
  let raw: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    raw = extname(path) === '.json' ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  const r = raw as { identities?: unknown; read_access?: unknown };
  for (const k of Object.keys(r)) if (k !== 'identities' && k !== 'read_access') throw new Error(`${path}: unknown key ${k} (known: identities, read_access)`);
  const list = r.identities ?? [];
  if (!Array.isArray(list)) throw new Error(`${path}: identities must be a list of [[identities]] tables`);
  const identities = list.map((x: unknown, i): LocalIdentity => {
    const e = x as Record<string, unknown>;
    const field = (name: string): string => {
      const v = e[name];
      if (typeof v !== 'string' || v === '') throw new Error(`${path}: identities[${i}].${name} must be a non-empty string`);
      return v;
    };
    const id = { accessKeyId: field('access_key_id'), secretAccessKey: field('secret_access_key'), arn: field('arn') };
    try {
      principalOf(id);
    } catch (err) {
      throw new Error(`${path}: identities[${i}].arn: ${(err as Error).message}`);
    }
    return id;
  });
  let readAccess: ReadAccess | undefined;
  try {
    if (r.read_access !== undefined) readAccess = checkReadAccess(r.read_access);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  return { identities, ...(readAccess && { readAccess }) };
}
