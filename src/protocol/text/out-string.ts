// memcached's out_string: a one-line reply, held back when the command said noreply, and its -vv lines: it
// prints ">fd reply" (">fd NOREPLY reply" when noreply hid it) for every one-line reply it sends. Cachalot
// writes those replies in many places, so at -vv the line is read back from what a command wrote
// (`logOutString`). Only when verbosity > 1: the request path pays one test.

import type { Conn } from '../../worker/conn.ts';

/** memcached's out_string: one reply, unless the command said noreply. */
export function outString(c: Conn, reply: Uint8Array): void {
  if (c.noreply) {
    c.noreply = false;
    if (c.ctx.verbosity() > 1) logNoreply(c, reply);
    return;
  }
  c.ctx.out.bytes(reply);
}

/**
 * One-line replies memcached does not send through out_string: VALUE and STAT blocks, a get's END (its
 * get code logs that itself), and meta's result lines, built in its response object.
 */
const NOT_OUT_STRING = /^(?:VALUE |STAT |END$|Error |(?:HD|VA|EN|NF|NS|EX|ME)(?: |$))/;

/** The reply line the command wrote since `mark` (the out buffer's position before it), logged as memcached's. */
export function logOutString(c: Conn, mark: number): void {
  const out = c.ctx.out;
  if (out.pos < mark + 2) return; // nothing written, or sent on meanwhile (then it was no single line)
  if (out.buf.indexOf(0x0a, mark) !== out.pos - 1) return; // more than one line
  const line = out.buf.toString('latin1', mark, out.pos - 2);
  if (!NOT_OUT_STRING.test(line)) c.ctx.log(`>${c.id} ${line}`);
}

/** A reply noreply held back, as memcached's out_string logs it. */
export function logNoreply(c: Conn, reply: Uint8Array): void {
  c.ctx.log(`>${c.id} NOREPLY ${Buffer.from(reply.buffer, reply.byteOffset, reply.length - 2).toString('latin1')}`);
}
