// smtpd `auth` timing tells nothing about which users exist: a wrong
// password for an unknown user costs what it costs for a known one, because
// it is verified against a dummy hash of the table's own scheme and cost.
// Measured in the same run through a real `cloudtable smtpd`, alternating
// the two, each attempt with a fresh password (verdicts are cached), after
// both users' entries are cached (no upstream time in either). The fastest
// attempt of each is compared: other work on the machine only ever adds
// time, so the minimum is what the verification itself costs, and the
// tolerance stays narrow enough to catch the 10x gap of a cheaper dummy hash.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { startTestBackend } from './helpers/backend.js';
import { SmtpdPeer, writeConfig } from './helpers/smtpd-peer.js';

/** bcrypt at cost 10 (`smtpctl encrypt` on OpenBSD) of "hunter2"; sha512-crypt at 20,000 rounds (4 times glibc's default) of "secret". */
const BCRYPT_10 = '$2b$10$Lzo3cfEIzuKfninOyLwbSOUtRTo/xztfgIDAV3tiGTXViDeZ1ya7.';
const SHA512_20000 = '$6$rounds=20000$saltsaltsaltsalt$sFzO2MCWRwzjzbGPrQbb2GY/uCho0sQi7YpkOBLaZl/b/wCQD0ugkM69IJblgwXodWHy7PTONFHaxplT8g6uO1';

const fastest = (xs: number[]): number => Math.min(...xs);

describe('auth timing', () => {
  let backend: Backend;
  before(async () => {
    backend = await startTestBackend({ bcrypt: [['alice', BCRYPT_10]], sha: [['bob', `bob:${SHA512_20000}`]] });
  });
  after(() => backend?.close());

  for (const [table, user] of [
    ['bcrypt', 'alice'],
    ['sha', 'bob'],
  ] as const) {
    it(`${table}: a wrong password costs the same for an unknown user as for a known one`, async () => {
      const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${backend.url}"\n[smtpd]\nservices = ["auth", "credentials"]\n`)]);
      try {
        await peer.handshake(table);
        // The known user's entry first (the table's cost is learnt from it), then the unknown one's: both cached from now on.
        assert.equal(await peer.ask(table, 'check', 'auth', `${user}:warmup`), 'not-found');
        assert.equal(await peer.ask(table, 'check', 'auth', 'mallory:warmup'), 'not-found');
        const known: number[] = [];
        const unknown: number[] = [];
        for (let i = 0; i < 9; i++) {
          for (const [who, times] of [
            [user, known],
            ['mallory', unknown],
          ] as const) {
            const t0 = performance.now();
            assert.equal(await peer.ask(table, 'check', 'auth', `${who}:wrong-${i}`), 'not-found');
            times.push(performance.now() - t0);
          }
        }
        const [k, u] = [fastest(known), fastest(unknown)];
        assert.ok(u > k / 2 && u < k * 2, `fastest wrong password: known user ${k.toFixed(1)} ms, unknown user ${u.toFixed(1)} ms`);
      } finally {
        await peer.close();
      }
    });
  }
});
