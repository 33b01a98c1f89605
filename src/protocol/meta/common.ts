// What every meta command shares: the checks it starts with, the O and k flags every reply may
// echo, and the O length rule.

import type { Conn } from '../../worker/conn.ts';
import * as replies from '../replies.ts';
import * as layout from '../../store/layout.ts';
import { mf, MFLAG_MAX_OPAQUE_LENGTH, MFLAG_MAX_OPT_LENGTH } from './flags.ts';
import { metaKey, metaOpaque, ERR } from './reply.ts';
import { outErrstring, outString } from '../text/out-string.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { REPLY } = replies;
const { KEY_MAX_LENGTH } = layout;

/**
 * The checks mg, md and ma start with, in memcached's order: a key at all, its length, how many
 * flags, then the flags themselves (parsed into `mf`). False once the error reply is written.
 * mg words two of its errors its own way: `tooMany` and, when null, the flag parser's own text.
 */
export function metaPreamble(c: Conn, buf: Buffer, ntokens: number, tooMany: Buffer, badFlags: Buffer | null): boolean {
  if (ntokens < 3) { outString(c, REPLY.ERROR); return false; }
  if (c.tokens[3] - c.tokens[2] > KEY_MAX_LENGTH) { outErrstring(c, ERR.BAD_FORMAT); return false; }
  if (ntokens > MFLAG_MAX_OPT_LENGTH) { outErrstring(c, tooMany); return false; }
  if (!mf.preparse(c, buf, 2, ntokens, c.ctx.store)) { outErrstring(c, badFlags ?? mf.errstr); return false; }
  c.noreply = mf.noReply;
  return true;
}

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
