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
  const terminal = new SilentTerminal(stdin, prompt);
  const first = await terminal.ask('Password: ');
  const again = await terminal.ask('Again: ');
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

/** Lines typed with echo off (raw mode), editing with backspace; Ctrl-C cancels. Typed-ahead lines wait for their question. */
class SilentTerminal {
  private pending = '';

  constructor(
    private readonly stdin: NodeJS.ReadStream,
    private readonly prompt: NodeJS.WriteStream,
  ) {}

  ask(question: string): Promise<string> {
    // Echo off before the question shows: a reply typed the moment it
    // appears must never reach the terminal's echo.
    this.stdin.setRawMode(true);
    this.prompt.write(question);
    this.stdin.setEncoding('utf8');
    let typed = '';
    let finished = false;
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        finished = true;
        this.stdin.off('data', onData);
        this.stdin.off('end', onEnd);
        this.stdin.setRawMode(false);
        this.stdin.pause();
        this.prompt.write('\n');
        if (err) reject(err);
        else resolve(typed);
      };
      const onData = (chunk: string): void => {
        const text = this.pending + chunk;
        this.pending = '';
        for (let i = 0; i < text.length; i++) {
          const c = text[i]!;
          if (c === '\r' || c === '\n' || c === CTRL_D) {
            this.pending = text.slice(i + (c === '\r' && text[i + 1] === '\n' ? 2 : 1));
            return done();
          }
          if (c === CTRL_C) return done(new CommandError(EX.INTERRUPTED, 'cancelled'));
          if (BACKSPACE.includes(c)) typed = [...typed].slice(0, -1).join('');
          else typed += c;
        }
      };
      const onEnd = (): void => done();
      if (this.pending !== '') onData('');
      if (finished) return;
      this.stdin.on('data', onData);
      this.stdin.on('end', onEnd);
      this.stdin.resume();
    });
  }
}
