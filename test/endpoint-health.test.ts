// What one endpoint's health record decides on its own (proxy/upstream/endpoint-health.ts),
// on an injected clock: when a refresh is due and who pays for it, when an ejected endpoint is probed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointHealth, REFRESH_MAX_MS, REFRESH_MS } from '../proxy/upstream/endpoint-health.js';

const options = { failures: 3, ejectMs: 250, slowCallMs: 0, slowCallFloorMs: 1000 };

describe('endpoint health', () => {
  it('a refresh is due after REFRESH_MS if a hedge token pays for it, and after REFRESH_MAX_MS whatever the budget holds', () => {
    const h = new EndpointHealth(options);
    h.succeeded(5, 100_000);
    assert.equal(h.refreshDue(100_000 + REFRESH_MS - 1, true), undefined);
    assert.equal(h.refreshDue(100_000 + REFRESH_MS, true), 'budget');
    assert.equal(h.refreshDue(100_000 + REFRESH_MS, false), undefined, 'no token, not overdue: no refresh');
    assert.equal(h.refreshDue(100_000 + REFRESH_MAX_MS, false), 'overdue');
    h.refreshing(100_000 + REFRESH_MAX_MS);
    assert.equal(h.refreshDue(100_000 + REFRESH_MAX_MS + 1, true), undefined, 'once sent, the next is an interval away');
  });

  it('an ejected endpoint is due one probe once its ejection ends, not while that probe is out; a failed probe ejects it again', () => {
    const h = new EndpointHealth(options);
    for (let i = 0; i < 3; i++) h.failed(1000);
    assert.equal(h.ejected, true);
    assert.equal(h.probeDue(1249), false);
    assert.equal(h.probeDue(1250), true);
    assert.equal(h.started(1250), true);
    assert.equal(h.probeDue(1251), false, 'one probe at a time');
    h.failed(1300);
    assert.equal(h.probeDue(1549), false);
    assert.equal(h.probeDue(1550), true);
    h.started(1550);
    h.succeeded(8, 1560);
    assert.equal(h.ejected, false);
    assert.equal(h.probeDue(2000), false);
    assert.equal(h.latencyMs, 8, 'back from ejection: the penalties say nothing about it any more');
  });
});
