// Shared-memory layouts of the store: the item header, the control block (`ctl`) and its regions.
// Every offset here is pinned by layout.test.ts; README.md draws the same boxes.
//
// Item (and chunk) header, 48 bytes = 12 Int32 words; `it` is the byte offset / 8, so field f is a32[it * 2 + f]:
//   0 next | 1 prev        LRU links while linked, free-list links while SLABBED
//   2 hNext                hash chain
//   3 time | 4 exptime     rel seconds (last access, expiry; 0 = never)
//   5 nbytes               value length + 2 ("\r\n"); for a chunk: bytes used in it
//   6 refcount             Atomics, but plain by the item lock's holder while no other thread can hold one (README)
//   7 bits                 it_flags (16) | slabs_clsid with LRU segment (8, memcached's clsid|lru<<6) | nkey (8)
//   8 casLo | 9 casHi      CAS (53 bits used)
//   10 flags               client flags (u32)
//   11 chain               first data chunk of a chained item (ItemFlag.CHUNKED), else 0; in a chunk: next chunk
//   48.. key, then value (unchained), or nothing (chained: the value lives in the chunks' bytes after their header)

export const ItemField = {
  next: 0, prev: 1, hNext: 2, time: 3, exptime: 4, nbytes: 5, refcount: 6, bits: 7,
  casLo: 8, casHi: 9, flags: 10, chain: 11,
} as const;
export const ITEM_HEADER = 48; // same as memcached's sizeof(item), so chunk sizes are 96, 120, 152, ...

// memcached's it_flags values (memcached.h)
export const ItemFlag = {
  LINKED: 1, CAS: 2, SLABBED: 4, FETCHED: 8, ACTIVE: 16, CHUNKED: 32, CHUNK: 64,
  HDR: 128, KEY_BINARY: 256, TOKEN_SENT: 512, STALE: 1024,
} as const;

// LRU segments, as memcached's HOT_LRU 0, WARM_LRU 64, COLD_LRU 128, TEMP_LRU 192 (shifted into clsid's top bits)
export const Lru = { HOT: 0, WARM: 64, COLD: 128, TEMP: 192 } as const;

export const MAX_CLASSES = 64; // memcached's MAX_NUMBER_OF_SLAB_CLASSES
export const KEY_MAX_LENGTH = 250; // memcached's KEY_MAX_LENGTH
export const ARENA_PAD = 64; // bytes before page 0, so that no item is at offset 0 (0 means "none")
/** The most arena an item reference reaches: references count 8-byte units in a signed 32-bit word. */
export const ARENA_MAX_BYTES = 8 * 0x7fffffff;
/** A page's class word for a page released by cache_memlimit: in no class and not in the pool. */
export const PAGE_RELEASED = -1;
export const ITEM_UPDATE_INTERVAL = 60;
export const REALTIME_MAXDELTA = 60 * 60 * 24 * 30;

// ctl, Int32 words. Global words first.
// Words written often by one thread and read by others each get a 64-byte cache line of their own:
// a word sharing a line with another thread's hot word costs a cache-line transfer per access
// (false sharing), which on two cores cost more than the work under the lock.
export const CACHE_LINE_WORDS = 16;
export const G = {
  // line 0: read on every request, written rarely
  clock: 0, // current_time, rel seconds
  hashState: 1, // hashpower | EXPANDING (bit 8)
  expandBucket: 2, // buckets below this are already split (memcached's expand_bucket)
  oldestLive: 3, oldestCasHi: 4, oldestCasLo: 5, // settings.oldest_live / oldest_cas (flush_all)
  memLimitPages: 6, // -m / cache_memlimit, in pages
  crawlerRunning: 7,
  maintainerStop: 8,
  // memcached's logger eflags: the union of what every `watch` connection asks for (src/logger). 0 when nobody
  // watches: then logging costs a get or a set this one load, on a line it reads anyway, and a branch.
  watchMask: 9,
  sizesOn: 10, // the item size histogram is kept (src/store/sizes.ts)
  sizesBuckets: 11, // how many of its buckets count (memcached's stats_sizes_buckets, fixed when it was made)
  // line 1: every store
  casLock: 16, casHi: 17, casLo: 18, // memcached's cas_id and cas_id_lock
  // line 2: every allocation
  slabLock: 32, // memcached's slabs_lock
  pagesUsed: 33, // pages handed to classes
  poolPages: 34, // of them, pages in no class: memcached's global page pool (`slabs reassign <src> 0`)
  releasedPages: 35, // of them, pages let go when cache_memlimit went below total_malloced (memcached's memory_release)
  // line 3: every insert and unlink
  hashItems: 48, // memcached's hash_items (drives expansion)
  expandLock: 49, // who is moving buckets now
  // line 4: memcached's settings that admin commands change while running (`lru`, `lru_crawler`, `slabs`);
  // read by workers and the maintainer, written rarely. Floats among them are in FG.
  lruSegmented: 64, hotLruPct: 65, warmLruPct: 66, tempLru: 67, temporaryTtl: 68,
  lruCrawler: 69, crawlerSleepUs: 70, crawlerTocrawl: 71,
  slabAutomove: 72, automoveWindow: 73, slabReassign: 74,
  // extstore's automover (src/maintainer/automove-extstore.ts) keeps the global pool at least this many pages
  // (memcached's settings.ext_global_pool_min): the storage writer flushes cold items regardless of age at or below it
  extGlobalPoolMin: 75,
  // line 5: requests to the maintainer thread, which answers by clearing the signal word
  crawlSignal: 80, crawlMaskLo: 81, crawlMaskHi: 82, // `lru_crawler crawl <classes>`: a mask of class ids
  reassignSignal: 83, reassignSrc: 84, reassignDst: 85, // `slabs reassign <src> <dst>`
} as const;
export const HASH_EXPANDING = 0x100;
export const GLOBAL_WORDS = 6 * CACHE_LINE_WORDS;

// Per slab class: CLASS_BASE + clsid * CLASS_WORDS + field
export const Cls = { size: 0, perslab: 1, pages: 2, freeHead: 3, freeCount: 4, evictedTime: 5 } as const;
export const CLASS_BASE = GLOBAL_WORDS;
export const CLASS_WORDS = CACHE_LINE_WORDS; // freeHead/freeCount change on every alloc and free

// Per LRU (id = clsid | segment, 0..255): LRU_BASE + id * LRU_WORDS + field
export const LruW = { head: 0, tail: 1, lock: 2 } as const;
export const LRU_BASE = CLASS_BASE + MAX_CLASSES * CLASS_WORDS;
export const LRU_WORDS = CACHE_LINE_WORDS; // head, tail and lock change on every link and unlink
export const PAGE_BASE = LRU_BASE + 256 * LRU_WORDS; // then one word per page: its class

// Float64 region (after the Int32 words): per LRU sizes and sizes_bytes (under that LRU's lock), a per-class
// block no longer written (mem_requested comes from the items, as memcached's does; the block keeps its place
// so that a -e memory file keeps its layout), then global counters.
export const F = { sizes: 0, sizesBytes: 256, requested: 512, glob: 512 + MAX_CLASSES } as const;
export const FG = {
  crawlerStarts: 0, maintainerJuggles: 1, slabsMoved: 2, memLimitBytes: 3, reassignEvictions: 4, reassignBusy: 5,
  hotMaxFactor: 6, warmMaxFactor: 7, automoveRatio: 8, // live settings (with G's line 4)
  reassignRescues: 9,
  sizesCasMin: 10, // items with a smaller CAS are not in the size histogram
  reassignChunkRescues: 11, // chained items' data chunks copied out of a moving page
  mallocedBase: 12, // bytes counted as malloc'd before the first page (memcached's T_MEMD_INITIAL_MALLOC)
  pagesShortBytes: 13, // what exact-fit pages (exactFitPages) are short of whole pages, less in total_malloced
} as const;
export const F_WORDS = 512 + MAX_CLASSES + 16;

export type CtlLayout = { lockBase: number; lockCount: number; maxPages: number; f64Offset: number; bytes: number };

/** Item locks are a line apart: two threads taking neighbouring stripes must not share a line. */
export const LOCK_STRIDE = CACHE_LINE_WORDS;

export function ctlLayout(maxPages: number, lockPower: number): CtlLayout {
  const lockBase = Math.ceil((PAGE_BASE + maxPages) / CACHE_LINE_WORDS) * CACHE_LINE_WORDS;
  const lockCount = 2 ** lockPower;
  const i32Words = lockBase + lockCount * LOCK_STRIDE;
  const f64Offset = Math.ceil((i32Words * 4) / 8) * 8;
  return { lockBase, lockCount, maxPages, f64Offset, bytes: f64Offset + F_WORDS * 8 };
}
