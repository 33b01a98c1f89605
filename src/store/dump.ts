// The walks behind the commands that list keys: memcached's crawler metadump (`lru_crawler metadump`: every
// live item, here page by page, a few pages per call so a worker can interleave it with its other clients) and
// item_cachedump (`stats cachedump`: the head of one class's COLD LRU). Both only read: every item is looked at
// under its item lock (metadump) or its LRU lock (cachedump), so it cannot be freed or reused meanwhile.

import type { Store } from "./store.ts";
import { G, ItemField, ItemFlag, Lru, LRU_BASE, LRU_WORDS, LruW } from "./layout.ts";
import { pageOffset } from "./slabs.ts";
import { assocFind } from "./assoc.ts";
import { hash } from "./hash.ts";
import { SlabStat, SLAB_FIELDS, THREAD_FIELDS } from "../stats/thread-stats.ts";

/** Sees one item, its lock held: read what it needs and return. */
export type ItemVisitor = (it: number) => void;

/**
 * A walk over every live (unexpired, unflushed) linked item whose class is in `classes` (indexed by clsid),
 * in arena order, a bounded number of chunks at a time, so that a worker can interleave it with its other
 * connections. A chunk is taken for an item only after the hash table, asked for its key under the item
 * lock, answers with that very chunk: pages change hands and chunks are reused while we walk, unlocked.
 */
export class LiveItemWalk {
  private page = 0;
  private slot = 0;
  private declare readonly classes: Uint8Array;
  /** Count each linked item looked at in its class's crawler_items_checked, as memcached's crawler of LRUs does. */
  private declare readonly countChecked: boolean;

  constructor(classes: Uint8Array, countChecked: boolean) { this.classes = classes; this.countChecked = countChecked; }

  /** Look at up to `chunks` more chunks, visiting the live items among them; false once the walk is done. */
  next(st: Store, chunks: number, visit: ItemVisitor): boolean {
    const pages = Atomics.load(st.c32, G.pagesUsed), a32 = st.a32;
    while (chunks > 0 && this.page < pages) {
      const pageClass = st.c32[st.pageBase + this.page]; // 0 or PAGE_RELEASED: a page in no class
      const perslab = pageClass <= 0 ? 0 : st.perslab[pageClass];
      const size = pageClass <= 0 ? 0 : st.classSizes[pageClass], first = pageOffset(st, this.page);
      for (; this.slot < perslab && chunks > 0; this.slot++, chunks--) {
        const it = (first + this.slot * size) / 8;
        const bits = a32[it * 2 + ItemField.bits];
        if ((bits & ItemFlag.LINKED) === 0 || (bits & ItemFlag.CHUNK) !== 0) continue;
        const clsid = (bits >>> 16) & 63;
        if (this.classes[clsid] === 0) continue;
        if (this.countChecked) st.stats.row[THREAD_FIELDS + clsid * SLAB_FIELDS + SlabStat.crawler_items_checked]++;
        visitIfLive(st, it, visit);
      }
      if (this.slot >= perslab) { this.page++; this.slot = 0; }
    }
    return this.page < pages;
  }
}

function visitIfLive(st: Store, it: number, visit: ItemVisitor): void {
  const nkey = st.a32[it * 2 + ItemField.bits] >>> 24;
  if (nkey === 0) return;
  const keyOff = it * 8 + 48;
  const hv = hash(st.a8, keyOff, nkey);
  st.itemLock(hv);
  try {
    if (assocFind(st, st.a8, keyOff, nkey, hv) !== it) return; // freed, reused or replaced meanwhile
    const exp = st.a32[it * 2 + ItemField.exptime] >>> 0;
    if ((exp !== 0 && exp < st.currentTime()) || st.isFlushed(it)) return; // as crawler_metadump_eval
    visit(it);
  } finally {
    st.itemUnlock(hv);
  }
}

/**
 * memcached's item_cachedump: class `clsid`'s COLD LRU from its head, binary keys skipped, until `visit` says
 * stop (the caller counts its limit and its bytes). Expired items are listed too, as memcached lists them.
 */
export function cachedump(st: Store, clsid: number, visit: (it: number) => boolean): void {
  const id = clsid | Lru.COLD, w = LRU_BASE + id * LRU_WORDS;
  st.locks.lock(w + LruW.lock);
  try {
    for (let it = st.c32[w + LruW.head]; it !== 0; it = st.a32[it * 2 + ItemField.next]) {
      if ((st.a32[it * 2 + ItemField.bits] & ItemFlag.KEY_BINARY) !== 0) continue;
      if (!visit(it)) break;
    }
  } finally {
    st.locks.unlock(w + LruW.lock);
  }
}
