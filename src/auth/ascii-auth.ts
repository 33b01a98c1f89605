// memcached's try_read_command_asciiauth: with -Y, a text connection must first send
// "set <any key> <any flags> <any exptime> <n>\r\n" with "user pass\r\n" as its n bytes of data.
// Until that succeeds every line is answered "CLIENT_ERROR unauthenticated"; afterwards the
// connection is an ordinary text connection.

import type { Conn } from '../worker/conn.ts';
import { ConnState } from '../worker/conn.ts';
import { connCloseWithReason, connSetState } from '../worker/drive-machine.ts';
import { ThreadStat } from '../stats/thread-stats.ts';
import { endAtNul, tokenize, tokIs, tokStart, tokEnd } from '../protocol/text/tokens.ts';
import { parseU32 } from '../protocol/numbers.ts';
import { authfileCheck } from './authfile.ts';
import { logReply } from '../protocol/text/out-string.ts';

const L = (s: string): Buffer => Buffer.from(s, 'latin1');
const SET = L('set');
const UNAUTHENTICATED = L('CLIENT_ERROR unauthenticated\r\n');
const BAD_TERMINATION = L('CLIENT_ERROR bad command line termination\r\n');
const BAD_TOKEN_FORMAT = L('CLIENT_ERROR bad authentication token format\r\n');
const AUTH_FAILURE = L('CLIENT_ERROR authentication failure\r\n');
const STORED = L('STORED\r\n');
/** memcached gives up on a line without a newline after this many bytes. */
const LINE_LIMIT = 2048;
/**
 * memcached waits for the whole "user pass" block in its fixed 16 KiB read buffer; a longer
 * announced block could never arrive there, so we hang up instead of buffering it.
 */
const MAX_TOKEN_BYTES = 16 * 1024;

/** One step of the authentication exchange; false when more input is needed. */
export function tryReadCommandAsciiAuth(c: Conn): boolean {
  if (c.asciiAuthBytes === 0) {
    const r = readSetLine(c);
    if (r !== Line.DATA_FOLLOWS) return r === Line.HANDLED;
  }
  if (c.rend - c.rpos < c.asciiAuthBytes) return false;
  const s = c.rpos;
  const n = c.asciiAuthBytes;
  c.rpos += n;
  c.asciiAuthBytes = 0;
  connSetState(c, ConnState.newCmd);
  checkToken(c, c.rbuf, s, s + n);
  return true;
}

const Line = { INCOMPLETE: 0, HANDLED: 1, DATA_FOLLOWS: 2 } as const;

/** The "set ..." line: answered or refused (HANDLED), or the size of the data block is known. */
function readSetLine(c: Conn): number {
  const buf = c.rbuf;
  if (c.rend - c.rpos < 2) return Line.INCOMPLETE;
  let nl = buf.indexOf(0x0a, c.rpos);
  if (nl >= c.rend) nl = -1;
  if (nl < 0) {
    if (c.rend - c.rpos <= LINE_LIMIT) return Line.INCOMPLETE;
    connCloseWithReason(c, 'line too long without a newline');
    return Line.HANDLED;
  }
  connSetState(c, ConnState.newCmd);
  // As memcached, the "\r" stays in the last token (the number parser stops at it).
  const ntokens = tokenize(c, buf, c.rpos, endAtNul(buf, c.rpos, nl));
  c.rpos = nl + 1;
  const size = ntokens >= 6 ? parseU32(buf, tokStart(c, 4), tokEnd(c, 4)) : NaN;
  if (ntokens < 6 || !tokIs(c, buf, 0, SET) || Number.isNaN(size)) {
    authReply(c, UNAUTHENTICATED);
    return Line.HANDLED;
  }
  if (size + 2 > MAX_TOKEN_BYTES) { connCloseWithReason(c, 'auth token too long'); return Line.HANDLED; }
  c.asciiAuthBytes = size + 2;
  return Line.DATA_FOLLOWS;
}

/** The data block: "user pass\r\n". */
function checkToken(c: Conn, buf: Buffer, s: number, e: number): void {
  if (buf[e - 2] !== 0x0d || buf[e - 1] !== 0x0a) { authReply(c, BAD_TERMINATION); return; }
  const ntokens = tokenize(c, buf, s, endAtNul(buf, s, e - 2)); // "user pass" as a C string, as memcached reads it
  if (ntokens < 3) { authReply(c, BAD_TOKEN_FORMAT); return; }
  const row = c.ctx.stats.row;
  row[ThreadStat.auth_cmds]++;
  const user = buf.subarray(tokStart(c, 0), tokEnd(c, 0));
  const pass = buf.subarray(tokStart(c, 1), tokEnd(c, 1));
  if (authfileCheck(user, pass)) {
    c.authenticated = true;
    authReply(c, STORED);
  } else {
    row[ThreadStat.auth_errors]++;
    authReply(c, AUTH_FAILURE);
  }
}

/**
 * memcached answers the exchange in the one response object the connection holds until it is sent, and each
 * answer resets it (out_string): of the lines of one read, only the last one's answer goes out (a -R yield
 * sends what is there). So an answer still pending when the next comes is replaced by it. Each is still
 * logged at -vv, as out_string logs it, replaced or not (the exchange's lines themselves are not).
 */
function authReply(c: Conn, reply: Buffer): void {
  const out = c.ctx.out;
  if (out.pos === c.authReplyEnd) out.truncate(c.authReplyAt);
  c.authReplyAt = out.pos;
  out.bytes(reply);
  c.authReplyEnd = out.pos;
  if (c.ctx.verbosity() > 1) logReply(c, '', reply);
}
