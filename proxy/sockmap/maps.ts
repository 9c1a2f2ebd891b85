// Which table and lookup service a socketmap map name stands for.

import { LIMITS, type Service } from '../../common/contract/lookup.js';
import type { SockmapConfig } from '../config.js';
import type { NotFoundCode } from './dialect.js';

export interface MapTarget {
  table: string;
  service: Service;
  foldCase: boolean;
  notFound: NotFoundCode;
}

/** An unconfigured map name stands for the table of that name, exact match. */
const DEFAULT_SERVICE: Service = 'string';

export class MapDirectory {
  private readonly configured: Map<string, MapTarget>;

  constructor(private readonly config: Pick<SockmapConfig, 'maps' | 'anyTable'>) {
    this.configured = new Map(Object.entries(config.maps));
  }

  /** The target of a map name, or undefined for a map that is not served. */
  target(name: string): MapTarget | undefined {
    const t = this.configured.get(name);
    if (t !== undefined) return t;
    if (!this.config.anyTable || !LIMITS.tableName.test(name)) return undefined;
    return { table: name, service: DEFAULT_SERVICE, foldCase: false, notFound: 'NOTFOUND' };
  }
}
