// The kinds of value a configuration key can hold: each one validates a
// value read from a file (TOML or JSON) or given as a command-line flag,
// converts it to what the code uses (seconds to milliseconds, a URL to its
// origin, "0660" to a mode), and describes its type and range for the
// README. A kind throws ConfigError naming the key; it never returns a value
// it has not checked.

import { isService, LIMITS, SERVICES, type Service } from '../../common/contract/lookup.js';
import { parseListenAddress } from '../addresses/listen-address.js';
import { parseMetricsAddress, type MetricsAddress } from '../addresses/metrics-address.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface Kind<T> {
  /** Type and range in words, for the reference table ("integer, 1–1024"). */
  describe: string;
  /** Validates and converts a value from a file; `name` is the key (or flag) the error names. */
  parse(raw: unknown, name: string): T;
  /** A flag's text as the file would hold it (flags are strings; numbers and booleans are not). */
  fromText?(text: string): unknown;
  /** A file value as the README shows it. */
  show?(raw: unknown): string;
}

const numberText = (text: string): unknown => (/^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text);

function range(min: number, max: number): string {
  return `${min}–${max}`;
}

export function integer(min: number, max: number, unit?: string): Kind<number> {
  return {
    describe: `integer${unit ? ` (${unit})` : ''}, ${range(min, max)}`,
    parse(raw, name) {
      const n = typeof raw === 'bigint' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
      return n;
    },
    fromText: numberText,
  };
}

/** A number of seconds in the file, milliseconds in the code. */
export function seconds(min: number, max: number): Kind<number> {
  return {
    describe: `seconds, ${range(min, max)}`,
    parse(raw, name) {
      const n = typeof raw === 'bigint' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${name} must be a number of seconds from ${min} to ${max}`);
      return Math.round(n * 1000);
    },
    fromText: numberText,
  };
}

export const boolean: Kind<boolean> = {
  describe: '`true` or `false`',
  parse(raw, name) {
    if (typeof raw !== 'boolean') throw new ConfigError(`${name} must be true or false`);
    return raw;
  },
  fromText: (text) => (text === 'true' ? true : text === 'false' ? false : text),
};

export const text: Kind<string> = {
  describe: 'string',
  parse(raw, name) {
    if (typeof raw !== 'string' || raw === '') throw new ConfigError(`${name} must be a non-empty string`);
    return raw;
  },
};

export function oneOf<const T extends string>(values: readonly T[]): Kind<T> {
  return {
    describe: values.map((v) => `\`${v}\``).join(', '),
    parse(raw, name) {
      if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${values.join(', ')}`);
      return raw as T;
    },
  };
}

/** An http(s) origin: a path or query is refused, not dropped, so that what the file says is what is called. */
export const origin: Kind<string> = {
  describe: 'http(s) URL, origin only',
  parse(raw, name) {
    const s = text.parse(raw, name);
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new ConfigError(`${name}: ${s} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${name} must be http or https`);
    if (u.pathname !== '/' || u.search || u.hash) throw new ConfigError(`${name} must be an origin (scheme://host[:port]/), without a path`);
    return u.origin;
  },
};

export const tableName: Kind<string> = {
  describe: 'table name',
  parse(raw, name) {
    const s = text.parse(raw, name);
    if (!LIMITS.tableName.test(s)) throw new ConfigError(`${name}: ${JSON.stringify(s)} is not a table name (${String(LIMITS.tableName)})`);
    return s;
  },
};

/** smtpd's name of a table (the first word after `table` in smtpd.conf). */
export const smtpdTableName: Kind<string> = {
  describe: 'smtpd table name',
  parse(raw, name) {
    const s = text.parse(raw, name);
    if (/[\s|\0]/.test(s)) throw new ConfigError(`${name}: ${JSON.stringify(s)} cannot be an smtpd table name`);
    return s;
  },
};

/** A socketmap map name: what follows the map's name on the wire is the key, after one space. */
export const mapName: Kind<string> = {
  describe: 'map name (no spaces)',
  parse(raw, name) {
    const s = text.parse(raw, name);
    if (/[\s\0]/.test(s)) throw new ConfigError(`${name}: ${JSON.stringify(s)} cannot be a map name (no spaces)`);
    return s;
  },
};

export const service: Kind<Service> = {
  describe: 'table(5) service',
  parse(raw, name) {
    if (!isService(raw)) throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not a table(5) service (${SERVICES.join(', ')})`);
    return raw;
  },
};

export const services: Kind<Service[]> = {
  describe: `list of table(5) services (${SERVICES.join(', ')})`,
  parse(raw, name) {
    if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(`${name} must be a non-empty list`);
    return raw.map((x, i) => service.parse(x, `${name}[${i}]`));
  },
  fromText: (t) => t.split(',').map((s) => s.trim()),
  show: (raw) => (Array.isArray(raw) ? raw.join(', ') : String(raw)),
};

/** `replica.tables`: `auto`, `none`, or a list of table names. */
export const replicaTables: Kind<'auto' | 'none' | string[]> = {
  describe: '`auto`, `none`, or list of table names',
  parse(raw, name) {
    if (raw === 'auto' || raw === 'none') return raw;
    if (!Array.isArray(raw)) throw new ConfigError(`${name} must be "auto", "none" or a list of table names`);
    return raw.map((x, i) => tableName.parse(x, `${name}[${i}]`));
  },
  fromText: (t) => (t === 'auto' || t === 'none' ? t : t.split(',').map((s) => s.trim())),
  show: (raw) => (Array.isArray(raw) ? raw.join(', ') : String(raw)),
};

export const listenAddress: Kind<string> = {
  describe: '`inet:HOST:PORT` (IPv6 host in brackets) or `unix:PATH`',
  parse(raw, name) {
    const s = text.parse(raw, name);
    try {
      parseListenAddress(s);
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`);
    }
    return s;
  },
};

/** Permission bits: TOML has octal integers (0o660); a string "0660" reads as people write modes. */
export const fileMode: Kind<number> = {
  describe: 'octal mode, e.g. `"0660"`',
  parse(raw, name) {
    const mode = typeof raw === 'string' && /^0?[0-7]{3}$/.test(raw) ? parseInt(raw, 8) : raw;
    if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new ConfigError(`${name} must be an octal mode from "0000" to "0777", e.g. "0660"`);
    return mode;
  },
  show: (raw) => `"${String(raw)}"`,
};

export const metricsAddress: Kind<MetricsAddress> = {
  describe: '`PORT`, `HOST:PORT` or `[IPV6]:PORT`',
  parse(raw, name) {
    const s = typeof raw === 'number' ? String(raw) : text.parse(raw, name);
    try {
      return parseMetricsAddress(s);
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`);
    }
  },
};

/** smtpd.conf's own rule for `smtp sub-addr-delim`: one printable character other than space and `@`. */
export const delimiter: Kind<string> = {
  describe: 'one printable character, not space or `@`',
  parse(raw, name) {
    if (typeof raw !== 'string' || !/^[\x21-\x3f\x41-\x7e]$/.test(raw)) throw new ConfigError(`${name} must be one printable character other than space and @`);
    return raw;
  },
};
