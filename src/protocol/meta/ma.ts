// ma: memcached's process_marithmetic_command: incr/decr under the item lock, N creating a missing
// counter from J, and the reply built after the change (VA with the new value, or HD).

import type { Conn } from '../../worker/conn.ts';
import type { Store } from '../../store/store.ts';
import { ThreadStat, SlabStat } from '../../stats/thread-stats.ts';
import { DeltaResult, StoreOp } from '../../store/results.ts';
import { doItemGetUnlogged } from '../../store/items.ts';
import { addDelta } from '../../store/delta.ts';
import { newCounterItem } from '../counter-item.ts';
import { mf, MFLAG_MAX_OPAQUE_LENGTH } from './flags.ts';
import { outErrstring } from '../text/out-string.ts';
import { CODE, ERR, code, metaChar, metaKey, metaOpaque, metaTtl } from './reply.ts';
import { metaPreamble, opaqueTooLong, writeOpaqueAndKey } from './common.ts';

/**
 * The item an ma answers about. After an incr that changed the value's length memcached answers
 * about the old, unlinked item: a T then changes nothing that stays, though t shows it. `exptime`
 * is that item's TTL, `live` says whether setting it reaches the stored item.
 */
type Target = { it: number; live: boolean; exptime: number; created: boolean; value: string };
const target: Target = { it: 0, live: false, exptime: 0, created: false, value: '' };

export function processMarithmeticCommand(c: Conn, buf: Buffer, ntokens: number): void {
  if (!metaPreamble(c, buf, ntokens, ERR.FLAGS_TOO_LONG, ERR.INVALID_OR_DUPLICATE)) return;
  const st = c.ctx.store;
  let incr = true;
  switch (mf.mode) {
    case 0: case 0x49: case 0x2b: break;               // I, +
    case 0x44: case 0x2d: incr = false; break;         // D, -
    default: outErrstring(c, ERR.MA_MODE); return;
  }
  const ks = c.tokens[2], nkey = c.tokens[3] - ks;
  const hv = st.hash(buf, ks, nkey);
  st.itemLock(hv);
  target.it = 0;
  try {
    marithmetic(c, buf, ntokens, st, ks, nkey, hv, incr);
  } finally {
    if (target.it !== 0) st.itemRelease(target.it);
    target.it = 0;
    st.itemUnlock(hv);
  }
  st.maybeExpand();
}

function marithmetic(c: Conn, buf: Buffer, ntokens: number, st: Store, ks: number, nkey: number, hv: number,
  incr: boolean): void {
  const out = c.ctx.out;
  const mark = out.pos;
  const before = doItemGetUnlogged(st, buf, ks, nkey, hv);
  const clsid = before !== 0 ? st.itemClsid(before) : 0;
  if (before !== 0) st.itemRelease(before); // only its identity: our reference would stop an in-place change
  const ret = addDelta(st, buf, ks, nkey, hv, incr, mf.delta, mf.hasCas ? mf.reqCasId : 0, mf.newCas());
  switch (ret) {
    case DeltaResult.OK: {
      c.ctx.stats.slab(clsid, incr ? SlabStat.incr_hits : SlabStat.decr_hits);
      const now = doItemGetUnlogged(st, buf, ks, nkey, hv);
      target.it = now;
      target.live = now === before;
      target.exptime = now !== 0 ? st.itemExptime(now) : 0;
      target.created = false;
      target.value = st.deltaValue.toString();
      if (now === 0) return; // cannot happen: the lock is held
      break;
    }
    case DeltaResult.NON_NUMERIC: outErrstring(c, ERR.NON_NUMERIC); return;
    case DeltaResult.EOM: // a hit to do_add_delta, which fails only at the new item's allocation
      c.ctx.stats.slab(clsid, incr ? SlabStat.incr_hits : SlabStat.decr_hits);
      outErrstring(c, ERR.DELTA_NO_MEMORY);
      return;
    case DeltaResult.EXISTS: noItemReply(c, buf, ntokens, ks, nkey, CODE.EX); return;
    default: // NOT_FOUND
      if (!mf.vivify) {
        c.ctx.stats.row[incr ? ThreadStat.incr_misses : ThreadStat.decr_misses]++;
        noItemReply(c, buf, ntokens, ks, nkey, CODE.NF);
        return;
      }
      if (!vivify(st, buf, ks, nkey, hv)) { outErrstring(c, ERR.VIVIFY_NO_MEMORY); return; }
  }
  if (!replyWithItem(c, buf, ntokens, st, ks, nkey)) { out.truncate(mark); outErrstring(c, ERR.OPAQUE_TOO_LONG); return; }
  // q hides an OK; a counter just created by N is still answered, as memcached does.
  if (ret === DeltaResult.OK && c.noreply) out.truncate(mark);
}

/** EX or NF with the O and k flags; q does not hide them. */
function noItemReply(c: Conn, buf: Buffer, ntokens: number, ks: number, nkey: number, status: number): void {
  const out = c.ctx.out;
  if (opaqueTooLong(c, buf, ntokens)) { outErrstring(c, ERR.OPAQUE_TOO_LONG); return; }
  code(out, status);
  writeOpaqueAndKey(c, buf, ntokens, ks, nkey);
  out.crlf();
}

/** N on a miss: add the counter with J's value (0 by default). */
function vivify(st: Store, buf: Buffer, ks: number, nkey: number, hv: number): boolean {
  const value = mf.initial.toString();
  const it = newCounterItem(st, buf, ks, nkey, 0, value); // N's TTL is set with the reply's flags
  if (it === 0) return false;
  st.doStoreItem(it, StoreOp.ADD, hv, 0, mf.newCas()); // we hold the lock and just missed: the add succeeds
  target.it = it;
  target.live = true;
  target.exptime = 0;
  target.created = true;
  target.value = value;
  return true;
}

/** "VA <len> <flags>\r\n<value>\r\n" or "HD <flags>\r\n"; false when an O token is too long. */
function replyWithItem(c: Conn, buf: Buffer, ntokens: number, st: Store, ks: number, nkey: number): boolean {
  const out = c.ctx.out;
  const it = target.it;
  if (mf.value) { code(out, CODE.VA); out.space(); out.uint(target.value.length); } else code(out, CODE.HD);
  const t = c.tokens;
  for (let i = 2; i < ntokens - 1; i++) {
    const s = t[i * 2], e = t[i * 2 + 1];
    switch (buf[s]) {
      case 0x63: metaChar(out, 0x63); out.uint(st.itemCas(it)); break;  // c
      case 0x74:                                                         // t
        metaChar(out, 0x74);
        metaTtl(out, target.exptime, st.currentTime());
        break;
      case 0x54: setExptime(st, mf.exptime); break;                      // T
      case 0x4e: if (target.created) setExptime(st, mf.autovivExptime); break; // N
      case 0x4f:                                                         // O
        if (e - s > MFLAG_MAX_OPAQUE_LENGTH) return false;
        metaOpaque(out, buf, s, e);
        break;
      case 0x6b: metaKey(out, buf, ks, nkey, mf.keyBinary); break;      // k
    }
  }
  if (mf.value) { out.crlf(); out.ascii(target.value); }
  out.crlf();
  return true;
}

function setExptime(st: Store, exptime: number): void {
  target.exptime = exptime;
  if (target.live) st.itemSetExptime(target.it, exptime);
}
