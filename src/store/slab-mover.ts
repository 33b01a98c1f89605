// Page moves between classes (memcached's slab_rebalance_start / _move / _finish, simplified). The arena never
// grows past -m, so a class that has no page and cannot get one would refuse every item of its size for good;
// instead allocPull takes a page for it from the class holding the most: evict what lives in it (never an item
// in use: then the move gives up), and once every chunk of the page is free, hand the page to the new class.
// Only a class with no page gets one. A class that has pages evicts its own items, and when all of them are
// in flight (values still arriving) it answers out of memory, as memcached does: otherwise clients that start
// large sets and never finish them would empty every other class, page by page, without storing a byte.
// Lock order holds: item locks are only trylocked (the caller may hold one), then LRU, then slabs.

import type { Store } from "./store.ts";
import { CLASS_BASE, CLASS_WORDS, Cls, F, FG, G, ItemField, ItemFlag } from "./layout.ts";
import { freeListRemove, pageOffset, splitPageIntoFreelist } from "./slabs.ts";
import { assocFind } from "./assoc.ts";
import { hash } from "./hash.ts";

/** Move one page to `dst`, a class with none, from the class with the most pages (at least 2). True when moved. */
export function slabsReassign(st: Store, dst: number): boolean {
  if (st.c32[CLASS_BASE + dst * CLASS_WORDS + Cls.pages] > 0) return false;
  const src = pickSource(st, dst);
  if (src === 0) return false;
  const pg = pickPage(st, src);
  if (pg < 0 || !evacuatePage(st, pg, src)) {
    st.cf[F.glob + FG.reassignBusy]++;
    return false;
  }
  return finishMove(st, pg, src, dst);
}

function pickSource(st: Store, dst: number): number {
  let best = 0, most = 1;
  for (let c = 1; c <= st.nclasses; c++) {
    const pages = st.c32[CLASS_BASE + c * CLASS_WORDS + Cls.pages];
    if (c !== dst && pages > most) { best = c; most = pages; }
  }
  return best;
}

/** The page of `src` with the fewest chunks in use: the cheapest to empty. */
function pickPage(st: Store, src: number): number {
  const used = st.c32[G.pagesUsed];
  let best = -1, fewest = Infinity;
  for (let pg = 0; pg < used; pg++) {
    if (st.c32[st.pageBase + pg] !== src) continue;
    const n = chunksInUse(st, pg, src);
    if (n < fewest) { best = pg; fewest = n; }
  }
  return best;
}

function chunksInUse(st: Store, pg: number, clsid: number): number {
  const size = st.classSizes[clsid], first = pageOffset(st, pg);
  let n = 0;
  for (let k = 0; k < st.perslab[clsid]; k++) {
    if ((st.a32[((first + k * size) / 8) * 2 + ItemField.bits] & ItemFlag.SLABBED) === 0) n++;
  }
  return n;
}

/** Evict every item with a chunk in the page; false if one is in use, locked, or not linked (in flight). */
function evacuatePage(st: Store, pg: number, clsid: number): boolean {
  const size = st.classSizes[clsid], first = pageOffset(st, pg);
  for (let k = 0; k < st.perslab[clsid]; k++) {
    const p = (first + k * size) / 8;
    const bits = st.a32[p * 2 + ItemField.bits];
    if ((bits & ItemFlag.SLABBED) !== 0) continue;
    const head = (bits & ItemFlag.CHUNK) !== 0 ? st.a32[p * 2 + ItemField.hNext] : p;
    if (!evictForMove(st, head)) return false;
  }
  return true;
}

function evictForMove(st: Store, it: number): boolean {
  const a32 = st.a32;
  if ((a32[it * 2 + ItemField.bits] & ItemFlag.LINKED) === 0) return false;
  const nkey = a32[it * 2 + ItemField.bits] >>> 24, keyOff = it * 8 + 48;
  const hv = hash(st.a8, keyOff, nkey);
  const lock = st.itemLockWord(hv);
  if (!st.locks.trylock(lock)) return false;
  let ok = false;
  if (assocFind(st, st.a8, keyOff, nkey, hv) === it) {
    if (Atomics.add(a32, it * 2 + ItemField.refcount, 1) === 1) { // only the table held it
      st.doItemUnlink(it, hv);
      st.cf[F.glob + FG.reassignEvictions]++;
      ok = true;
    }
    st.itemRelease(it);
  }
  st.locks.unlock(lock);
  return ok;
}

/** Under the slabs lock: if every chunk is still free, take them off src's list and give the page to dst. */
function finishMove(st: Store, pg: number, src: number, dst: number): boolean {
  const c32 = st.c32;
  st.locks.lock(G.slabLock);
  const size = st.classSizes[src], first = pageOffset(st, pg), base = CLASS_BASE + src * CLASS_WORDS;
  let free = true;
  for (let k = 0; k < st.perslab[src] && free; k++) {
    free = (st.a32[((first + k * size) / 8) * 2 + ItemField.bits] & ItemFlag.SLABBED) !== 0;
  }
  if (free) {
    for (let k = 0; k < st.perslab[src]; k++) freeListRemove(st, (first + k * size) / 8, base);
    c32[base + Cls.pages]--;
    c32[st.pageBase + pg] = dst;
    splitPageIntoFreelist(st, pg, dst);
    c32[CLASS_BASE + dst * CLASS_WORDS + Cls.pages]++;
    st.cf[F.glob + FG.slabsMoved]++;
  }
  st.locks.unlock(G.slabLock);
  return free;
}
