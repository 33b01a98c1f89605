// memcached sends nothing from conn_nread or conn_swallow: a read that leaves a value (or the bytes of a refused
// one) unfinished just stops, and the replies queued since the last flush point go out only once the value is in,
// with the store's own (reset_cmd_handler finds the read buffer empty: conn_mwrite); a client that hangs up first
// never gets them. The worker's out buffer serves every connection of the worker, so a connection that stops there
// parks those replies: their bytes, the items they name and their response objects go with the connection
// (Conn.parked), and come back to the front of the buffer when the value is in, before the store's reply.

import type { Conn } from './conn.ts';
import { noParkedReplies, parkedIsEmpty, type ParkedReplies } from './out-buffer.ts';
import { backlogLimit, connFlush, connStallIfUnsent, OUT_FLUSH_AT } from './transmit.ts';

/**
 * What the connections of one worker may park together: max(16 MB, 2 x -I), what one connection may leave unread.
 * One connection parks at most OUT_FLUSH_AT (512 KB): the machine sends what piles up past that before each command
 * (drive-machine.ts newCmd), so only a swallow's refusal can add to it. Past either bound the replies are sent at
 * once, as replies past OUT_FLUSH_AT are, and only their items and objects are parked.
 */
function workerParkLimit(itemSizeMax: number): number { return backlogLimit(itemSizeMax); }

/**
 * The connection stops to wait for the rest of a value: what passed a flush point is sent now (memcached sent it
 * there), the rest is parked. Nothing is made when nothing is pending (the caller checks): 16 KB sets, one in flight,
 * come here at every read but the last of each value.
 */
export function connPark(c: Conn): void {
  const ctx = c.ctx, out = ctx.out;
  const p = c.parked ??= noParkedReplies(); // the connection's before the write: one that fails closes it, dropping p
  if (ctx.readBufLimited) p.resps += ctx.rbufCache.respsPark();
  const n = out.uncommittedSize();
  if (n <= OUT_FLUSH_AT && out.parkedBytes + n <= workerParkLimit(ctx.settings.itemSizeMax)) out.park(p);
  else out.parkHeld(p); // past a bound the replies go now, as those past OUT_FLUSH_AT do; only their items wait
  const notYetDue = out.uncommittedSize(); // what parkHeld left in the buffer: memcached has not sent it yet
  connFlush(c); // nothing more is written until the value is in
  // memcached would have stopped in conn_mwrite at the flush point, before this command: a socket that cannot take
  // what passed it stops the connection here, reading none of the value, until the client reads
  connStallIfUnsent(c, notYetDue);
  if (c.parked === p && parkedIsEmpty(p)) c.parked = null;
}

/** The value is in: its connection's parked replies go back to the front of the out buffer, the store's to follow. */
export function connUnpark(c: Conn, p: ParkedReplies): void {
  c.ctx.out.unpark(p); // (throws, moving nothing, if the buffer is not empty: the connection is closed and drops p)
  c.parked = null;
  if (p.resps > 0) c.ctx.rbufCache.respsUnpark(p.resps);
  p.resps = 0;
}

/** The connection closes with its value unfinished: its parked replies are never sent, and let go of what they hold. */
export function connDropParked(c: Conn, p: ParkedReplies): void {
  c.parked = null;
  c.ctx.out.dropParked(p);
  if (p.resps > 0) c.ctx.rbufCache.respsUnhold(p.resps);
  p.resps = 0;
}
