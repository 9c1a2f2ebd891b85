// Preloaded (`node --import`) into a process whose footprint is measured:
// collects every module it loads (ES modules through a loader hook, CommonJS
// from require's cache) and writes the list to $FOOTPRINT_OUT on SIGUSR2.
// Plain JavaScript so that it runs without tsx, on the compiled dist/ too.

import { writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const esm = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => esm.add(url));
port1.unref();
register(new URL('./module-count-hooks.mjs', import.meta.url), { data: { port: port2 }, transferList: [port2] });

process.on('SIGUSR2', () => {
  const cjs = Object.keys(createRequire(import.meta.url).cache).map((p) => pathToFileURL(p).href);
  const all = [...new Set([...esm, ...cjs])].filter((u) => u.startsWith('file:')).sort();
  writeFileSync(process.env.FOOTPRINT_OUT, JSON.stringify(all));
});
