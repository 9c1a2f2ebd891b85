// Netstrings (`LEN:BYTES,`), the socketmap framing. The reader is a state
// machine over the bytes as they arrive, so a request may come in any number
// of pieces and many requests may share one read. It copies only payload
// bytes, holds at most one payload of `maxLength` bytes plus the unread
// input, and is pulled one frame at a time so that the connection can stop
// taking frames (back-pressure) without the reader buffering more.

export type Frame = { payload: Buffer } | { error: string };

type State = 'length' | 'payload' | 'comma' | 'failed';

export class NetstringReader {
  private readonly input: Buffer[] = [];
  /** Read position in input[0]. */
  private offset = 0;
  private unread = 0;
  private state: State = 'length';
  private length = 0;
  private digits = 0;
  private parts: Buffer[] = [];
  private missing = 0;

  constructor(private readonly maxLength: number) {}

  /** Bytes received but not yet turned into frames: what the connection is holding. */
  get buffered(): number {
    return this.unread + (this.state === 'payload' ? this.length - this.missing : 0);
  }

  /** Part of a netstring has come (its length, or some of its payload): a request is on its way. */
  get midFrame(): boolean {
    return this.unread > 0 || this.state === 'payload';
  }

  /** True once a malformed or oversized netstring was seen: nothing after it is read. */
  get failed(): boolean {
    return this.state === 'failed';
  }

  push(chunk: Buffer): void {
    if (this.state === 'failed' || chunk.length === 0) return;
    this.input.push(chunk);
    this.unread += chunk.length;
  }

  /** The next complete frame, or undefined when more bytes are needed. An error is returned once, then nothing. */
  next(): Frame | undefined {
    while (this.input.length > 0) {
      const chunk = this.input[0]!;
      if (this.offset >= chunk.length) {
        this.input.shift();
        this.offset = 0;
        continue;
      }
      switch (this.state) {
        case 'length': {
          const c = chunk[this.offset]!;
          this.consume(1);
          if (c >= 0x30 && c <= 0x39) {
            this.length = this.length * 10 + (c - 0x30);
            this.digits++;
            // Checked per digit, so a long run of digits is refused as soon as it is too big.
            if (this.length > this.maxLength) return this.fail(`netstring longer than ${this.maxLength} bytes`);
          } else if (c === 0x3a && this.digits > 0) {
            this.state = this.length === 0 ? 'comma' : 'payload';
            this.missing = this.length;
          } else {
            return this.fail(this.digits === 0 ? 'netstring does not start with a length' : 'netstring length not followed by ":"');
          }
          break;
        }
        case 'payload': {
          const take = Math.min(this.missing, chunk.length - this.offset);
          if (take > 0) {
            this.parts.push(chunk.subarray(this.offset, this.offset + take));
            this.consume(take);
            this.missing -= take;
          }
          if (this.missing === 0) this.state = 'comma';
          break;
        }
        case 'comma': {
          const c = chunk[this.offset]!;
          this.consume(1);
          if (c !== 0x2c) return this.fail('netstring not terminated by ","');
          const payload = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
          this.parts.length = 0;
          this.state = 'length';
          this.length = 0;
          this.digits = 0;
          return { payload };
        }
        case 'failed':
          return undefined;
      }
    }
    return undefined;
  }

  private consume(n: number): void {
    this.offset += n;
    this.unread -= n;
  }

  private fail(error: string): Frame {
    this.state = 'failed';
    this.input.length = 0;
    this.parts = [];
    this.unread = 0;
    return { error };
  }
}

/** `LEN:TEXT,`, the length in bytes of the UTF-8 text. */
export function netstring(payload: string): string {
  return `${Buffer.byteLength(payload)}:${payload},`;
}
