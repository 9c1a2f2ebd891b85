// What the `cloudtable load` tests share: a local backend on a test clock,
// the admin and reader clients, a black hole to stall confirmation lookups,
// relays that lose chosen answers, table files in a temporary directory,
// and the CLI run against all of it.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../../lambda/local/backend.js';
import { replaceTable } from '../../lambda/store/replace.js';
import type { AdminClient } from '../../proxy/admin/client.js';
import type { HttpUpstream } from '../../proxy/upstream/client.js';
import { TEST_ENV, TestClock, startTestBackend, testAdminClient, testReader } from './backend.js';
import { runCli, type CliResult } from './cli.js';
import { blackHole, type FaultServer } from './fault-servers.js';
import { startRelay, type Relay } from './relay.js';

export const ALIASES_FILE = '# aliases\nroot: alice\nPostmaster  root\nabuse: root, security@example.org\n';

const SEED: Array<[string, string]> = [
  ['root', 'alice'],
  ['postmaster', 'root'],
  ['abuse', 'root, security@example.org'],
];

export class LoadHarness {
  readonly clock = new TestClock();
  readonly dir = mkdtempSync(join(tmpdir(), 'cloudtable-load-'));
  backend!: Backend;
  admin!: AdminClient;
  reader!: HttpUpstream;
  /** Accepts connections and never answers: a reader there stalls --confirm-with. */
  hole!: FaultServer;

  private readonly relays: Relay[] = [];

  constructor(readonly leaseMs: number) {}

  /** A relay to the backend that loses or holds chosen requests; closed with the harness. */
  async relay(): Promise<Relay> {
    const r = await startRelay(this.backend.url);
    this.relays.push(r);
    return r;
  }

  async start(): Promise<void> {
    this.backend = await startTestBackend({}, { clock: this.clock.now, limits: { leaseMs: this.leaseMs }, collectEveryMs: 0 });
    this.admin = testAdminClient(this.backend.url);
    this.reader = testReader(this.backend.url);
    this.hole = await blackHole();
  }

  async stop(): Promise<void> {
    await Promise.all([this.admin.close(), this.reader.close(), this.hole.close(), ...this.relays.map((r) => r.close())]);
    await this.backend.close();
  }

  file(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** --admin and --upstream flags: the backend, or another reader. */
  urls(upstream = this.backend.url): string[] {
    return ['--admin', this.backend.url, '--upstream', upstream];
  }

  cli(args: string[], input?: string): Promise<CliResult> {
    return runCli(args, TEST_ENV, input);
  }

  /** What the reader answers for `key` now. */
  async value(table: string, key: string): Promise<string | undefined> {
    const r = await this.reader.lookup(table, [{ service: 'alias', key }], 5000);
    const res = r.results[0]!;
    return res.s === 'found' ? res.value : undefined;
  }

  /** The table as a test starts from it: generation 1 with ALIASES_FILE's entries, loaded in process. */
  seed(table: string): Promise<number> {
    return replaceTable(this.backend.store, table, SEED, 'alias');
  }
}
