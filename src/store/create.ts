// createStore: the main thread builds the store's shared buffers once (memcached's slabs_init, assoc_init and
// the settings the store starts with); every thread then attaches a Store to them (store.ts). Also the checks
// memcached makes before it builds them (-L's preallocation).

import {
  ARENA_PAD, CLASS_BASE, CLASS_WORDS, Cls, ctlLayout, F, FG, G, ARENA_MAX_BYTES,
} from "./layout.ts";
import { createCtlMemory, ctlBuffer, itemLockPower } from "./locks.ts";
import { slabClassSizes, doSlabsNewslab } from "./slabs.ts";
import { createSizesBuffer, sizesBucketsFor, type SizesInit } from "./sizes.ts";
import { createLogBuffer } from "../logger/logger.ts";
import { createStatsBuffer } from "../stats/thread-stats.ts";
import { CLOCK_START, exactFitPages, memLimitPages, Store } from "./store.ts";
import type { ExtShared } from "../extstore/engine.ts";
import { adviseHugePages } from "../libc/ffi.ts";

export type StoreSettings = {
  maxBytes: number; // -m in bytes (default 64 MiB)
  /** Arena to reserve, if more than -m: what cache_memlimit may raise the limit to (none with -L or -e). */
  reserveBytes?: number;
  chunkSizeMin: number; // -n (48)
  factor: number; // -f (1.25)
  slabSizes?: number[] | null; // -o slab_sizes: the classes' sizes instead of -n and -f's
  itemSizeMax: number; // -I in bytes (1 MiB)
  slabPageSize: number; // 1 MiB (memcached's slab_page_size, whatever -I is)
  slabChunkMax: number; // slabPageSize / 2: items above this are chained
  preallocate: boolean; // -L
  /** -L: the arena and the hash table advised into transparent huge pages (madvise MADV_HUGEPAGE), before use. */
  largePages?: boolean;
  /**
   * Bytes total_malloced counts before any page is taken: memcached's slabs_init reads T_MEMD_INITIAL_MALLOC for
   * its own test suite (t/64bit.t fakes 4 GB already taken), in its release build too. 0 without it.
   */
  mallocedBase?: number;
  prefillPool?: boolean; // -e: the pages no class took at preallocation go to the global pool at once
  /**
   * -o ext_path: memcached's slabs_prefill_global, every page up to -m in the global pool at start, without
   * -e's preallocation rules (a class's first page may still go past the limit; cache_memlimit is taken).
   */
  extPrefill?: boolean;
  /** -o slab_automove_freeratio (0.01): the share of memory extstore's automover keeps in the global pool. */
  slabAutomoveFreeratio?: number;
  evictToFree: boolean; // !-M
  useCas: boolean; // !-C
  trackSizes?: boolean; // -o track_sizes: the item size histogram from the start
  trackSizesAt?: SizesInit | null; // -I and !-C when -o track_sizes was read (sizes.ts)
  hashpowerInit: number; // -o hashpower (16)
  hashExpand?: boolean; // !-o no_hashexpand: the table doubles past 1.5 items a bucket
  numThreads: number; // -t: workers; threads are 0 dispatcher, 1..N workers, N+1 maintainer
  lruSegmented: boolean; // -o lru_segmented (default on)
  hotLruPct?: number; // -o hot_lru_pct (20)
  warmLruPct?: number; // -o warm_lru_pct (40)
  hotMaxFactor?: number; // -o hot_max_factor (0.2)
  warmMaxFactor?: number; // -o warm_max_factor (2.0)
  tempLru?: boolean; // -o temporary_ttl given
  temporaryTtl?: number; // -o temporary_ttl (61)
  lruCrawler?: boolean; // !-o no_lru_crawler
  lruMaintainer?: boolean; // !-o no_lru_maintainer (memcached's settings.lru_maintainer_thread)
  lruCrawlerSleep?: number; // -o lru_crawler_sleep, µs (100)
  lruCrawlerTocrawl?: number; // -o lru_crawler_tocrawl (0: no limit)
  slabReassign?: boolean; // !-o no_slab_reassign
  slabAutomove?: number; // -o slab_automove (1)
  slabAutomoveRatio?: number; // -o slab_automove_ratio (0.8)
  slabAutomoveWindow?: number; // -o slab_automove_window (30)
};

/** Everything a thread needs to attach: only SharedArrayBuffers and plain values, so it posts to workers. */
export type StoreShared = {
  settings: StoreSettings;
  arena: SharedArrayBuffer;
  /** The control block: a shared wasm memory, so that its mutexes can be taken by wasm (locks.ts). */
  ctl: WebAssembly.Memory;
  hashTable: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  /** `stats sizes`'s buckets, or null when none are kept (sizes.ts). */
  sizes: SharedArrayBuffer | null;
  /** The logger's rings (src/logger), one per thread: `watch` reads them. */
  log: SharedArrayBuffer;
  classSizes: number[];
  maxPages: number;
  lockPower: number;
  hashpowerMax: number;
  startedUnix: number; // memcached's process_started (wall seconds at rel time 0)
  startedMs: number; // wall ms when rel time was CLOCK_START
  /** External storage's pages and files (-o ext_path: src/extstore), or null. */
  ext: ExtShared | null;
};

/** The shared memories a store is made of (what -k locks): the arena and hash table first, the largest. */
export function storeMemories(s: StoreShared): SharedArrayBuffer[] {
  const all = [s.arena, s.hashTable, s.stats, s.log];
  const ctl: unknown = s.ctl.buffer; // a shared wasm memory's buffer is a SharedArrayBuffer
  if (ctl instanceof SharedArrayBuffer) all.push(ctl);
  if (s.sizes !== null) all.push(s.sizes);
  if (s.ext !== null) all.push(s.ext.buf); // extstore's page table and counters
  return all;
}

export function createStore(settings: StoreSettings): StoreShared {
  const s = { ...settings, hashpowerInit: settings.hashpowerInit || 16 }; // 0: -o hashpower not given (memcached's default 16)
  const classSizes = slabClassSizes(s.chunkSizeMin, s.factor, s.slabChunkMax, s.slabSizes);
  const limitPages = Math.max(1, Math.ceil(s.maxBytes / Math.min(...classPageBytes(s, classSizes))));
  // room for every class's first page past the limit (doSlabsNewslab), unless preallocated to the limit (-L, -e)
  const basePages = s.preallocate ? limitPages : limitPages + classSizes.length - 1;
  const arena = reserveArena(Math.floor((s.reserveBytes ?? 0) / s.slabPageSize), basePages, s.slabPageSize);
  const maxPages = (arena.byteLength - ARENA_PAD) / s.slabPageSize;
  // the lock table never outgrows the hash table (see assoc.ts), so small test tables shrink it
  const lockPower = Math.min(itemLockPower(s.numThreads), s.hashpowerInit);
  const maxItems = (maxPages * s.slabPageSize) / classSizes[1];
  const hashpowerMax = Math.min(30, Math.max(s.hashpowerInit, Math.ceil(Math.log2(maxItems / 1.5)) + 1));
  const lay = ctlLayout(maxPages, lockPower);
  const now = Date.now();
  const shared: StoreShared = {
    settings: { ...s },
    // Full-size, fixed-length buffers: the OS commits their pages on first touch, so untouched memory costs
    // nothing, and V8 reads fixed-length views ~4x (vs fixed views on a growable buffer) to ~40x (vs
    // length-tracking views) faster — measured on Node 26, see README.md. Pages are still handed out on demand.
    arena,
    ctl: createCtlMemory(lay.bytes),
    hashTable: new SharedArrayBuffer(4 * 2 ** hashpowerMax),
    stats: createStatsBuffer(s.numThreads + 2),
    sizes: createSizesBuffer(s.itemSizeMax, s.trackSizes ?? false),
    log: createLogBuffer(s.numThreads + 2),
    classSizes, maxPages, lockPower, hashpowerMax,
    startedUnix: Math.floor(now / 1000) - CLOCK_START,
    startedMs: now,
    ext: null,
  };
  const c32 = new Int32Array(ctlBuffer(shared.ctl));
  c32[G.clock] = CLOCK_START;
  c32[G.hashState] = s.hashpowerInit;
  const mallocedBase = s.mallocedBase ?? 0;
  c32[G.memLimitPages] = Math.min(memLimitPages(s.maxBytes, s.slabPageSize, mallocedBase), maxPages);
  const cf = new Float64Array(ctlBuffer(shared.ctl), lay.f64Offset);
  cf[F.glob + FG.memLimitBytes] = s.maxBytes;
  cf[F.glob + FG.mallocedBase] = mallocedBase;
  initLiveSettings(c32, cf, s);
  c32[G.sizesOn] = s.trackSizes === true && shared.sizes !== null ? 1 : 0; // memcached's item_stats_sizes_init at start
  if (c32[G.sizesOn] !== 0) {
    const at = s.trackSizesAt ?? { itemSizeMax: s.itemSizeMax, useCas: s.useCas };
    c32[G.sizesBuckets] = sizesBucketsFor(at.itemSizeMax, shared.sizes);
    if (at.useCas) { // which takes the first CAS as its mark: the first item gets the second (none, under a later -C)
      c32[G.casLo] = 1;
      cf[F.glob + FG.sizesCasMin] = 1;
    }
  }
  for (let c = 1; c < classSizes.length; c++) {
    c32[CLASS_BASE + c * CLASS_WORDS + Cls.size] = classSizes[c];
    c32[CLASS_BASE + c * CLASS_WORDS + Cls.perslab] = Math.floor(s.slabPageSize / classSizes[c]);
  }
  if (s.largePages === true) { adviseHugePages(arena); adviseHugePages(shared.hashTable); }
  if (s.preallocate) preallocate(shared);
  if (s.prefillPool === true || s.extPrefill === true) prefillGlobalPool(c32);
  return shared;
}

/** What a page of each class (1..n) counts against -m: a whole page, or with exact-fit pages its chunks. */
function classPageBytes(s: StoreSettings, classSizes: number[]): number[] {
  const exact = exactFitPages(s);
  return classSizes.slice(1).map((size) => (exact ? size * Math.floor(s.slabPageSize / size) : s.slabPageSize));
}

/**
 * The arena: room for `reservePages` (cache_memlimit's headroom) or at least `limitPages` (-m and the classes'
 * first pages), or for fewer when the address space will not take that many (memcached's malloc would fail the
 * same pages later). Asks for half as much after each refusal, and for `limitPages` themselves before going
 * under them.
 */
function reserveArena(reservePages: number, limitPages: number, pageSize: number): SharedArrayBuffer {
  let n = Math.min(Math.max(reservePages, limitPages), Math.floor((ARENA_MAX_BYTES - ARENA_PAD) / pageSize));
  for (;;) {
    try {
      return new SharedArrayBuffer(ARENA_PAD + n * pageSize);
    } catch (err) {
      if (!(err instanceof RangeError) || n <= 1) throw err;
      n = n > limitPages ? Math.max(limitPages, Math.ceil(n / 2)) : Math.ceil(n / 2);
    }
  }
}

/**
 * memcached's slabs_preallocate needs a page per class: short of that it exits (1) with this message;
 * null when the memory suffices or nothing is preallocated.
 */
export function preallocationShortfall(s: StoreSettings): string | null {
  if (!s.preallocate) return null;
  const pages = classPageBytes(s, slabClassSizes(s.chunkSizeMin, s.factor, s.slabChunkMax, s.slabSizes));
  const classes = pages.length;
  if (pages.reduce((sum, bytes) => sum + bytes, 0) <= s.maxBytes) return null; // out of memcached's mem_avail
  return `Error while preallocating slab memory!\nIf using -L or other prealloc options, max memory must be at least ${classes} megabytes.`;
}

/** memcached's slabs_prefill_global (-e): every page up to -m taken now, those in no class into the pool. */
function prefillGlobalPool(c32: Int32Array): void {
  const used = c32[G.pagesUsed], limit = c32[G.memLimitPages];
  if (limit <= used) return;
  c32[G.poolPages] += limit - used;
  c32[G.pagesUsed] = limit;
}

/** The settings admin commands change while running start as the command line set them. */
function initLiveSettings(c32: Int32Array, cf: Float64Array, s: StoreSettings): void {
  c32[G.lruSegmented] = s.lruSegmented ? 1 : 0;
  c32[G.hotLruPct] = s.hotLruPct ?? 20;
  c32[G.warmLruPct] = s.warmLruPct ?? 40;
  c32[G.tempLru] = s.tempLru === true ? 1 : 0;
  c32[G.temporaryTtl] = s.temporaryTtl ?? 61;
  c32[G.lruCrawler] = s.lruCrawler === false ? 0 : 1;
  c32[G.crawlerSleepUs] = s.lruCrawlerSleep ?? 100;
  c32[G.crawlerTocrawl] = s.lruCrawlerTocrawl ?? 0;
  c32[G.slabReassign] = s.slabReassign === false ? 0 : 1;
  c32[G.slabAutomove] = s.slabAutomove ?? 1;
  c32[G.automoveWindow] = s.slabAutomoveWindow ?? 30;
  cf[F.glob + FG.hotMaxFactor] = s.hotMaxFactor ?? 0.2;
  cf[F.glob + FG.warmMaxFactor] = s.warmMaxFactor ?? 2.0;
  cf[F.glob + FG.automoveRatio] = s.slabAutomoveRatio ?? 0.8;
}

/** -L: memcached's slabs_preallocate: reserve the whole limit now and give every class its first page. */
function preallocate(shared: StoreShared): void {
  const st = new Store(shared, 0);
  for (let c = 1; c <= st.nclasses; c++) doSlabsNewslab(st, c);
}
