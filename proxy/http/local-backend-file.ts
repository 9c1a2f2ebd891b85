// The file where the local backend (`cloudtable backend`, `npm start`)
// leaves the key pair it generated, so that the other commands of the same
// user (load, show, status, rollback, smtpd, sockmap) sign their requests to
// it without AWS_* exported by hand, and the secret is never printed:
// $XDG_CONFIG_HOME/cloudtable/local-backend.json (~/.config by default),
// mode 0600 in a 0700 directory, with the backends' URLs. It is read only
// to sign for a loopback URL it names, and only when the environment has no
// AWS_ACCESS_KEY_ID (credentials the user exported win, as the AWS chain's
// environment provider does). A pair the user gave the backend is never
// written: the backend only takes its URLs off the file, so a stale
// generated pair is not used against it.

import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

interface Saved extends KeyPair {
  /** Origins of the backends that accept the pair, newest last. */
  urls: string[];
}

/** Origins kept: every `--port 0` start adds one. */
const MAX_URLS = 32;

/** $XDG_CONFIG_HOME/cloudtable/local-backend.json, else ~/.config/cloudtable/local-backend.json. */
export function localBackendFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'cloudtable', 'local-backend.json');
}

function read(path: string): Saved | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // none yet, or not ours to understand: as if absent
  }
  const j = raw as Partial<Saved>;
  if (typeof j.accessKeyId !== 'string' || typeof j.secretAccessKey !== 'string' || !Array.isArray(j.urls)) return undefined;
  return { accessKeyId: j.accessKeyId, secretAccessKey: j.secretAccessKey, urls: j.urls.filter((u): u is string => typeof u === 'string' && URL.canParse(u)) };
}

/** Replaces the file whole (a reader never sees half of it), readable by its owner only. */
function write(path: string, saved: Saved): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  const staging = `${path}.${process.pid}.tmp`;
  writeFileSync(staging, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
  chmodSync(staging, 0o600);
  renameSync(staging, path);
}

/** The pair a backend of this user generated before: a restarted backend takes it again, so running proxies keep working. */
export function savedKeyPair(env: NodeJS.ProcessEnv = process.env): KeyPair | undefined {
  const f = read(localBackendFile(env));
  return f && { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey };
}

/** Records that the backends at `urls` accept the generated `pair`; returns the file's path. */
export function recordLocalBackend(urls: string[], pair: KeyPair, env: NodeJS.ProcessEnv = process.env): string {
  const path = localBackendFile(env);
  const old = read(path);
  const same = old !== undefined && old.accessKeyId === pair.accessKeyId && old.secretAccessKey === pair.secretAccessKey;
  const origins = urls.map((u) => new URL(u).origin);
  const kept = same ? old.urls.filter((u) => !origins.includes(u)) : [];
  write(path, { accessKeyId: pair.accessKeyId, secretAccessKey: pair.secretAccessKey, urls: [...kept, ...origins].slice(-MAX_URLS) });
  return path;
}

/** A backend started with the user's own pair: its URLs leave the file, whose pair it does not accept. */
export function forgetLocalBackend(urls: string[], env: NodeJS.ProcessEnv = process.env): void {
  const path = localBackendFile(env);
  const old = read(path);
  if (!old) return;
  const ports = new Set(urls.map((u) => new URL(u).port));
  const left = old.urls.filter((u) => !ports.has(new URL(u).port));
  if (left.length !== old.urls.length) write(path, { ...old, urls: left });
}

/** A loopback address (or the wildcard a backend may listen on, reached through loopback). */
function isLocal(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '[::]' || hostname === '0.0.0.0' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Whether the file can apply to `url` at all: a loopback URL, and no AWS_ACCESS_KEY_ID in the environment. */
export function mayUseLocalBackendFile(url: URL, env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.AWS_ACCESS_KEY_ID && isLocal(url.hostname);
}

/**
 * The pair to sign with for `url`: the file's, when `url` is on loopback,
 * the file names a backend on its port, and the environment has no
 * AWS_ACCESS_KEY_ID; otherwise undefined (the AWS chain decides).
 */
export function localBackendKeyPair(url: URL, env: NodeJS.ProcessEnv = process.env): KeyPair | undefined {
  if (!mayUseLocalBackendFile(url, env)) return undefined;
  const f = read(localBackendFile(env));
  const listed = f?.urls.some((u) => {
    const r = new URL(u);
    return r.protocol === url.protocol && r.port === url.port && isLocal(r.hostname);
  });
  return listed ? { accessKeyId: f!.accessKeyId, secretAccessKey: f!.secretAccessKey } : undefined;
}
