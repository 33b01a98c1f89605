// memcached's try_read_command_ascii + process_command_ascii: find one line in the input, split it
// into tokens, and hand it to the command's processor. Lines are parsed in place in the read buffer.

import { Conn } from '../../worker/conn.ts';
import * as connModule from '../../worker/conn.ts';
import {
  connCloseAfterWrite, connCloseWithReason, connReadBufferRefilled, connRespStart, connSetState,
} from '../../worker/drive-machine.ts';
import * as replies from '../replies.ts';
import * as layout from '../../store/layout.ts';
import * as readBufferModule from '../../worker/read-buffer.ts';
import { outString } from './out-string.ts';
import { endAtNul, tokenize, tokIs, tokStart, tokEnd } from './tokens.ts';
import { getLineEnd, getLineKeys, processGetCommand, processGetLine, takePausedAt } from './get.ts';
import * as getModule from './get.ts';
import { processUpdateCommand, processUpdateLine } from './update.ts';
import { processArithmeticCommand } from './delta.ts';
import {
  processDeleteCommand, processTouchCommand, processFlushAllCommand, processVersionCommand,
  processVerbosityCommand, processShutdownCommand, processMemlimitCommand, processDebugtimeCommand,
  processRefreshCertsCommand,
} from './commands.ts';
import { processStatCommand } from './stats.ts';
import { processSlabsCommand } from './slabs.ts';
import { processExtstoreCommand, processLruCommand, processLruCrawlerCommand, processWatchCommand } from './admin.ts';
import { processMetaCommand, isMetaCommand } from '../meta/meta.ts';
import * as results from '../../store/results.ts';
import { tryReadCommandAsciiAuth } from '../../auth/ascii-auth.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { REPLY } = replies;
const { KEY_MAX_LENGTH } = layout;
const { StoreOp } = results;
type StoreOp = results.StoreOp;
const { ConnState } = connModule;
const { LongGet } = getModule;
const { readBuffer } = readBufferModule;

/** Without a newline in this many bytes memcached gives up on the client, unless it is a get. */
const LINE_GARBAGE_LIMIT = 2048;
/**
 * memcached lets a get line grow without bound in its read buffer (pymemcache's get_many and pylibmc's
 * get_multi send one line for all their keys). Past this much without its end, a get line is answered
 * as it arrives instead, key by key, so that the input kept stays under a key's length whatever the line's.
 */
const LONG_GET_AT = 64 * 1024;

const L = (s: string): Buffer => Buffer.from(s);
const CMD = {
  get: L('get'), gets: L('gets'), gat: L('gat'), gats: L('gats'), bget: L('bget'),
  set: L('set'), add: L('add'), replace: L('replace'), append: L('append'), prepend: L('prepend'),
  cas: L('cas'), incr: L('incr'), decr: L('decr'), delete: L('delete'), touch: L('touch'),
  stats: L('stats'), flush_all: L('flush_all'), version: L('version'), quit: L('quit'),
  verbosity: L('verbosity'), shutdown: L('shutdown'), cache_memlimit: L('cache_memlimit'),
  debugtime: L('debugtime'), slabs: L('slabs'), lru: L('lru'), lru_crawler: L('lru_crawler'),
  watch: L('watch'), extstore: L('extstore'), refresh_certs: L('refresh_certs'),
} as const;

/** One command from the input; false when the line is not complete yet. */
export function tryReadCommandAscii(c: Conn): boolean {
  if (c.ctx.settings.authFile !== null && !c.authenticated) return tryReadCommandAsciiAuth(c); // -Y
  if (c.longGet !== LongGet.none) return continueLongGet(c);
  const buf = c.rbuf;
  const start = c.rpos;
  const nl = findNewline(buf, start, c.rend);
  if (nl < 0) return lineIncomplete(c, buf, start);
  if (nl >= c.fillEnd && !lineFitsReadBuffer(c, buf, start, nl)) return true;
  const lineEnd = commandEnd(buf, start, nl);
  c.rpos = nl + 1;
  const replay = c.ioReplay; // read again after waiting for its reads from flash: said once
  c.ioReplay = false;
  if (c.ctx.verbosity() > 1 && !replay) c.ctx.log(`<${c.id} ${buf.toString("latin1", start, lineEnd)}`);
  if (c.ctx.readBufLimited && !connRespStart(c)) return true;
  processCommandAscii(c, buf, start, lineEnd); // in conn_parse_cmd, as memcached's (`stats conns` shows it)
  if (c.state === ConnState.parseCmd) connSetState(c, ConnState.newCmd); // unless it went on to nread, swallow, ...
  return true;
}

/**
 * Where a line's text ends: before its "\r\n", or its "\n". memcached strips the "\r" only from a line with more
 * than that before the "\n" (try_read_command_ascii), so a bare "\r\n" is a command "\r" (ERROR, and -vv shows it).
 */
function lineEndOf(buf: Buffer, start: number, nl: number): number {
  return nl - start > 1 && buf[nl - 1] === 0x0d ? nl - 1 : nl;
}

/**
 * Where the line findNewline found ends as memcached reads the command: at its first NUL (strlen), else lineEndOf.
 * A NUL always comes first: it lies before the newline, and a stripped "\r" is the byte before the newline.
 */
function commandEnd(buf: Buffer, start: number, nl: number): number {
  return lineNul >= 0 ? lineNul : lineEndOf(buf, start, nl);
}

/**
 * Lines up to this long are scanned here, for their newline and their first NUL in one pass (one compare a byte
 * for a printable one); the rest of a longer line by Buffer#indexOf, whose native call costs more than the loop
 * for short lines, and then for a NUL. (A line still arriving is scanned again with each read: the bound keeps
 * that pass short.)
 */
const SHORT_LINE = 256;
/** The first NUL findNewline saw before the newline it found, or -1. */
let lineNul = -1;

/**
 * The first "\n" in buf[start, end), or -1; the first NUL before it in lineNul. The worker's read buffer, where most
 * lines are, is read through this module's const, with its address built into the code (read-buffer.ts).
 */
function findNewline(buf: Buffer, start: number, end: number): number {
  return buf === readBuffer ? scanNewline(readBuffer, start, end) : scanNewline(buf, start, end);
}

function scanNewline(buf: Buffer, start: number, end: number): number {
  lineNul = -1;
  const stop = Math.min(end, start + SHORT_LINE);
  for (let p = start; p < stop; p++) {
    const b = buf[p];
    if (b > 0x0a) continue;
    if (b === 0x0a) return p;
    if (b === 0 && lineNul < 0) lineNul = p;
  }
  if (stop === end) return -1;
  const nl = buf.indexOf(0x0a, stop);
  if (nl < 0 || nl >= end) return -1;
  if (lineNul < 0) {
    const nul = endAtNul(buf, stop, nl);
    if (nul < nl) lineNul = nul;
  }
  return nl;
}

/** memcached closes a client that sends 2048 bytes without a newline, unless it is a long get. */
function lineIncomplete(c: Conn, buf: Buffer, start: number): boolean {
  const avail = c.rend - start;
  if (avail <= LINE_GARBAGE_LIMIT) return false;
  // memcached's buffer ended with at most 2048 bytes of the line: it sent its replies, then read on from the line
  if (c.fillEnd - start <= LINE_GARBAGE_LIMIT && c.udp === null && !c.rbufMalloced) connReadBufferRefilled(c, start);
  const p = getWordAt(buf, start, c.rend);
  if (p < 0) lineTooLong(c);
  else {
    c.rbufMalloced = true; // rbuf_switch_to_malloc: the get line's buffer grows, without the 16 KB bound
    if (avail >= LONG_GET_AT && c.udp === null) return startLongGet(c, p);
  }
  return c.state === ConnState.closing;
}

/**
 * The line's newline is here but past the end of memcached's read buffer (Conn.fillEnd): memcached sees the line
 * without one. With more than 2048 of its bytes in the buffer it hangs up, unless it is a get, whose buffer grows;
 * with fewer it reads on, into a buffer that starts at the line, and a line that does not fit 16 KB from there is
 * hung up on too. So a 3 KB gat or junk line is answered at the start of a read and hung up on where it straddles
 * memcached's 16 KB reads. Short of the first hang-up, memcached sends the replies so far before it reads on
 * (connReadBufferRefilled). True when the line is read; false when the client is hung up on. (A UDP datagram is read
 * whole, into a 64 KB buffer: its lines are not cut.)
 */
function lineFitsReadBuffer(c: Conn, buf: Buffer, start: number, nl: number): boolean {
  if (c.udp !== null || c.rbufMalloced) return true;
  const isGet = getWordAt(buf, start, nl) >= 0;
  const garbage = c.fillEnd - start > LINE_GARBAGE_LIMIT;
  if (garbage && !isGet) return lineTooLong(c);
  connReadBufferRefilled(c, start);
  if (!garbage && nl < c.fillEnd) return true;
  if (!isGet) return lineTooLong(c);
  c.rbufMalloced = true; // rbuf_switch_to_malloc
  return true;
}

function lineTooLong(c: Conn): false {
  connCloseWithReason(c, 'line too long without a newline');
  return false;
}

/** The line is a get or gets after at most 100 spaces, the lines memcached lets grow: where its word starts, or -1. */
function getWordAt(buf: Buffer, start: number, end: number): number {
  let p = start;
  while (p < end && buf[p] === 0x20) p++;
  const isGet = startsWith(buf, p, end, 'get ') || startsWith(buf, p, end, 'gets ');
  return p - start > 100 || !isGet ? -1 : p;
}

/** A get line past LONG_GET_AT, its command word at p: from here on its keys are answered as they arrive. */
function startLongGet(c: Conn, p: number): boolean {
  const gets = c.rbuf[p + 3] === 0x73;
  c.longGet = gets ? LongGet.gets : LongGet.get;
  c.longGetKeys = 0;
  c.rpos = p + (gets ? 5 : 4);
  return continueLongGet(c);
}

/**
 * The rest of a long get line: the keys that have ended (a space after them) are answered, the one still
 * arriving is kept; at the newline, the last keys and END. The reply is the one memcached gives for the
 * whole line, but that its first VALUE blocks leave before the line ends: a key over 250 bytes late in the
 * line then cannot take them back (memcached answers only its CLIENT_ERROR). After that error, or a NUL
 * (where memcached's strlen ends the line), the rest of the line is skipped. A get paused for a client that is
 * not reading (get.ts pauseGet) goes on here too, from the key it stopped at. True when the line has ended, or
 * the get paused again (the connection then waits for the client to read).
 */
function continueLongGet(c: Conn): boolean {
  const buf = c.rbuf, start = c.rpos;
  const nl = findNewline(buf, start, c.rend);
  if (c.longGet === LongGet.skipToEnd) return skipLongGet(c, nl);
  if (nl >= 0) {
    const lineEnd = commandEnd(buf, start, nl);
    const keys = getLineKeys(c, buf, start, lineEnd);
    const paused = takePausedAt();
    if (paused >= 0) { // the client reads first
      c.rpos = paused;
      c.longGetKeys += keys;
    } else {
      c.rpos = nl + 1;
      c.longGet = LongGet.none;
      if (keys >= 0) getLineEnd(c, c.longGetKeys + keys);
    }
    if (c.state === ConnState.parseCmd) connSetState(c, ConnState.newCmd);
    return true;
  }
  const nul = endAtNul(buf, start, c.rend);
  let ended = nul; // the keys that have ended: up to a NUL, or to the last space
  if (nul === c.rend) {
    while (ended > start && buf[ended - 1] !== 0x20) ended--;
    // a key still arriving that is already too long ends the get now: lookupKeys answers it with the rest
    if (c.rend - ended > KEY_MAX_LENGTH) ended = c.rend;
  }
  const keys = getLineKeys(c, buf, start, ended);
  const paused = takePausedAt();
  c.rpos = paused >= 0 ? paused : ended;
  if (keys < 0) c.longGet = LongGet.skipToEnd;
  else if (nul < c.rend && paused < 0) { getLineEnd(c, c.longGetKeys + keys); c.longGet = LongGet.skipToEnd; }
  else c.longGetKeys += keys;
  if (c.longGet === LongGet.skipToEnd) c.rpos = c.rend;
  return false;
}

/** After a long get line's reply: its input up to the newline is dropped. */
function skipLongGet(c: Conn, nl: number): boolean {
  if (nl < 0) { c.rpos = c.rend; return false; }
  c.rpos = nl + 1;
  c.longGet = LongGet.none;
  if (c.state === ConnState.parseCmd) connSetState(c, ConnState.newCmd);
  return true;
}

function startsWith(buf: Buffer, p: number, end: number, s: string): boolean {
  if (end - p < s.length) return false;
  for (let i = 0; i < s.length; i++) if (buf[p + i] !== s.charCodeAt(i)) return false;
  return true;
}

function processCommandAscii(c: Conn, buf: Buffer, s: number, e: number): void {
  c.noreply = false;
  if (isMetaCommand(buf, s, e)) { processMetaCommand(c, buf, s, e); return; }
  if (processGetLine(c, buf, s, e)) return;
  if (processUpdateLine(c, buf, s, e)) return;
  const ntokens = tokenize(c, buf, s, e);
  // no command is shorter than two bytes: a one-byte word is an ERROR before anything looks at the rest (HTTP/)
  if (ntokens < 2 || tokEnd(c, 0) - tokStart(c, 0) < 2) { outString(c, REPLY.ERROR); return; }
  switch (buf[c.tokens[0]]) {
    case 0x67: // g
      if (ntokens < 3) { outString(c, REPLY.ERROR); return; }
      if (tokIs(c, buf, 0, CMD.get)) processGetCommand(c, buf, e, false, false);
      else if (tokIs(c, buf, 0, CMD.gets)) processGetCommand(c, buf, e, true, false);
      else if (tokIs(c, buf, 0, CMD.gat)) processGetCommand(c, buf, e, false, true);
      else if (tokIs(c, buf, 0, CMD.gats)) processGetCommand(c, buf, e, true, true);
      else outString(c, REPLY.ERROR);
      return;
    case 0x73: // s
      if (tokIs(c, buf, 0, CMD.set)) update(c, buf, ntokens, StoreOp.SET, false);
      else if (tokIs(c, buf, 0, CMD.stats)) processStatCommand(c, buf, ntokens);
      else if (tokIs(c, buf, 0, CMD.shutdown)) processShutdownCommand(c, buf, ntokens);
      else if (tokIs(c, buf, 0, CMD.slabs)) processSlabsCommand(c, buf, ntokens);
      else outString(c, REPLY.ERROR);
      return;
    case 0x61: // a
      if (tokIs(c, buf, 0, CMD.add)) update(c, buf, ntokens, StoreOp.ADD, false);
      else if (tokIs(c, buf, 0, CMD.append)) update(c, buf, ntokens, StoreOp.APPEND, false);
      else outString(c, REPLY.ERROR);
      return;
    case 0x63: // c
      if (tokIs(c, buf, 0, CMD.cas)) update(c, buf, ntokens, StoreOp.CAS, true);
      else if (tokIs(c, buf, 0, CMD.cache_memlimit) && (ntokens === 3 || ntokens === 4)) processMemlimitCommand(c, buf, ntokens);
      else outString(c, REPLY.ERROR);
      return;
    case 0x69: // i
      if (tokIs(c, buf, 0, CMD.incr) && (ntokens === 4 || ntokens === 5)) processArithmeticCommand(c, buf, ntokens, true);
      else outString(c, REPLY.ERROR);
      return;
    case 0x64: // d
      if (tokIs(c, buf, 0, CMD.delete) && ntokens >= 3 && ntokens <= 5) processDeleteCommand(c, buf, ntokens);
      else if (tokIs(c, buf, 0, CMD.decr) && (ntokens === 4 || ntokens === 5)) processArithmeticCommand(c, buf, ntokens, false);
      else if (tokIs(c, buf, 0, CMD.debugtime) && c.ctx.debugTime) processDebugtimeCommand(c, buf, ntokens);
      else outString(c, REPLY.ERROR);
      return;
    case 0x74: // t
      if (tokIs(c, buf, 0, CMD.touch) && (ntokens === 4 || ntokens === 5)) processTouchCommand(c, buf, ntokens);
      else outString(c, REPLY.ERROR);
      return;
  }
  processOtherCommand(c, buf, ntokens, e);
}

function processOtherCommand(c: Conn, buf: Buffer, ntokens: number, e: number): void {
  if (tokIs(c, buf, 0, CMD.prepend)) update(c, buf, ntokens, StoreOp.PREPEND, false);
  else if (tokIs(c, buf, 0, CMD.replace)) update(c, buf, ntokens, StoreOp.REPLACE, false);
  else if (tokIs(c, buf, 0, CMD.bget)) { if (wantTokens(c, ntokens >= 3)) processGetCommand(c, buf, e, false, false); }
  else if (tokIs(c, buf, 0, CMD.flush_all)) { if (wantTokens(c, ntokens >= 2 && ntokens <= 4)) processFlushAllCommand(c, buf, ntokens); }
  else if (tokIs(c, buf, 0, CMD.version)) processVersionCommand(c);
  else if (tokIs(c, buf, 0, CMD.quit)) { c.udp?.keepLastEmpty(); connCloseAfterWrite(c, 'quit'); } // UDP: an empty datagram
  else if (tokIs(c, buf, 0, CMD.verbosity)) { if (wantTokens(c, ntokens === 3 || ntokens === 4)) processVerbosityCommand(c, buf, ntokens); }
  else if (tokIs(c, buf, 0, CMD.lru_crawler)) processLruCrawlerCommand(c, buf, ntokens);
  else if (tokIs(c, buf, 0, CMD.watch)) processWatchCommand(c, buf, ntokens);
  else if (tokIs(c, buf, 0, CMD.lru)) { if (wantTokens(c, ntokens >= 3)) processLruCommand(c, buf, ntokens); }
  else if (tokIs(c, buf, 0, CMD.extstore)) { if (wantTokens(c, ntokens >= 3)) processExtstoreCommand(c, buf, ntokens); }
  else if (tokIs(c, buf, 0, CMD.refresh_certs)) processRefreshCertsCommand(c, buf, ntokens);
  else if (looksLikeHttp(c, buf, ntokens)) connCloseWithReason(c, 'HTTP request');
  else outString(c, REPLY.ERROR);
}

/**
 * memcached's WANT_TOKENS: a known command with the wrong number of words answers ERROR, whatever its last word
 * (the HTTP hang-up is for unknown commands only). True when the count is right.
 */
function wantTokens(c: Conn, countOk: boolean): boolean {
  if (!countOk) outString(c, REPLY.ERROR);
  return countOk;
}

const HTTP_VERSION = L('HTTP/');

/** memcached hangs up on an unknown command whose last word starts with "HTTP/": a web client, not ours. */
function looksLikeHttp(c: Conn, buf: Buffer, ntokens: number): boolean {
  const s = tokStart(c, ntokens - 2);
  if (tokEnd(c, ntokens - 2) - s < HTTP_VERSION.length) return false;
  for (let k = 0; k < HTTP_VERSION.length; k++) if (buf[s + k] !== HTTP_VERSION[k]) return false;
  return true;
}

/** set/add/replace/append/prepend take 6 or 7 tokens, cas 7 or 8 (memcached's counts). */
function update(c: Conn, buf: Buffer, ntokens: number, op: StoreOp, isCas: boolean): void {
  const min = isCas ? 7 : 6;
  if (ntokens !== min && ntokens !== min + 1) { outString(c, REPLY.ERROR); return; }
  processUpdateCommand(c, buf, ntokens, op, isCas);
}

