// The answers a process keeps of a replicated table (proxy/replica/hot-entries.ts):
// kept from a key's second read on, bounded, emptied when the served state
// changes, long entries never kept.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HotEntries } from '../proxy/replica/hot-entries.js';

/** What the replica does on a miss: read the store, offer the answer. */
function read(h: HotEntries<string>, key: string, value = `v:${key}`): string {
  const held = h.get(key);
  if (held !== undefined) return held;
  h.put(key, value, value.length);
  return value;
}

describe('hot entries', () => {
  it('keep a key from its second read on, not a key read once (a scan passes through without filling them)', () => {
    const h = new HotEntries<string>(100).of('0 1 - 1');
    for (let i = 0; i < 10_000; i++) read(h, `scan${i}`);
    assert.equal(h.size, 0, 'every key read once: none kept');
    read(h, 'hot');
    assert.equal(h.get('hot'), undefined);
    read(h, 'hot');
    assert.equal(h.get('hot'), 'v:hot', 'read twice: kept');
  });

  it('hold at most twice their size, keep what is still asked, and forget the rest', () => {
    const h = new HotEntries<string>(100).of('0 1 - 1');
    read(h, 'k0');
    read(h, 'k0');
    for (let i = 1; i < 1000; i++) {
      read(h, `k${i}`);
      read(h, `k${i}`);
      // k0 is asked all along: it is never dropped.
      assert.equal(h.get('k0'), 'v:k0');
      assert.ok(h.size <= 200, `size ${h.size}`);
    }
    assert.equal(h.get('k1'), undefined, 'an entry not asked again is gone once two maps have filled');
    assert.equal(h.get('k999'), 'v:k999');
  });

  it('are emptied when the served state changes, and only then', () => {
    const h = new HotEntries<string>(10);
    h.of('0 1 - 100');
    read(h, 'k', 'generation 1');
    read(h, 'k', 'generation 1');
    assert.equal(h.of('0 1 - 100').get('k'), 'generation 1');
    assert.equal(h.of('1 2 - 200').get('k'), undefined, 'another generation');
    read(h, 'k', 'generation 2');
    assert.equal(h.get('k'), 'generation 2');
    assert.equal(h.of('1 2 - 300').get('k'), undefined, 'the same slot and generation transferred again');
  });

  it('keep nothing of an entry over 1 KiB, nor anything at all at size 0', () => {
    const h = new HotEntries<string>(10).of('x');
    for (let i = 0; i < 3; i++) read(h, 'k', 'v'.repeat(1024));
    assert.equal(h.get('k'), undefined);
    const none = new HotEntries<string>(0).of('x');
    for (let i = 0; i < 3; i++) read(none, 'k');
    assert.equal(none.get('k'), undefined);
    assert.equal(none.size, 0);
  });
});
