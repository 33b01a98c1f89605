// Set, Add, Replace, Append, Prepend and their quiet forms: memcached's process_bin_update,
// process_bin_append_prepend and complete_update_bin. The item is allocated from the header alone and
// conn_nread copies the value straight into it; a refused value is swallowed, never buffered.

import { CRLF } from '../replies.ts';
import type { Conn } from '../../worker/conn.ts';
import { Proto } from '../../worker/conn.ts';
import { connStartNread } from '../../worker/drive-machine.ts';
import { SlabStat } from '../../stats/thread-stats.ts';
import { StoreOp, StoreResult, AllocError } from '../../store/results.ts';
import { itemSizeOk } from '../item-size.ts';
import { countCas } from '../cas-counters.ts';
import { failedAlloc, failedAllocError } from '../failed-alloc.ts';
import { Op, Status, BinState, BinSubstate, writeBinError, writeBinResponse } from './header.ts';

const OOM_ALLOCATING = Buffer.from('Out of memory allocating item');
const OOM_IN_READ = Buffer.from('Out of memory during read');

export function processBinUpdate(c: Conn, st: BinState): void {
  const buf = c.rbuf;
  const flags = buf.readUInt32BE(st.extStart);
  const exptime = buf.readUInt32BE(st.extStart + 4); // u32: above 2^31 is a far-future unix time
  let op: StoreOp = st.cmd === Op.ADD ? StoreOp.ADD : st.cmd === Op.SET ? StoreOp.SET : StoreOp.REPLACE;
  // Any store with a CAS is a compare-and-swap; with -C items have no CAS and it is ignored.
  if (st.cas !== 0 && c.ctx.settings.useCas) op = StoreOp.CAS;
  startBinNread(c, st, flags, exptime, op);
}

export function processBinAppendPrepend(c: Conn, st: BinState): void {
  startBinNread(c, st, 0, 0, st.cmd === Op.APPEND ? StoreOp.APPEND : StoreOp.PREPEND);
}

/** memcached's -vv line: "<fd SET key Value len is n" (ADD, REPLACE), or the bare "Value len is n" of an append. */
function logValueLen(c: Conn, st: BinState, vlen: number): void {
  if (st.cmd === Op.APPEND || st.cmd === Op.PREPEND) { c.ctx.log(`Value len is ${vlen}`); return; }
  const what = st.cmd === Op.ADD ? 'ADD' : st.cmd === Op.SET ? 'SET' : 'REPLACE';
  c.ctx.log(`<${c.id} ${what} ${c.rbuf.toString('latin1', st.keyStart, st.keyStart + st.keylen)} Value len is ${vlen}`);
}

/** Allocate the item for the value that follows, or refuse it and swallow the value. */
function startBinNread(c: Conn, st: BinState, flags: number, exptime: number, op: StoreOp): void {
  // memcached computes the value length as a C int: a body length near 2^32 comes out negative.
  const vlen = (st.bodylen - st.keylen - st.extlen) | 0;
  if (c.ctx.verbosity() > 1) logValueLen(c, st, vlen);
  if (c.ctx.prefixStats.enabled()) c.ctx.prefixStats.recordSet(c.rbuf, st.keyStart, st.keylen);
  const store = c.ctx.store;
  const fits = vlen >= 0 && itemSizeOk(c.ctx.settings, st.keylen, flags, vlen + 2);
  const it = fits ? store.itemAlloc(c.rbuf, st.keyStart, st.keylen, flags, store.realtime(exptime), vlen + 2) : 0;
  if (it === 0) {
    const error = failedAllocError(c, fits);
    if (error === AllocError.NO_MEMORY_IN_READ) { writeBinError(c, st, Status.ENOMEM, vlen, OOM_IN_READ); return; }
    if (error === AllocError.TOO_LARGE) writeBinError(c, st, Status.E2BIG, vlen);
    else writeBinError(c, st, Status.ENOMEM, vlen, OOM_ALLOCATING);
    // memcached's process_bin_update counts neither refusal and logs it with command 0, "null" (1.6.18 then crashes
    // reading the class of the item it lacks); a failed Set, with a CAS too, must not leave the old value readable.
    failedAlloc(c, c.rbuf, st.keyStart, st.keylen, error, 0, /* counted */ false, /* unlinkOld */ st.cmd === Op.SET);
    return;
  }
  // for -vv (Conn.casInExact): the header's CAS, its last 8 bytes, read exactly
  if (st.cas > Number.MAX_SAFE_INTEGER) c.casInExact = c.rbuf.readBigUInt64BE(st.extStart - 8);
  st.substate = BinSubstate.readSetValue;
  connStartNread(c, it, vlen, op, st.cas, Proto.binary); // the value without "\r\n": completeUpdateBin adds it
}

/** complete_update_bin: add the "\r\n" the binary protocol does not send, store, answer. */
export function completeUpdateBin(c: Conn, st: BinState): void {
  const store = c.ctx.store;
  const it = c.item;
  c.item = 0;
  try {
    const clsid = store.itemClsid(it);
    c.ctx.stats.slab(clsid, SlabStat.set_cmds);
    store.itemWriteValue(it, store.itemNbytes(it) - 2, CRLF, 0, 2);
    const ret = store.storeItem(it, c.storeOp, c.casIn);
    if (c.storeOp === StoreOp.CAS) countCas(c, ret, c.casIn);
    if (ret === StoreResult.STORED) writeBinResponse(c, st, null, store.lastCas);
    else writeBinError(c, st, storeErrorStatus(ret, c.storeOp), 0);
  } finally {
    store.itemRelease(it);
  }
}

function storeErrorStatus(ret: StoreResult, op: StoreOp): number {
  if (ret === StoreResult.EXISTS) return Status.KEY_EEXISTS;
  if (ret === StoreResult.NOT_FOUND) return Status.KEY_ENOENT;
  // NOT_STORED, TOO_LARGE, NO_MEMORY: said the way the command's failure is usually said.
  if (op === StoreOp.ADD) return Status.KEY_EEXISTS;
  if (op === StoreOp.REPLACE) return Status.KEY_ENOENT;
  return Status.NOT_STORED;
}

