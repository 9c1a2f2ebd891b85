// Reads a password for `cloudtable hash` without it ever appearing in argv
// (visible to every user in ps) or on the screen: on a terminal, a prompt
// with echo off, asked twice; otherwise the first line of standard input
// (`printf '%s\n' "$pw" | cloudtable hash`, or a file).

import { CommandError, EX } from './exit-codes.js';

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = ['\u007f', '\b'];

/** The password, from the terminal or from standard input. */
export async function readPassword(stdin: NodeJS.ReadStream, prompt: NodeJS.WriteStream): Promise<string> {
  if (!stdin.isTTY) return firstLine(stdin);
  const first = await askSilently(stdin, prompt, 'Password: ');
  const again = await askSilently(stdin, prompt, 'Again: ');
  if (first !== again) throw new CommandError(EX.DATAERR, 'the two passwords differ');
  return first;
}

async function firstLine(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += chunk.toString();
    if (text.includes('\n')) break;
  }
  const end = text.indexOf('\n');
  const line = end < 0 ? text : text.slice(0, end);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** One line typed with echo off (raw mode), editing with backspace; Ctrl-C cancels. */
function askSilently(stdin: NodeJS.ReadStream, prompt: NodeJS.WriteStream, question: string): Promise<string> {
  prompt.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  let typed = '';
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      prompt.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: string): void => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n' || c === CTRL_D) return done();
        if (c === CTRL_C) return done(new CommandError(EX.INTERRUPTED, 'cancelled'));
        if (BACKSPACE.includes(c)) typed = [...typed].slice(0, -1).join('');
        else typed += c;
      }
    };
    stdin.on('data', onData);
  });
}
