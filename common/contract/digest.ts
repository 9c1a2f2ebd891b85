// The digest of a table generation: what the admin function records in META
// when a transaction is validated, and what a replica recomputes from its own
// copy before serving it (docs/store.md, "Digest").
//
// Each entry is hashed on its own: SHA-256 of the key's UTF-8 length as a
// 4-byte big-endian number, the key's UTF-8 bytes, then the value's UTF-8
// bytes. The 32-byte hash is read as eight 32-bit big-endian words, and the
// digest is, word by word, the sum of every entry's words modulo 2^32,
// written as 64 lowercase hex digits. A sum does not depend on the order the
// entries come in (a listing streams them in key order, the store's diff in
// whatever order DynamoDB returns), and it can be updated entry by entry: an
// incremental transfer subtracts a replaced entry's hash and adds the new
// one's, without reading the untouched entries again.

import { createHash } from 'node:crypto';

const WORDS = 8;

export class GenerationDigest {
  private readonly sum = new Uint32Array(WORDS);
  /** Entries added minus entries removed. */
  count = 0;

  /** Starts from a recorded digest (64 hex digits) and its entry count. */
  static from(hex: string, count: number): GenerationDigest {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('a digest is 64 lowercase hex digits');
    const d = new GenerationDigest();
    for (let i = 0; i < WORDS; i++) d.sum[i] = parseInt(hex.slice(i * 8, i * 8 + 8), 16);
    d.count = count;
    return d;
  }

  add(key: string, value: string): void {
    this.fold(key, value, 1);
    this.count++;
  }

  remove(key: string, value: string): void {
    this.fold(key, value, -1);
    this.count--;
  }

  hex(): string {
    let out = '';
    for (const w of this.sum) out += w.toString(16).padStart(8, '0');
    return out;
  }

  private fold(key: string, value: string, sign: 1 | -1): void {
    const k = Buffer.from(key, 'utf8');
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(k.length, 0);
    const h = createHash('sha256').update(len).update(k).update(value, 'utf8').digest();
    for (let i = 0; i < WORDS; i++) this.sum[i] = (this.sum[i]! + sign * h.readUInt32BE(i * 4)) >>> 0;
  }
}

/** The digest of a table with no entries. */
export const EMPTY_DIGEST = '0'.repeat(64);
