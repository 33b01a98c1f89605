// Pieces of meta replies, written straight into the worker's out buffer: memcached's META_CHAR,
// META_SPACE and META_KEY macros, and the meta error strings byte for byte.

import type { OutBuffer } from '../../worker/out-buffer.ts';
import type { Store } from '../../store/store.ts';
import { base64Encode, base64Length } from './base64.ts';

const r = (s: string): Buffer => Buffer.from(s + '\r\n', 'latin1');

export const ERR = {
  BAD_FORMAT: r('CLIENT_ERROR bad command line format'),
  BAD_TOKEN: r('CLIENT_ERROR bad token in command line format'),
  DUPLICATE_FLAG: r('CLIENT_ERROR duplicate flag'),
  INVALID_FLAG: r('CLIENT_ERROR invalid flag'),
  INVALID_OR_DUPLICATE: r('CLIENT_ERROR invalid or duplicate flag'),
  DECODING_KEY: r('CLIENT_ERROR error decoding key'),
  M_LENGTH: r('CLIENT_ERROR incorrect length for M token'),
  INITIAL: r('CLIENT_ERROR invalid numeric initial value'),
  DELTA: r('CLIENT_ERROR invalid numeric delta value'),
  OPAQUE_TOO_LONG: r('CLIENT_ERROR opaque token too long'),
  MG_FLAGS_TOO_LONG: r('CLIENT_ERROR options flags are too long'),
  FLAGS_TOO_LONG: r('CLIENT_ERROR options flags too long'),
  MS_MODE: r('CLIENT_ERROR invalid mode for ms M token'),
  MA_MODE: r('CLIENT_ERROR invalid mode for ma M token'),
  NON_NUMERIC: r('CLIENT_ERROR cannot increment or decrement non-numeric value'),
  BAD_CHUNK: r('CLIENT_ERROR bad data chunk'),
  TOO_LARGE: r('SERVER_ERROR object too large for cache'),
  NO_MEMORY: r('SERVER_ERROR out of memory storing object'),
  DELTA_NO_MEMORY: r('SERVER_ERROR out of memory'),
  VIVIFY_NO_MEMORY: r('SERVER_ERROR Out of memory allocating new item'),
  UNHANDLED: r('SERVER_ERROR Unhandled storage type.'),
} as const;

/** The two-letter return codes. */
export const CODE = {
  VA: 0x5641, HD: 0x4844, EN: 0x454e, EX: 0x4558, NF: 0x4e46, NS: 0x4e53, MN: 0x4d4e, ME: 0x4d45,
} as const;

export function code(out: OutBuffer, twoLetters: number): void {
  out.reserve(2);
  out.buf[out.pos++] = twoLetters >> 8;
  out.buf[out.pos++] = twoLetters & 0xff;
}

/** META_CHAR: " <c>". */
export function metaChar(out: OutBuffer, ch: number): void {
  out.reserve(2);
  out.buf[out.pos++] = 0x20;
  out.buf[out.pos++] = ch;
}

/** An O token echoed back as it came: " O<opaque>". */
export function metaOpaque(out: OutBuffer, buf: Uint8Array, s: number, e: number): void {
  out.space();
  out.copyFrom(buf, s, e - s);
}

/** META_KEY from request bytes: " k<key>", or " k<base64> b" for a binary key. */
export function metaKey(out: OutBuffer, buf: Uint8Array, ks: number, nkey: number, binary: boolean): void {
  metaChar(out, 0x6b);
  if (!binary) { out.copyFrom(buf, ks, nkey); return; }
  out.reserve(base64Length(nkey) + 2);
  out.pos += base64Encode(buf, ks, nkey, out.buf, out.pos);
  metaChar(out, 0x62);
}

/** The item's key bytes as text (base64 when it was stored with `b`); `withK` adds " k" and " b". */
export function itemKey(out: OutBuffer, st: Store, it: number, withK: boolean): void {
  const nkey = st.itemNkey(it);
  const binary = st.itemKeyBinary(it);
  if (withK) metaChar(out, 0x6b);
  if (!binary) {
    out.reserve(nkey);
    out.pos += st.itemCopyKey(it, out.buf, out.pos);
    return;
  }
  out.reserve(nkey + base64Length(nkey) + 2);
  // copy the raw key past where its text goes, then encode it into place
  const raw = out.pos + base64Length(nkey);
  st.itemCopyKey(it, out.buf, raw);
  out.pos += base64Encode(out.buf, raw, nkey, out.buf, out.pos);
  if (withK) metaChar(out, 0x62);
}

/** itoa_u32 of a C unsigned subtraction: a negative difference wraps as memcached prints it. */
export function u32(out: OutBuffer, n: number): void {
  out.uint(n >>> 0);
}

/** "t"'s number: seconds left (as memcached's u32), -1 for an item that never expires (exptime 0). */
export function metaTtl(out: OutBuffer, exptime: number, now: number): void {
  if (exptime === 0) { out.byte(0x2d); out.byte(0x31); return; }
  u32(out, exptime - now);
}
