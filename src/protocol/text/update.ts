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
import { tokStart, tokEnd, tokLen, setNoreplyMaybe } from './tokens.ts';
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
