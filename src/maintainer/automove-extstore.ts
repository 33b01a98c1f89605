// memcached's slab automover for a store with external storage (slab_automove_extstore.c), which its LRU
// maintainer runs instead of slab_automove.c's when extstore is on. Memory is no longer balanced between
// classes by their tail ages (values go to flash rather than being evicted); instead some of it is kept free
// as a buffer for the storage writer:
// - the global page pool is kept at slab_automove_freeratio of all pages (at least 2: memcached's
//   ext_global_pool_min, which the storage writer reads too, G.extGlobalPoolMin): while it is short, once the
//   window has filled, the class of large items (chunks of ext_item_size and up) with the oldest COLD tail,
//   with more than 2 pages, gives one page to it;
// - a class with more than 2.5 pages of free chunks whose window is clean (no eviction, no out of memory, no
//   new page) gives a page back to the pool: a class of small items at once, a class of large items only when
//   it has had more than twice 1.5 pages of free chunks for the whole window (the storage writer keeps 3
//   pages' worth free in those classes, so the default automover's 2.5 would take back what it just made).
// Every page it asks for goes to the pool (dst 0), so the next sample comes at once, as memcached's thread
// then sleeps only 1 ms. slab_automove 2 runs no automover here either: the eviction path asks (../store/lru.ts).

import type { Store } from "../store/store.ts";
import { CLASS_BASE, CLASS_WORDS, Cls, F, FG, G, Lru, MAX_CLASSES } from "../store/layout.ts";
import { lruAge } from "../store/report.ts";
import { mallocedPages } from "../store/slabs.ts";
import { EXT } from "../extstore/storage.ts";
import { AutomoverWindow } from "./automove.ts";
import type { Sample } from "./automove.ts";

const MIN_PAGES_FOR_SOURCE = 2;
const MIN_PAGES_FOR_RECLAIM = 2.5;
/** Free chunks a class of large items should keep, in pages; twice that for the whole window is excess. */
const MIN_PAGES_FREE = 1.5;
/** The pool's floor, whatever the ratio gives (memcached's global_pool_watermark minimum). */
const MIN_POOL_WATERMARK = 2;

export class ExtstoreAutomover extends AutomoverWindow {
  /** slab_automove_freeratio: read once at start, as memcached reads it (no command changes it). */
  private declare readonly freeRatio: number;
  private cur = 0;
  /** ext_item_size when the window began: below it a class is one of small items (memcached reads it at init). */
  private itemSize = 0;
  /** The pool's target, from the last sample; 0 until the first (then nothing is short). */
  private poolWatermark = 0;
  // window slots, [clsid * windowSize + slot]
  private age = new Float64Array(0);
  private dirty = new Uint8Array(0);
  private excessFree = new Uint8Array(0);
  private before: Sample[] = [];

  constructor(st: Store, freeRatio: number) {
    super(st);
    this.freeRatio = freeRatio;
    this.init();
  }

  /** slab_automove_extstore_init: an empty window, and a dry sample to measure the next against. */
  protected init(): void {
    const st = this.st;
    this.windowSize = Math.max(1, st.c32[G.automoveWindow]);
    this.ratio = st.cf[F.glob + FG.automoveRatio];
    this.itemSize = st.extLive === null ? 0 : st.extLive.extSetting(EXT.itemSize);
    this.cur = 0;
    this.poolWatermark = 0;
    const slots = this.windowSize * MAX_CLASSES;
    this.age = new Float64Array(slots);
    this.dirty = new Uint8Array(slots);
    this.excessFree = new Uint8Array(slots);
    this.before = this.sampleAll(true);
  }

  /**
   * global_pool_check: the pool is short of the watermark the last sample set, once memory is all handed out
   * (with extstore it is from the start: the pool is filled up to -m).
   */
  private poolLow(): boolean {
    const st = this.st;
    if (mallocedPages(st) < st.c32[G.memLimitPages]) return false;
    return st.c32[G.poolPages] < this.poolWatermark;
  }

  /** memcheck: the pool's target, slab_automove_freeratio of every page (in classes and in the pool). */
  private setWatermark(after: Sample[]): void {
    let total = 0;
    for (const s of after) total += s.pages;
    this.poolWatermark = Math.max(MIN_POOL_WATERMARK, Math.floor(total * this.freeRatio));
    Atomics.store(this.st.c32, G.extGlobalPoolMin, this.poolWatermark);
  }

  /** slab_automove_extstore_run: [src, dst], -1 for no move; dst is always the global pool (0). */
  protected run(): [number, number] {
    const st = this.st, w = this.windowSize;
    const poolLow = this.poolLow();
    const after = this.sampleAll(true);
    this.cur++;
    this.setWatermark(after);
    let oldest = -1, oldestAge = 0, tooFree = false;
    let move: [number, number] = [-1, -1];
    for (let n = 1; n <= st.nclasses; n++) {
      const base = CLASS_BASE + n * CLASS_WORDS;
      const small = st.classSizes[n] < this.itemSize;
      const perslab = st.perslab[n], free = st.c32[base + Cls.freeCount];
      // memcached keeps the target in an unsigned int: 1.5 pages rounded down
      const freeTarget = Math.floor(perslab * MIN_PAGES_FREE);
      const slot = n * w + (this.cur % w);
      const evicted = after[n].evicted > this.before[n].evicted || after[n].outOfMemory > this.before[n].outOfMemory;
      // a class that evicts, runs out of memory or grows cannot give memory back for a window
      this.dirty[slot] = evicted || after[n].pages > this.before[n].pages ? 1 : 0;
      this.excessFree[slot] = free > freeTarget * 2 ? 1 : 0;
      this.age[slot] = lruAge(st, n | Lru.COLD);
      let ageSum = 0, dirty = 0, excess = 0;
      for (let s = n * w; s < (n + 1) * w; s++) { ageSum += this.age[s]; dirty += this.dirty[s]; excess += this.excessFree[s]; }
      const age = Math.floor(ageSum / w);
      // no break: of the classes too free, the last one gives its page
      if (free > perslab * MIN_PAGES_FOR_RECLAIM && dirty === 0 && (small || excess >= w)) {
        move = [n, 0];
        tooFree = true;
      }
      if (!small && age > oldestAge && after[n].pages > MIN_PAGES_FOR_SOURCE) {
        oldest = n;
        oldestAge = age;
      }
    }
    this.before = after;
    // a page for a short pool only once the window has filled
    if (this.cur >= w && !tooFree && poolLow && oldest !== -1) move = [oldest, 0];
    return move;
  }
}
