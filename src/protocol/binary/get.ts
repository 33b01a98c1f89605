// Get, GetK, Touch, GAT, GATK and their quiet forms: memcached's process_bin_get_or_touch. A hit
// always answers (extras = the flags; GetK/GATK add the key; Touch sends no value); a miss is silent
// for quiet commands (the GetQ ... NoOp multi-get pattern), else "Not found", or for GetK/GATK the
// key with an empty value.

import * as storage from '../../extstore/storage.ts';
import type { Conn } from '../../worker/conn.ts';
import { connIoQueue, connWaitForReads } from '../../worker/drive-machine.ts';
import * as threadStats from '../../stats/thread-stats.ts';
import { Op, Status, BinState, HEADER_LEN, addBinHeader, logResponseHeader, putBinHeader, writeBinError } from './header.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { FetchFailure } = storage;
const { ThreadStat, SlabStat } = threadStats;

const FLAGS_LEN = 4;

export function processBinGetOrTouch(c: Conn, st: BinState): void {
  const cmd = st.cmd;
  const shouldTouch = cmd === Op.TOUCH || cmd === Op.GAT || cmd === Op.GATK;
  const store = c.ctx.store;
  const buf = c.rbuf;
  // a value on flash is read by an IO thread while the connection waits, then the request is read again
  const reads = cmd !== Op.TOUCH ? connIoQueue(c) : null;
  if (reads !== null && store.extQueueIfOnFlash(reads, buf, st.keyStart, st.keylen, store.hash(buf, st.keyStart, st.keylen))) {
    connWaitForReads(c, st.extStart - HEADER_LEN);
    return;
  }
  if (c.ctx.verbosity() > 1) {
    c.ctx.log(`<${c.id} ${shouldTouch ? 'TOUCH' : 'GET'} ${buf.toString('latin1', st.keyStart, st.keyStart + st.keylen)}`);
  }
  let it = shouldTouch
    ? store.itemTouch(buf, st.keyStart, st.keylen, store.realtime(buf.readUInt32BE(st.extStart)))
    : store.itemGet(buf, st.keyStart, st.keylen);
  // a value on flash is read back before the answer; one that cannot be is a miss
  if (it !== 0 && cmd !== Op.TOUCH && store.itemIsHdr(it) && !store.extFetch(it, buf, st.keyStart, st.keylen)) {
    // its object gone: memcached's bare miss; no memory for it: a plain miss, as memcached's
    const flashMiss = store.takeFetchFailure() === FetchFailure.MISS, flags = store.itemFlags(it);
    store.itemRelease(it);
    it = 0;
    if (flashMiss) { binFlashMiss(c, st, shouldTouch, flags); return; }
  }
  const row = c.ctx.stats.row;
  row[shouldTouch ? ThreadStat.touch_cmds : ThreadStat.get_cmds]++;
  if (c.ctx.prefixStats.enabled()) c.ctx.prefixStats.recordGet(buf, st.keyStart, st.keylen, it !== 0);
  if (it === 0) {
    row[shouldTouch ? ThreadStat.touch_misses : ThreadStat.get_misses]++;
    if (!st.noreply) writeBinMiss(c, st, cmd === Op.GETK || cmd === Op.GATK);
    return;
  }
  let replied = false;
  try {
    c.ctx.stats.slab(store.itemClsid(it), shouldTouch ? SlabStat.touch_hits : SlabStat.get_hits);
    writeBinHit(c, st, it);
    replied = true;
  } finally {
    // memcached's response keeps the item referenced until it is sent (c->resp->item)
    if (replied) c.ctx.out.hold(it);
    else store.itemRelease(it);
    store.extDone(c);
  }
}

/**
 * A hit whose value on flash is gone: memcached counted the hit, then its IO callback turned the reply into "key
 * not found" by cutting the value and the piece before it, and the extras' length from the body: no "Not found"
 * body, the item's CAS kept. For GetK and GATK the piece before the value is the key, so memcached's reply says
 * a body of the key's length and then sends the 4 bytes of flags instead (a client is left off by 4 - keylen
 * bytes). Copied as it is: the reply is memcached's, byte for byte.
 */
function binFlashMiss(c: Conn, st: BinState, shouldTouch: boolean, flags: number): void {
  const store = c.ctx.store, row = c.ctx.stats.row;
  row[shouldTouch ? ThreadStat.touch_cmds : ThreadStat.get_cmds]++;
  c.ctx.stats.slab(store.extMissLruId & 63, shouldTouch ? SlabStat.touch_hits : SlabStat.get_hits);
  if (c.ctx.prefixStats.enabled()) c.ctx.prefixStats.recordGet(c.rbuf, st.keyStart, st.keylen, true);
  if (st.noreply) return;
  const keylen = st.cmd === Op.GETK || st.cmd === Op.GATK ? st.keylen : 0;
  addBinHeader(c, st, Status.KEY_ENOENT, 0, keylen, keylen, store.extMissCas);
  if (keylen === 0) return;
  const out = c.ctx.out;
  out.reserve(FLAGS_LEN);
  out.buf.writeUInt32BE(flags, out.pos);
  out.pos += FLAGS_LEN;
}

function writeBinHit(c: Conn, st: BinState, it: number): void {
  const store = c.ctx.store;
  const out = c.ctx.out;
  const cmd = st.cmd;
  const returnKey = cmd === Op.GETK || cmd === Op.GATK;
  const vlen = cmd === Op.TOUCH ? 0 : store.itemNbytes(it) - 2; // the stored "\r\n" is not sent
  const keylen = returnKey ? st.keylen : 0;
  // memcached logs this header before it puts the item's CAS in: its -vv line shows c->cas, which every request
  // starts at 0 (try_read_command_binary), whatever CAS the request carried
  putBinHeader(c, st, Status.SUCCESS, FLAGS_LEN, keylen, FLAGS_LEN + keylen + vlen, store.itemCasLocked(it));
  if (c.ctx.verbosity() > 1) logResponseHeader(c, out.buf, out.pos - HEADER_LEN, 0);
  out.reserve(FLAGS_LEN + keylen + vlen);
  out.buf.writeUInt32BE(store.itemFlags(it), out.pos);
  out.pos += FLAGS_LEN;
  if (returnKey) out.copyFrom(c.rbuf, st.keyStart, keylen);
  if (vlen > 0) out.pos += store.itemCopyValue(it, out.buf, out.pos, 0, vlen);
}

/** write_bin_miss_response: GetK/GATK echo the key with no value; the others say "Not found". */
function writeBinMiss(c: Conn, st: BinState, returnKey: boolean): void {
  if (!returnKey) { writeBinError(c, st, Status.KEY_ENOENT, 0); return; }
  addBinHeader(c, st, Status.KEY_ENOENT, 0, st.keylen, st.keylen, 0);
  c.ctx.out.copyFrom(c.rbuf, st.keyStart, st.keylen);
}
