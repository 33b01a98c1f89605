// Segmented LRU (HOT / WARM / COLD per class), as memcached 1.6's items.c: item_link_q, item_unlink_q,
// lru_pull_tail, do_item_bump, do_item_update. Each of the 256 LRU ids (clsid | segment) has its own lock,
// taken after the item lock and before the slabs lock; items found from an LRU tail are only ever trylocked.

import type { Store } from "./store.ts";
import type { Code } from "./results.ts";
import * as layout from "./layout.ts";
import * as logger from "../logger/logger.ts";
import * as threadStats from "../stats/thread-stats.ts";
import { hash } from "./hash.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const {
  CLASS_BASE, CLASS_WORDS, Cls, F, G, ITEM_HEADER, ITEM_UPDATE_INTERVAL, ItemField, ItemFlag, LRU_BASE,
  LRU_WORDS, Lru, LruW
} = layout;
const { LogFlag } = logger;
const { SlabStat, SLAB_FIELDS, THREAD_FIELDS } = threadStats;

/**
 * lru_pull_tail's flags: LRU_PULL_EVICT, and LRU_PULL_RETURN_ITEM for extstore's storage writer: COLD's tail item is
 * kept where it is and left locked (st.pulledIt, st.pulledHv), for the caller to unlock.
 */
export const LruPull = { EVICT: 1 as Code<"LruPull", 1>, RETURN_ITEM: 2 as Code<"LruPull", 2> } as const;
export type LruPull = (typeof LruPull)[keyof typeof LruPull];

export function lruIdOf(a32: Int32Array, it: number): number {
  return (a32[it * 2 + ItemField.bits] >>> 16) & 0xff;
}

/** A value kept in external storage leaves this much of it in memory: memcached's item_hdr (page version, offset, page). */
export const ITEM_HDR_DATA = 12;

/**
 * The item's bytes in memory, for the LRU's sizes_bytes and a page move's copy: ITEM_ntotal, but an extstore
 * header item (HDR), whose nbytes is its value's on flash, holds item_hdr in place of the value, as memcached counts it.
 */
export function itemMemBytes(a32: Int32Array, it: number): number {
  const n = itemNtotal(a32, it);
  return (a32[it * 2 + ItemField.bits] & ItemFlag.HDR) === 0 ? n : n - a32[it * 2 + ItemField.nbytes] + ITEM_HDR_DATA;
}

export function itemNtotal(a32: Int32Array, it: number): number {
  const bits = a32[it * 2 + ItemField.bits];
  return ntotalOf(bits >>> 24, a32[it * 2 + ItemField.flags], a32[it * 2 + ItemField.nbytes], (bits & ItemFlag.CAS) !== 0);
}

/**
 * memcached's ITEM_ntotal (item_make_header): its 48-byte header, 8 more with CAS, the key and its NUL,
 * 4 bytes of client flags when they are not 0, and the value with its \r\n. An item takes exactly this
 * much of its chunk (the bytes past our own fields are padding), so it picks memcached's slab class and
 * `bytes` and `mem_requested` count what memcached's do.
 */
export function ntotalOf(nkey: number, flags: number, nbytes: number, cas: boolean): number {
  return (cas ? 56 : 48) + nkey + 1 + nbytes + (flags !== 0 ? 4 : 0);
}

/** Link at the head of LRU `id` (its lock held). */
export function doItemLinkQ(st: Store, it: number, id: number): void {
  const a32 = st.a32, c32 = st.c32, w = LRU_BASE + id * LRU_WORDS;
  const head = c32[w + LruW.head];
  a32[it * 2 + ItemField.prev] = 0;
  a32[it * 2 + ItemField.next] = head;
  if (head !== 0) a32[head * 2 + ItemField.prev] = it;
  c32[w + LruW.head] = it;
  if (c32[w + LruW.tail] === 0) c32[w + LruW.tail] = it;
  st.cf[F.sizes + id] += 1;
  st.cf[F.sizesBytes + id] += itemMemBytes(a32, it);
}

export function doItemUnlinkQ(st: Store, it: number, id: number): void {
  const a32 = st.a32, c32 = st.c32, w = LRU_BASE + id * LRU_WORDS;
  const next = a32[it * 2 + ItemField.next], prev = a32[it * 2 + ItemField.prev];
  if (c32[w + LruW.head] === it) c32[w + LruW.head] = next;
  if (c32[w + LruW.tail] === it) c32[w + LruW.tail] = prev;
  if (next !== 0) a32[next * 2 + ItemField.prev] = prev;
  if (prev !== 0) a32[prev * 2 + ItemField.next] = next;
  a32[it * 2 + ItemField.next] = 0;
  a32[it * 2 + ItemField.prev] = 0;
  st.cf[F.sizes + id] -= 1;
  st.cf[F.sizesBytes + id] -= itemMemBytes(a32, it);
}

// Leaf critical sections of typed-array writes only (nothing can throw): no try/finally, which costs ~20 ns.
export function itemLinkQ(st: Store, it: number): void {
  const id = lruIdOf(st.a32, it), lock = LRU_BASE + id * LRU_WORDS + LruW.lock;
  st.locks.lock(lock);
  doItemLinkQ(st, it, id);
  st.locks.unlock(lock);
}

export function itemUnlinkQ(st: Store, it: number): void {
  const id = lruIdOf(st.a32, it), lock = LRU_BASE + id * LRU_WORDS + LruW.lock;
  st.locks.lock(lock);
  doItemUnlinkQ(st, it, id);
  st.locks.unlock(lock);
}

/** Swap `old` for `it` in one LRU critical section when both live in the same LRU (item_replace's common case). */
export function itemReplaceQ(st: Store, old: number, it: number): void {
  const id = lruIdOf(st.a32, old);
  if (id !== lruIdOf(st.a32, it)) { itemUnlinkQ(st, old); itemLinkQ(st, it); return; }
  const lock = LRU_BASE + id * LRU_WORDS + LruW.lock;
  st.locks.lock(lock);
  doItemUnlinkQ(st, old, id);
  doItemLinkQ(st, it, id);
  st.locks.unlock(lock);
}

/**
 * Move a linked item (item lock held) to the head of segment `seg` of its class, without waiting:
 * false, and nothing moved, when either LRU's lock is taken right now. Both LRU locks are only ever
 * trylocked here, so holding two cannot deadlock.
 */
export function itemTryMoveTo(st: Store, it: number, seg: number): boolean {
  const a32 = st.a32;
  const from = lruIdOf(a32, it), to = (from & 63) | seg;
  const fromLock = LRU_BASE + from * LRU_WORDS + LruW.lock, toLock = LRU_BASE + to * LRU_WORDS + LruW.lock;
  if (!st.locks.trylock(fromLock)) return false;
  if (!st.locks.trylock(toLock)) { st.locks.unlock(fromLock); return false; }
  doItemUnlinkQ(st, it, from);
  const bits = a32[it * 2 + ItemField.bits];
  a32[it * 2 + ItemField.bits] = (bits & ~(0xc0 << 16)) | (seg << 16);
  doItemLinkQ(st, it, to);
  st.locks.unlock(toLock);
  st.locks.unlock(fromLock);
  return true;
}

/**
 * memcached's do_item_update (item lock held): an incr in place, an `add` that finds the item, a bump in flat mode.
 * Segmented: an ACTIVE item in COLD goes to the head of WARM, its ACTIVE bit cleared; any other linked item only
 * has its time refreshed, where it is. Flat: the item goes back to the head of its LRU, at most once per
 * ITEM_UPDATE_INTERVAL.
 */
export function doItemUpdate(st: Store, it: number): void {
  const a32 = st.a32, now = st.currentTime(), i = it * 2 + ItemField.bits;
  const bits = a32[i];
  if ((bits & ItemFlag.LINKED) === 0) return;
  if (st.lruSegmented) {
    a32[it * 2 + ItemField.time] = now;
    if (((bits >>> 16) & 0xc0) !== Lru.COLD || (bits & ItemFlag.ACTIVE) === 0) return;
    itemUnlinkQ(st, it);
    a32[i] = (a32[i] & ~ItemFlag.ACTIVE & ~(0xc0 << 16)) | (Lru.WARM << 16);
    itemLinkQ(st, it); // memcached's item_link_q_warm
    slabStat(st, bits, SlabStat.moves_to_warm);
    return;
  }
  if (a32[it * 2 + ItemField.time] >= now - ITEM_UPDATE_INTERVAL) return;
  const id = lruIdOf(a32, it), lock = LRU_BASE + id * LRU_WORDS + LruW.lock;
  st.locks.lock(lock);
  doItemUnlinkQ(st, it, id);
  a32[it * 2 + ItemField.time] = now;
  doItemLinkQ(st, it, id);
  st.locks.unlock(lock);
}

/**
 * memcached's do_item_bump (item lock held): a first fetch sets FETCHED, a second sets ACTIVE; an ACTIVE item
 * in COLD goes back to WARM. memcached hands that move to its maintainer (lru_bump_async), so that a get never
 * waits on an LRU lock, and drops the bump when the queue is full. Here the move is made at once when both
 * LRUs are free; when not, the item stays ACTIVE in COLD and the maintainer's COLD pull moves it to WARM.
 * (Waiting instead put the WARM and COLD locks of a busy class at the top of W3's profile, gets queueing
 * behind the maintainer's juggling.)
 */
export function doItemBump(st: Store, it: number): void {
  const a32 = st.a32, i = it * 2 + ItemField.bits;
  const bits = a32[i];
  if (!st.lruSegmented) {
    a32[i] = bits | ItemFlag.FETCHED;
    doItemUpdate(st, it);
    return;
  }
  if ((bits & ItemFlag.ACTIVE) !== 0) return;
  if ((bits & ItemFlag.FETCHED) === 0) { a32[i] = bits | ItemFlag.FETCHED; return; }
  a32[i] = bits | ItemFlag.ACTIVE;
  if (((bits >>> 16) & 0xc0) !== Lru.COLD) {
    a32[it * 2 + ItemField.time] = st.currentTime();
  } else if ((bits & ItemFlag.LINKED) !== 0 && itemTryMoveTo(st, it, Lru.WARM)) {
    a32[i] &= ~ItemFlag.ACTIVE;
    a32[it * 2 + ItemField.time] = st.currentTime();
    slabStat(st, bits, SlabStat.moves_to_warm);
  }
}

function slabStat(st: Store, bits: number, field: number): void {
  st.stats.row[THREAD_FIELDS + ((bits >>> 16) & 63) * SLAB_FIELDS + field]++;
}

/**
 * What the per-LRU step did with the item where the walk stopped (memcached's switch on cur_lru), as an integer so
 * that no object is made per pull. Every outcome but KEEP counts in lru_pull_tail's result.
 */
const Tail = {
  KEEP: 0,     // left where it is: the walk stops at it
  EVICTED: 1,  // unlinked from the table (COLD with LruPull.EVICT): the walk stops
  TO_WARM: 2,  // unlinked from its LRU, linked at WARM's head once the LRU lock is let go
  TO_COLD: 3,  // likewise, to COLD's head
  RELINKED: 4, // an ACTIVE WARM item, back at WARM's head: the walk goes on past it
} as const;

/**
 * memcached's lru_pull_tail: look at up to 5 items from the tail of LRU clsid|seg; reclaim the expired, move
 * HOT/WARM overflow to COLD (ACTIVE ones to WARM), and with LruPull.EVICT evict one COLD item.
 * Returns the number of items removed or moved. Never blocks on an item lock (we hold the LRU lock).
 */
export function lruPullTail(st: Store, clsid: number, seg: number, totalBytes: number, flags: LruPull | 0, maxAge: number): number {
  const a32 = st.a32;
  const id = clsid | seg, w = LRU_BASE + id * LRU_WORDS, lock = w + LruW.lock;
  const now = st.currentTime();
  let removed = 0, found = 0, foundHv = 0, outcome: number = Tail.KEEP;
  st.locks.lock(lock);
  try {
    let search = st.c32[w + LruW.tail];
    for (let tries = 5; tries > 0 && search !== 0; tries--) {
      const nextIt = a32[search * 2 + ItemField.prev]; // read first: the steps below may relink `search`
      const hv = hash(st.a8, search * 8 + ITEM_HEADER, a32[search * 2 + ItemField.bits] >>> 24);
      if (!st.itemTrylock(hv)) { search = nextIt; continue; } // busy: memcached skips it too
      countTailReflocked(st, search);
      if (reclaimIfExpired(st, search, hv, id, now)) { st.itemUnlock(hv); removed++; search = nextIt; continue; }
      outcome = seg === Lru.HOT || seg === Lru.WARM ? pullHotWarm(st, search, id, seg, totalBytes, maxAge, now)
        : seg === Lru.COLD ? pullCold(st, search, hv, id, flags, now)
        : Tail.KEEP; // TEMP: only its expired items are reclaimed
      if (outcome !== Tail.KEEP) removed++;
      if (outcome === Tail.RELINKED) { st.itemUnlock(hv); search = nextIt; continue; }
      found = search;
      foundHv = hv;
      break;
    }
  } finally {
    st.locks.unlock(lock);
  }
  st.pulledIt = 0;
  if (found !== 0) {
    if (outcome === Tail.TO_WARM) itemLinkInto(st, found, Lru.WARM);
    else if (outcome === Tail.TO_COLD) itemLinkInto(st, found, Lru.COLD);
    if (outcome === Tail.KEEP && (flags & LruPull.RETURN_ITEM) !== 0) { st.pulledIt = found; st.pulledHv = foundHv; }
    else st.itemUnlock(foundHv);
  }
  return removed;
}

/**
 * lru_pull_tail's refcount check (its item lock held). memcached takes a reference here (refcount_incr(search) == 2)
 * to learn whether anyone else holds the item. A reference is only ever taken under the item's lock, which we now
 * hold, so a plain read tells the same without two locked instructions: 1 is the table's reference alone, and
 * nobody can take another until we unlock. (A reader's release may race the read: it only turns a 2 into a 1.)
 * What follows may unlink the item without a reference of ours: with no reader it is then freed at once, as
 * memcached's item_remove would free it once we let go.
 * In use by a reader (a reply not yet sent, another thread's copy): counted, and then treated as any other, as
 * memcached does. An item it unlinks is freed when the reader lets go, so an eviction of one frees no memory yet
 * and the allocation pulls again; and in COLD the walk stops at it, in use or not.
 */
function countTailReflocked(st: Store, it: number): void {
  const a32 = st.a32;
  if (a32[it * 2 + ItemField.refcount] !== 1) slabStat(st, a32[it * 2 + ItemField.bits], SlabStat.lrutail_reflocked);
}

/** lru_pull_tail's "expired or flushed" step (item and LRU locks held): true when the item was unlinked and freed. */
function reclaimIfExpired(st: Store, it: number, hv: number, id: number, now: number): boolean {
  const a32 = st.a32, bits = a32[it * 2 + ItemField.bits];
  const exp = a32[it * 2 + ItemField.exptime] >>> 0;
  if ((exp === 0 || exp >= now) && !st.isFlushed(it)) return false; // "<" expires here, "<=" in do_item_get: as memcached
  slabStat(st, bits, SlabStat.reclaimed);
  if ((bits & ItemFlag.FETCHED) === 0) slabStat(st, bits, SlabStat.expired_unfetched);
  st.doItemUnlinkNolock(it, hv, id); // LRU lock already held; drops the table's reference: freed
  return true;
}

/**
 * lru_pull_tail's HOT_LRU and WARM_LRU cases: rescue an ACTIVE item (HOT's flows to WARM, WARM's goes back to its
 * head), else send the tail to COLD when the LRU is over its share of totalBytes or the item older than maxAge.
 */
function pullHotWarm(st: Store, it: number, id: number, seg: number, totalBytes: number, maxAge: number, now: number): number {
  const a32 = st.a32, bits = a32[it * 2 + ItemField.bits];
  if ((bits & ItemFlag.ACTIVE) !== 0) {
    a32[it * 2 + ItemField.bits] = bits & ~ItemFlag.ACTIVE;
    doItemUnlinkQ(st, it, id);
    if (seg === Lru.WARM) {
      slabStat(st, bits, SlabStat.moves_within_lru);
      doItemLinkQ(st, it, id);
      return Tail.RELINKED;
    }
    slabStat(st, bits, SlabStat.moves_to_warm);
    return Tail.TO_WARM;
  }
  const limit = (totalBytes * (seg === Lru.HOT ? st.hotLruPct : st.warmLruPct)) / 100;
  if (st.cf[F.sizesBytes + id] <= limit && now - a32[it * 2 + ItemField.time] <= maxAge) return Tail.KEEP;
  slabStat(st, bits, SlabStat.moves_to_cold);
  doItemUnlinkQ(st, it, id);
  return Tail.TO_COLD;
}

/**
 * lru_pull_tail's COLD_LRU case: the walk stops here whatever happens. With LruPull.EVICT the item is evicted
 * (unless -M); without, an ACTIVE item goes back to WARM (memcached's maintainer does the moves that do_item_bump
 * could not make at once).
 */
function pullCold(st: Store, it: number, hv: number, id: number, flags: number, now: number): number {
  const a32 = st.a32, bits = a32[it * 2 + ItemField.bits];
  if ((flags & LruPull.EVICT) !== 0) {
    if (!st.evictToFree) return Tail.KEEP; // -M: no counter, as memcached; the store answers out of memory
    evictCount(st, it, bits, now);
    if ((st.c32[G.watchMask] & LogFlag.EVICTIONS) !== 0) logEviction(st, it, bits, now);
    st.doItemUnlinkNolock(it, hv, id);
    return Tail.EVICTED;
  }
  if ((flags & LruPull.RETURN_ITEM) !== 0) return Tail.KEEP;
  if ((bits & ItemFlag.ACTIVE) === 0 || !st.lruSegmented) return Tail.KEEP;
  slabStat(st, bits, SlabStat.moves_to_warm);
  a32[it * 2 + ItemField.bits] = bits & ~ItemFlag.ACTIVE;
  doItemUnlinkQ(st, it, id);
  return Tail.TO_WARM;
}

/** The end of lru_pull_tail (no LRU lock held, the item's lock still held): link the unlinked item into `seg`. */
function itemLinkInto(st: Store, it: number, seg: number): void {
  const a32 = st.a32, bits = a32[it * 2 + ItemField.bits];
  a32[it * 2 + ItemField.bits] = (bits & ~(0xc0 << 16)) | (seg << 16);
  itemLinkQ(st, it);
}

/** memcached's LOGGER_EVICTION: the evicted item, as it was. */
function logEviction(st: Store, it: number, bits: number, now: number): void {
  const a32 = st.a32, exp = a32[it * 2 + ItemField.exptime] >>> 0;
  st.log.eviction(st.a8, it * 8 + ITEM_HEADER, bits >>> 24, (bits & ItemFlag.FETCHED) !== 0, exp, now,
    now - a32[it * 2 + ItemField.time], (bits >>> 16) & 63, a32[it * 2 + ItemField.nbytes]);
}

function evictCount(st: Store, it: number, bits: number, now: number): void {
  const a32 = st.a32, clsid = (bits >>> 16) & 63;
  slabStat(st, bits, SlabStat.evicted);
  st.c32[CLASS_BASE + clsid * CLASS_WORDS + Cls.evictedTime] = now - a32[it * 2 + ItemField.time];
  if (a32[it * 2 + ItemField.exptime] !== 0) slabStat(st, bits, SlabStat.evicted_nonzero);
  if ((bits & ItemFlag.FETCHED) === 0) slabStat(st, bits, SlabStat.evicted_unfetched);
  if ((bits & ItemFlag.ACTIVE) !== 0) slabStat(st, bits, SlabStat.evicted_active);
  if (st.c32[G.slabAutomove] === 2) st.requestReassign(-1, clsid); // slab_automove 2: a page for every eviction
}
