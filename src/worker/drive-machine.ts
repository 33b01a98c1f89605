// memcached's drive_machine: every connection moves through named states, one step per case,
// until it must wait for input (conn_waiting), for the socket to drain (conn_mwrite), for its turn
// after -R commands (a yield), or is closed. Replies collect in the worker's out buffer and leave
// in one write when the machine stops (transmit.ts), except when it stops for the rest of a value:
// memcached sends nothing then, and the connection keeps them until the value is in (park.ts).

import * as connModule from './conn.ts';
import type { Conn, ConnStateValue, NreadOwner, ReplyStream } from './conn.ts';
import type { ExtIoQueue } from '../extstore/io-queue.ts';
import { errnoName } from './handle-io.ts';
import { connFlush, connGiveBackLent, connMwrite } from './transmit.ts';
import * as transmit from './transmit.ts';
import { connDropParked, connPark, connUnpark } from './park.ts';
import * as rbufCache from './rbuf-cache.ts';
import * as threadStats from '../stats/thread-stats.ts';
import * as connTable from '../stats/conn-table.ts';
import { tryReadCommandAscii } from '../protocol/text/read-command.ts';
import { completeNreadAscii } from '../protocol/text/update.ts';
import { tryReadCommandBinary, completeNreadBinary } from '../protocol/binary/read-command.ts';
import { completeNreadMeta } from '../protocol/meta/ms.ts';
import * as layout from '../store/layout.ts';
import type { StoreOp } from '../store/results.ts';
import * as logger from '../logger/logger.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ConnState, CONN_STATE_NAMES, NREAD_META, Proto, StreamStep } = connModule;
const { MWRITE_AT, OUT_FLUSH_AT } = transmit;
const { READ_BUFFER_SIZE } = rbufCache;
const { ThreadStat } = threadStats;
const { ConnRow } = connTable;
const { G } = layout;
const { CloseReason, LogEvent, LogFlag } = logger;

/** Input read ahead of a yielded connection's commands past which it stops being read until its turn (readAheadCheck). */
const READ_AHEAD_MAX = 64 * 1024;

export function connSetState(c: Conn, state: ConnStateValue): void {
  if (state === c.state) return;
  if (c.ctx.verbosity() > 2) {
    c.ctx.log(`${c.id}: going from ${CONN_STATE_NAMES[c.state]} to ${CONN_STATE_NAMES[state]}`);
  }
  c.state = state;
  c.ctx.connTable.set(c.row, ConnRow.state, state);
}

/**
 * Input memcached answers by hanging up (conn_closing): say why at -v, then close. Replies queued
 * since the last flush point are lost with the connection, as memcached's unsent responses are.
 */
export function connCloseWithReason(c: Conn, reason: string): void {
  c.closeReason = reason;
  // closed from outside while it waits for input (idle, the server stopping): memcached, out of whole requests, had
  // read on from the one it lacks, 16 KB from there, whatever read brought it (what connClose's reset goes by)
  if (c.state === ConnState.waiting) c.fillEnd = Math.max(c.fillEnd, c.rpos + READ_BUFFER_SIZE);
  connSetState(c, ConnState.closing);
}

/** memcached's close_after_write (quit, a binary protocol error): every reply so far goes out, then close. */
export function connCloseAfterWrite(c: Conn, reason: string): void {
  c.flushPoint();
  if (reason === 'quit') c.closeKind = CloseReason.NORMAL;
  connCloseWithReason(c, reason);
}

export function driveMachine(c: Conn): void {
  c.ctx.store.log.cfd = c.id; // memcached's c->sfd in the log lines of what this connection does
  c.ctx.store.extReads = c.extIo; // the values on flash this connection's IO threads read for it
  drive(c);
  // whatever stopped it, its batch's replies are out or it waits: headers whose objects its reads found gone go
  // now, before another connection runs (memcached's IO would complete while this one waits)
  c.ctx.store.extMissesDone();
}

function drive(c: Conn): void {
  for (;;) {
    switch (c.state) {
      case ConnState.newCmd:
        if (c.ioWait) { connSetState(c, ConnState.ioQueue); break; }
        // reads a command waited for and did not use (what it read moved or went meanwhile) go with it
        if (c.extIo !== null && c.longGet === 0 && !c.ioReplay) c.extIo.clear();
        // the last command was a flush point (a text get's END, mn, ...): memcached sent the batch's replies and
        // let go of them, unlinking the headers whose objects its reads found gone (recache_or_free)
        if (c.cmdsSinceFlush === 0) c.ctx.store.extMissesDone();
        if (c.writeBlocked) { connSetState(c, ConnState.mwrite); break; }
        // memcached sends at a flush point and lets go of the items sent: values sent from their items go now, and
        // replies once there are enough that a full socket should stop the connection here (connMwrite)
        if (c.ctx.out.size() > OUT_FLUSH_AT || c.ctx.out.hasCommittedAttached() || c.ctx.out.committedBytes() > MWRITE_AT) {
          connMwrite(c, true);
          if (c.writeBlocked) { connSetState(c, ConnState.mwrite); break; }
        }
        if (--c.reqsLeft < 0) {
          if (c.udp !== null) udpYield(c);
          else if (connYield(c)) return;
          else break; // to conn_waiting
        }
        connSetState(c, ConnState.parseCmd);
        break;
      case ConnState.parseCmd:
        if (c.rpos < c.rend) {
          c.cmdsSinceFlush++; // memcached starts a response per command; a flush point in the command clears them
          if (tryReadCommand(c)) break;
          c.cmdsSinceFlush--; // not all in yet: no command ran
        }
        if (c.cmdsSinceFlush > 0) commandsWorkedOff(c);
        connSetState(c, ConnState.waiting);
        break;
      case ConnState.waiting:
        if (c.redispatched) idleAfterStream(c); // before the flush: the client may look once the stream's end is out
        // (so is a yield's conn_new_cmd, as memcached's shows it: the client may look once its replies are out)
        if (c.yieldedIdle) c.ctx.connTable.set(c.row, ConnRow.state, ConnState.newCmd);
        connMwrite(c);
        if (c.rpos >= c.rend) { // all input worked off
          c.writeArmed = false; // memcached's conn_waiting waits for EV_READ again
          c.rbufMalloced = false; // rbuf_release: a get's grown buffer goes back
          if (c.holdsRbuf && !c.yieldedIdle) rbufRelease(c);
          c.shrinkInput();
        }
        if (c.writeBlocked) { connSetState(c, ConnState.mwrite); break; }
        if (c.inputEnded) connClose(c);
        return; // the next read (onConnRead) drives us again
      case ConnState.nread:
        if (!readValue(c)) { valueAwaited(c); return; }
        break;
      case ConnState.swallow:
        if (!swallow(c)) { valueAwaited(c); return; }
        break;
      case ConnState.mwrite:
        connFlush(c);
        return; // the write's completion (onConnDrain) drives us again
      case ConnState.ioQueue:
        // memcached takes the connection off its event loop until its reads are back: what is answered goes now
        connFlush(c);
        c.io?.pause();
        return; // the last read's completion (onConnIoDone) drives us again
      case ConnState.watch:
        if (c.inputEnded && c.stream?.readsInput === true) { watcherHungUp(c); return; }
        if (!streamStep(c)) return;
        break;
      case ConnState.closing:
        c.ctx.out.dropUncommitted();
        connFlush(c);
        if (c.udp !== null) { c.rpos = c.rend; return; } // conn_cleanup: the datagram's rest is dropped, the port stays
        connClose(c);
        return;
      case ConnState.closed:
        c.ctx.out.truncate(0);
        return;
    }
  }
}

/**
 * nread or swallow with the rest of the value still to come: wait for it. memcached sends nothing until the value is
 * in, so the replies since the last flush point, their items and their response objects wait with the connection
 * (park.ts); what passed a flush point goes now. The command's own response object is held apart (holdsResp) until
 * more of the value comes. A UDP datagram is whole: what it answered goes now, and its unfinished value is dropped.
 */
function valueAwaited(c: Conn): void {
  if (c.udp !== null) { connFlush(c); return; }
  const ctx = c.ctx;
  if (ctx.readBufLimited && !c.holdsResp) { c.holdsResp = true; ctx.rbufCache.respHold(); }
  if (ctx.out.size() !== 0 || ctx.out.holdsItems() || ctx.readBufLimited) connPark(c);
  if (c.inputEnded) connClose(c);
}

function tryReadCommand(c: Conn): boolean {
  if (c.proto === Proto.negotiating) c.proto = c.udp !== null ? udpProtocol(c.rbuf[c.rpos]) : negotiate(c, c.rbuf[c.rpos]);
  if (c.state === ConnState.closing) return true;
  // a binary command's response is empty when it is quiet, and memcached still sends that one when it heads a
  // batch (its binary noreply adds no header but does not skip the response, as text noreply and meta q do)
  if (c.udp !== null) c.udp.respStart(c.ctx.out.pos, c.proto === Proto.binary);
  return c.proto === Proto.binary ? tryReadCommandBinary(c) : tryReadCommandAscii(c);
}

/** -B auto: a first byte of 0x80 (binary request magic) selects the binary protocol. */
function negotiate(c: Conn, first: number): typeof Proto.ascii | typeof Proto.binary {
  const mode = c.bindingProtocol;
  const binary = mode === 'binary' || (mode === 'auto' && first === 0x80);
  if (mode === 'auto' && c.ctx.verbosity() > 1) { // memcached negotiates only under -B auto
    c.ctx.log(`${c.id}: Client using the ${binary ? 'binary' : 'ascii'} protocol`);
  }
  return binary ? Proto.binary : Proto.ascii;
}

/**
 * try_read_command_udp: a datagram speaks whichever protocol its first byte says, whatever -B is, and
 * memcached says nothing of it at -vv.
 */
function udpProtocol(first: number): typeof Proto.ascii | typeof Proto.binary {
  return first === 0x80 ? Proto.binary : Proto.ascii;
}

/**
 * A store's item is allocated: read its value into it (conn_nread), then have `owner` store it with `op` and
 * `casIn`. memcached's process_update_command, process_mset_command and process_bin_update each end so: c->item,
 * c->ritem at the value, c->rlbytes, then conn_set_state(c, conn_nread). `rlbytes` is what the client sends: the
 * value and its "\r\n" (text, ms), or the value alone (binary: its completion writes the "\r\n").
 */
export function connStartNread(c: Conn, it: number, rlbytes: number, op: StoreOp, casIn: number,
  owner: NreadOwner): void {
  c.item = it;
  c.itemAt = 0;
  c.rlbytes = rlbytes;
  c.storeOp = op;
  c.casIn = casIn;
  c.nreadOwner = owner;
  connSetState(c, ConnState.nread);
}

/** conn_nread: copy value bytes from the input straight into the item. */
function readValue(c: Conn): boolean {
  const n = Math.min(c.rlbytes, c.rend - c.rpos);
  if (n > 0) {
    c.ctx.store.itemWriteValue(c.item, c.itemAt, c.rbuf, c.rpos, n);
    c.itemAt += n;
    c.rpos += n;
    c.rlbytes -= n;
  }
  if (c.rlbytes > 0) { readRestIntoItem(c); return false; }
  connSetState(c, ConnState.newCmd);
  if (c.parked !== null) connUnpark(c, c.parked); // the replies held for the value go first, the store's after them
  if (c.nreadOwner === Proto.binary) completeNreadBinary(c);
  else completeNreadAsciiOrMeta(c);
  if (c.valueResumed) valueEndsRead(c);
  return true;
}

function completeNreadAsciiOrMeta(c: Conn): void {
  if (c.nreadOwner === NREAD_META) completeNreadMeta(c);
  else completeNreadAscii(c);
}

/**
 * A value or a swallow that went on into a later read has ended: memcached read its rest exactly, so its buffer
 * is empty here and the replies so far go out (reset_cmd_handler to conn_mwrite) before it reads what follows;
 * an error on a later command cannot take them back. Its conn_mwrite comes back through conn_new_cmd once more,
 * a step of its -R budget and a yield if that was the last: its commands stay counted, so that commandsWorkedOff
 * takes that step when nothing follows, and connReadBufferRefilled when a line does (its buffer is empty: fillEnd).
 */
function valueEndsRead(c: Conn): void {
  c.valueResumed = false;
  c.commitReplies();
}

/** Below this many bytes still to come, a value's rest is copied from the read buffer instead. */
const DIRECT_READ_MIN = 4096;

/**
 * memcached reads the rest of a value straight into the item (read(fd, c->ritem, c->rlbytes)), and
 * so does Cachalot: the next read lands in the item's own bytes, one copy fewer for big values.
 */
function readRestIntoItem(c: Conn): void {
  if (c.io === null || c.rlbytes < DIRECT_READ_MIN) return;
  c.io.readInto(c.ctx.store.itemValueView(c.item, c.itemAt, c.rlbytes));
}

/**
 * The read readRestIntoItem asked for: n more value bytes are already in the item. (In any other
 * state than nread the connection closed meanwhile: the bytes are only counted, and the item waits
 * for the handle's close.)
 */
export function onConnReadInto(c: Conn, n: number): void {
  if (c.state === ConnState.nread) { c.itemAt += n; c.rlbytes -= n; }
  inputArrived(c, n);
}

/** conn_swallow: skip the value of a refused store. */
function swallow(c: Conn): boolean {
  const n = Math.min(c.sbytes, c.rend - c.rpos);
  c.rpos += n;
  c.sbytes -= n;
  if (c.sbytes > 0) return false;
  connSetState(c, ConnState.newCmd);
  if (c.parked !== null) connUnpark(c, c.parked); // the refusal that started the swallow among them
  if (c.valueResumed) valueEndsRead(c);
  return true;
}

/**
 * Start streaming a long reply: the connection stops reading (memcached takes it off its event loop) until
 * the stream has appended its end; then it goes on with what the client sent meanwhile. A stream that
 * reads input (a watcher) keeps reading, to notice a hang-up.
 */
export function connStartStream(c: Conn, stream: ReplyStream): void {
  c.stream = stream;
  if (!stream.readsInput) c.io?.pause();
  connSetState(c, ConnState.watch);
}

/**
 * A watcher whose client had already hung up, in the read its watch came in (behind a -R yield, or replies not
 * yet taken): memcached's logger reads that end and closes it, after the OK, with no reason said.
 */
function watcherHungUp(c: Conn): void {
  streamStep(c); // its OK, and any lines already there
  c.closeKind = CloseReason.ERROR;
  connClose(c);
}

/** conn_watch: one step of the stream; true once it is done and the connection takes commands again. */
function streamStep(c: Conn): boolean {
  const stream = c.stream;
  if (stream !== null) {
    if (c.writeBlocked) return false; // onConnDrain drives us again
    const before = c.ctx.out.size();
    const next = stream.step(c);
    // memcached's crawler (metadump) and logger (watch) threads write these bytes to the socket themselves:
    // they are not the worker's bytes_written
    c.ctx.stats.row[ThreadStat.bytes_written] -= c.ctx.out.size() - before;
    if (next !== StreamStep.done) {
      connFlush(c);
      // let the worker's other connections run between steps; a drain resumes a blocked one instead; an idle
      // stream is driven again by whatever feeds it
      if (next === StreamStep.more && !c.writeBlocked) setImmediate(resumeStream, c, stream);
      return false;
    }
    c.stream = null;
    c.redispatched = true;
  }
  if (!c.writeBlocked) c.io?.resume();
  connSetState(c, ConnState.newCmd);
  return true;
}

/** See Conn.redispatched: an idle connection back from a stream shows conn_new_cmd, as memcached's. */
function idleAfterStream(c: Conn): void {
  c.redispatched = false;
  if (c.rpos >= c.rend) c.ctx.connTable.set(c.row, ConnRow.state, ConnState.newCmd);
}

function resumeStream(c: Conn, stream: ReplyStream): void {
  if (c.stream === stream && c.state === ConnState.watch && c.io !== null) driveMachine(c);
}

/**
 * No whole command is left and replies wait since the last flush point: memcached sends them (conn_mwrite)
 * and comes back through conn_new_cmd once more, which spends one of its -R budget. Spent out, that is a
 * yield, counted. Its connection then waits in conn_new_cmd, and its next read event only takes it to
 * conn_waiting, which ends that turn; the read comes on the next, with a whole budget.
 */
function commandsWorkedOff(c: Conn): void {
  c.cmdsSinceFlush = 0;
  if (--c.reqsLeft >= 0) return;
  c.ctx.stats.row[ThreadStat.conn_yields]++;
  if (c.rpos >= c.rend) c.yieldedIdle = !c.writeArmed;
}

/**
 * The line being read, at `start`, is not all in memcached's 16 KB read buffer (Conn.fillEnd): memcached ran out of
 * whole lines before it, worked off what it had (commandsWorkedOff: its replies sent, one more of its -R budget
 * spent, a yield counted if that was the last) and read on in a new event, into a buffer that starts at the line,
 * with a whole budget, of which this line's command is the first. Cachalot read it with the lines before it (64 KB
 * a read): its turns are counted as memcached's are.
 */
export function connReadBufferRefilled(c: Conn, start: number): void {
  c.fillEnd = start + READ_BUFFER_SIZE;
  c.cmdsSinceFlush--; // this line: the new event's first command
  if (c.cmdsSinceFlush > 0) { c.flushPoint(); commandsWorkedOff(c); }
  c.cmdsSinceFlush = 1;
  c.reqsLeft = c.ctx.settings.reqsPerEvent;
}

/**
 * -R: after reqs_per_event commands, let other connections run; resume on the next turn. With no input left
 * there is nothing to resume: the connection waits for its next read, which gets a whole budget (see
 * commandsWorkedOff). Resuming on the loop's next turn instead would race the client's next request (the
 * replies have just gone out), and whichever came first set that request's budget. True when the machine
 * is to stop until the resume.
 */
function connYield(c: Conn): boolean {
  c.ctx.stats.row[ThreadStat.conn_yields]++;
  c.cmdsSinceFlush = 0; // the flush below (or conn_waiting's) sends them
  if (c.rpos >= c.rend) { c.yieldedIdle = !c.writeArmed; connSetState(c, ConnState.waiting); return false; }
  c.writeArmed = true;
  c.reqsLeft = c.ctx.settings.reqsPerEvent;
  connSetState(c, ConnState.newCmd);
  connMwrite(c);
  c.yieldPending = true;
  readAheadCheck(c);
  setImmediate(resumeAfterYield, c);
  return true;
}

/**
 * While a connection waits for its turn after a yield, what it sends is read on, up to READ_AHEAD_MAX not yet
 * worked off; past that it is not read from until the resume. memcached reads nothing at all then (its yield
 * waits for EV_WRITE), so its input is one read buffer whatever a client sends; stopping and starting the read
 * at every yield cost deep pipelines ~4% more CPU a request here, so only a client that outruns its commands
 * is stopped.
 */
function readAheadCheck(c: Conn): void {
  if (c.rend - c.rpos > READ_AHEAD_MAX) c.io?.pause();
}

/**
 * memcached's UDP connection yields after -R commands too, and goes on with the rest of the datagram when its
 * loop comes back to it: counted here, and the datagram is answered on at once (nothing else waits on it).
 */
function udpYield(c: Conn): void {
  c.ctx.stats.row[ThreadStat.conn_yields]++;
  c.cmdsSinceFlush = 0;
  c.reqsLeft = c.ctx.settings.reqsPerEvent - 1; // this pass's command is the first of the next turn's
}

/** The yield's turn is over: read again if readAheadCheck stopped it (a yield later in this drive checks anew) and go on. */
function resumeAfterYield(c: Conn): void {
  c.yieldPending = false;
  if (c.state !== ConnState.newCmd || c.io === null) return;
  if (!c.writeBlocked && !c.inputEnded) c.io.resume();
  driveMachine(c);
}

/**
 * The connection's IO queue when its commands may wait for reads from flash (with -o ext_path), or null: they read
 * in place under -o read_buf_mem_limit, whose response objects are taken command by command.
 */
export function connIoQueue(c: Conn): ExtIoQueue | null { return c.ctx.readBufLimited ? null : c.extIo; }

/**
 * A command that reads a value on flash waits for its reads (memcached's conn_io_queue): they go to the IO threads,
 * and the connection waits off the worker's loop (driveMachine's ioQueue) until they are back. `replayFrom` >= 0:
 * the command, of which nothing was done, is read again from there (mg, binary); -1: a text get goes on from
 * the key it paused at.
 */
export function connWaitForReads(c: Conn, replayFrom: number): void {
  c.extIo!.submit();
  c.ioWait = true;
  if (replayFrom < 0) return;
  c.rpos = replayFrom;
  c.ioReplay = true;
  c.cmdsSinceFlush--; // counted again when it is read again
}

/** The reads a command waited for are back (conn_io_queue): it goes on. */
export function onConnIoDone(c: Conn): void {
  c.ioWait = false;
  if (c.state !== ConnState.ioQueue) return;
  if (!c.writeBlocked && !c.yieldPending && !c.inputEnded) c.io?.resume();
  connSetState(c, ConnState.newCmd);
  driveMachine(c);
}

/** The handle's queued writes are done: the client read its replies; go on with what it sent meanwhile. */
export function onConnDrain(c: Conn): void {
  if (c.lent.length > 0) connGiveBackLent(c);
  if (c.respsQueued > 0) respsRead(c);
  if (!c.writeBlocked) return;
  c.writeBlocked = false;
  c.ctx.writeBlocked.delete(c);
  if (c.state === ConnState.watch) { // reading resumes when the stream ends, or now for one that reads input
    if (c.stream?.readsInput === true) c.io?.resume();
    driveMachine(c);
    return;
  }
  if (!c.yieldPending && !c.ioWait) c.io?.resume(); // else resumeAfterYield or onConnIoDone reads again
  if (c.state === ConnState.mwrite) {
    connSetState(c, ConnState.newCmd);
    driveMachine(c);
  }
}

/**
 * A read into the worker's shared buffer (worker.ts): parsed in place; the buffer is reused by
 * the next read of any connection, so what this connection leaves unconsumed is copied out
 * before returning.
 */
export function onConnRead(c: Conn, shared: Buffer, n: number): void {
  c.addShared(shared, n);
  try { inputArrived(c, n); } finally { c.keepLeftover(shared); }
}

/** memcached's last_cmd_time, for the idle timeout and, through the shared table, `stats conns` (once a second). */
export function noteCommandTime(c: Conn): void {
  const now = c.ctx.store.currentTime();
  if (now === c.lastCmdTime) return;
  c.lastCmdTime = now;
  c.ctx.connTable.set(c.row, ConnRow.lastCmd, now);
}

/**
 * New input is in c.rbuf: a fresh read gets a fresh -R budget, as a new libevent event would; but the rest of a
 * value read in the poll event its start came in is that event's, as memcached reads it in conn_nread.
 */
function inputArrived(c: Conn, n: number): void {
  c.ctx.stats.row[ThreadStat.bytes_read] += n;
  noteCommandTime(c);
  let sameEvent = false;
  if (c.state === ConnState.nread || c.state === ConnState.swallow) {
    c.valueResumed = true;
    c.fillEnd = -1; // memcached reads a value's rest straight into the item (or away): its buffer is empty after it
    sameEvent = c.io !== null && c.io.continuesRead;
  } else if (c.state !== ConnState.waiting) {
    if (c.state === ConnState.watch && c.stream?.readsInput === true) c.rpos = c.rend; // a watcher's input: dropped
    else if (c.yieldPending) readAheadCheck(c);
    return;
  } else if (!c.rbufMalloced) {
    c.fillEnd = c.rpos + READ_BUFFER_SIZE; // memcached, out of whole lines, reads a buffer from the line it lacks the end of
  }
  if (c.yieldedIdle) yieldedIdleRead(c);
  if (c.ctx.readBufLimited && !rbufTake(c)) return;
  if (c.state === ConnState.waiting) connSetState(c, ConnState.parseCmd);
  if (!c.yieldPending && !sameEvent) c.reqsLeft = c.ctx.settings.reqsPerEvent;
  driveMachine(c);
}

/**
 * Drop the reference to the item being read. When a read was told to land in it (readRestIntoItem),
 * libuv may still write there until the handle closes: then it is released with the closed socket.
 */
export function connReleaseItem(c: Conn): void {
  if (c.item === 0) return;
  if (c.io !== null && c.io.cancelReadInto()) c.itemAwaitingClose = c.item;
  else c.ctx.store.itemRelease(c.item);
  c.item = 0;
}

/** A read for a connection idle after a yield: memcached's conn_waiting lets its read buffer go, conn_read takes one. */
function yieldedIdleRead(c: Conn): void {
  c.yieldedIdle = false;
  if (c.holdsRbuf) rbufRelease(c);
}

/**
 * -o read_buf_mem_limit, as input arrives: memcached's conn_read takes a read buffer for a connection that has
 * none, and closes the connection when the thread has none left (read_buf_oom; what was read is dropped
 * with it). A command that was waiting for its value gets on with its reply: the object it held counts
 * among the replies being collected.
 */
function rbufTake(c: Conn): boolean {
  const cache = c.ctx.rbufCache;
  if (c.holdsResp) { c.holdsResp = false; cache.respResume(); }
  if (c.holdsRbuf || c.udp !== null) return true; // a UDP port reads into a buffer of its own
  if (cache.rbufAlloc()) { c.holdsRbuf = true; return true; }
  c.ctx.stats.row[ThreadStat.read_buf_oom]++;
  c.closeReason = 'no read buffer left';
  c.rpos = c.rend;
  connClose(c);
  return false;
}

/** rbuf_release: at conn_waiting with all input worked off, or at close; a partial command keeps its buffer. */
function rbufRelease(c: Conn): void {
  c.holdsRbuf = false;
  c.ctx.rbufCache.rbufRelease();
}

/** The client has read the replies its queued writes carried: their response objects are free (resp_finish). */
function respsRead(c: Conn): void {
  c.ctx.rbufCache.respsUnhold(c.respsQueued);
  c.respsQueued = 0;
}

/** conn_close: its read buffer and every response object it holds go back (conn_release_items, rbuf_release). */
function releaseHoldings(c: Conn): void {
  if (c.parked !== null) connDropParked(c, c.parked); // the value never came: memcached's unsent replies are lost too
  if (c.holdsRbuf) rbufRelease(c);
  if (c.holdsResp) { c.holdsResp = false; c.ctx.rbufCache.respsUnhold(1); }
  if (c.respsQueued > 0) respsRead(c);
  if (c.getResps > 0) connGetRespsRelease(c);
}

/** The objects a get still holds for keys it will not answer (an error ended it, or its connection closed) go back. */
export function connGetRespsRelease(c: Conn): void {
  c.ctx.rbufCache.respsUnhold(c.getResps);
  c.getResps = 0;
}

/**
 * memcached's resp_start for a command: with no response object left, the connection is closed (conn_closing).
 * Called only under the limit (ctx.readBufLimited).
 */
export function connRespStart(c: Conn): boolean {
  if (c.ctx.rbufCache.respStart()) return true;
  c.ctx.stats.row[ThreadStat.response_obj_oom]++;
  connCloseWithReason(c, 'no response object left');
  return false;
}

const UV_EOF = -4095;

/** The handle path's end of input: the client hung up (or the read failed), so close. */
export function onConnReadEnd(c: Conn, status: number): void {
  if (c.state === ConnState.closed) return;
  if (status !== UV_EOF) c.closeReason = errnoName(status);
  // memcached's read path says normal; a connection in conn_watch is closed by a side thread, with none said
  else if (c.state !== ConnState.watch) c.closeKind = CloseReason.NORMAL;
  // Commands already read still run, as memcached reads its EOF only once its buffer is worked off: those
  // left by a -R yield, or behind replies the client has yet to take. The machine closes once they are done.
  if (status === UV_EOF) {
    c.inputEnded = true; // and memcached read every byte before it: a close then sends no reset
    if ((c.yieldPending || c.writeBlocked) && c.state !== ConnState.watch) return;
  }
  connClose(c);
}

/** Hooks the worker installs: what to do once a socket is gone. */
export const connHooks = { onClosed: (_c: Conn): void => {} };

/** conn_close: release what the connection held and hang up. */
export function connClose(c: Conn): void {
  if (c.state === ConnState.closed) return;
  // a stream's thread (memcached's logger or crawler) hands the connection back to close it, and says so at -vv
  if (c.state === ConnState.watch && c.ctx.verbosity() > 1 && !c.ctx.stopping) c.ctx.log(`<${c.id} connection closing from side thread.`);
  c.state = ConnState.closed; // not connSetState: the row leaves the conn table at onClosed, and -vv says closed below
  if (c.writeBlocked) c.ctx.writeBlocked.delete(c);
  releaseHoldings(c);
  connReleaseItem(c);
  c.extIo?.clear(); // reads still out let go of their buffers as they come back
  c.ioWait = false;
  if (c.stream !== null) { c.stream.abort(c); c.stream = null; }
  const st = c.ctx.store;
  if ((st.c32[G.watchMask] & LogFlag.CONNEVENTS) !== 0) {
    st.log.connEvent(LogEvent.CONN_CLOSE, c.peerAddress, c.peerPort, c.transport === 'unix' ? 0 : 1, c.closeKind, c.id);
  }
  // memcached's line, word for word, at -vv; why Cachalot closed (its own words) only at -vvv, on a line of its own
  if (c.ctx.verbosity() > 1 && !c.ctx.stopping) {
    if (c.ctx.verbosity() > 2 && c.closeReason !== '') c.ctx.log(`${c.id}: closing: ${c.closeReason}`);
    c.ctx.log(`<${c.id} connection closed.`);
  }
  // Replies already handed to the kernel are still delivered after close(), as memcached's are;
  // only replies queued in libuv keep the handle open until they are written.
  c.io?.closeAfterWrites(inputUnreadByMemcached(c));
  connHooks.onClosed(c);
}

/**
 * The connection closes with input memcached would still have had in the kernel: bytes past its read (Conn.fillEnd)
 * that Cachalot's larger reads took. Its close(2) answers those with an RST (and a client gets ECONNRESET after
 * what arrived), so this one does too. Not when the client hung up: memcached saw the end only once it had read
 * everything. (What Cachalot did not read either is in the kernel, which resets the connection by itself.)
 */
function inputUnreadByMemcached(c: Conn): boolean {
  return !c.inputEnded && c.udp === null && !c.rbufMalloced && c.rend > Math.max(c.rpos, c.fillEnd);
}
