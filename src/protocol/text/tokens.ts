// memcached's tokenize_command over bytes: words split on single spaces (only ' ' separates: a tab
// is part of a key), at most MAX_TOKENS - 1 words, the rest of the line left as one more piece.
// Tokens are start/end offsets in the connection's reused Int32Array; nothing is copied.

import * as connModule from '../../worker/conn.ts';
import type { Conn } from '../../worker/conn.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { MAX_TOKENS } = connModule;

/**
 * memcached reads a command line as a C string (its tokenizer starts with strlen): the line ends at
 * its first NUL byte, and what follows it is ignored. So `version\0junk` is a version command.
 * A loop, whatever the length: Buffer#indexOf has no end bound, and the read buffer past the line
 * holds earlier reads' bytes, which are text, so it would scan on through all of them.
 */
export function endAtNul(buf: Uint8Array, start: number, end: number): number {
  for (let p = start; p < end; p++) if (buf[p] === 0) return p;
  return end;
}

/**
 * Fills c.tokens with the words of buf[s, e) and returns memcached's `ntokens`: the words (at most
 * 23) plus its terminal token; words past the 23rd are not read (get scans its line itself).
 */
export function tokenize(c: Conn, buf: Uint8Array, s: number, e: number): number {
  const t = c.tokens;
  let n = 0;
  let i = s;
  while (i < e) {
    while (i < e && buf[i] === 0x20) i++;
    if (i >= e) break;
    if (n === MAX_TOKENS - 1) return n + 1;
    const ws = i;
    while (i < e && buf[i] !== 0x20) i++;
    t[n * 2] = ws;
    t[n * 2 + 1] = i;
    n++;
  }
  return n + 1;
}

export function tokStart(c: Conn, i: number): number { return c.tokens[i * 2]; }
export function tokEnd(c: Conn, i: number): number { return c.tokens[i * 2 + 1]; }
export function tokLen(c: Conn, i: number): number { return c.tokens[i * 2 + 1] - c.tokens[i * 2]; }

/** Does token i hold exactly the bytes of `lit`? */
export function tokIs(c: Conn, buf: Uint8Array, i: number, lit: Uint8Array): boolean {
  const s = c.tokens[i * 2];
  if (c.tokens[i * 2 + 1] - s !== lit.length) return false;
  for (let k = 0; k < lit.length; k++) if (buf[s + k] !== lit[k]) return false;
  return true;
}

export const NOREPLY = Buffer.from('noreply');

/** memcached's set_noreply_maybe: a last word of "noreply" silences the reply. */
export function setNoreplyMaybe(c: Conn, buf: Uint8Array, ntokens: number): boolean {
  const last = ntokens - 2;
  c.noreply = last > 0 && tokIs(c, buf, last, NOREPLY);
  return c.noreply;
}

/** Word i of the line as a string: for admin commands' arguments, never on the request path. */
export function tok(c: Conn, buf: Buffer, i: number): string {
  return buf.toString('latin1', tokStart(c, i), tokEnd(c, i));
}
