// memcached's try_read_command_binary + dispatch_bin_command: wait for the 24-byte header, then for
// the extras and key (at most the 16 KB read buffer memcached has, outgrowsReadBuffer, whatever the
// header claims), check the frame, and hand it to the command. Values never wait in the read buffer: they go
// through conn_nread straight into the item, or are swallowed; the body length is never used to
// allocate anything.

import type { Conn } from '../../worker/conn.ts';
import * as connModule from '../../worker/conn.ts';
import {
  connCloseAfterWrite, connCloseWithReason, connReadBufferRefilled, connRespStart, connSetState, noteCommandTime,
} from '../../worker/drive-machine.ts';
import { HEADER_LEN, MAGIC_REQ, Op, hex2, Status, BinState, BinSubstate, binState, readU64Number, writeBinError, writeBinResponse } from './header.ts';
import { processBinGetOrTouch } from './get.ts';
import { processBinUpdate, processBinAppendPrepend, completeUpdateBin } from './update.ts';
import { processBinDelete, processBinIncr, processBinFlush } from './commands.ts';
import { processBinStat } from './stats.ts';
import { binListSaslMechs, processBinSaslAuth, processBinCompleteSaslAuth } from './sasl.ts';
import { PROTOCOL_VERSION } from '../text/commands.ts';
import * as layout from '../../store/layout.ts';
import { READ_BUFFER_SIZE } from '../../worker/rbuf-cache.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ConnState } = connModule;
const { KEY_MAX_LENGTH } = layout;

const VERSION_BODY = Buffer.from(PROTOCOL_VERSION, 'latin1');

/** One request from c.rbuf[c.rpos, c.rend); false when its header, extras and key are not all in. */
export function tryReadCommandBinary(c: Conn): boolean {
  const buf = c.rbuf;
  const p = c.rpos;
  if (c.rend - p < HEADER_LEN) return false;
  const replay = c.ioReplay; // read again after waiting for its reads from flash: dumped once
  c.ioReplay = false;
  // a header its buffer does not hold all of memcached does not look at (not even at its magic): it reads on first
  if (p + HEADER_LEN > c.fillEnd && c.udp === null) readBufferRefilled(c, p, replay);
  // memcached dumps every header it looks at, before any check: again at each read while its extras and key are
  // still to come
  if (c.ctx.verbosity() > 1 && !replay) logHeader(c, buf, p);
  if (buf[p] !== MAGIC_REQ) {
    if (c.ctx.verbosity() > 0) c.ctx.log(`Invalid magic:  ${buf[p].toString(16)}`);
    connCloseWithReason(c, 'invalid binary magic');
    return true;
  }
  const extlen = buf[p + 4];
  const keylen = buf.readUInt16BE(p + 2);
  const bodylen = buf.readUInt32BE(p + 8);
  // memcached waits for extras + key before it checks them against the body length; a frame whose
  // key and extras do not fit its body is refused at once instead, so a lying header cannot make us
  // wait for (or hold) bytes that are not part of any request.
  const framed = keylen + extlen <= bodylen;
  const needed = framed ? HEADER_LEN + extlen + keylen : HEADER_LEN;
  if (needed > READ_BUFFER_SIZE && c.udp === null) return outgrowsReadBuffer(c, p);
  if (c.rend - p < needed) return false;
  if (p + needed > c.fillEnd && c.udp === null) readBufferRefilled(c, p, replay);
  if (c.ctx.readBufLimited && !connRespStart(c)) return true;
  const st = binState(c);
  readHeader(st, buf, p, keylen, extlen, bodylen);
  c.rpos = framed ? p + HEADER_LEN + extlen + keylen : p + HEADER_LEN;
  noteCommandTime(c);
  dispatchBinCommand(c, st); // in conn_parse_cmd, as memcached's
  if (c.state === ConnState.parseCmd) connSetState(c, ConnState.newCmd); // unless it went on to nread, swallow, ...
  return true;
}

/**
 * memcached waits for a request's header, extras and key in its 16 KB read buffer; when they cannot fit, the
 * buffer fills, and its next read, of 0 bytes, counts as the client's hang-up: the replies before go out, then it
 * closes, with no reply to this request. That read comes only when the socket has more to read: a client that sent
 * exactly the 16 KB is not hung up on (until it sends more, or its end). (A UDP datagram is read whole, into a
 * 64 KB buffer.)
 */
function outgrowsReadBuffer(c: Conn, p: number): boolean {
  if (c.rend - p <= READ_BUFFER_SIZE) return false;
  connCloseAfterWrite(c, "binary frame: key and extras past memcached's 16 KB read buffer");
  return true;
}

/**
 * The request's header, extras and key are not all in memcached's 16 KB read buffer (Conn.fillEnd): memcached
 * sent its replies and read on into a buffer that starts at the request, in a new event (connReadBufferRefilled).
 * At -vv it dumped the header each time it looked at it: if the header was in, once on finding the rest missing
 * and, with replies to send first, once more after sending them.
 */
function readBufferRefilled(c: Conn, p: number, replay: boolean): void {
  if (c.ctx.verbosity() > 1 && !replay && p + HEADER_LEN <= c.fillEnd) {
    logHeader(c, c.rbuf, p);
    if (c.cmdsSinceFlush > 1) logHeader(c, c.rbuf, p);
  }
  connReadBufferRefilled(c, p);
}

function readHeader(st: BinState, buf: Buffer, p: number, keylen: number, extlen: number, bodylen: number): void {
  st.opcode = buf[p + 1];
  st.keylen = keylen;
  st.extlen = extlen;
  st.bodylen = bodylen;
  st.opaque = buf.readUInt32BE(p + 12);
  st.cas = readU64Number(buf, p + 16);
  st.extStart = p + HEADER_LEN;
  st.keyStart = p + HEADER_LEN + extlen;
}

/** The quiet opcodes and the loud ones they stand for (memcached's c->cmd rewrite). */
function loudOf(op: number): number {
  switch (op) {
    case Op.SETQ: return Op.SET;
    case Op.ADDQ: return Op.ADD;
    case Op.REPLACEQ: return Op.REPLACE;
    case Op.DELETEQ: return Op.DELETE;
    case Op.INCREMENTQ: return Op.INCREMENT;
    case Op.DECREMENTQ: return Op.DECREMENT;
    case Op.QUITQ: return Op.QUIT;
    case Op.FLUSHQ: return Op.FLUSH;
    case Op.APPENDQ: return Op.APPEND;
    case Op.PREPENDQ: return Op.PREPEND;
    case Op.GETQ: return Op.GET;
    case Op.GETKQ: return Op.GETK;
    case Op.GATQ: return Op.GAT;
    case Op.GATKQ: return Op.GATK;
    default: return -1;
  }
}

/** With -S, only the SASL commands and Version run before authentication; -vv says which way each command went. */
function authenticated(c: Conn, op: number): boolean {
  const rv = isAuthFree(op) || c.authenticated;
  if (c.ctx.verbosity() > 1) c.ctx.log(`authenticated() in cmd 0x${hex2(op)} is ${rv ? 'true' : 'false'}`);
  return rv;
}

function isAuthFree(op: number): boolean {
  return op === Op.SASL_LIST_MECHS || op === Op.SASL_AUTH || op === Op.SASL_STEP || op === Op.VERSION;
}

function dispatchBinCommand(c: Conn, st: BinState): void {
  const { keylen, extlen, bodylen } = st;
  st.noreply = false;
  if (keylen + extlen > bodylen) {
    writeBinError(c, st, Status.UNKNOWN_COMMAND, 0);
    connCloseAfterWrite(c, 'binary frame: key and extras longer than the body');
    return;
  }
  if (c.ctx.settings.sasl && !authenticated(c, st.opcode)) {
    writeBinError(c, st, Status.AUTH_ERROR, 0);
    connCloseAfterWrite(c, 'not authenticated');
    return;
  }
  // binprot allows 16-bit keys; items hold at most 250 bytes.
  if (keylen > KEY_MAX_LENGTH) { protocolError(c, st); return; }
  const loud = loudOf(st.opcode);
  st.noreply = loud >= 0;
  st.cmd = loud >= 0 ? loud : st.opcode;
  if (!dispatchCommand(c, st)) protocolError(c, st);
}

/** One case per command; false when the frame's lengths do not fit the command (a protocol error). */
function dispatchCommand(c: Conn, st: BinState): boolean {
  const { keylen, extlen, bodylen } = st;
  switch (st.cmd) {
    case Op.VERSION:
      if (extlen !== 0 || keylen !== 0 || bodylen !== 0) return false;
      writeBinResponse(c, st, VERSION_BODY, 0);
      return true;
    case Op.FLUSH:
      if (keylen !== 0 || bodylen !== extlen || (extlen !== 0 && extlen !== 4)) return false;
      processBinFlush(c, st);
      return true;
    case Op.NOOP:
      if (extlen !== 0 || keylen !== 0 || bodylen !== 0) return false;
      writeBinResponse(c, st, null, 0);
      c.flushPoint(); // noop flushes the pipeline
      return true;
    case Op.SET: case Op.ADD: case Op.REPLACE:
      if (extlen !== 8 || keylen === 0 || bodylen < keylen + 8) return false;
      processBinUpdate(c, st);
      return true;
    case Op.GET: case Op.GETK:
      if (extlen !== 0 || bodylen !== keylen || keylen === 0) return false;
      processBinGetOrTouch(c, st);
      return true;
    case Op.DELETE:
      if (keylen === 0 || extlen !== 0 || bodylen !== keylen) return false;
      processBinDelete(c, st);
      return true;
    case Op.INCREMENT: case Op.DECREMENT:
      if (keylen === 0 || extlen !== 20 || bodylen !== keylen + extlen) return false;
      processBinIncr(c, st);
      return true;
    case Op.APPEND: case Op.PREPEND:
      if (keylen === 0 || extlen !== 0) return false;
      processBinAppendPrepend(c, st);
      return true;
    case Op.STAT:
      if (extlen !== 0) return false;
      processBinStat(c, st);
      return true;
    default:
      return dispatchRareCommand(c, st);
  }
}

function dispatchRareCommand(c: Conn, st: BinState): boolean {
  const { keylen, extlen, bodylen } = st;
  switch (st.cmd) {
    case Op.QUIT:
      if (keylen !== 0 || extlen !== 0 || bodylen !== 0) return false;
      writeBinResponse(c, st, null, 0);
      connCloseAfterWrite(c, 'quit');
      return true;
    case Op.SASL_LIST_MECHS:
      if (extlen !== 0 || keylen !== 0 || bodylen !== 0) return false;
      binListSaslMechs(c, st);
      return true;
    case Op.SASL_AUTH: case Op.SASL_STEP:
      if (extlen !== 0 || keylen === 0) return false;
      processBinSaslAuth(c, st);
      return true;
    case Op.TOUCH: case Op.GAT: case Op.GATK:
      if (extlen !== 4 || keylen === 0) return false;
      processBinGetOrTouch(c, st);
      return true;
    default:
      // memcached swallows the whole body length here although the extras and key are already
      // read: a following request loses its first keylen + extlen bytes. Kept, byte for byte.
      writeBinError(c, st, Status.UNKNOWN_COMMAND, bodylen);
      return true;
  }
}

/** handle_binary_protocol_error: Invalid arguments, then hang up. */
function protocolError(c: Conn, st: BinState): void {
  writeBinError(c, st, Status.EINVAL, 0);
  if (c.ctx.verbosity() > 0) c.ctx.log(`Protocol error (opcode ${hex2(st.opcode)}), close connection ${c.id}`);
  connCloseAfterWrite(c, 'binary protocol error');
}

/** memcached's complete_nread_binary: a value, or SASL data, has been read into c.item. */
export function completeNreadBinary(c: Conn): void {
  const st = binState(c);
  if (st.substate === BinSubstate.readingSaslAuthData) processBinCompleteSaslAuth(c, st);
  else completeUpdateBin(c, st);
}

/** -vv: the header as memcached dumps it, four bytes a line. */
function logHeader(c: Conn, buf: Buffer, p: number): void {
  let s = `<${c.id} Read binary protocol data:`;
  for (let i = 0; i < HEADER_LEN; i++) s += (i % 4 === 0 ? `\n<${c.id}   ` : '') + ` 0x${hex2(buf[p + i])}`;
  c.ctx.log(s);
}
