// The reused out buffer: replies of every command of one read are appended here and leave in one
// socket.write (memcached's resp objects + iovecs, flattened). Digits are written byte by byte:
// no String(n) on the hot path.

import { copyBytes } from '../bytes.ts';

const CRLF_0 = 0x0d;
const CRLF_1 = 0x0a;
const INITIAL_SIZE = 16 * 1024;
/** Replies up to this long leave through a view made once per length (see pending). */
const SMALL_VIEW = 4096;

export class OutBuffer {
  buf: Buffer;
  pos = 0;
  /** views[n]: buf's first n bytes, kept while buf is (a write takes an exact-length view). */
  private views: Array<Buffer | undefined> = [];

  constructor(size = INITIAL_SIZE) {
    this.buf = Buffer.allocUnsafe(size);
    this.forgetViews();
  }

  private forgetViews(): void { this.views = new Array<Buffer | undefined>(SMALL_VIEW + 1).fill(undefined); }

  /** Room for n more bytes, growing (copying what is there) when needed. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.forgetViews();
  }

  bytes(src: Uint8Array): void {
    this.copyFrom(src, 0, src.length);
  }

  copyFrom(src: Uint8Array, start: number, len: number): void {
    this.reserve(len);
    copyBytes(this.buf, this.pos, src, start, len);
    this.pos += len;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  space(): void { this.byte(0x20); }

  crlf(): void {
    this.reserve(2);
    this.buf[this.pos++] = CRLF_0;
    this.buf[this.pos++] = CRLF_1;
  }

  /** A non-negative integer below 2^53 in decimal. */
  uint(n: number): void {
    this.reserve(16);
    if (n < 10) { this.buf[this.pos++] = 0x30 + n; return; }
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++;
    let at = this.pos + digits;
    this.pos = at;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      this.buf[--at] = 0x30 + (n - q * 10);
      n = q;
    }
    this.buf[--at] = 0x30 + n;
  }

  /** A signed integer. */
  int(n: number): void {
    if (n < 0) { this.byte(0x2d); n = -n; }
    this.uint(n);
  }

  ascii(s: string): void {
    this.reserve(s.length);
    this.pos += this.buf.write(s, this.pos, "latin1");
  }

  /** Give up the pending bytes, e.g. when a command's partial reply must be taken back. */
  truncate(pos: number): void { this.pos = pos; }

  /**
   * The bytes to send; the caller then calls `sent()`. A small reply reuses the view made for its
   * length the first time: a new view per write was 0.7% of a worker's time under W1.
   */
  pending(): Buffer {
    const n = this.pos;
    if (n > SMALL_VIEW) return this.buf.subarray(0, n);
    let v = this.views[n];
    if (v === undefined) { v = this.buf.subarray(0, n); this.views[n] = v; }
    return v;
  }

  /**
   * After socket.write(pending()): when the socket kept a reference (not written through at once),
   * the memory is the socket's until its write completes, so take a fresh buffer.
   */
  sent(retained: boolean): void {
    if (retained) this.replace(Math.max(INITIAL_SIZE, Math.min(this.buf.length, 256 * 1024)));
    else if (this.buf.length > 1024 * 1024) this.replace(INITIAL_SIZE); // don't hoard a huge one
    this.pos = 0;
  }

  private replace(size: number): void {
    this.buf = Buffer.allocUnsafe(size);
    this.forgetViews();
  }
}
