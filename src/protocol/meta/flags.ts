// memcached's _meta_flag_preparse (proto_text.c): one pass over the flag tokens that rejects
// duplicates and unknown flags, decodes a base64 key in place, and reads the numeric flags.
// Replies are written later, in a second pass in request order, by each command.

import type { Conn } from '../../worker/conn.ts';
import type { Store } from '../../store/store.ts';
import { parseI32Wrapped, parseU32, parseU64, parseU64Big } from '../numbers.ts';
import { CAS_NEXT } from '../../store/items.ts';
import { base64DecodeInPlace } from './base64.ts';
import { ERR } from './reply.ts';

/** memcached's MFLAG_MAX_OPT_LENGTH: more tokens than this (the terminal one counted) is refused. */
export const MFLAG_MAX_OPT_LENGTH = 20;
/** memcached's MFLAG_MAX_OPAQUE_LENGTH: the O token, its 'O' included. */
export const MFLAG_MAX_OPAQUE_LENGTH = 32;

/** memcached's struct _meta_flags; one per worker, reset for each command. */
export class MetaFlags {
  hasError = false;
  noUpdate = false;
  locked = false;
  vivify = false;
  la = false;
  value = false;
  setStale = false;
  noReply = false;
  hasCas = false;
  hasCasIn = false;     // E: the client chose the new CAS
  removeVal = false;    // x (md): keep the item, drop its value
  newTtl = false;
  keyBinary = false;
  mode = 0;
  exptime = 0;          // rel, from T
  autovivExptime = 0;   // rel, from N
  recacheTime = 0;      // rel, from R
  clientFlags = 0;
  reqCasId = 0;
  casIdIn = 0;          // E's token
  delta = 1n;
  initial = 0n;
  errstr: Buffer = ERR.BAD_FORMAT;
  private readonly seen = new Uint8Array(127);

  reset(): void {
    this.hasError = this.noUpdate = this.locked = this.vivify = this.la = this.value = false;
    this.setStale = this.noReply = this.hasCas = this.hasCasIn = this.removeVal = this.newTtl = this.keyBinary = false;
    this.mode = this.exptime = this.autovivExptime = this.recacheTime = this.clientFlags = this.reqCasId = 0;
    this.casIdIn = 0;
    this.delta = 1n;
    this.initial = 0n;
    this.errstr = ERR.BAD_FORMAT;
    this.seen.fill(0);
  }

  /**
   * Parse tokens [start, ntokens - 1) of c.tokens. False on error, with `errstr` the reply memcached
   * gives (the last error seen wins, except that a duplicate or unknown flag stops at once).
   */
  preparse(c: Conn, buf: Buffer, start: number, ntokens: number, st: Store): boolean {
    this.reset();
    const t = c.tokens;
    for (let i = start; i < ntokens - 1; i++) {
      const s = t[i * 2], e = t[i * 2 + 1];
      const o = buf[s];
      if (o >= 127 || this.seen[o] !== 0) { this.errstr = ERR.DUPLICATE_FLAG; return false; }
      this.seen[o] = 1;
      if (!this.flag(c, buf, o, s, e, st)) { this.errstr = ERR.INVALID_FLAG; return false; }
    }
    return !this.hasError;
  }

  /** One flag; false only for an unknown one. */
  private flag(c: Conn, buf: Buffer, o: number, s: number, e: number, st: Store): boolean {
    switch (o) {
      case 0x62: this.decodeKey(c, buf); break;                              // b
      case 0x4e: {                                                           // N
        this.locked = this.vivify = true;
        const v = this.ttl(buf, s, e, st);
        if (!Number.isNaN(v)) this.autovivExptime = v;
      } break;
      case 0x54: {                                                           // T
        this.locked = true;
        const v = this.ttl(buf, s, e, st);
        if (!Number.isNaN(v)) { this.exptime = v; this.newTtl = true; }
      } break;
      case 0x52: {                                                           // R
        this.locked = true;
        const v = this.ttl(buf, s, e, st);
        if (!Number.isNaN(v)) this.recacheTime = v;
      } break;
      case 0x6c: this.la = this.locked = true; break;                        // l
      case 0x68: this.locked = true; break;                                  // h
      case 0x76: this.value = true; break;                                   // v
      case 0x75: this.noUpdate = true; break;                                // u
      case 0x71: this.noReply = true; break;                                 // q
      case 0x49: this.setStale = true; break;                                // I
      case 0x78: this.removeVal = true; break;                               // x
      case 0x4f: case 0x50: case 0x4c:                                       // O P L
      case 0x6b: case 0x73: case 0x74: case 0x63: case 0x66: break;          // k s t c f
      case 0x46: {                                                           // F
        const f = parseU32(buf, s + 1, e);
        if (Number.isNaN(f)) this.hasError = true; else this.clientFlags = f;
      } break;
      case 0x43: {                                                           // C
        const v = parseU64(buf, s + 1, e);
        if (Number.isNaN(v)) this.fail(ERR.BAD_TOKEN); else { this.reqCasId = v; this.hasCas = true; }
        if (v > Number.MAX_SAFE_INTEGER) c.casInExact = parseU64Big(buf, s + 1, e) ?? 0n; // for -vv (Conn.casInExact)
      } break;
      case 0x45: {                                                           // E
        // memcached takes any u64; our CAS is a JS number, so above 2^53 - 1 it could not be kept exactly
        const v = parseU64(buf, s + 1, e);
        if (Number.isNaN(v) || v > Number.MAX_SAFE_INTEGER) this.fail(ERR.BAD_TOKEN);
        else { this.casIdIn = v; this.hasCasIn = true; }
      } break;
      case 0x4d:                                                             // M
        if (e - s !== 2) this.fail(ERR.M_LENGTH); else this.mode = buf[s + 1];
        break;
      case 0x4a: {                                                           // J
        const v = parseU64Big(buf, s + 1, e);
        if (v === null) this.fail(ERR.INITIAL); else this.initial = v;
      } break;
      case 0x44: {                                                           // D
        const v = parseU64Big(buf, s + 1, e);
        if (v === null) this.fail(ERR.DELTA); else this.delta = v;
      } break;
      default: return false;
    }
    return true;
  }

  /** The CAS a link made by this command gives its item: E's token, else the counter's next. */
  newCas(): number {
    return this.hasCasIn ? this.casIdIn : CAS_NEXT;
  }

  private fail(err: Buffer): void {
    this.errstr = err;
    this.hasError = true;
  }

  /** A TTL token: memcached's realtime(EXPTIME_TO_POSITIVE_TIME(n)); a negative one is already expired. */
  private ttl(buf: Buffer, s: number, e: number, st: Store): number {
    const n = parseI32Wrapped(buf, s + 1, e);
    if (Number.isNaN(n)) { this.fail(ERR.BAD_TOKEN); return NaN; }
    return st.realtime(n);
  }

  /** b: the key token is base64; decode it in the request line and shorten the token. */
  private decodeKey(c: Conn, buf: Buffer): void {
    const ks = c.tokens[2];
    const n = base64DecodeInPlace(buf, ks, c.tokens[3] - ks);
    if (n === 0) this.fail(ERR.DECODING_KEY);
    c.tokens[3] = ks + n;
    this.keyBinary = true;
  }
}

/** One per worker thread: commands run to completion, so one scratch object serves them all. */
export const mf = new MetaFlags();
