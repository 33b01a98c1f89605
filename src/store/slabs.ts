// Slab classes and pages, as memcached's slabs.c: one arena, pages of slabPageSize handed to a class
// on demand (do_slabs_newslab), each page cut into that class's chunks on a free list.
// Memory bound: pages are handed out up to G.memLimitPages (-m, or cache_memlimit), and past it only as a class's
// first page (memcached's rule): total_malloced <= the limit + a page per class. The arena is reserved once
// (ARENA_PAD + -m bytes and a page per class, or more for cache_memlimit to raise the limit into); the OS commits
// its pages one by one as they are first touched.
// Lock: G.slabLock (the leaf of item -> LRU -> slabs).

import type { Store } from "./store.ts";
import * as layout from "./layout.ts";
import { dropPages } from "../libc/ffi.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const {
  ARENA_PAD, CLASS_BASE, CLASS_WORDS, Cls, F, FG, G, ITEM_HEADER, ItemField, ItemFlag, MAX_CLASSES,
  PAGE_RELEASED
} = layout;

/**
 * memcached's slabs_init sizes: index 1..n, index 0 unused. From -n and -f, or with -o slab_sizes the sizes
 * given (each aligned up to 8 bytes); either way the largest class is slab_chunk_max.
 */
export function slabClassSizes(chunkSizeMin: number, factor: number, slabChunkMax: number,
  given: readonly number[] | null = null): number[] {
  const sizes = [0];
  let size = ITEM_HEADER + chunkSizeMin;
  let i = 0;
  while (++i < MAX_CLASSES - 1) {
    if (given !== null) {
      if (i > given.length) break;
      size = given[i - 1];
    } else if (size >= slabChunkMax / factor) break;
    if (size % 8) size += 8 - (size % 8); // CHUNK_ALIGN_BYTES
    sizes.push(size);
    if (given === null) size = Math.floor(size * factor); // memcached's `unsigned int size *= factor`
  }
  sizes.push(slabChunkMax);
  return sizes;
}

/** What memcached's slabs_init prints at -vv: a line per class, its chunk size and chunks per page. */
export function slabClassTable(sizes: readonly number[], pageSize: number): string {
  let out = '';
  for (let c = 1; c < sizes.length; c++) {
    out += `slab class ${String(c).padStart(3)}: chunk size ${String(sizes[c]).padStart(9)} perslab ${String(Math.floor(pageSize / sizes[c])).padStart(7)}\n`;
  }
  return out;
}

/**
 * memcached's slabs_clsid: the smallest class whose chunks hold `size` bytes; 0 if none. Found by halving, where
 * memcached walks the classes in order: the same class (sizes grow with the index), in ~6 steps where a 16 KB
 * item's class is the 23rd of the walk (~250 instructions of each W4 set under callgrind).
 */
export function slabsClsid(st: Store, size: number): number {
  const sizes = st.classSizes;
  let lo = 1, hi = st.nclasses;
  if (hi < 1 || size > sizes[hi]) return 0;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (size <= sizes[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Take one chunk of class `clsid`; 0 if the class is empty and no page can be added. */
export function slabsAlloc(st: Store, clsid: number): number {
  // No try/finally around these leaf locks: nothing between lock and unlock can throw (typed-array writes
  // only), and a finally costs ~20 ns per call on Node 26.
  const c32 = st.c32;
  const base = CLASS_BASE + clsid * CLASS_WORDS;
  st.locks.lock(G.slabLock);
  let p = c32[base + Cls.freeHead];
  if (p === 0 && doSlabsNewslab(st, clsid)) p = c32[base + Cls.freeHead];
  if (p !== 0) freeListRemove(st, p, base);
  st.locks.unlock(G.slabLock);
  return p;
}

/** Give a chunk back to its class (memcached's do_slabs_free). */
export function slabsFree(st: Store, p: number, clsid: number): void {
  st.locks.lock(G.slabLock);
  freeListPush(st, p, clsid);
  st.locks.unlock(G.slabLock);
}

function freeListPush(st: Store, p: number, clsid: number): void {
  const a32 = st.a32, c32 = st.c32;
  const base = CLASS_BASE + clsid * CLASS_WORDS;
  const head = c32[base + Cls.freeHead];
  a32[p * 2 + ItemField.bits] = ItemFlag.SLABBED | (clsid << 16);
  a32[p * 2 + ItemField.next] = head;
  a32[p * 2 + ItemField.prev] = 0;
  a32[p * 2 + ItemField.chain] = 0;
  if (head !== 0) a32[head * 2 + ItemField.prev] = p;
  c32[base + Cls.freeHead] = p;
  c32[base + Cls.freeCount]++;
}

/** Unlink a free chunk (head or middle: the page mover takes chunks out of the middle). */
export function freeListRemove(st: Store, p: number, base: number): void {
  const a32 = st.a32, c32 = st.c32;
  const next = a32[p * 2 + ItemField.next], prev = a32[p * 2 + ItemField.prev];
  if (prev !== 0) a32[prev * 2 + ItemField.next] = next;
  else c32[base + Cls.freeHead] = next;
  if (next !== 0) a32[next * 2 + ItemField.prev] = prev;
  a32[p * 2 + ItemField.next] = 0;
  a32[p * 2 + ItemField.prev] = 0;
  a32[p * 2 + ItemField.bits] = 0;
  c32[base + Cls.freeCount]--;
}

/** The class owning the page a chunk sits in. */
export function pageClassOf(st: Store, p: number): number {
  return st.c32[st.pageBase + Math.floor((p * 8 - ARENA_PAD) / st.pageSize)];
}

/** Byte offset of page `pg` in the arena. */
export function pageOffset(st: Store, pg: number): number {
  return ARENA_PAD + pg * st.pageSize;
}

/**
 * memcached's do_slabs_newslab (slabs lock held): add a page to `clsid`, from the global page pool (pages
 * `slabs reassign <src> 0` let go) first, else a new one if the memory limit allows. As in memcached, the limit
 * does not apply to a class's first page: every class can store something whatever the others took, and
 * total_malloced exceeds the limit by at most a page per class. Only the arena's end refuses that page (with
 * -L or -e it ends at the limit, as memcached's preallocated mem_avail does).
 */
export function doSlabsNewslab(st: Store, clsid: number): boolean {
  const c32 = st.c32;
  let pg = c32[G.poolPages] > 0 ? pageOfClass(st, 0) : -1;
  if (pg >= 0) {
    c32[G.poolPages]--;
  } else {
    const hasPage = c32[CLASS_BASE + clsid * CLASS_WORDS + Cls.pages] > 0;
    const len = newPageBytes(st, clsid);
    if (st.exactFitPages) {
      // memory preallocated (-L, -e) ends at the limit, first pages included, as memcached's mem_avail does
      const over = mallocedBytes(st) + len > st.cf[F.glob + FG.memLimitBytes];
      if (over && (hasPage || st.preallocated)) return false;
    } else if (hasPage && mallocedPages(st) >= c32[G.memLimitPages]) return false;
    pg = c32[G.releasedPages] > 0 ? pageOfClass(st, PAGE_RELEASED) : c32[G.pagesUsed];
    if (pg < 0 || pg >= st.maxPages) return false;
    if (pg === c32[G.pagesUsed]) c32[G.pagesUsed] = pg + 1;
    else c32[G.releasedPages]--;
    st.cf[F.glob + FG.pagesShortBytes] += st.pageSize - len;
  }
  c32[st.pageBase + pg] = clsid;
  splitPageIntoFreelist(st, pg, clsid);
  c32[CLASS_BASE + clsid * CLASS_WORDS + Cls.pages]++;
  return true;
}

/**
 * The bytes memcached's do_slabs_newslab mallocs for a new page of `clsid`: a whole page, but only what the
 * class's chunks take when pages can never change class (exactFitPages).
 */
function newPageBytes(st: Store, clsid: number): number {
  return st.exactFitPages ? st.classSizes[clsid] * st.perslab[clsid] : st.pageSize;
}

/** memcached's mem_malloced: T_MEMD_INITIAL_MALLOC, then what each page handed out and not released took. */
export function mallocedBytes(st: Store): number {
  return st.cf[F.glob + FG.mallocedBase] + mallocedPages(st) * st.pageSize - st.cf[F.glob + FG.pagesShortBytes];
}

/** memcached's mem_malloced, in pages: those handed out and not released since. */
export function mallocedPages(st: Store): number {
  return st.c32[G.pagesUsed] - st.c32[G.releasedPages];
}

/**
 * memcached's memory_release (slabs lock held): while more is handed out than the limit allows, pages of the
 * global pool are let go. memcached frees them; a page here stays in the arena, the first taken when the limit
 * allows again, and its memory goes back to the system (madvise through node:ffi), as a freed page's would.
 */
export function memoryRelease(st: Store): void {
  const c32 = st.c32;
  while (mallocedPages(st) > c32[G.memLimitPages] && c32[G.poolPages] > 0) {
    const pg = pageOfClass(st, 0);
    if (pg < 0) return;
    c32[st.pageBase + pg] = PAGE_RELEASED;
    c32[G.poolPages]--;
    c32[G.releasedPages]++;
    dropPages(st.arena, pageOffset(st, pg), st.pageSize); // no item is left in a page of the pool
  }
}

/** The first page whose class word is `clsid` (0: the pool, PAGE_RELEASED), or -1. */
function pageOfClass(st: Store, clsid: number): number {
  const used = st.c32[G.pagesUsed];
  for (let pg = 0; pg < used; pg++) if (st.c32[st.pageBase + pg] === clsid) return pg;
  return -1;
}

/**
 * A free chunk of `clsid` outside page `avoid`, never a new page (memcached's SLABS_ALLOC_NO_NEWPAGE): where the
 * page mover copies an item it rescues. 0 when there is none.
 */
export function takeFreeChunk(st: Store, clsid: number, avoid: number): number {
  const c32 = st.c32, a32 = st.a32, base = CLASS_BASE + clsid * CLASS_WORDS;
  const lo = pageOffset(st, avoid) / 8, hi = lo + st.pageSize / 8;
  st.locks.lock(G.slabLock);
  let p = c32[base + Cls.freeHead];
  while (p !== 0 && p >= lo && p < hi) p = a32[p * 2 + ItemField.next];
  if (p !== 0) freeListRemove(st, p, base);
  st.locks.unlock(G.slabLock);
  return p;
}

/** Chunks the page mover had taken off the free list go back on it. */
export function returnChunks(st: Store, chunks: number[], clsid: number): void {
  st.locks.lock(G.slabLock);
  for (const p of chunks) freeListPush(st, p, clsid);
  st.locks.unlock(G.slabLock);
}

export function splitPageIntoFreelist(st: Store, pg: number, clsid: number): void {
  const size = st.classSizes[clsid], perslab = st.perslab[clsid];
  const first = pageOffset(st, pg);
  // memcached's split_slab_page_into_freelist frees the chunks in address order, each onto the list's head: the
  // page is handed out from its end. Where each item sits decides which a page move (walking the page from its
  // start) rescues first, so gives the first new CASes, and which it evicts when its class runs out of room.
  for (let k = 0; k < perslab; k++) freeListPush(st, (first + k * size) / 8, clsid);
}
