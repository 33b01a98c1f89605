// mg: memcached's process_mget_command. The item is looked up under its lock (memcached takes the
// lock only for N/T/R/l/h, but the replies are the same, and TOKEN_SENT is then set under the lock),
// flags are answered in request order, and the LRU bump comes last so h and l see the state before.

import * as replies from '../replies.ts';
import type { Conn } from '../../worker/conn.ts';
import type { Store } from '../../store/store.ts';
import * as threadStats from '../../stats/thread-stats.ts';
import { doItemGet } from '../../store/items.ts';
import { storageFetch } from '../../extstore/storage.ts';
import * as storage from '../../extstore/storage.ts';
import { mf, MFLAG_MAX_OPAQUE_LENGTH } from './flags.ts';
import { outErrstring } from '../text/out-string.ts';
import { CODE, ERR, code, itemKey, metaChar, metaOpaque, metaTtl, u32 } from './reply.ts';
import { countLruHit } from './stats.ts';
import { metaPreamble, opaqueTooLong, writeOpaqueAndKey } from './common.ts';
import { connIoQueue, connWaitForReads } from '../../worker/drive-machine.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { CRLF } = replies;
const { ThreadStat, SlabStat } = threadStats;
const { FetchFailure } = storage;


export function processMgetCommand(c: Conn, buf: Buffer, ntokens: number): void {
  if (!metaPreamble(c, buf, ntokens, ERR.MG_FLAGS_TOO_LONG, null)) return;
  const st = c.ctx.store;
  const ks = c.tokens[2], nkey = c.tokens[3] - ks;
  const hv = st.hash(buf, ks, nkey);
  // a value on flash is read by an IO thread while the connection waits, then the command is read again
  const reads = mf.value ? connIoQueue(c) : null;
  if (reads !== null && st.extQueueIfOnFlash(reads, buf, ks, nkey, hv)) {
    connWaitForReads(c, c.tokens[0]);
    return;
  }
  st.itemLock(hv);
  let it = 0;
  let created = false;
  let replied = false;
  try {
    it = doItemGet(st, buf, ks, nkey, hv, false);
    // a value on flash is read back before the answer; one that cannot be is a miss (its header unlinked)
    let flashMiss = false;
    if (it !== 0 && mf.value && st.itemIsHdr(it) && !storageFetch(st, it, hv, true)) {
      // its object is gone: a hit whose reply becomes a bare EN (no memory: a plain miss)
      flashMiss = st.takeFetchFailure() === FetchFailure.MISS;
      if (!flashMiss) { st.itemRelease(it); it = 0; }
    }
    if (it === 0 && mf.vivify) {
      it = vivify(st, buf, ks, nkey, hv);
      created = it !== 0;
    }
    if (flashMiss) { mgetFlashMiss(c, buf, ntokens, it); st.itemRelease(it); it = 0; }
    else if (it !== 0) replied = mgetHit(c, buf, ntokens, it, created);
    else mgetMiss(c, buf, ntokens, ks, nkey);
  } finally {
    // memcached's response keeps the item referenced until it is sent (resp->item)
    if (replied) c.ctx.out.hold(it);
    else if (it !== 0) st.itemRelease(it);
    st.itemUnlock(hv);
    st.extDone(c);
  }
  if (created) st.maybeExpand(); // a link may ask the hash table to grow: done with no lock held
}

/** N on a miss: link an empty item now, so this client wins the right to fill it (with E's CAS if given). */
function vivify(st: Store, buf: Buffer, ks: number, nkey: number, hv: number): number {
  const it = st.itemAlloc(buf, ks, nkey, 0, 0, 2);
  if (it === 0) return 0;
  st.itemWriteValue(it, 0, CRLF, 0, 2);
  st.doItemLink(it, hv, mf.newCas());
  return it;
}

/**
 * A hit whose value on flash is gone (memcached's IO callback turns the reply it built into a miss): the hit's
 * flags take effect and count as a hit's, and the reply is a bare "EN" (nothing with q), without the flags a miss
 * answers with.
 */
function mgetFlashMiss(c: Conn, buf: Buffer, ntokens: number, it: number): void {
  const out = c.ctx.out, mark = out.pos;
  if (!mgetHit(c, buf, ntokens, it, false, true)) return; // a flag refused it: that error stands
  out.truncate(mark);
  if (!c.noreply) out.ascii('EN\r\n');
}

/** The hit's reply; false when a flag refused it (an error reply instead). `noValue`: its value is not sent. */
function mgetHit(c: Conn, buf: Buffer, ntokens: number, it: number, created: boolean, noValue = false): boolean {
  const out = c.ctx.out;
  const st = c.ctx.store;
  const mark = out.pos;
  const nbytes = st.itemNbytes(it);
  let wonToken = false;
  let ttlSet = false;
  if (mf.value) { code(out, CODE.VA); out.space(); out.uint(nbytes - 2); } else code(out, CODE.HD);
  const t = c.tokens;
  for (let i = 2; i < ntokens - 1; i++) {
    const s = t[i * 2], e = t[i * 2 + 1];
    switch (buf[s]) {
      case 0x54: ttlSet = true; st.itemSetExptime(it, mf.exptime); break;                  // T
      case 0x4e: if (created) { st.itemSetExptime(it, mf.autovivExptime); wonToken = true; } break; // N
      case 0x52:                                                                           // R
        if (!st.itemTokenSent(it) && !created && st.itemExptime(it) !== 0 && st.itemExptime(it) < mf.recacheTime) {
          wonToken = true;
        }
        break;
      case 0x73: metaChar(out, 0x73); out.uint(nbytes - 2); break;                         // s
      case 0x74: metaChar(out, 0x74); metaTtl(out, st.itemExptime(it), st.currentTime()); break;                             // t
      case 0x63: metaChar(out, 0x63); out.uint(st.itemCas(it)); break;                     // c
      case 0x66: metaChar(out, 0x66); out.uint(st.itemFlags(it)); break;                   // f
      case 0x6c: metaChar(out, 0x6c); u32(out, st.currentTime() - st.itemTime(it)); break; // l
      case 0x68: metaChar(out, 0x68); out.byte(st.itemFetched(it) ? 0x31 : 0x30); break;  // h
      case 0x4f:                                                                           // O
        if (e - s > MFLAG_MAX_OPAQUE_LENGTH) {
          if (!mf.locked && !mf.noUpdate) st.doItemBump(it); // memcached's unlocked get had bumped it
          opaqueErrorOnly(c, mark);
          return false;
        }
        metaOpaque(out, buf, s, e);
        break;
      case 0x6b: itemKey(out, st, it, true); break;                                        // k
    }
  }
  // Z before X and W: a client never sees W together with Z.
  if (st.itemTokenSent(it)) metaChar(out, 0x5a);
  if (st.itemStale(it)) {
    metaChar(out, 0x58);
    if (!st.itemTokenSent(it)) wonToken = true;
  }
  if (wonToken) {
    metaChar(out, 0x57);
    st.itemSetTokenSent(it, true);
  }
  out.crlf();
  if (mf.value && !noValue) {
    out.reserve(nbytes);
    out.pos += st.itemCopyValue(it, out.buf, out.pos, 0, nbytes);
  }
  // counted in the segment the item was found in: memcached's do_item_bump only queues a COLD -> WARM move
  countHit(c, st, it, ttlSet);
  if (!mf.noUpdate) st.doItemBump(it);
  return true;
}

/**
 * memcached replies with the error alone; flags before the O token (a T, say) have taken effect,
 * and the item is not bumped when the lookup took the lock (any of N T R l h), else it was.
 */
function opaqueErrorOnly(c: Conn, mark: number): void {
  c.ctx.out.truncate(mark);
  outErrstring(c, ERR.OPAQUE_TOO_LONG);
}

function countHit(c: Conn, st: Store, it: number, ttlSet: boolean): void {
  const row = c.ctx.stats.row;
  if (ttlSet) {
    row[ThreadStat.touch_cmds]++;
    c.ctx.stats.slab(st.itemClsid(it), SlabStat.touch_hits);
  } else {
    row[ThreadStat.get_cmds]++;
    countLruHit(c, st, it);
  }
}

function mgetMiss(c: Conn, buf: Buffer, ntokens: number, ks: number, nkey: number): void {
  const out = c.ctx.out;
  const row = c.ctx.stats.row;
  row[ThreadStat.get_misses]++;
  row[ThreadStat.get_cmds]++;
  if (opaqueTooLong(c, buf, ntokens)) { outErrstring(c, ERR.OPAQUE_TOO_LONG); return; }
  const mark = out.pos;
  code(out, CODE.EN);
  writeOpaqueAndKey(c, buf, ntokens, ks, nkey);
  out.crlf();
  if (c.noreply) out.truncate(mark); // q: a miss says nothing
}
