// Builds what smtpd runs for every `table ... cloudtable:` line,
// dist/proxy/bin/table-cloudtable.cjs: the table process's own code in one
// CommonJS file (esbuild), npm packages left as they are. Node 20 loads one
// CommonJS file much faster than the 70 ES modules tsc emits (resolving,
// linking and the ES module loader itself): measured with `npm run bench --
// footprint`, about 25 ms less before the handshake and 6 MiB less resident
// while idle (BENCHMARKS.md). smtpd sends no banner until every table
// process has answered its handshake, and starts one per `table` line.
// What is loaded lazily stays lazy: esbuild keeps each bundled module's body
// in a function run at its first import. The command line (any other use of
// table-cloudtable) is the ES module build next to it, imported as it is.
// Run by `npm run build`, after tsc.

import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

/** The bundle's own URL, for the createRequire(import.meta.url) calls of the modules it holds. */
const OWN_URL = '__cloudtable_bundle_url';

export async function bundleTableProcess(outfile = `${root}dist/proxy/bin/table-cloudtable.cjs`): Promise<void> {
  await build({
    absWorkingDir: root,
    entryPoints: ['proxy/bin/table-cloudtable.ts'],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    define: { 'import.meta.url': OWN_URL },
    banner: { js: `'use strict';\nconst ${OWN_URL} = require('node:url').pathToFileURL(__filename).href;` },
    plugins: [
      {
        name: 'command-line-stays-esm',
        setup(b): void {
          // The command line is loaded from the ES module build beside the bundle (dist/proxy/cli.js), not bundled.
          b.onResolve({ filter: /^\.\.\/cli\.js$/ }, (args) => ({ path: args.path, external: true }));
        },
      },
    ],
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleTableProcess(process.argv[2]);
