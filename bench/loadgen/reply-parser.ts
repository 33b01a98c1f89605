// The load generator's reply parser: just enough of memcached's text protocol to know where each
// reply ends, count hits and spot errors, so the generator spends its CPU on sending, not parsing.
// It works over the bytes of one read in place; a line split across reads is carried in a small
// reused buffer, and a value split across reads is skipped by count.

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const MAX_LINE = 1024; // our keys are short: any longer line means the stream is not what we think

export class ReplyParser {
  hits = 0;      // VALUE lines seen
  errors = 0;    // ERROR, CLIENT_ERROR, SERVER_ERROR or a line we do not understand
  notStored = 0; // NOT_STORED, NOT_FOUND, EXISTS
  lastError = '';
  private skip = 0; // value bytes (with their CRLF) still to pass over
  private readonly carry = Buffer.allocUnsafe(MAX_LINE);
  private carryLen = 0;

  /** Consumes buf[start, end) and answers how many replies it completed. */
  feed(buf: Uint8Array, start: number, end: number): number {
    let pos = start;
    let done = 0;
    if (this.skip > 0) pos = this.skipValue(pos, end);
    if (this.carryLen > 0 && pos < end) {
      const eol = buf.indexOf(LF, pos);
      const stop = eol < 0 || eol >= end ? end : eol + 1;
      this.appendCarry(buf, pos, stop);
      pos = stop;
      if (eol < 0 || eol >= end) return done;
      const len = this.carryLen;
      this.carryLen = 0;
      done += this.onLine(this.carry, 0, len - 1);
      if (this.skip > 0) pos = this.skipValue(pos, end);
    }
    while (pos < end) {
      const eol = buf.indexOf(LF, pos);
      if (eol < 0 || eol >= end) {
        this.appendCarry(buf, pos, end);
        break;
      }
      done += this.onLine(buf, pos, eol);
      pos = eol + 1;
      if (this.skip > 0) pos = this.skipValue(pos, end);
    }
    return done;
  }

  private skipValue(pos: number, end: number): number {
    const n = Math.min(this.skip, end - pos);
    this.skip -= n;
    return pos + n;
  }

  private appendCarry(buf: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (this.carryLen + n > MAX_LINE) throw new Error('reply line longer than 1024 bytes: stream out of step');
    this.carry.set(buf.subarray(s, e), this.carryLen);
    this.carryLen += n;
  }

  /** One reply line in buf[s, eol] (eol is the LF); answers 1 when it ends a reply. */
  private onLine(buf: Uint8Array, s: number, eol: number): number {
    switch (buf[s]) {
      case 0x56: // VALUE <key> <flags> <bytes>: the value follows
        this.hits++;
        this.skip = valueLength(buf, s, eol) + 2;
        return 0;
      case 0x45: // END, or ERROR
        if (buf[s + 1] === 0x4e) return 1;
        return this.error(buf, s, eol);
      case 0x53: // STORED, or SERVER_ERROR
        if (buf[s + 1] === 0x54) return 1;
        return this.error(buf, s, eol);
      case 0x4e: // NOT_STORED, NOT_FOUND
        this.notStored++;
        return 1;
      default: // CLIENT_ERROR, or something out of step
        return this.error(buf, s, eol);
    }
  }

  private error(buf: Uint8Array, s: number, eol: number): number {
    this.errors++;
    this.lastError = Buffer.from(buf.subarray(s, eol)).toString('latin1').trim();
    return 1;
  }
}

/** The last token of a VALUE line: its byte count. */
function valueLength(buf: Uint8Array, s: number, eol: number): number {
  let e = eol;
  if (e > s && buf[e - 1] === CR) e--;
  let d = e;
  while (d > s && buf[d - 1] !== SPACE) d--;
  let n = 0;
  for (let i = d; i < e; i++) n = n * 10 + (buf[i] - 0x30);
  return n;
}
