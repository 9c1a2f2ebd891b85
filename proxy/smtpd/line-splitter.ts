/**
 * Splits a byte stream into LF-terminated lines without holding more than
 * `maxLine` bytes of one line: the tail of an overlong line is discarded and
 * reported once, so a peer that never sends LF cannot grow memory.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overlong = false;

  constructor(
    private readonly maxLine: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverlong: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) {
        this.append(chunk.subarray(start));
        return;
      }
      this.append(chunk.subarray(start, nl));
      this.emit();
      start = nl + 1;
    }
  }

  private append(part: Buffer): void {
    if (part.length === 0) return;
    this.size += part.length;
    if (this.overlong) return;
    if (this.size > this.maxLine) {
      this.overlong = true;
      this.parts = [];
      return;
    }
    this.parts.push(part);
  }

  private emit(): void {
    if (this.overlong) this.onOverlong(this.size);
    else this.onLine(this.parts.length === 1 ? this.parts[0]!.toString('utf8') : Buffer.concat(this.parts).toString('utf8'));
    this.parts = [];
    this.size = 0;
    this.overlong = false;
  }
}
