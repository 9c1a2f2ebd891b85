// Listen addresses as written after `socketmap:` in Postfix's main.cf:
// `inet:HOST:PORT` (HOST may be `[v6]`) and `unix:PATH`. Parsed here, apart
// from the socketmap server, so that the configuration validates them
// without loading the server.

import { isIP } from 'node:net';
import { resolve } from 'node:path';

export type ListenAddress = { kind: 'inet'; host: string; port: number } | { kind: 'unix'; path: string };

export const DEFAULT_PORT = 8788;
export const DEFAULT_LISTEN = `inet:127.0.0.1:${DEFAULT_PORT}`;

/** Parses a listen address; throws an Error that says what is wrong. */
export function parseListenAddress(spec: string): ListenAddress {
  if (spec.startsWith('unix:')) {
    const path = spec.slice(5);
    if (path === '') throw new Error(`${spec}: unix: needs a socket path`);
    return { kind: 'unix', path: resolve(path) };
  }
  if (spec.startsWith('inet:')) {
    const rest = spec.slice(5);
    const colon = rest.lastIndexOf(':');
    if (colon <= 0) throw new Error(`${spec}: expected inet:HOST:PORT`);
    let host = rest.slice(0, colon);
    const portText = rest.slice(colon + 1);
    if (host.startsWith('[') && host.endsWith(']')) {
      host = host.slice(1, -1);
      if (isIP(host) !== 6) throw new Error(`${spec}: [${host}] is not an IPv6 address`);
    } else if (host.includes(':')) {
      throw new Error(`${spec}: write an IPv6 address in brackets, inet:[::1]:PORT`);
    }
    const port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port > 65535) throw new Error(`${spec}: ${portText} is not a port number`);
    return { kind: 'inet', host, port };
  }
  throw new Error(`${spec}: a listen address is inet:HOST:PORT or unix:PATH`);
}

export function formatListenAddress(a: ListenAddress): string {
  if (a.kind === 'unix') return `unix:${a.path}`;
  return `inet:${isIP(a.host) === 6 ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Loopback or UNIX: reachable from this host only. */
export function isLocalOnly(a: ListenAddress): boolean {
  if (a.kind === 'unix') return true;
  return a.host === 'localhost' || a.host === '::1' || /^127\./.test(a.host);
}
