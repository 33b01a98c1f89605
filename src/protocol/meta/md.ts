// md: memcached's process_mdelete_command. With I the item is not removed but marked stale (a new
// CAS, TOKEN_SENT cleared so the next mg wins the right to recache, T may set a new TTL). With x
// (memcached 1.6.27+) the value is dropped but the key stays: an empty item replaces it, a tombstone
// when combined with I. E gives the CAS that either leaves behind.

import { CRLF } from '../replies.ts';
import type { Conn } from '../../worker/conn.ts';
import type { Store } from '../../store/store.ts';
import { ThreadStat, SlabStat } from '../../stats/thread-stats.ts';
import { StoreOp } from '../../store/results.ts';
import { doItemGet } from '../../store/items.ts';
import { mf } from './flags.ts';
import { outErrstring } from '../text/out-string.ts';
import { CODE, ERR, code } from './reply.ts';
import { metaPreamble, opaqueTooLong, writeOpaqueAndKey } from './common.ts';


export function processMdeleteCommand(c: Conn, buf: Buffer, ntokens: number): void {
  const out = c.ctx.out;
  if (!metaPreamble(c, buf, ntokens, ERR.FLAGS_TOO_LONG, ERR.INVALID_OR_DUPLICATE)) return;
  const st = c.ctx.store;
  if (opaqueTooLong(c, buf, ntokens)) { outErrstring(c, ERR.OPAQUE_TOO_LONG); return; }
  const ks = c.tokens[2], nkey = c.tokens[3] - ks;
  const hv = st.hash(buf, ks, nkey);
  let status: number;
  st.itemLock(hv);
  try {
    status = mdelete(c, st, buf, ks, nkey, hv);
  } finally { st.itemUnlock(hv); }
  if (mf.removeVal) st.maybeExpand(); // x linked an item: the table may want to grow (no lock held)
  if (status === 0) { outErrstring(c, ERR.DELTA_NO_MEMORY); return; } // errors always show
  const mark = out.pos;
  code(out, status);
  writeOpaqueAndKey(c, buf, ntokens, ks, nkey);
  out.crlf();
  if (status === CODE.HD && c.noreply) out.truncate(mark); // q hides HD only
}

/** The lookup and change under the item lock; the reply code, or 0 when x could not allocate. */
function mdelete(c: Conn, st: Store, buf: Buffer, ks: number, nkey: number, hv: number): number {
  let it = doItemGet(st, buf, ks, nkey, hv, false);
  if (it === 0) {
    c.ctx.stats.row[ThreadStat.delete_misses]++;
    return CODE.NF;
  }
  try {
    if (mf.hasCas && st.itemCas(it) !== mf.reqCasId) {
      c.ctx.stats.row[ThreadStat.delete_misses]++;
      return CODE.EX;
    }
    if (mf.removeVal) {
      const empty = removeValue(st, buf, ks, nkey, hv, it);
      if (empty === 0) return 0;
      st.itemRelease(it);
      it = empty; // memcached goes on with the new item: I marks it, delete_hits counts its class
    }
    if (mf.setStale) markStale(c, it);
    else {
      c.ctx.stats.slab(st.itemClsid(it), SlabStat.delete_hits);
      if (!mf.removeVal) st.doItemUnlink(it, hv);
    }
    return CODE.HD;
  } finally { st.itemRelease(it); }
}

/**
 * x: link an empty item in old's place (held: the caller releases it). As memcached: client flags
 * from F (else 0), TTL from T (else none), CAS from E, else old's own CAS kept. memcached drops the
 * binary-key mark here; we keep it, or `mg ... k` would print raw key bytes on the reply line.
 */
function removeValue(st: Store, buf: Buffer, ks: number, nkey: number, hv: number, old: number): number {
  const it = st.itemAlloc(buf, ks, nkey, mf.clientFlags, mf.exptime, 2);
  if (it === 0) return 0;
  st.itemWriteValue(it, 0, CRLF, 0, 2);
  if (mf.keyBinary) st.itemSetKeyBinary(it, true);
  st.doStoreItem(it, StoreOp.SET, hv, 0, mf.hasCasIn ? mf.casIdIn : st.itemCas(old)); // a set: always stored
  return it;
}

/** md ... I: keep the item, stale, with a new CAS (E's if given); the next fetch wins the recache. */
function markStale(c: Conn, it: number): void {
  const st = c.ctx.store;
  if (mf.newTtl) st.itemSetExptime(it, mf.exptime);
  st.itemSetStale(it, true);
  st.itemSetTokenSent(it, false);
  if (st.useCas) st.setNextCas(it, mf.newCas());
}
