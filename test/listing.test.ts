// POST /v1/patterns and /v1/entries through the proxy's HTTP client and the
// real backend: pages in key order, the generation on every page, pattern
// items written beside the entries and deleted with them.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import type { Listing } from '../proxy/upstream/client.js';
import { startTestBackend, testReader } from './helpers/backend.js';

describe('listing endpoints', () => {
  let backend: Backend;
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < 1200; i++) entries.push([`host${String(i).padStart(4, '0')}.example.org`, 'x']);
  for (let i = 0; i < 1100; i++) entries.push([`*.zone${String(i).padStart(4, '0')}.example.net`, 'glob']);
  entries.push(['10.0.0.0/8', 'prefix'], ['192.0.2.1', 'address']);

  before(async () => {
    backend = await startTestBackend({ big: entries });
  });
  after(() => backend.close());

  async function listAll(what: Listing): Promise<{ keys: string[]; pages: number; generations: Set<number> }> {
    const reader = testReader(backend.url);
    const keys: string[] = [];
    const generations = new Set<number>();
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await reader.list(what, 'big', after, 5000);
      pages++;
      generations.add(page.generation);
      keys.push(...page.entries.map((e) => e.key));
      after = page.next;
    } while (after !== undefined);
    await reader.close();
    return { keys, pages, generations };
  }

  it('lists every entry in key order, a page at a time, each page with the generation', async () => {
    const { keys, pages, generations } = await listAll('entries');
    assert.equal(keys.length, entries.length);
    assert.deepEqual(keys, [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    assert.ok(pages >= 3, `${pages} pages`);
    assert.deepEqual([...generations], [1]);
  });

  it('lists only pattern keys as the pattern set', async () => {
    const { keys } = await listAll('patterns');
    assert.equal(keys.length, 1101);
    assert.ok(keys.includes('10.0.0.0/8') && !keys.includes('192.0.2.1') && !keys.some((k) => k.startsWith('host')));
  });

  it('follows a new generation and deletes pattern items with their generation', async () => {
    await replaceTable(backend.store, 'big', [['*.only.example', 'v']]);
    const { keys, generations } = await listAll('patterns');
    assert.deepEqual(keys, ['*.only.example']);
    assert.deepEqual([...generations], [2]);
    let done = false;
    while (!done) ({ done } = await backend.store.deleteGeneration('big', 1, Date.now() + 10_000));
    assert.deepEqual((await backend.store.readPatternPage('big', 1)).entries, []);
    assert.deepEqual((await backend.store.readGenerationPage('big', 1)).entries, []);
  });
});
