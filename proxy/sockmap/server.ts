// `cloudtable sockmap`: the socketmap server. Owns the listeners and the
// connections; what a request is answered comes from the current settings,
// which a configuration reload replaces without closing any connection.
//
// Idle connections must not lock clients out. At max_connections a new
// connection closes the one idle longest rather than being refused: Postfix
// connections first, since Postfix reconnects and resends on EOF and loses
// nothing; a Sendmail connection only when no Postfix one is idle, since a
// sendmail process fails its next lookup once after a close (then
// reconnects), while a refused connection marks the map unusable for the
// rest of that process. Idle connections are also closed after a time per
// dialect: Postfix closes its own after 10 s idle, so one idle for a minute
// is no Postfix's; Sendmail keeps one for its life, so by default never.

import type { Socket } from 'node:net';
import type { SockmapConfig } from '../config.js';
import type { TableHealth } from '../health/table-health.js';
import { LogBudget, type Logger } from '../log.js';
import type { TableService } from '../tables/table-service.js';
import { SockmapConnection } from './connection.js';
import type { Dialect } from './dialect.js';
import { closeListeners, openListeners, type ActivatedFd, type Listener } from './listeners.js';
import { MapDirectory } from './maps.js';
import type { RequestContext } from './request.js';

export interface SockmapSettings {
  context: RequestContext;
  /** How long a stop waits for connections to finish: every lookup settles by the deadline. */
  drainMs: number;
  maxConnections: number;
  /** Idle connections of each dialect are closed after this long; 0: never. */
  idleMs: Record<Dialect, number>;
  maxInflight: number;
  maxRequestBytes: number;
}

export function sockmapSettings(config: SockmapConfig, deadlineMs: number, tables: TableService, log: Logger, health?: TableHealth): SockmapSettings {
  const checks = config.healthMap !== undefined && health ? { health: { map: config.healthMap, checks: health } } : {};
  return {
    context: { tables, maps: new MapDirectory(config), unknownMap: config.unknownMap, missingTable: config.missingTable, log, ...checks },
    drainMs: deadlineMs + 2000,
    maxConnections: config.maxConnections,
    idleMs: { postfix: config.postfixIdleMs, sendmail: config.sendmailIdleMs },
    maxInflight: config.maxInflight,
    maxRequestBytes: config.maxRequestBytes,
  };
}

export interface SockmapStats {
  connections: number;
  /** Bytes held for all connections: unparsed input and unsent replies. */
  buffered: number;
  /** New connections closed at the limit, none being idle. */
  refused: number;
  /** Idle connections closed to make room for a new one. */
  evicted: number;
  /** Idle connections closed after their dialect's idle time. */
  idleClosed: number;
}

export class SockmapServer {
  private listeners: Listener[] = [];
  private readonly connections = new Set<SockmapConnection>();
  private refused = 0;
  private evicted = 0;
  private idleClosed = 0;
  private readonly sweeper: NodeJS.Timeout;
  /** Lines about refused connections and malformed requests: ten a second at most. */
  private readonly noise = new LogBudget(10, 1000);
  private stopping: Promise<void> | undefined;

  constructor(
    private settings: SockmapSettings,
    private readonly log: Logger,
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), SWEEP_MS);
    this.sweeper.unref();
  }

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
    return { connections: this.connections.size, buffered, refused: this.refused, evicted: this.evicted, idleClosed: this.idleClosed };
  }

  /** Stops accepting, answers every request already received, closes the connections. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      closeListeners(this.listeners);
      clearInterval(this.sweeper);
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
      const idlest = this.idlest();
      if (idlest === undefined) {
        this.refused++;
        this.noise.warn(this.log, { listener: listener.name, max: this.settings.maxConnections }, 'too many connections, none idle: closing a new one');
        socket.destroy();
        return;
      }
      idlest.closeIdle();
      this.evicted++;
      this.noise.warn(this.log, { listener: listener.name, max: this.settings.maxConnections, dialect: idlest.dialect }, 'too many connections: closed the one idle longest');
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

  /** The connection idle longest, Postfix ones before Sendmail ones; undefined when none is idle. */
  private idlest(): SockmapConnection | undefined {
    let best: SockmapConnection | undefined;
    for (const c of this.connections) {
      if (!c.idle) continue;
      if (best === undefined || rank(c) < rank(best)) best = c;
    }
    return best;
  }

  /** Closes the connections idle longer than their dialect's idle time. */
  private closeIdle(): void {
    const { idleMs } = this.settings;
    if (idleMs.postfix === 0 && idleMs.sendmail === 0) return;
    const now = Date.now();
    for (const c of this.connections) {
      const limit = idleMs[c.dialect];
      if (limit > 0 && now - c.lastActive >= limit && c.closeIdle()) this.idleClosed++;
    }
  }
}

/** How often idle connections are looked for: the idle times are whole seconds. */
const SWEEP_MS = 500;

/** Eviction order: Postfix connections (which lose nothing) first, then the longest idle. */
function rank(c: SockmapConnection): number {
  return (c.dialect === 'postfix' ? 0 : 1e15) + c.lastActive;
}
