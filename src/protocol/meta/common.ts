// The O and k flags every meta reply may echo, and the O length rule.

import type { Conn } from '../../worker/conn.ts';
import { mf, MFLAG_MAX_OPAQUE_LENGTH } from './flags.ts';
import { metaKey, metaOpaque } from './reply.ts';

/** Some O token is longer than memcached's MFLAG_MAX_OPAQUE_LENGTH. */
export function opaqueTooLong(c: Conn, buf: Buffer, ntokens: number): boolean {
  const t = c.tokens;
  for (let i = 2; i < ntokens - 1; i++) {
    if (buf[t[i * 2]] === 0x4f && t[i * 2 + 1] - t[i * 2] > MFLAG_MAX_OPAQUE_LENGTH) return true;
  }
  return false;
}

/** " O<opaque>" and " k<key>" in request order; the key as the request gave it (re-encoded after b). */
export function writeOpaqueAndKey(c: Conn, buf: Buffer, ntokens: number, ks: number, nkey: number): void {
  const out = c.ctx.out;
  const t = c.tokens;
  for (let i = 2; i < ntokens - 1; i++) {
    const s = t[i * 2];
    if (buf[s] === 0x4f) metaOpaque(out, buf, s, t[i * 2 + 1]);
    else if (buf[s] === 0x6b) metaKey(out, buf, ks, nkey, mf.keyBinary);
  }
}
