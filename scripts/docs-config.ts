// `npm run docs:config`: rewrites the README's configuration reference from
// the schema (proxy/config/schema.ts).

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withReference } from '../proxy/config/reference.js';

const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const before = readFileSync(readme, 'utf8');
const after = withReference(before);
if (after !== before) writeFileSync(readme, after);
process.stdout.write(after === before ? 'README.md: configuration reference up to date\n' : 'README.md: configuration reference rewritten\n');
