// memcached's out_string: a one-line reply, held back when the command said noreply, and its -vv line, printed
// as the reply is written: ">fd reply" (">fd NOREPLY reply" when noreply hid it). Printed there, it comes where
// memcached's does among the lines a command prints after its reply: a refused set's "> FOUND KEY" (-vvv) follows
// its SERVER_ERROR. Replies memcached does not send through out_string (VALUE and STAT blocks, a get's END,
// meta's result lines, "Error TLS not enabled") are written to the out buffer directly and print nothing.
// The request path pays one verbosity test per reply, as memcached's out_string does.

import type { Conn } from '../../worker/conn.ts';

/** memcached's out_string: one reply (ending "\r\n"), unless the command said noreply. */
export function outString(c: Conn, reply: Uint8Array): void {
  if (c.noreply) {
    c.noreply = false;
    if (c.ctx.verbosity() > 1) logReply(c, 'NOREPLY ', reply);
    return;
  }
  c.ctx.out.bytes(reply);
  if (c.ctx.verbosity() > 1) logReply(c, '', reply);
}

/** memcached's out_errstring: an error, which reaches the client whatever noreply said. */
export function outErrstring(c: Conn, reply: Uint8Array): void {
  c.noreply = false;
  outString(c, reply);
}

/** out_string of incr/decr's new value (made into digits only when it is sent or logged). */
export function outStringNumber(c: Conn, n: bigint): void {
  if (c.noreply) {
    c.noreply = false;
    if (c.ctx.verbosity() > 1) c.ctx.log(`>${c.id} NOREPLY ${n}`);
    return;
  }
  const text = n.toString();
  c.ctx.out.ascii(text);
  c.ctx.out.crlf();
  if (c.ctx.verbosity() > 1) c.ctx.log(`>${c.id} ${text}`);
}

/** out_string's -vv line for a reply (ending "\r\n"), for callers that write it themselves (ascii auth). */
export function logReply(c: Conn, noreply: string, reply: Uint8Array): void {
  const line = Buffer.from(reply.buffer, reply.byteOffset, reply.length - 2).toString('latin1');
  c.ctx.log(`>${c.id} ${noreply}${line}`);
}
