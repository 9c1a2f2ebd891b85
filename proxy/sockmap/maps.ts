// Which table and lookup service a socketmap map name stands for, and on
// which listeners it is served. An inet listener on loopback is open to
// every local user (TCP says nothing of who connects), so secret maps
// (credentials, auth) are served there only when the map allows it, and
// unconfigured map names only when the operator opted in for inet; a UNIX
// socket's file permissions say who connects.

import { LIMITS, type Service } from '../../common/contract/lookup.js';
import type { SockmapConfig } from '../config.js';
import type { NotFoundCode } from './dialect.js';

export interface MapTarget {
  table: string;
  service: Service;
  foldCase: boolean;
  notFound: NotFoundCode;
  /** Served on inet listeners. */
  inet: boolean;
}

/** Services whose values are secrets (password hashes, relay passwords). */
const SECRET_SERVICES: readonly Service[] = ['credentials', 'auth'];

/** An unconfigured map name stands for the table of that name, exact match. */
const DEFAULT_SERVICE: Service = 'string';

/** What a map name is on one kind of listener: its target, a map not served there, or no map at all. */
export type MapLookup = MapTarget | { refused: string } | undefined;

/** Unconfigured map names whose targets are kept (any-table mode), so a request makes no object; beyond it they are made each time. */
const MAX_KEPT_NAMES = 1024;

export class MapDirectory {
  private readonly configured: Map<string, MapTarget>;
  private readonly anyTarget: (name: string) => MapTarget;
  /** Targets of unconfigured map names already asked (any-table mode). */
  private readonly kept = new Map<string, MapTarget>();

  constructor(private readonly config: Pick<SockmapConfig, 'maps' | 'anyTable' | 'anyTableInet'>) {
    this.configured = new Map(
      Object.entries(config.maps).map(([name, m]) => {
        const secret = m.secret ?? SECRET_SERVICES.includes(m.service);
        return [name, { table: m.table, service: m.service, foldCase: m.foldCase, notFound: m.notFound, inet: !secret || m.allowInet }];
      }),
    );
    this.anyTarget = (name) => ({ table: name, service: DEFAULT_SERVICE, foldCase: false, notFound: 'NOTFOUND', inet: config.anyTableInet });
  }

  /** The target of a map name as asked on an inet listener or not; undefined for a map that is not served at all. */
  target(name: string, inet: boolean): MapLookup {
    const t = this.configured.get(name) ?? this.kept.get(name) ?? (this.config.anyTable && LIMITS.tableName.test(name) ? this.keep(name) : undefined);
    if (t === undefined || !inet || t.inet) return t;
    return { refused: `map ${name} is not served on inet listeners` };
  }

  private keep(name: string): MapTarget {
    const t = this.anyTarget(name);
    if (this.kept.size < MAX_KEPT_NAMES) this.kept.set(name, t);
    return t;
  }

  /** Secret maps served on inet listeners, for the warning at start. */
  secretsOnInet(): string[] {
    return Object.entries(this.config.maps)
      .filter(([, m]) => (m.secret ?? SECRET_SERVICES.includes(m.service)) && m.allowInet)
      .map(([name]) => name);
  }
}
