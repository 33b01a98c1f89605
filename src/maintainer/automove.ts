// memcached's slab automover (slab_automove.c, run by its LRU maintainer thread when slab_automove is 1):
// once a second of store time it samples every class (evictions and out-of-memory answers since the last
// sample, page growth, the age of COLD's tail) into a window of slab_automove_window samples, and asks for a
// page move (Store.requestReassign, made by the Rebalancer) when
// - a class holds more than 2.5 pages of free chunks and its window is clean (no eviction, no out of
//   memory, no new page): a page goes back to the global pool, and the next sample comes at once;
// - after a full window, the class with the youngest tail that keeps evicting (over half the samples, or
//   over a quarter of all evictions) is younger than slab_automove_ratio times the oldest class's age: the
//   oldest (with more than two pages) gives it a page.
// slab_automove 2 asks for a page from any class on every eviction instead (lru.ts evictCount).

import type { Store } from "../store/store.ts";
import { CLASS_BASE, CLASS_WORDS, Cls, F, FG, G, Lru, MAX_CLASSES } from "../store/layout.ts";
import { lruAge } from "../store/report.ts";
import { SlabStat } from "../stats/thread-stats.ts";
import { LogFlag } from "../logger/logger.ts";

const MIN_PAGES_FOR_SOURCE = 2;
const MIN_PAGES_FOR_RECLAIM = 2.5;

/** One class's counters at a sample: what a window slot is worked out from. */
export type Sample = { evicted: number; outOfMemory: number; pages: number };

/**
 * What memcached's two automovers share (its slab_automove_reg_t, run by the LRU maintainer): a turn a second of
 * store time with `slab_automove` 1, a new window when the ratio or the window's size changes, at once again
 * after a page for the pool, and the move asked for and logged. `init` and `run` are each one's own.
 */
export abstract class AutomoverWindow {
  protected declare readonly st: Store;
  protected windowSize = 0;
  protected ratio = 0;
  private lastCheck = -1;

  constructor(st: Store) { this.st = st; }

  /** The automover's turn in the maintainer's round; true when it asked for a move. */
  round(): boolean {
    const st = this.st;
    if (st.c32[G.slabAutomove] !== 1) return false;
    const now = st.currentTime();
    if (now === this.lastCheck) return false;
    if (this.ratio !== st.cf[F.glob + FG.automoveRatio] || this.windowSize !== st.c32[G.automoveWindow]) this.init();
    const [src, dst] = this.run();
    if (dst !== 0) this.lastCheck = now; // a page for the pool: look again at once
    if (src === -1 || dst === -1) return false;
    st.requestReassign(src, dst);
    // memcached logs the move it asked for (answered or BUSY) to `watch sysevents`
    if ((st.c32[G.watchMask] & LogFlag.SYSEVENTS) !== 0) st.log.slabMove(src, dst);
    return true;
  }

  /** A new window: windowSize and ratio from the live settings, and a dry sample to measure the next against. */
  protected abstract init(): void;
  /** One sample: [src, dst] of the page to move, -1 for none; dst 0 is the global pool. */
  protected abstract run(): [number, number];

  /** Every class's counters now; class 0's pages are the global pool's when `pool`. */
  protected sampleAll(pool: boolean): Sample[] {
    const st = this.st, out: Sample[] = [];
    for (let n = 0; n <= st.nclasses; n++) {
      out.push({
        evicted: st.stats.sumSlab(n, SlabStat.evicted),
        outOfMemory: st.stats.sumSlab(n, SlabStat.outofmemory),
        pages: n === 0 && pool ? st.c32[G.poolPages] : st.c32[CLASS_BASE + n * CLASS_WORDS + Cls.pages],
      });
    }
    return out;
  }
}

export class Automover extends AutomoverWindow {
  private cur = 0;
  // window slots, [clsid * windowSize + slot]
  private age = new Float64Array(0);
  private dirty = new Uint8Array(0);
  private evictedRatio = new Float64Array(0);
  private evictedSeen = new Uint8Array(0);
  private before: Sample[] = [];

  constructor(st: Store) {
    super(st);
    this.init();
  }

  /** slab_automove_init: an empty window, and a dry sample to measure the next against. */
  protected init(): void {
    const st = this.st;
    this.windowSize = Math.max(1, st.c32[G.automoveWindow]);
    this.ratio = st.cf[F.glob + FG.automoveRatio];
    this.cur = 0;
    const slots = this.windowSize * MAX_CLASSES;
    this.age = new Float64Array(slots);
    this.dirty = new Uint8Array(slots);
    this.evictedRatio = new Float64Array(slots);
    this.evictedSeen = new Uint8Array(slots);
    this.before = this.sampleAll(false);
  }

  /** slab_automove_run: [src, dst], -1 for no move; dst 0 is the global pool. */
  protected run(): [number, number] {
    const st = this.st, after = this.sampleAll(false), w = this.windowSize;
    let evictedTotal = 0;
    for (let n = 1; n <= st.nclasses; n++) evictedTotal += after[n].evicted - this.before[n].evicted;
    this.cur++;
    let oldest = -1, oldestAge = 0, youngest = -1, youngestAge = Infinity, youngestEvicting = false;
    let move: [number, number] = [-1, -1];
    for (let n = 1; n <= st.nclasses; n++) {
      const slot = n * w + (this.cur % w);
      const evictedDelta = after[n].evicted - this.before[n].evicted;
      this.evictedRatio[slot] = evictedDelta > 0 ? evictedDelta / evictedTotal : 0;
      this.evictedSeen[slot] = evictedDelta > 0 ? 1 : 0;
      this.dirty[slot] = evictedDelta > 0 || after[n].outOfMemory > this.before[n].outOfMemory ||
        after[n].pages > this.before[n].pages ? 1 : 0;
      this.age[slot] = lruAge(st, n | Lru.COLD);
      let ageSum = 0, dirty = 0, ratioSum = 0, seen = 0;
      for (let s = n * w; s < (n + 1) * w; s++) {
        ageSum += this.age[s]; dirty += this.dirty[s]; ratioSum += this.evictedRatio[s]; seen += this.evictedSeen[s];
      }
      const age = Math.floor(ageSum / w);
      const base = CLASS_BASE + n * CLASS_WORDS;
      if (st.c32[base + Cls.freeCount] > st.perslab[n] * MIN_PAGES_FOR_RECLAIM && dirty === 0) {
        move = [n, 0];
        oldest = youngest = -1;
        break;
      }
      if (age > oldestAge && st.c32[base + Cls.pages] > MIN_PAGES_FOR_SOURCE) { oldest = n; oldestAge = age; }
      if (age < youngestAge && (seen > w / 2 || ratioSum / w > 0.25)) {
        youngest = n;
        youngestAge = age;
        youngestEvicting = this.evictedSeen[slot] !== 0;
      }
    }
    this.before = after;
    if (youngest !== -1 && oldest !== -1 && this.cur > w && youngestAge < oldestAge * this.ratio && youngestEvicting) {
      move = [oldest, youngest];
    }
    return move;
  }
}
