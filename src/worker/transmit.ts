// memcached's transmit(): the replies a connection's commands collected in the worker's out buffer leave in one
// write (a writev when values are attached), and a client that does not read them is stopped, then hung up on.
// drive-machine.ts calls connMwrite where memcached's machine reaches conn_mwrite (connFlush where it sends without
// stopping: a multi-get's growing reply, a stream, a value's wait); onConnDrain there resumes a stopped one.

import type { Conn } from './conn.ts';
import type { ConnIo } from './conn-io.ts';
import { errnoName } from './handle-io.ts';
import * as threadStats from '../stats/thread-stats.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ThreadStat } = threadStats;

/**
 * Above this many unsent bytes a connection stops reading until the socket drains, wherever the write was made
 * (a multi-get's reply as it grows, a watch stream). At memcached's flush points any unsent byte stops it: connMwrite.
 */
const WRITE_HIGH_WATER = 256 * 1024;
/**
 * Replies past a flush point that go out at the next command boundary once there are this many. memcached writes at
 * every flush point; batching them is what makes pipelined gets cheap here, and sending at this size lets a full
 * socket stop the connection (connMwrite) about where memcached's stops: within this many bytes of replies.
 */
export const MWRITE_AT = 64 * 1024;
/** A reply bigger than this is sent before the next command (or the next key of a get) adds to it. */
export const OUT_FLUSH_AT = 512 * 1024;
/**
 * Replies a client has not read, past which it is hung up on. Once WRITE_HIGH_WATER is queued a
 * connection stops being read and a multi-get stops before its next key (get.ts pauseGet), so
 * past that mark a connection holds at most the last piece of reply it made (one value, up to -I,
 * and what was collected with it). memcached points into the items instead of copying, and serves
 * them; we copy, so this bound stays as the last resort (never below two items of -I).
 */
const MIN_BACKLOG_LIMIT = 16 * 1024 * 1024;
/**
 * The connections of one worker together may hold this many connections' worth of unread replies. Each stops
 * at WRITE_HIGH_WATER, but each may hold a copied value of up to -I past it: without a bound on the sum, -c
 * clients that never read could make the server hold -c values.
 */
const WORKER_BACKLOGS = 4;

/**
 * One write for everything collected; stop reading this client while its replies pile up. `midRead`: more
 * commands of the read are still to come, so the items of replies not yet past a flush point stay referenced, as
 * memcached keeps them until it sends those replies. (A connection that stops for a value's rest parks such
 * replies instead, and sends only what passed a flush point: park.ts.)
 */
export function connFlush(c: Conn, midRead = false): void {
  const out = c.ctx.out;
  if (out.size() === 0) { // (an empty response may still send a datagram)
    if (!midRead) out.releaseHeld(); // quiet replies (mg q, GetQ) hold items too
    if (c.udp !== null) udpFlush(c);
    else if (c.ctx.readBufLimited) c.ctx.rbufCache.respsSent(); // a noreply's response object is freed at transmit too
    return;
  }
  const io = c.io;
  if (io === null || io.closed) { udpFlush(c); return; }
  c.ctx.stats.row[ThreadStat.bytes_written] += out.uncounted();
  const attached = out.hasAttached();
  if (midRead && attached) out.holdUncommittedAttached();
  const err = attached ? transmitAttached(c, io) : io.write(out.pending());
  if (err < 0) {
    out.sent(false); // nothing of it is queued
    if (c.ctx.readBufLimited) c.ctx.rbufCache.respsSent();
    c.closeReason = `write error ${errnoName(err)}`;
    io.close(); // onClosed then releases the connection
    return;
  }
  const queued = io.lastWriteQueued ? io.queued() : 0; // the handle's queue size is a call into C++
  const left = out.sent(queued > 0, midRead);
  if (c.ctx.readBufLimited) respsWritten(c, queued > 0, midRead);
  if (left !== null && io.lendable) { // freed once the queue drains or the handle closes (connGiveBackLent)
    c.lent.push(left);
    out.lend(left);
  }
  if (queued > WRITE_HIGH_WATER) backlogged(c, io, queued);
  else if (queued > 0 && attached) awaitDrain(c, io); // the items stay referenced until it is out
}

/**
 * memcached's conn_mwrite at a flush point (or at the end of its input): transmit, and when the socket could not
 * take what passed the flush point, stay there, running no command and reading nothing, until it has. With
 * `midRead` the replies since the last flush point go out too, but memcached would not have sent them yet: those
 * may wait in libuv without stopping the connection.
 */
export function connMwrite(c: Conn, midRead = false): void {
  const notYetDue = midRead ? c.ctx.out.uncommittedSize() : 0;
  connFlush(c, midRead);
  connStallIfUnsent(c, notYetDue);
}

/**
 * After a transmit: when libuv had to queue more than the write's last `notYetDue` bytes (replies memcached would
 * not have sent yet), what passed a flush point is not out, and memcached's conn_mwrite would stop the connection.
 */
export function connStallIfUnsent(c: Conn, notYetDue: number): void {
  const io = c.io;
  if (io === null || io.closed || c.writeBlocked || !io.lastWriteQueued) return;
  if (io.queued() > notYetDue) awaitDrain(c, io);
}

/**
 * memcached's conn_mwrite with the socket full: the connection runs no command, and reads nothing, until its
 * replies are out (onConnDrain resumes it): at a flush point (connMwrite), past WRITE_HIGH_WATER, or while a write
 * holds items referenced.
 */
function awaitDrain(c: Conn, io: ConnIo): void {
  if (c.writeBlocked) return;
  c.writeBlocked = true;
  c.ctx.writeBlocked.add(c);
  io.pause();
}

/**
 * -o read_buf_mem_limit: memcached frees a reply's response object once transmit() has sent it. What the socket
 * could not take yet keeps its objects, the connection's, until the client has read it (onConnDrain).
 */
function respsWritten(c: Conn, queued: boolean, midRead: boolean): void {
  if (queued) c.respsQueued += c.ctx.rbufCache.respsQueued();
  else if (midRead) c.ctx.rbufCache.respsSentEarly();
  else c.ctx.rbufCache.respsSent();
}

/** A client is not reading its replies: stop reading it, and hang up once it, or its worker, holds too much. */
function backlogged(c: Conn, io: ConnIo, queued: number): void {
  const ctx = c.ctx;
  awaitDrain(c, io);
  if (queued > backlogLimit(ctx.settings.itemSizeMax)) {
    c.closeReason = 'unread replies over the limit';
    io.close();
    return;
  }
  if (ctx.out.lentBytes > workerBacklogLimit(ctx.settings.itemSizeMax)) {
    c.closeReason = 'unread replies over the worker\'s limit';
    io.close();
  }
}

/** The unread replies one connection may hold (bytes queued) before it is hung up on. */
export function backlogLimit(itemSizeMax: number): number { return Math.max(MIN_BACKLOG_LIMIT, 2 * itemSizeMax); }

/** The reply buffers a worker's connections may hold in queued writes together (their whole size: a queued write holds the buffer it was cut from). */
function workerBacklogLimit(itemSizeMax: number): number { return WORKER_BACKLOGS * backlogLimit(itemSizeMax); }

/** Queued writes are done (drained), or the handle closed and cancelled them: the buffers they held are free. */
export function connGiveBackLent(c: Conn): void {
  const lent = c.lent;
  for (let i = 0; i < lent.length; i++) c.ctx.out.giveBack(lent[i]);
  lent.length = 0;
}

/** A UDP connection's replies leave as datagrams (nothing is ever attached for one); a closed one's are dropped. */
function udpFlush(c: Conn): void {
  const out = c.ctx.out;
  if (c.ctx.readBufLimited) c.ctx.rbufCache.respsSent();
  if (c.udp !== null) c.ctx.stats.row[ThreadStat.bytes_written] += c.udp.transmit(out.buf, out.pos);
  out.truncate(0);
}

/**
 * memcached's transmit() with values attached: one writev of the out buffer's runs and the items'
 * bytes; the items' references are released once libuv is done with them. 0 or a negative errno.
 */
function transmitAttached(c: Conn, io: ConnIo): number {
  const out = c.ctx.out, store = c.ctx.store;
  const chunks = out.chunks();
  const held = out.takeAttached();
  return io.writev(chunks, () => { for (const it of held) store.itemRelease(it); });
}

/** Inside a long reply (a multi-get): send what has piled up; false once the client is gone. */
export function connFlushIfLarge(c: Conn): boolean {
  if (c.ctx.out.size() > OUT_FLUSH_AT) connFlush(c, true);
  return c.udp !== null || (c.io !== null && !c.io.closed);
}
