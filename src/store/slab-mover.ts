// Page moves between classes: memcached's slab_rebalance_start / _move / _finish. A move takes one page of
// `src` for `dst` (0: the global page pool, which the next class short of memory draws from). First the page's
// free chunks leave src's free list, so nothing new lands there; then each item in it is rescued into a free
// chunk of src elsewhere (copied and swapped in, under its item lock: same key, value and LRU segment, and a new
// CAS as memcached's do_item_replace gives; a chained item's data chunk is copied and relinked in its chain, its
// header copied and given the chain) or, when src has none free, evicted. An item in use (a reader holds it, its
// value is still arriving, its lock is taken) is left for the next pass; once every chunk of the page is off
// the free list, the page changes hands.
//
// `slabs reassign` and the automover start moves; the maintainer thread runs them pass after pass, as memcached's
// rebalancer thread (G.reassignSignal). Lock order holds: item locks are only trylocked, then LRU, then slabs.

import type { Store } from "./store.ts";
import type { Code } from "./results.ts";
import { CLASS_BASE, CLASS_WORDS, Cls, F, FG, G, ITEM_HEADER, ItemField, ItemFlag } from "./layout.ts";
import { doSlabsNewslab, freeListRemove, memoryRelease, pageOffset, slabsFree, splitPageIntoFreelist, takeFreeChunk, returnChunks } from "./slabs.ts";
import { assocFind } from "./assoc.ts";
import { hash } from "./hash.ts";
import { chainedHeaderSize } from "./items.ts";
import { itemMemBytes } from "./lru.ts";

/** One page on its way from src to dst. */
export class PageMove {
  declare readonly src: number;
  declare readonly dst: number;
  declare readonly page: number;
  /** reserved[k]: chunk k of the page is off the free list and ours. */
  private declare readonly reserved: Uint8Array;
  private nreserved = 0;

  private constructor(st: Store, src: number, dst: number, page: number) {
    this.src = src;
    this.dst = dst;
    this.page = page;
    this.reserved = new Uint8Array(st.perslab[src]);
  }

  /** memcached's slab_rebalance_start: src's first page (pickPage); null if src has none. */
  static start(st: Store, src: number, dst: number): PageMove | null {
    const pg = pickPage(st, src);
    return pg < 0 ? null : new PageMove(st, src, dst, pg);
  }

  /** One pass over the page (slab_rebalance_move); true once it is empty and has gone to dst (_finish). */
  step(st: Store): boolean {
    this.reserveFreeChunks(st);
    const size = st.classSizes[this.src], first = pageOffset(st, this.page);
    for (let k = 0; k < this.reserved.length; k++) {
      if (this.reserved[k] !== 0) continue;
      const p = (first + k * size) / 8;
      const bits = st.a32[p * 2 + ItemField.bits];
      if ((bits & ItemFlag.SLABBED) !== 0) continue; // freed since: reserved on the next pass
      const chunk = (bits & ItemFlag.CHUNK) !== 0 ? p : 0;
      // read without a lock (memcached holds the slabs lock here): rescueOrEvict checks again under the item's
      const head = chunk !== 0 ? st.a32[p * 2 + ItemField.hNext] : p;
      if (rescueOrEvict(st, head, this.src, chunk, this.page) === Moved.BUSY) st.cf[F.glob + FG.reassignBusy]++;
    }
    this.reserveFreeChunks(st);
    return this.nreserved === this.reserved.length && this.finish(st);
  }

  /** Give up: the chunks taken go back to src's free list. */
  abandon(st: Store): void {
    const size = st.classSizes[this.src], first = pageOffset(st, this.page), chunks: number[] = [];
    for (let k = 0; k < this.reserved.length; k++) if (this.reserved[k] !== 0) chunks.push((first + k * size) / 8);
    returnChunks(st, chunks, this.src);
    this.reserved.fill(0);
    this.nreserved = 0;
  }

  /** Under the slabs lock: every free chunk of the page leaves src's free list. */
  private reserveFreeChunks(st: Store): void {
    const size = st.classSizes[this.src], first = pageOffset(st, this.page), base = CLASS_BASE + this.src * CLASS_WORDS;
    st.locks.lock(G.slabLock);
    for (let k = 0; k < this.reserved.length; k++) {
      const p = (first + k * size) / 8;
      if (this.reserved[k] !== 0 || (st.a32[p * 2 + ItemField.bits] & ItemFlag.SLABBED) === 0) continue;
      freeListRemove(st, p, base);
      this.reserved[k] = 1;
      this.nreserved++;
    }
    st.locks.unlock(G.slabLock);
  }

  private finish(st: Store): boolean {
    const c32 = st.c32;
    st.locks.lock(G.slabLock);
    c32[CLASS_BASE + this.src * CLASS_WORDS + Cls.pages]--;
    c32[st.pageBase + this.page] = this.dst;
    if (this.dst === 0) {
      c32[G.poolPages]++;
      memoryRelease(st); // the limit may have gone below what is handed out
    } else {
      splitPageIntoFreelist(st, this.page, this.dst);
      c32[CLASS_BASE + this.dst * CLASS_WORDS + Cls.pages]++;
    }
    st.cf[F.glob + FG.slabsMoved]++;
    st.locks.unlock(G.slabLock);
    return true;
  }
}

/** `slabs reassign 0 <dst>`: a page of the global pool goes to dst (slabs lock taken here). */
export function takePoolPage(st: Store, dst: number): void {
  st.locks.lock(G.slabLock);
  if (st.c32[G.poolPages] > 0 && dst > 0) doSlabsNewslab(st, dst); // the pool is drawn from first
  st.locks.unlock(G.slabLock);
}

/**
 * memcached's slab_rebalance_start takes the class's first page (slab_list[0], "most likely to contain the oldest
 * items"): its pages are listed in the order the class got them. Here, the page of src first in the arena: the same
 * page while the class's pages came from fresh memory in turn, as they do until pages move between classes (then
 * memcached's list order, a page taken from the pool going last, is not kept here).
 */
function pickPage(st: Store, src: number): number {
  const used = Atomics.load(st.c32, G.pagesUsed);
  for (let pg = 0; pg < used; pg++) if (st.c32[st.pageBase + pg] === src) return pg;
  return -1;
}

/** What became of a chunk of the moving page: moved out (or its item evicted), in use, or not the item's any more. */
export const Moved = { DONE: 0 as Code<"Moved", 0>, BUSY: 1 as Code<"Moved", 1>, CHANGED: 2 as Code<"Moved", 2> } as const;
export type Moved = (typeof Moved)[keyof typeof Moved];

/**
 * An item with a chunk in the moving page leaves it: copied into a free chunk of its class elsewhere when one is
 * free (the whole item of `clsid`, or its data chunk `chunk` in the page), else unlinked. BUSY when it is in use;
 * CHANGED when, under its lock, `chunk` turns out not to be in its chain (the chunk was freed and taken again, or
 * its head pointer not yet written, since the page was read): then nothing is evicted, and the next pass looks
 * again. (Evicting there would drop an item that has nothing in the page.)
 */
export function rescueOrEvict(st: Store, it: number, clsid: number, chunk: number, movingPage: number): Moved {
  const a32 = st.a32;
  if ((a32[it * 2 + ItemField.bits] & ItemFlag.LINKED) === 0) return Moved.BUSY; // a value still arriving, or being freed
  const nkey = a32[it * 2 + ItemField.bits] >>> 24, keyOff = it * 8 + ITEM_HEADER;
  const hv = hash(st.a8, keyOff, nkey);
  if (!st.itemTrylock(hv)) return Moved.BUSY;
  let moved: Moved = Moved.BUSY;
  if (assocFind(st, st.a8, keyOff, nkey, hv) === it) {
    if (chunk !== 0 && !chainHolds(a32, it, chunk)) moved = Moved.CHANGED;
    else {
      if (Atomics.add(a32, it * 2 + ItemField.refcount, 1) === 1) { // only the table held it
        const exptime = a32[it * 2 + ItemField.exptime];
        if ((exptime !== 0 && exptime < st.currentTime()) || st.isFlushed(it)) {
          // expired or flushed: memcached does not save it, and counts it neither a rescue nor an eviction (a
          // header's object on flash goes with the unlink, its STORAGE_delete); a chained item's chunks are freed
          // by the unlink, and memcached counts it busy, to come back for them on the next pass
          st.doItemUnlink(it, hv);
          if (chunk !== 0 || (a32[it * 2 + ItemField.bits] & ItemFlag.CHUNKED) !== 0) st.cf[F.glob + FG.reassignBusy]++;
        } else {
          const copy = chunk !== 0 ? rescueChunk(st, it, chunk, clsid, movingPage) : rescue(st, it, hv, clsid, movingPage);
          if (!copy) {
            st.doItemUnlink(it, hv);
            st.cf[F.glob + FG.reassignEvictions]++;
          }
        }
        moved = Moved.DONE;
      }
      st.itemRelease(it);
    }
  }
  st.itemUnlock(hv);
  return moved;
}

/** Whether chained item `head`'s chain holds data chunk `chunk` (its item lock held). */
function chainHolds(a32: Int32Array, head: number, chunk: number): boolean {
  if ((a32[head * 2 + ItemField.bits] & ItemFlag.CHUNKED) === 0) return false;
  for (let ch = a32[head * 2 + ItemField.chain]; ch !== 0; ch = a32[ch * 2 + ItemField.chain]) if (ch === chunk) return true;
  return false;
}

/**
 * memcached's chunk rescue (slab_reassign_chunk_rescues): a chained item's data chunk copied into a free chunk
 * of its class outside the page and put in its place in the chain (item lock held, no reader: only the table
 * holds the item, and readers copy under the lock); the old chunk goes back to the free list, for the next pass.
 */
function rescueChunk(st: Store, head: number, chunk: number, clsid: number, movingPage: number): boolean {
  const a32 = st.a32;
  let prev = head;
  while (a32[prev * 2 + ItemField.chain] !== chunk) prev = a32[prev * 2 + ItemField.chain]; // chainHolds said it is there
  const bytes = ITEM_HEADER + a32[chunk * 2 + ItemField.nbytes]; // a data chunk keeps the item header's shape
  const copy = takeFreeChunk(st, clsid, movingPage);
  if (copy === 0) return false;
  st.a8.copyWithin(copy * 8, chunk * 8, chunk * 8 + bytes);
  a32[prev * 2 + ItemField.chain] = copy;
  slabsFree(st, chunk, clsid);
  st.cf[F.glob + FG.reassignChunkRescues]++;
  return true;
}

/**
 * memcached's rescue: the item's bytes into a free chunk of its class (never a new page), swapped in. A chained
 * item's header holds only its key: the copy takes over the chain (each chunk names its head), and the old
 * header lets go of it before it is freed.
 */
function rescue(st: Store, it: number, hv: number, clsid: number, movingPage: number): boolean {
  const a32 = st.a32, chunked = (a32[it * 2 + ItemField.bits] & ItemFlag.CHUNKED) !== 0;
  const ntotal = chunked ? chainedHeaderSize(a32, it) : itemMemBytes(a32, it); // a header item: its item_hdr
  const copy = takeFreeChunk(st, clsid, movingPage);
  if (copy === 0) return false;
  st.a8.copyWithin(copy * 8, it * 8, it * 8 + ntotal);
  a32[copy * 2 + ItemField.bits] &= ~ItemFlag.LINKED;
  a32[copy * 2 + ItemField.refcount] = 1; // ours, as a new item's
  if (chunked) for (let ch = a32[copy * 2 + ItemField.chain]; ch !== 0; ch = a32[ch * 2 + ItemField.chain]) a32[ch * 2 + ItemField.hNext] = copy;
  st.doItemReplaceRescued(it, copy, hv);
  // the chain is the copy's now: the old header, freed as a chained item's header (into its page's class), frees none of it
  if (chunked) a32[it * 2 + ItemField.chain] = 0;
  st.itemRelease(copy);
  st.cf[F.glob + FG.reassignRescues]++;
  return true;
}
