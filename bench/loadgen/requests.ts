// Request bytes, written straight into a connection's send buffer. Keys are a letter and nine
// digits ("k000012345"), so every key has the same length and no key becomes a string.

export const KEY_DIGITS = 9;
export const KEY_LEN = 1 + KEY_DIGITS;

const GET = Buffer.from('get');
const SET = Buffer.from('set ');
const CRLF = Buffer.from('\r\n');

export class RequestWriter {
  buf: Buffer;
  pos = 0;
  private readonly setTail: Buffer; // " 0 0 <size>\r\n<value>\r\n"
  private readonly keyLetter: number;

  constructor(capacity: number, valueSize: number, keyLetter = 'k') {
    this.buf = Buffer.allocUnsafe(capacity);
    this.setTail = Buffer.concat([
      Buffer.from(` 0 0 ${valueSize}\r\n`), Buffer.alloc(valueSize, 0x78), CRLF,
    ]);
    this.keyLetter = keyLetter.charCodeAt(0);
  }

  /** Bytes one set takes; size the buffer for the largest request times the window. */
  static maxRequestBytes(valueSize: number, keysPerGet: number): number {
    const set = SET.length + KEY_LEN + 32 + valueSize + 2;
    const get = GET.length + keysPerGet * (KEY_LEN + 1) + 2;
    return Math.max(set, get);
  }

  get(keys: readonly number[] | Int32Array, n: number): void {
    this.buf.set(GET, this.pos);
    this.pos += GET.length;
    for (let i = 0; i < n; i++) {
      this.buf[this.pos++] = 0x20;
      this.key(keys[i]);
    }
    this.buf.set(CRLF, this.pos);
    this.pos += CRLF.length;
  }

  set(key: number): void {
    this.buf.set(SET, this.pos);
    this.pos += SET.length;
    this.key(key);
    this.buf.set(this.setTail, this.pos);
    this.pos += this.setTail.length;
  }

  private key(k: number): void {
    const b = this.buf;
    b[this.pos] = this.keyLetter;
    for (let i = KEY_DIGITS; i >= 1; i--) {
      b[this.pos + i] = 0x30 + (k % 10);
      k = Math.floor(k / 10);
    }
    this.pos += KEY_LEN;
  }
}

/** xorshift32: a cheap, seedable stream of key numbers, one per worker thread. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed | 0) || 0x9e3779b9; }
  next(): number {
    let x = this.s;
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    this.s = x;
    return x >>> 0;
  }
  below(n: number): number { return this.next() % n; }
}
