// The answers a process keeps of a replicated table (proxy/replica/hot-entries.ts):
// bounded, emptied when the served state changes, long entries never kept.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HotEntries } from '../proxy/replica/hot-entries.js';

describe('hot entries', () => {
  it('hold at most twice their size, keep what is still asked, and forget the rest', () => {
    const h = new HotEntries<string>(100).of('0 1 - 1');
    for (let i = 0; i < 1000; i++) {
      h.put(`k${i}`, `v${i}`, 2);
      // k0 is asked all along: it is never dropped.
      assert.equal(h.get('k0'), 'v0');
      assert.ok(h.size <= 200, `size ${h.size}`);
    }
    assert.equal(h.get('k1'), undefined, 'an entry not asked again is gone once two maps have filled');
    assert.equal(h.get('k999'), 'v999');
  });

  it('are emptied when the served state changes, and only then', () => {
    const h = new HotEntries<string>(10);
    h.of('0 1 - 100').put('k', 'generation 1', 12);
    assert.equal(h.of('0 1 - 100').get('k'), 'generation 1');
    assert.equal(h.of('1 2 - 200').get('k'), undefined, 'another generation');
    h.put('k', 'generation 2', 12);
    assert.equal(h.of('1 2 - 300').get('k'), undefined, 'the same slot and generation transferred again');
  });

  it('keep nothing of an entry over 1 KiB, nor anything at all at size 0', () => {
    const h = new HotEntries<string>(10).of('x');
    h.put('k', 'v'.repeat(1024), 1024);
    assert.equal(h.get('k'), undefined);
    const none = new HotEntries<string>(0).of('x');
    none.put('k', 'v', 1);
    assert.equal(none.get('k'), undefined);
    assert.equal(none.size, 0);
  });
});
