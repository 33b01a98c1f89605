// set / add / replace / append / prepend / cas: memcached's process_update_command (allocate the item,
// then conn_nread copies the value into it) and complete_nread_ascii (check "\r\n", store, reply).

import type { Conn } from '../../worker/conn.ts';
import * as connModule from '../../worker/conn.ts';
import { connSetState, connStartNread } from '../../worker/drive-machine.ts';
import * as replies from '../replies.ts';
import { outString } from './out-string.ts';
import { countCas } from '../cas-counters.ts';
import * as threadStats from '../../stats/thread-stats.ts';
import { parseI32Wrapped, parseU32, parseU64, parseU64Big } from '../numbers.ts';
import { tokStart, tokEnd, tokLen, setNoreplyMaybe, NOREPLY } from './tokens.ts';
import * as results from '../../store/results.ts';
import { itemSizeOk } from '../item-size.ts';
import * as layout from '../../store/layout.ts';
import { failedAlloc, failedAllocError } from '../failed-alloc.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ConnState, Proto } = connModule;
const { REPLY } = replies;
const { SlabStat } = threadStats;
const { StoreOp, StoreResult, AllocError } = results;
type StoreOp = results.StoreOp;
type StoreResult = results.StoreResult;
const { KEY_MAX_LENGTH } = layout;

export function processUpdateCommand(c: Conn, buf: Buffer, ntokens: number, op: StoreOp, isCas: boolean): void {
  setNoreplyMaybe(c, buf, ntokens);
  const nkey = tokLen(c, 1);
  if (nkey > KEY_MAX_LENGTH) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  const flags = parseU32(buf, tokStart(c, 2), tokEnd(c, 2));
  const exptime = parseI32Wrapped(buf, tokStart(c, 3), tokEnd(c, 3));
  const vlen = parseI32Wrapped(buf, tokStart(c, 4), tokEnd(c, 4));
  if (Number.isNaN(flags) || Number.isNaN(exptime) || Number.isNaN(vlen)) {
    outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT);
    return;
  }
  let casIn = 0;
  if (isCas) {
    casIn = parseU64(buf, tokStart(c, 5), tokEnd(c, 5));
    if (Number.isNaN(casIn)) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
    if (casIn > Number.MAX_SAFE_INTEGER) c.casInExact = parseU64Big(buf, tokStart(c, 5), tokEnd(c, 5)) ?? 0n; // (-vv)
  }
  if (vlen < 0 || vlen > 0x7fffffff - 2) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  startNread(c, buf, tokStart(c, 1), nkey, flags, exptime, vlen + 2, op, casIn);
}

/**
 * A set/add/replace/append/prepend line in its plain form, read in one pass instead of tokenized: the command, one
 * space, a key of 1-250 bytes, one space, flags (up to 10 digits, at most 2^32 - 1), one space, exptime (an optional
 * '-' and up to 9 digits), one space, bytes (up to 9 digits), then the line's end or " noreply". Every line in that
 * form means to memcached what it means here; any other line (a cas, a sign, another space, a longer number, junk)
 * answers false and the tokenized path takes it, errors and all.
 */
export function processUpdateLine(c: Conn, buf: Buffer, s: number, e: number): boolean {
  const op = updateOpOf(buf, s, e);
  if (op === -1) return false;
  const ks = wordEnd;
  let p = ks;
  while (p < e && buf[p] !== 0x20) p++;
  const nkey = p - ks;
  if (nkey === 0 || nkey > KEY_MAX_LENGTH) return false;
  const flags = plainDigits(buf, p, e, 10);
  if (flags < 0 || flags > 0xffffffff) return false; // parseU32 wraps it, and the item's size goes by the wrapped flags
  p = digitsEnd;
  const negative = p + 1 < e && buf[p + 1] === 0x2d;
  const exptime = plainDigits(buf, p, e, 9, negative ? 1 : 0);
  if (exptime < 0) return false;
  const vlen = plainDigits(buf, digitsEnd, e, 9);
  if (vlen < 0) return false;
  p = digitsEnd;
  if (p !== e) {
    if (!isNoreplyAt(buf, p, e)) return false;
    c.noreply = true;
  }
  startNread(c, buf, ks, nkey, flags, negative ? -exptime : exptime, vlen + 2, op, 0);
  return true;
}

/** Where the word updateOpOf matched ends (after its space). */
let wordEnd = 0;

/** The storage command a line starts with, followed by one space (its end in wordEnd); -1 for any other line. */
function updateOpOf(buf: Buffer, s: number, e: number): StoreOp | -1 {
  if (e - s < 4) return -1;
  const b0 = buf[s];
  if (b0 === 0x73) return wordAt(buf, s, e, CMD_SET) ? StoreOp.SET : -1;
  if (b0 === 0x61) return wordAt(buf, s, e, CMD_ADD) ? StoreOp.ADD : wordAt(buf, s, e, CMD_APPEND) ? StoreOp.APPEND : -1;
  if (b0 === 0x72) return wordAt(buf, s, e, CMD_REPLACE) ? StoreOp.REPLACE : -1;
  if (b0 === 0x70) return wordAt(buf, s, e, CMD_PREPEND) ? StoreOp.PREPEND : -1;
  return -1;
}

const CMD_SET = Buffer.from('set '), CMD_ADD = Buffer.from('add '), CMD_APPEND = Buffer.from('append ');
const CMD_REPLACE = Buffer.from('replace '), CMD_PREPEND = Buffer.from('prepend ');

/** Does the line at s start with `word` (its space included)? Sets wordEnd when it does. */
function wordAt(buf: Buffer, s: number, e: number, word: Buffer): boolean {
  const n = word.length;
  if (e - s < n) return false;
  for (let i = 0; i < n; i++) if (buf[s + i] !== word[i]) return false;
  wordEnd = s + n;
  return true;
}

/** Where the number plainDigits read ends. */
let digitsEnd = 0;

/**
 * A space at p, `skip` bytes (a sign the caller saw), then 1 to `max` decimal digits: their value, with their end
 * in digitsEnd; -1 for anything else. What follows them is the caller's to check (a space, or the line's end).
 */
function plainDigits(buf: Buffer, p: number, e: number, max: number, skip = 0): number {
  if (p >= e || buf[p] !== 0x20) return -1;
  const d0 = p + 1 + skip;
  const stop = Math.min(e, d0 + max + 1);
  let q = d0, v = 0;
  for (; q < stop; q++) {
    const d = buf[q] - 0x30;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  if (q === d0 || q - d0 > max) return -1;
  digitsEnd = q;
  return v;
}

/** " noreply" from p to the line's end e. */
function isNoreplyAt(buf: Buffer, p: number, e: number): boolean {
  if (e - p !== 1 + NOREPLY.length || buf[p] !== 0x20) return false;
  for (let i = 0; i < NOREPLY.length; i++) if (buf[p + 1 + i] !== NOREPLY[i]) return false;
  return true;
}

/** Allocate the item and let conn_nread fill it, or refuse it and swallow the value. */
export function startNread(c: Conn, buf: Buffer, ks: number, nkey: number, flags: number, exptime: number,
  nbytes: number, op: StoreOp, casIn: number): void {
  const store = c.ctx.store;
  if (c.ctx.prefixStats.enabled()) c.ctx.prefixStats.recordSet(buf, ks, nkey);
  const fits = itemSizeOk(c.ctx.settings, nkey, flags, nbytes);
  const it = fits ? store.itemAlloc(buf, ks, nkey, flags, store.realtime(exptime), nbytes) : 0;
  if (it === 0) {
    const error = failedAllocError(c, fits);
    if (error === AllocError.NO_MEMORY_IN_READ) { outOfMemoryInRead(c, nbytes); return; }
    // the error first: its -vv line comes before the -vvv lookup of the unlink, as memcached's out_string prints it
    refuseValue(c, error === AllocError.NO_MEMORY ? REPLY.SERVER_ERROR_NO_MEMORY : REPLY.SERVER_ERROR_TOO_LARGE, nbytes);
    // memcached: a failed set must not leave the old value readable (a failed add, cas... leaves it)
    failedAlloc(c, buf, ks, nkey, error, op, /* counted */ true, /* unlinkOld */ op === StoreOp.SET);
    return;
  }
  connStartNread(c, it, nbytes, op, casIn, Proto.ascii);
}

/** An error for a value not taken: the error, then the value's `nbytes` swallowed. */
function refuseValue(c: Conn, reply: Buffer, nbytes: number): void {
  outString(c, reply);
  c.sbytes = nbytes;
  connSetState(c, ConnState.swallow);
}

/**
 * A chained value's chunks ran out (memcached finds that in conn_nread, as the value arrives): its error, the value
 * swallowed, and nothing else; no store_no_memory, no watcher line, and the old value stays.
 */
export function outOfMemoryInRead(c: Conn, nbytes: number): void {
  refuseValue(c, REPLY.SERVER_ERROR_NO_MEMORY_IN_READ, nbytes);
}

/** The value is in: check its "\r\n", store it, say how it went. */
export function completeNreadAscii(c: Conn): void {
  const store = c.ctx.store;
  // c.item keeps the reference until it is handed on: a fault before that releases it (connFault).
  const it = c.item;
  const clsid = store.itemClsid(it); // read now: storeItemRelease gives our reference away
  c.ctx.stats.slab(clsid, SlabStat.set_cmds);
  if (!store.itemValueEndsWithCrlf(it)) {
    c.item = 0;
    store.itemRelease(it);
    outString(c, REPLY.CLIENT_ERROR_BAD_CHUNK);
    return;
  }
  c.item = 0;
  const ret = store.storeItemRelease(it, c.storeOp, c.casIn);
  if (c.storeOp === StoreOp.CAS) countCas(c, ret, c.casIn);
  outString(c, storeReply(ret));
}


function storeReply(ret: StoreResult): Buffer {
  switch (ret) {
    case StoreResult.STORED: return REPLY.STORED;
    case StoreResult.EXISTS: return REPLY.EXISTS;
    case StoreResult.NOT_FOUND: return REPLY.NOT_FOUND;
    case StoreResult.NOT_STORED: return REPLY.NOT_STORED;
    case StoreResult.TOO_LARGE: return REPLY.SERVER_ERROR_TOO_LARGE;
    default: return REPLY.SERVER_ERROR_NO_MEMORY;
  }
}
