// Delete, Increment/Decrement and Flush (and their quiet forms): memcached's process_bin_delete,
// complete_incr_bin and process_bin_flush.

import type { Conn } from '../../worker/conn.ts';
import { ThreadStat, SlabStat } from '../../stats/thread-stats.ts';
import { DeleteResult, DeltaResult, StoreOp, StoreResult } from '../../store/results.ts';
import { newCounterItem } from '../counter-item.ts';
import { Op, Status, BinState, writeBinError, writeBinResponse } from './header.ts';

/** An Increment/Decrement expiration of all ones: fail on a miss instead of creating the counter. */
const NO_AUTO_CREATE = 0xffffffff;
const OOM_INCR = Buffer.from('Out of memory incrementing value');
const OOM_NEW_ITEM = Buffer.from('Out of memory allocating new item');

export function processBinDelete(c: Conn, st: BinState): void {
  const store = c.ctx.store;
  if (c.ctx.verbosity() > 1) c.ctx.log(`Deleting ${c.rbuf.toString('latin1', st.keyStart, st.keyStart + st.keylen)}`);
  if (c.ctx.prefixStats.enabled()) c.ctx.prefixStats.recordDelete(c.rbuf, st.keyStart, st.keylen);
  switch (store.itemDelete(c.rbuf, st.keyStart, st.keylen, st.cas)) {
    case DeleteResult.DELETED:
      c.ctx.stats.slab(store.lastClsid, SlabStat.delete_hits);
      writeBinResponse(c, st, null, 0);
      return;
    case DeleteResult.EXISTS:
      writeBinError(c, st, Status.KEY_EEXISTS, 0);
      return;
    default:
      writeBinError(c, st, Status.KEY_ENOENT, 0);
      c.ctx.stats.row[ThreadStat.delete_misses]++;
  }
}

/** One reused 8-byte body for the counter's new value. */
const incrBody = Buffer.alloc(8);

/** complete_incr_bin: extras are delta (8), initial value (8), expiration (4). */
export function processBinIncr(c: Conn, st: BinState): void {
  const buf = c.rbuf;
  const store = c.ctx.store;
  const incr = st.cmd === Op.INCREMENT;
  const delta = buf.readBigUInt64BE(st.extStart);
  if (c.ctx.verbosity() > 1) { // memcached's line, "incr" for decr too, the delta printed signed
    c.ctx.log(`incr ${buf.toString('latin1', st.keyStart, st.keyStart + st.keylen)} ${buf.readBigInt64BE(st.extStart)}, ` +
      `${buf.readBigUInt64BE(st.extStart + 8)}, ${buf.readInt32BE(st.extStart + 16)}`);
  }
  switch (store.addDelta(buf, st.keyStart, st.keylen, incr, delta, st.cas)) {
    case DeltaResult.OK:
      c.ctx.stats.slab(store.lastClsid, incr ? SlabStat.incr_hits : SlabStat.decr_hits); // memcached's do_add_delta
      incrBody.writeBigUInt64BE(store.deltaValue, 0);
      writeBinResponse(c, st, incrBody, store.lastCas);
      return;
    case DeltaResult.NON_NUMERIC:
      writeBinError(c, st, Status.DELTA_BADVAL, 0);
      return;
    case DeltaResult.EOM: // counted as a hit, as above: the failure is the new item's allocation
      c.ctx.stats.slab(store.lastClsid, incr ? SlabStat.incr_hits : SlabStat.decr_hits);
      writeBinError(c, st, Status.ENOMEM, 0, OOM_INCR);
      return;
    case DeltaResult.EXISTS:
      writeBinError(c, st, Status.KEY_EEXISTS, 0);
      return;
    default:
      incrMiss(c, st, incr);
  }
}

/** A missing counter is created with the initial value, unless the expiration says not to. */
function incrMiss(c: Conn, st: BinState, incr: boolean): void {
  const buf = c.rbuf;
  const exptime = buf.readUInt32BE(st.extStart + 16);
  if (exptime === NO_AUTO_CREATE) {
    c.ctx.stats.row[incr ? ThreadStat.incr_misses : ThreadStat.decr_misses]++;
    writeBinError(c, st, Status.KEY_ENOENT, 0);
    return;
  }
  const store = c.ctx.store;
  const initial = buf.readBigUInt64BE(st.extStart + 8);
  const it = newCounterItem(store, buf, st.keyStart, st.keylen, store.realtime(exptime), initial.toString());
  if (it === 0) { writeBinError(c, st, Status.ENOMEM, 0, OOM_NEW_ITEM); return; }
  try {
    if (store.storeItem(it, StoreOp.ADD, 0) === StoreResult.STORED) {
      incrBody.writeBigUInt64BE(initial, 0);
      writeBinResponse(c, st, incrBody, store.lastCas);
    } else {
      writeBinError(c, st, Status.NOT_STORED, 0);
    }
  } finally {
    store.itemRelease(it);
  }
}

/** Flush with an optional 4-byte expiration; -F refuses it with an auth error, as memcached. */
export function processBinFlush(c: Conn, st: BinState): void {
  if (!c.ctx.settings.flushEnabled) { writeBinError(c, st, Status.AUTH_ERROR, 0); return; }
  const exptime = st.extlen === 4 ? c.rbuf.readUInt32BE(st.extStart) : 0;
  c.ctx.store.flushAll(exptime); // a far one (past 2^31) too: it replaces any flush pending, as in memcached
  c.ctx.stats.row[ThreadStat.flush_cmds]++;
  writeBinResponse(c, st, null, 0);
}
