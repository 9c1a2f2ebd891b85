// The issue that made the proxy hedge and recognise slow calls, as a user
// met it: `cloudtable smtpd` (a real process) asked as smtpd 7.8 asks, one
// request at a time, while its only endpoint accepts connections and never
// answers. Five lookups in a row — keys never seen, and cached keys whose
// generation is past `max_staleness_s` — must take <= 3 s in all, not a
// deadline each (about 20 s before the slow-call threshold).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { startTestBackend } from './helpers/backend.js';
import { switchableUpstream, type SwitchableUpstream } from './helpers/fault-servers.js';
import { SmtpdPeer } from './helpers/smtpd-peer.js';

describe('smtpd, one request at a time, the only endpoint hung', () => {
  let backend: Backend;
  let upstream: SwitchableUpstream;
  let peer: SmtpdPeer;

  before(async () => {
    backend = await startTestBackend({ aliases: [['root', 'alice'], ['postmaster', 'bob'], ['abuse', 'carol']] });
    upstream = await switchableUpstream({ kind: 'forward', to: backend.url });
    // One endpoint, in the plain `upstream.url` form: hedging and the slow-call threshold are the default.
    peer = SmtpdPeer.withConfig(upstream.url, `[cache]\nmax_staleness_s = 0.5\n`);
    await peer.handshake('aliases');
  });

  after(async () => {
    await peer.close();
    await upstream.close();
    await backend.close();
  });

  it('five consecutive lookups of uncached keys and of cached keys past max_staleness_s take <= 3 s in all', async () => {
    assert.match(await peer.ask('aliases', 'lookup', 'alias', 'root'), /^found\|alice$/);
    assert.match(await peer.ask('aliases', 'lookup', 'alias', 'postmaster'), /^found\|bob$/);
    await upstream.set({ kind: 'silent' });
    await new Promise((resolve) => setTimeout(resolve, 700)); // past max_staleness_s
    const started = performance.now();
    const answers: string[] = [];
    for (const key of ['nobody1', 'root', 'nobody2', 'postmaster', 'nobody3']) answers.push(await peer.ask('aliases', 'lookup', 'alias', key));
    const total = performance.now() - started;
    assert.ok(total <= 3000, `five lookups took ${total.toFixed(0)} ms: ${answers.join(' ; ')}`);
    // Never "not found" for what could not be asked; cached answers served or an error, never a wrong value.
    for (const [i, a] of answers.entries()) {
      if (i % 2 === 0) assert.match(a, /^error(\||$)/, a);
      else assert.match(a, /^(found\|(alice|bob)|error(\|.*)?)$/, a);
    }
  });
});
