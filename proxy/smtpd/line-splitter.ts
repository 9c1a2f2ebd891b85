// LF-terminated lines from smtpd's byte stream, each bounded in length.

import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into LF-terminated lines without holding more than
 * `maxLine` characters of one line: the tail of an overlong line is
 * discarded and reported once, so a peer that never sends LF cannot grow
 * memory. Each chunk is decoded once (StringDecoder keeps UTF-8 sequences
 * cut between chunks whole), which keeps the hit path cheap.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private overlong = 0;

  constructor(
    private readonly maxLine: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverlong: (chars: number) => void,
  ) {}

  push(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) {
        this.hold(text.slice(start));
        return;
      }
      if (this.overlong > 0) {
        this.onOverlong(this.overlong + nl - start);
        this.overlong = 0;
      } else if (this.partial) {
        const line = this.partial + text.slice(start, nl);
        this.partial = '';
        if (line.length > this.maxLine) this.onOverlong(line.length);
        else this.onLine(line);
      } else if (nl - start > this.maxLine) this.onOverlong(nl - start);
      else this.onLine(text.slice(start, nl));
      start = nl + 1;
    }
  }

  private hold(tail: string): void {
    if (this.overlong > 0) {
      this.overlong += tail.length;
      return;
    }
    this.partial += tail;
    if (this.partial.length > this.maxLine) {
      this.overlong = this.partial.length;
      this.partial = '';
    }
  }
}
