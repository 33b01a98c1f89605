// The LRU crawler's job (memcached's crawler_expired_eval), done by walking slab pages instead of inserting a
// crawler item into each LRU: every chunk that looks like a linked, dead item is re-checked under its item
// lock (still in the hash table under its own key?) and unlinked. Counts crawler_reclaimed,
// crawler_items_checked, expired_unfetched per class.

import type { Store } from "../store/store.ts";
import { ItemField, ItemFlag } from "../store/layout.ts";
import { pageOffset } from "../store/slabs.ts";
import { assocFind } from "../store/assoc.ts";
import { hash } from "../store/hash.ts";
import { SlabStat, SLAB_FIELDS, THREAD_FIELDS } from "../stats/thread-stats.ts";
import { G } from "../store/layout.ts";

/** Crawl pages [from, from + count); returns the next page to crawl (0 when the walk wrapped). */
export function crawlPages(st: Store, from: number, count: number): number {
  const pages = Atomics.load(st.c32, G.pagesUsed);
  let pg = from;
  for (; pg < pages && pg < from + count; pg++) crawlPage(st, pg);
  return pg >= pages ? 0 : pg;
}

function crawlPage(st: Store, pg: number): void {
  const clsid = st.c32[st.pageBase + pg];
  const size = st.classSizes[clsid], perslab = st.perslab[clsid];
  const first = pageOffset(st, pg);
  for (let k = 0; k < perslab; k++) {
    const it = (first + k * size) / 8;
    const bits = st.a32[it * 2 + ItemField.bits];
    if ((bits & ItemFlag.LINKED) === 0 || (bits & ItemFlag.CHUNK) !== 0) continue;
    st.stats.row[THREAD_FIELDS + ((bits >>> 16) & 63) * SLAB_FIELDS + SlabStat.crawler_items_checked]++;
    if (looksDead(st, it)) reclaimIfDead(st, it, (bits >>> 16) & 63); // a chained item counts in its LRU's class
  }
}

function looksDead(st: Store, it: number): boolean {
  const exp = st.a32[it * 2 + ItemField.exptime];
  return (exp !== 0 && exp <= st.currentTime()) || st.isFlushed(it);
}

function reclaimIfDead(st: Store, it: number, clsid: number): void {
  const nkey = st.a32[it * 2 + ItemField.bits] >>> 24;
  const keyOff = it * 8 + 48;
  const hv = hash(st.a8, keyOff, nkey);
  st.itemLock(hv);
  try {
    if (assocFind(st, st.a8, keyOff, nkey, hv) !== it) return; // reused or unlinked meanwhile
    Atomics.add(st.a32, it * 2 + ItemField.refcount, 1);
    const flushed = st.isFlushed(it);
    const exp = st.a32[it * 2 + ItemField.exptime];
    if (flushed || (exp !== 0 && exp <= st.currentTime())) {
      const row = st.stats.row, base = THREAD_FIELDS + clsid * SLAB_FIELDS;
      row[base + SlabStat.crawler_reclaimed]++;
      row[base + SlabStat.reclaimed]++;
      if ((st.a32[it * 2 + ItemField.bits] & ItemFlag.FETCHED) === 0 && !flushed) row[base + SlabStat.expired_unfetched]++;
      st.doItemUnlink(it, hv);
    }
    st.itemRelease(it);
  } finally {
    st.itemUnlock(hv);
  }
}
