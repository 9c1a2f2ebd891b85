// `cloudtable sockmap`: the socketmap server. Owns the listeners and the
// connections; what a request is answered comes from the current settings,
// which a configuration reload replaces without closing any connection.

import type { Socket } from 'node:net';
import type { SockmapConfig } from '../config.js';
import type { TableHealth } from '../health/table-health.js';
import { LogBudget, type Logger } from '../log.js';
import type { TableService } from '../tables/table-service.js';
import { SockmapConnection } from './connection.js';
import { closeListeners, openListeners, type ActivatedFd, type Listener } from './listeners.js';
import { MapDirectory } from './maps.js';
import type { RequestContext } from './request.js';

export interface SockmapSettings {
  context: RequestContext;
  /** How long a stop waits for connections to finish: every lookup settles by the deadline. */
  drainMs: number;
  maxConnections: number;
  maxInflight: number;
  maxRequestBytes: number;
}

export function sockmapSettings(config: SockmapConfig, deadlineMs: number, tables: TableService, log: Logger, health?: TableHealth): SockmapSettings {
  const checks = config.healthMap !== undefined && health ? { health: { map: config.healthMap, checks: health } } : {};
  return {
    context: { tables, maps: new MapDirectory(config), unknownMap: config.unknownMap, missingTable: config.missingTable, log, ...checks },
    drainMs: deadlineMs + 2000,
    maxConnections: config.maxConnections,
    maxInflight: config.maxInflight,
    maxRequestBytes: config.maxRequestBytes,
  };
}

export interface SockmapStats {
  connections: number;
  /** Bytes held for all connections: unparsed input and unsent replies. */
  buffered: number;
  refused: number;
}

export class SockmapServer {
  private listeners: Listener[] = [];
  private readonly connections = new Set<SockmapConnection>();
  private refused = 0;
  /** Lines about refused connections and malformed requests: ten a second at most. */
  private readonly noise = new LogBudget(10, 1000);
  private stopping: Promise<void> | undefined;

  constructor(
    private settings: SockmapSettings,
    private readonly log: Logger,
  ) {}

  /** Binds (or inherits) the listeners; resolves when all of them accept. */
  async listen(configs: SockmapConfig['listen'], activated: ActivatedFd[] = []): Promise<Listener[]> {
    this.listeners = await openListeners(configs, activated, (socket, l) => this.accept(socket, l));
    return this.listeners;
  }

  /** New settings for every request from now on; open connections stay open. */
  reconfigure(settings: SockmapSettings): void {
    this.settings = settings;
  }

  stats(): SockmapStats {
    let buffered = 0;
    for (const c of this.connections) buffered += c.buffered;
    return { connections: this.connections.size, buffered, refused: this.refused };
  }

  /** Stops accepting, answers every request already received, closes the connections. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      closeListeners(this.listeners);
      const drained = Promise.all([...this.connections].map((c) => c.stop()));
      let limit: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (limit = setTimeout(() => resolve(true), this.settings.drainMs)));
      if (await Promise.race([drained.then(() => false), late])) {
        this.log.warn({ connections: this.connections.size }, 'connections still busy at the end of the drain: closing them');
        for (const c of this.connections) c.socket.destroy();
      }
      clearTimeout(limit);
    })();
    return this.stopping;
  }

  private accept(socket: Socket, listener: Listener): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.settings.maxConnections) {
      this.refused++;
      this.noise.warn(this.log, { listener: listener.name, max: this.settings.maxConnections }, 'too many connections: closing a new one');
      socket.destroy();
      return;
    }
    const s = this.settings;
    const conn = new SockmapConnection(
      socket,
      { dialect: listener.dialect, inet: listener.inet, maxInflight: s.maxInflight, maxRequestBytes: s.maxRequestBytes, badInput: this.noise },
      () => this.settings.context,
      this.log,
    );
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }
}
