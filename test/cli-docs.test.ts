// The README's command lines are true to the code: the synopsis of each
// command under "Command line" lists exactly the options the command
// declares (proxy/cli.ts), and every `cloudtable COMMAND …` written
// anywhere in the README uses only options that command has.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildCli } from '../proxy/cli.js';
import { ROOT } from './helpers/cli.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const commands = new Map(buildCli().commands.map((c) => [c.name(), c]));

/** The long names of a command's options; hidden ones only when asked. */
function optionNames(c: Command, hidden: boolean): Set<string> {
  return new Set(c.options.filter((o) => (hidden || !o.hidden) && o.long !== undefined).map((o) => o.long!));
}

/** `-c` as `--config`: the long name of what is written (itself when the command has no such short option). */
function longName(c: Command, flag: string): string {
  return c.options.find((o) => o.short === flag)?.long ?? flag;
}

/** The options written in a piece of a command line: `--flag` and `-c`, not `-` (stdin) nor words with a dash inside. */
function flagsIn(text: string): string[] {
  return [...text.matchAll(/(?<![\w-])(--[a-z][a-z-]*|-[a-z])(?![\w-])/g)].map((m) => m[1]!);
}

/** The synopsis block under "## Command line": one entry per command, its continuation lines included. */
function synopses(): Map<string, string> {
  const section = README.slice(README.indexOf('\n## Command line\n'));
  const block = /```\n([^]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the README has a "Command line" section with a synopsis block');
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of block.split('\n')) {
    const m = /^cloudtable ([a-z]+)/.exec(line);
    if (m) out.set((current = m[1]!), line);
    else if (current !== undefined && /^\s/.test(line)) out.set(current, `${out.get(current)!}\n${line}`);
  }
  return out;
}

test('README "Command line": every command, with exactly the options it declares', () => {
  const written = synopses();
  assert.deepEqual([...written.keys()].sort(), [...commands.keys()].sort());
  for (const [name, command] of commands) {
    assert.deepEqual(new Set(flagsIn(written.get(name)!).map((f) => longName(command, f))), optionNames(command, false), `cloudtable ${name}`);
  }
});

test('README: every `cloudtable COMMAND …` uses options that command has', () => {
  const wrong: string[] = [];
  // Code spans and code-block lines that run a command.
  for (const m of README.matchAll(/(?:`|^\s*(?:\$ )?)cloudtable ([a-z]+)((?:[^`\n]|\\\n)*)/gm)) {
    const command = commands.get(m[1]!);
    if (!command) continue; // prose: "cloudtable is…"
    const known = optionNames(command, true);
    for (const flag of flagsIn(m[2]!)) if (!known.has(longName(command, flag))) wrong.push(`cloudtable ${m[1]} … ${flag}`);
  }
  assert.deepEqual(wrong, []);
});
