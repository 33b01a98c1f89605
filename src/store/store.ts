// The store: createStore (create.ts; main thread, once) builds the shared buffers; every thread attaches a Store
// to them.
// API.md is the contract; README.md draws the layouts. Hot paths (itemGet, itemAlloc + itemWriteValue +
// storeItem, itemCopyValue, itemRelease) allocate nothing: views are made once here, results are numbers.

import { copyBytes } from "../libc/bytes.ts";
import { ctlLayout } from "./layout.ts";
import * as layout from "./layout.ts";
import * as results from "./results.ts";
import type { Code, DeltaResult, StoreOp, StoreResult } from "./results.ts";
import { ctlBuffer, Mutexes } from "./locks.ts";
import { hash } from "./hash.ts";
import { memoryRelease } from "./slabs.ts";
import { assocDelete, assocExpandStep, assocFind, assocInsert, bucketOf } from "./assoc.ts";
import { doItemLinkQ, doItemUnlinkQ, doItemBump, itemLinkQ, itemNtotal, itemUnlinkQ, lruIdOf } from "./lru.ts";
import { CAS_NEXT, casOf, doItemAlloc, doItemGet, doItemPeek, doItemLink, doItemReplace, itemFree, valueSegment } from "./items.ts";
import { doStoreItem } from "./store-item.ts";
import { addDelta } from "./delta.ts";
import { reportGeneral, reportItems, reportSlabs, resetStats } from "./report.ts";
import { reportSizes, sizesCount } from "./sizes.ts";
import type { StoreLiveSettings } from "../settings/report.ts";
import type { StoreSettings, StoreShared } from "./create.ts";
import { LogWriter } from "../logger/logger.ts";
import { ThreadStats } from "../stats/thread-stats.ts";
import * as threadStats from "../stats/thread-stats.ts";
import { Extstore } from "../extstore/engine.ts";
import { storageDelete } from "../extstore/item-hdr.ts";
import { storageDone, storageFetch, storageMissesDone, storageQueue } from "../extstore/storage.ts";
import * as storage from "../extstore/storage.ts";
import type { ExtIoQueue } from "../extstore/io-queue.ts";
import type { ExtLive } from "../extstore/storage.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const {
  CLASS_BASE, CLASS_WORDS, Cls, F, FG, G, HASH_EXPANDING, ITEM_HEADER, ItemField, ItemFlag, LOCK_STRIDE,
  LRU_BASE, LRU_WORDS, LruW, MAX_CLASSES, PAGE_BASE, REALTIME_MAXDELTA
} = layout;
const { AllocError, DeleteResult } = results;
type AllocError = results.AllocError;
type DeleteResult = results.DeleteResult;
const { SlabStat, SLAB_FIELDS, THREAD_FIELDS, ThreadStat } = threadStats;
const { FetchFailure } = storage;
type FetchFailure = storage.FetchFailure;

/** The words warmLookups reads past an item's header: the lines of a short key and a value of ~100 bytes. */
const WARM_WORD_1 = 20, WARM_WORD_2 = 36;
/** The most keys warmLookups takes at once. */
export const WARM_MAX = 16;
export const CLOCK_START = 62; // memcached starts current_time at ITEM_UPDATE_INTERVAL + 2

/** See Store.exactFitPages. */
export function exactFitPages(s: StoreSettings): boolean {
  return s.slabReassign === false && s.slabChunkMax === s.slabPageSize;
}

/**
 * How many pages the limit lets classes take past their first: memcached refuses a page when mem_malloced plus the
 * page would pass the limit, mem_malloced starting at `base` (T_MEMD_INITIAL_MALLOC, else 0).
 */
export function memLimitPages(limitBytes: number, pageSize: number, base: number): number {
  return base === 0 ? Math.ceil(limitBytes / pageSize) : Math.floor((limitBytes - base) / pageSize);
}

/** memcached's reassign_result_type: what `slabs reassign` answers. */
type Reassigned<N extends number> = Code<"Reassign", N>;
export const Reassign = {
  OK: 0 as Reassigned<0>, RUNNING: 1 as Reassigned<1>, BADCLASS: 2 as Reassigned<2>, NOSPARE: 3 as Reassigned<3>,
  SAME: 4 as Reassigned<4>,
} as const;
export type Reassign = (typeof Reassign)[keyof typeof Reassign];

export class Store {
  /** slabs_reassign_pick_any's turn (memcached keeps one for the process; here one per thread). */
  private reassignCursor = 0;
  declare readonly shared: StoreShared;
  declare readonly thread: number;
  declare readonly stats: ThreadStats;
  /** This thread's log writer: used only when G.watchMask says someone watches (memcached's LOGGER_LOG). */
  declare readonly log: LogWriter;
  /**
   * The server's live verbosity (memcached's settings.verbose), for the lines memcached's store and its background
   * threads print at -vv and -vvv; the thread that runs this store points it at the server's word (0 until then).
   */
  verbosity: () => number = () => 0;
  declare readonly arena: SharedArrayBuffer;
  declare readonly hashTable: SharedArrayBuffer;
  /** The item size histogram's buckets (null: none kept), counted while G.sizesOn. */
  declare readonly sizes: Int32Array | null;
  declare readonly a32: Int32Array; // views made once per thread; the buffers never change size
  declare readonly a8: Uint8Array;
  /** The arena as a DataView, for words at any byte offset (an extstore header's version, offset and page). */
  declare readonly arenaView: DataView;
  declare readonly h32: Int32Array;
  declare readonly c32: Int32Array;
  /** The ctl block's mutexes (item, LRU, slabs, CAS, expand locks), taken through wasm. */
  declare readonly locks: Mutexes;
  declare readonly cf: Float64Array;
  declare readonly classSizes: Int32Array;
  declare readonly perslab: Int32Array;
  declare readonly nclasses: number;
  declare readonly maxPages: number;
  declare readonly pageSize: number;
  declare readonly pageBase: number;
  declare readonly lockBase: number;
  declare readonly lockMask: number;
  declare readonly hashpowerMax: number;
  declare readonly itemSizeMax: number;
  declare readonly slabChunkMax: number;
  declare readonly useCas: boolean;
  declare readonly evictToFree: boolean;
  /**
   * Pages can never change class (-o no_slab_reassign) and slab_chunk_max is the page (-o no_modern sets both):
   * memcached then mallocs a page as its chunks' bytes, not a whole page, and counts that against -m.
   */
  declare readonly exactFitPages: boolean;
  /** Item memory was taken up to the limit at start (-L, -e): nothing past it, not even a class's first page. */
  declare readonly preallocated: boolean;
  /** -o no_hashexpand turns this off: memcached then never starts the thread that doubles the table. */
  declare readonly hashExpand: boolean;
  /** Why the last itemAlloc returned 0 (AllocError). */
  allocError: AllocError = AllocError.NONE;
  /** Class of the item the last itemDelete / addDelta / CAS storeItem found (for the protocol's per-class hits). */
  lastClsid = 0;
  /** CAS of the item linked by the last successful storeItem / addDelta. */
  lastCas = -0; // -0: a double from the start, as CAS values can be (docs/architecture.md, "Field shapes")
  /** CAS of the item a `cas` did not match, when the last storeItem answered EXISTS (memcached's -vv line). */
  lastCasSeen = -0;
  /** New value of the last successful addDelta. */
  deltaValue = 0n;
  /** Scratch of valueSegment: arena byte offset of the segment found (-0: a double from the start, as an offset past 2 GB is). */
  segOff = -0;
  /** The item lock itemPeek took, for itemPeekDone. */
  private peekedHv = 0;
  /** warmLookups' bucket heads. */
  private readonly warmIts = new Int32Array(WARM_MAX);
  /** Set by assocInsert when the table wants to grow; storeItem runs the expansion once its lock is released. */
  expandWanted = false;
  /** External storage (-o ext_path), or null. */
  declare readonly ext: Extstore | null;
  /** extstore's settings as they stand (`extstore <name> <value>` changes them): set by the thread that attaches. */
  extLive: ExtLive | null = null;
  /** lru_pull_tail with LruPull.RETURN_ITEM: the COLD tail item left locked, and its hash (0: none). */
  pulledIt = 0;
  pulledHv = 0;
  /**
   * The value of the header item being answered (extSlotHdr), read back from flash into an unlinked item of
   * its own (extSlotTemp, one reference: the slot's), with the key's hash; 0 when none. valueSegment reads a
   * header item's value from there (src/extstore/storage.ts).
   */
  extSlotHdr = 0;
  extSlotTemp = 0;
  extSlotHv = 0;
  /** Where the header pointed when its value was read (recache checks the header is still that one). */
  extSlotVersion = 0;
  extSlotOffset = -0; // a file offset: a double from the start, as one past 2 GB is
  /**
   * Why the last read back from flash failed (storage.ts FetchFailure): MISS, its object was gone (the header was
   * found, so memcached counts the get a hit, in the header's LRU, extMissLruId, and answers a bare miss); OOM, no
   * memory held the value (get_oom_extstore). The reader takes it (takeFetchFailure).
   */
  extFailed: FetchFailure = FetchFailure.NONE;
  /** The IO queue of the connection being served (drive-machine.ts): a read of a value on flash is taken from it. */
  extReads: ExtIoQueue | null = null;
  extMissLruId = 0;
  extMissCas = -0;
  /**
   * Header items whose objects were found gone, and whether by their CRC, as triples (hdr, hv, badcrc), each
   * header referenced: memcached unlinks them, and counts the misses, once the batch's replies are sent
   * (recache_or_free), so until then the batch's other commands still find them (extMissesDone).
   */
  readonly extMisses: number[] = [];
  /** Values read back from flash for the get being answered and not yet sent: dropped, they are get_aborted_extstore. */
  extFetched = 0;
  /** The read's get is at least the item's second hit: recaching wants that (storage.ts). */
  extSlotHitTwice = false;

  constructor(shared: StoreShared, thread: number) {
    const s = shared.settings;
    this.shared = shared;
    this.thread = thread;
    this.stats = new ThreadStats(shared.stats, thread);
    this.log = new LogWriter(shared.log, thread, this.stats.row);
    this.arena = shared.arena;
    this.hashTable = shared.hashTable;
    this.sizes = shared.sizes === null ? null : new Int32Array(shared.sizes);
    this.a32 = new Int32Array(shared.arena);
    this.a8 = new Uint8Array(shared.arena);
    this.arenaView = new DataView(shared.arena);
    this.h32 = new Int32Array(shared.hashTable);
    const lay = ctlLayout(shared.maxPages, shared.lockPower);
    this.c32 = new Int32Array(ctlBuffer(shared.ctl), 0, lay.f64Offset / 4);
    this.cf = new Float64Array(ctlBuffer(shared.ctl), lay.f64Offset);
    this.locks = new Mutexes(shared.ctl);
    this.classSizes = Int32Array.from(shared.classSizes);
    this.nclasses = shared.classSizes.length - 1;
    this.perslab = this.classSizes.map((sz, c) => (c === 0 ? 0 : Math.floor(s.slabPageSize / sz)));
    this.maxPages = shared.maxPages;
    this.pageSize = s.slabPageSize;
    this.pageBase = PAGE_BASE;
    this.lockBase = lay.lockBase;
    this.lockMask = lay.lockCount - 1;
    this.hashpowerMax = shared.hashpowerMax;
    this.itemSizeMax = s.itemSizeMax;
    this.slabChunkMax = s.slabChunkMax;
    this.useCas = s.useCas;
    this.evictToFree = s.evictToFree;
    this.hashExpand = s.hashExpand !== false;
    this.exactFitPages = exactFitPages(s);
    this.preallocated = s.preallocate || s.prefillPool === true;
    this.ext = shared.ext === null ? null : new Extstore(shared.ext);
  }

  // ---- live settings (G line 4): `lru`, `lru_crawler` and `slabs` change them while running ----
  // Plain reads: each is one aligned word, written rarely; a reader that sees the old value for a moment
  // does what memcached's threads do when they read its settings struct unlocked.

  get lruSegmented(): boolean { return this.c32[G.lruSegmented] !== 0; }
  get hotLruPct(): number { return this.c32[G.hotLruPct]; }
  get warmLruPct(): number { return this.c32[G.warmLruPct]; }
  get hotMaxFactor(): number { return this.cf[F.glob + FG.hotMaxFactor]; }
  get warmMaxFactor(): number { return this.cf[F.glob + FG.warmMaxFactor]; }
  /** memcached's temp_lru: -1 when off, else temporary_ttl. */
  get temporaryTtl(): number { return this.c32[G.tempLru] !== 0 ? this.c32[G.temporaryTtl] : -1; }
  /** Every live setting at once, for `stats settings`. */
  liveSettings(): StoreLiveSettings {
    const c32 = this.c32;
    return {
      lruCrawler: c32[G.lruCrawler] !== 0, lruCrawlerSleep: c32[G.crawlerSleepUs], lruCrawlerTocrawl: c32[G.crawlerTocrawl] >>> 0,
      lruSegmented: this.lruSegmented, hotLruPct: this.hotLruPct, warmLruPct: this.warmLruPct,
      hotMaxFactor: this.hotMaxFactor, warmMaxFactor: this.warmMaxFactor,
      tempLru: c32[G.tempLru] !== 0, temporaryTtl: c32[G.temporaryTtl],
      slabAutomove: c32[G.slabAutomove], slabAutomoveRatio: this.cf[F.glob + FG.automoveRatio],
    };
  }
  /**
   * memcached's slabs_reassign: check a move of one page from class src (-1: any with a spare page) to dst
   * (0: the global page pool) and post it to the maintainer thread, which makes it (slab-mover.ts).
   */
  requestReassign(src: number, dst: number): Reassign {
    const c32 = this.c32;
    if (Atomics.load(c32, G.reassignSignal) !== 0) return Reassign.RUNNING;
    if (src === dst) return Reassign.SAME;
    if (src === -1) src = this.pickAnySource(dst);
    if (src < 0 || src > this.nclasses || dst < 0 || dst > this.nclasses) return Reassign.BADCLASS;
    if (this.classPages(src) < 2) return Reassign.NOSPARE;
    if (Atomics.compareExchange(c32, G.reassignSignal, 0, -1) !== 0) return Reassign.RUNNING; // -1: being written
    c32[G.reassignSrc] = src;
    c32[G.reassignDst] = dst;
    Atomics.store(c32, G.reassignSignal, 1);
    this.wakeMaintainer();
    return Reassign.OK;
  }

  /** Pages a class holds; for 0, the pages in the global pool. */
  classPages(clsid: number): number {
    return clsid === 0 ? this.c32[G.poolPages] : this.c32[CLASS_BASE + clsid * CLASS_WORDS + Cls.pages];
  }

  /** memcached's slabs_reassign_pick_any: the next class in turn, after the last picked, with a spare page. */
  private pickAnySource(dst: number): number {
    for (let tries = this.nclasses; tries > 0; tries--) {
      this.reassignCursor = this.reassignCursor >= this.nclasses ? 1 : this.reassignCursor + 1;
      if (this.reassignCursor !== dst && this.classPages(this.reassignCursor) > 1) return this.reassignCursor;
    }
    return -1;
  }

  /** Take the crawler for one walk, a crawl or a metadump (memcached runs one at a time): false while one has it. */
  claimCrawler(): boolean { return Atomics.compareExchange(this.c32, G.crawlerRunning, 0, 1) === 0; }
  releaseCrawler(): void { Atomics.store(this.c32, G.crawlerRunning, 0); }

  /** A crawl runs or has been asked for: memcached's lru_crawler_start answers -1 (BUSY) to another. */
  crawlerBusy(): boolean {
    return Atomics.load(this.c32, G.crawlerRunning) !== 0 || Atomics.load(this.c32, G.crawlSignal) !== 0;
  }

  /**
   * `lru_crawler crawl`: ask the maintainer for a crawl of the classes marked in `classes` (by class id).
   * False when a crawl is already asked for or running (memcached's CRAWLER_RUNNING).
   */
  requestCrawl(classes: Uint8Array): boolean {
    const c32 = this.c32;
    if (Atomics.load(c32, G.crawlerRunning) !== 0) return false;
    let lo = 0, hi = 0;
    for (let id = 1; id < 32; id++) if (classes[id] !== 0) lo |= 1 << id;
    for (let id = 32; id < MAX_CLASSES; id++) if (classes[id] !== 0) hi |= 1 << (id - 32);
    if (Atomics.compareExchange(c32, G.crawlSignal, 0, -1) !== 0) return false; // -1: being written
    c32[G.crawlMaskLo] = lo;
    c32[G.crawlMaskHi] = hi;
    Atomics.store(c32, G.crawlSignal, 1);
    this.wakeMaintainer();
    return true;
  }
  /** The maintainer sleeps on G.maintainerStop: a notify without a store ends its sleep early. */
  wakeMaintainer(): void { Atomics.notify(this.c32, G.maintainerStop); }
  setLive(word: number, value: number): void { Atomics.store(this.c32, word, value); }
  setLiveFloat(field: number, value: number): void { this.cf[F.glob + field] = value; }

  // ---- time (memcached's current_time, realtime) ----

  // A plain read: an aligned Int32 never tears, and Atomics calls cost ~18 ns each on Node 26 (not inlined).
  currentTime(): number { return this.c32[G.clock]; }

  /** The dispatcher calls this every second: rel time follows the wall clock, never going back. */
  clockTick(): void {
    const t = CLOCK_START + Math.floor((Date.now() - this.shared.startedMs) / 1000);
    if (t > Atomics.load(this.c32, G.clock)) Atomics.store(this.c32, G.clock, t);
  }
  clockSet(rel: number): void { Atomics.store(this.c32, G.clock, rel); }
  clockAdvance(secs: number): void { Atomics.add(this.c32, G.clock, secs); }

  /** memcached's realtime(): protocol exptime to rel time. */
  realtime(exptime: number): number {
    if (exptime === 0) return 0;
    if (exptime < 0) return 1; // already expired
    if (exptime > REALTIME_MAXDELTA) {
      if (exptime <= this.shared.startedUnix) return 1;
      return exptime - this.shared.startedUnix;
    }
    return exptime + this.currentTime();
  }

  // ---- locks ----

  hash(buf: Uint8Array, off: number, len: number): number { return hash(buf, off, len); }
  /** The ctl word of the item lock that guards hv (its bucket's chain and its items). */
  itemLockWord(hv: number): number { return this.lockBase + (hv & this.lockMask) * LOCK_STRIDE; }
  itemLock(hv: number): void { this.locks.lock(this.itemLockWord(hv)); }
  itemUnlock(hv: number): void { this.locks.unlock(this.itemLockWord(hv)); }
  /** memcached's item_trylock: the item lock if it is free now, else false (the LRU tail and the page mover skip a busy item). */
  itemTrylock(hv: number): boolean { return this.locks.trylock(this.itemLockWord(hv)); }

  // ---- reads ----

  /** get with a reference, bumped, counted in lru_hits; the reference is the caller's. */
  itemGet(buf: Uint8Array, off: number, len: number): number {
    this.peekNoFetch = true; // the caller reads a value on flash back itself, without the lock (extFetch)
    try {
      const it = this.itemPeekHashed(buf, off, len, hash(buf, off, len));
      if (it !== 0) this.itemHold(it);
      return it;
    } finally { this.peekNoFetch = false; this.itemPeekDone(); }
  }

  /**
   * get for a reader that copies what it needs before itemPeekDone(), which it must call whatever
   * happens: the item lock is held in between and no reference is taken (two atomic operations
   * fewer a key; itemHold keeps the item past the lock). `touchExptime` >= 0: gat's new exptime.
   */
  itemPeek(buf: Uint8Array, off: number, len: number, touchExptime = -1): number {
    return this.itemPeekHashed(buf, off, len, hash(buf, off, len), touchExptime);
  }

  /**
   * itemPeek with the key's hash already known (hv === hash(buf, off, len)) and, from `words` in hash.ts's keyWords,
   * its words (-1: none): both as hash.ts's scanKey leaves them.
   */
  itemPeekHashed(buf: Uint8Array, off: number, len: number, hv: number, touchExptime = -1, words = -1): number {
    this.itemLock(hv);
    this.peekedHv = hv;
    let it = doItemPeek(this, buf, off, len, hv, words);
    // a value on flash is read back now, under the lock; one that cannot be is a miss (and its header unlinked)
    if (it !== 0 && (this.a32[it * 2 + ItemField.bits] & ItemFlag.HDR) !== 0 && !this.peekFetch(it, hv)) it = 0;
    if (it !== 0) {
      if (touchExptime < 0) this.countLruHit(it); // memcached counts a gat's hit in touch_hits alone
      doItemBump(this, it);
      if (touchExptime >= 0) this.a32[it * 2 + ItemField.exptime] = touchExptime;
    }
    return it;
  }

  itemPeekDone(): void { this.itemUnlock(this.peekedHv); }

  /** itemGet's peek leaves a header item to its caller; any other peek reads its value back. */
  private peekNoFetch = false;
  private peekFetch(it: number, hv: number): boolean {
    return this.peekNoFetch || storageFetch(this, it, hv, true);
  }

  /**
   * A header item's value read back from flash for a reply that has no item lock: false when it could not be (a
   * miss: the caller lets go of its reference and answers a miss).
   */
  extFetch(it: number, buf: Uint8Array, off: number, len: number): boolean {
    return storageFetch(this, it, hash(buf, off, len), false);
  }

  /**
   * Before a command reads the key's value: if it is on flash and not read yet, its read is queued on `queue`, and
   * true says the command must wait for it. Only looked at: nothing is counted, bumped or logged (the command
   * does that when it runs).
   */
  extQueueIfOnFlash(queue: ExtIoQueue, buf: Uint8Array, off: number, len: number, hv: number): boolean {
    this.itemLock(hv);
    try {
      const it = assocFind(this, buf, off, len, hv);
      return it !== 0 && (this.a32[it * 2 + ItemField.bits] & ItemFlag.HDR) !== 0 && storageQueue(this, it, queue);
    } finally { this.itemUnlock(hv); }
  }

  /**
   * The reply that read a value back from flash is written: the copy goes (or is recached, every
   * ext_recache_rate-th time on the connection: `conn` keeps the count, memcached's c->recache_counter). No item
   * lock held.
   */
  extDone(conn: { recacheCounter: number }): void { if (this.extSlotTemp !== 0) storageDone(this, conn); }

  /**
   * The replies of the batch are sent (memcached's flush point, or the end of the read): the headers whose objects
   * were found gone are unlinked now. No item lock held.
   */
  extMissesDone(): void { if (this.extMisses.length !== 0) storageMissesDone(this); }

  /** The hit a flash miss counts (memcached counted it before its read failed): hits_to_* of the header's LRU. */
  countFlashMissHit(): void { this.countLruHitIn(this.extMissLruId); }

  /** Why the last read back from flash failed, cleared for the next. */
  takeFetchFailure(): FetchFailure {
    const f = this.extFailed;
    this.extFailed = FetchFailure.NONE;
    return f;
  }

  /** Is the item a header whose value is on flash (extstore's ITEM_HDR)? */
  itemIsHdr(it: number): boolean { return this.hasBit(it, ItemFlag.HDR); }

  /** The item whose memory holds its value: it, or for a header item the copy read back from flash. */
  valueOwner(it: number): number {
    return (this.a32[it * 2 + ItemField.bits] & ItemFlag.HDR) === 0 ? it : this.extSlotTemp;
  }

  /**
   * Read, without any lock, the memory that looking up each of n keys (by their hashes) reads
   * first: its item lock, its bucket, and the header, key and first value bytes of the bucket's
   * first item. A multi-get does this for a batch of keys before it looks any up. The loads for
   * different keys do not wait on each other, so their cache misses overlap instead of coming one
   * key after another, as they do in memcached. Buckets are read for all keys before any item, as
   * an item's address comes from its bucket. What is read may be stale: it is only a warm-up. The
   * answer means nothing and is returned so that the loads are not optimized away.
   */
  warmLookups(hashes: Int32Array, n: number): number {
    const its = this.warmIts, h32 = this.h32, c32 = this.c32, a32 = this.a32;
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const hv = hashes[i];
      its[i] = h32[bucketOf(this, hv)];
      sink ^= c32[this.itemLockWord(hv)];
    }
    for (let i = 0; i < n; i++) {
      const w = its[i] * 2;
      // Past the smallest chunk only at the arena's very end: that read answers undefined, made 0.
      sink ^= a32[w + ItemField.hNext] ^ a32[w + WARM_WORD_1] ^ (a32[w + WARM_WORD_2] | 0);
    }
    return sink;
  }

  /**
   * A reference to a peeked item (before itemPeekDone), or one more to an item the caller already holds one on
   * (no item lock needed then: the count is not 1, so no LRU tail reads it as unused), dropped with itemRelease.
   */
  itemHold(it: number): void { Atomics.add(this.a32, it * 2 + ItemField.refcount, 1); }

  /** memcached's item_touch: do_item_get with DO_UPDATE, then the new exptime. */
  itemTouch(buf: Uint8Array, off: number, len: number, exptimeRel: number): number {
    const hv = hash(buf, off, len);
    this.itemLock(hv);
    try {
      const it = doItemGet(this, buf, off, len, hv, true);
      if (it !== 0) this.a32[it * 2 + ItemField.exptime] = exptimeRel;
      return it;
    } finally { this.itemUnlock(hv); }
  }

  /** hits_to_hot/warm/cold/temp (memcached's per-thread lru_hits). */
  private countLruHit(it: number): void { this.countLruHitIn(lruIdOf(this.a32, it)); }
  private countLruHitIn(id: number): void {
    this.stats.row[THREAD_FIELDS + (id & 63) * SLAB_FIELDS + SlabStat.hits_to_hot + (id >>> 6)]++;
  }

  /** memcached's item_remove: drop a reference; the last one of an unlinked item frees its memory. */
  itemRelease(it: number): void {
    if (Atomics.sub(this.a32, it * 2 + ItemField.refcount, 1) === 1) itemFree(this, it);
  }

  // ---- accessors (a reference held) ----

  itemFlags(it: number): number { return this.a32[it * 2 + ItemField.flags] >>> 0; }
  itemNbytes(it: number): number { return this.a32[it * 2 + ItemField.nbytes]; }
  itemNkey(it: number): number { return this.a32[it * 2 + ItemField.bits] >>> 24; }
  itemCas(it: number): number { return casOf(this.a32, it); }
  /**
   * itemCas for a reader holding a reference but not the item lock: the CAS is two words, and md's I rewrites a
   * linked item's in place, so read without the lock it could be half old, half new.
   */
  itemCasLocked(it: number): number {
    const hv = hash(this.a8, it * 8 + ITEM_HEADER, this.a32[it * 2 + ItemField.bits] >>> 24);
    this.itemLock(hv);
    const cas = casOf(this.a32, it);
    this.itemUnlock(hv);
    return cas;
  }
  itemExptime(it: number): number { return this.a32[it * 2 + ItemField.exptime] >>> 0; }
  itemTime(it: number): number { return this.a32[it * 2 + ItemField.time]; }
  itemClsid(it: number): number { return (this.a32[it * 2 + ItemField.bits] >>> 16) & 63; }
  itemRefcount(it: number): number { return Atomics.load(this.a32, it * 2 + ItemField.refcount); }
  itemLinked(it: number): boolean { return (this.a32[it * 2 + ItemField.bits] & ItemFlag.LINKED) !== 0; }
  itemFetched(it: number): boolean { return this.hasBit(it, ItemFlag.FETCHED); }
  itemStale(it: number): boolean { return this.hasBit(it, ItemFlag.STALE); }
  itemTokenSent(it: number): boolean { return this.hasBit(it, ItemFlag.TOKEN_SENT); }
  itemActive(it: number): boolean { return this.hasBit(it, ItemFlag.ACTIVE); }
  /** memcached's ITEM_CHUNKED: the value lies in chained chunks, not after the key. */
  itemChunked(it: number): boolean { return this.hasBit(it, ItemFlag.CHUNKED); }
  /** Meta-protocol bits: set or clear under the item lock. */
  itemSetFetched(it: number, on: boolean): void { this.setBit(it, ItemFlag.FETCHED, on); }
  itemSetStale(it: number, on: boolean): void { this.setBit(it, ItemFlag.STALE, on); }
  itemSetTokenSent(it: number, on: boolean): void { this.setBit(it, ItemFlag.TOKEN_SENT, on); }
  /** memcached's ITEM_KEY_BINARY: stored by `ms ... b`, so meta replies show the key in base64. */
  itemKeyBinary(it: number): boolean { return this.hasBit(it, ItemFlag.KEY_BINARY); }
  itemSetKeyBinary(it: number, on: boolean): void { this.setBit(it, ItemFlag.KEY_BINARY, on); }
  itemSetExptime(it: number, exptimeRel: number): void { this.a32[it * 2 + ItemField.exptime] = exptimeRel; }
  doItemBump(it: number): void { doItemBump(this, it); }
  private hasBit(it: number, bit: number): boolean { return (this.a32[it * 2 + ItemField.bits] & bit) !== 0; }
  private setBit(it: number, bit: number, on: boolean): void {
    const i = it * 2 + ItemField.bits;
    this.a32[i] = on ? this.a32[i] | bit : this.a32[i] & ~bit;
  }

  /** Arena byte offset of the item's key (in a8). */
  itemKeyOffset(it: number): number { return it * 8 + ITEM_HEADER; }

  itemCopyKey(it: number, dst: Uint8Array, dstOff: number): number {
    const n = this.itemNkey(it);
    copyBytes(dst, dstOff, this.a8, it * 8 + ITEM_HEADER, n);
    return n;
  }

  /** Copy value bytes [from, from + len) (the trailing "\r\n" included when asked) into dst; returns len. */
  itemCopyValue(it: number, dst: Uint8Array, dstOff: number, from = 0, len = this.itemNbytes(it) - from): number {
    let left = len;
    while (left > 0) {
      const n = Math.min(valueSegment(this, it, from), left);
      copyBytes(dst, dstOff, this.a8, this.segOff, n);
      dstOff += n; from += n; left -= n;
    }
    return len;
  }

  // ---- writes ----

  /** memcached's item_alloc; `chainLater`: a chained item gets its header alone (doItemAlloc). */
  itemAlloc(buf: Uint8Array, off: number, len: number, flags: number, exptimeRel: number, nbytes: number,
    chainLater = false): number {
    return doItemAlloc(this, buf, off, len, flags, exptimeRel, nbytes, chainLater);
  }

  /** Copy value bytes from src into the item at value offset `at` (across chunks). */
  itemWriteValue(it: number, at: number, src: Uint8Array, srcOff: number, len: number): void {
    while (len > 0) {
      const n = Math.min(valueSegment(this, it, at), len);
      copyBytes(this.a8, this.segOff, src, srcOff, n);
      at += n; srcOff += n; len -= n;
    }
  }

  /**
   * The value bytes from `at` that lie in one piece, at most max, as a view over the arena: where a
   * socket read can land directly (memcached reads a value's rest straight into the item).
   */
  itemValueView(it: number, at: number, max: number): Uint8Array {
    const n = Math.min(valueSegment(this, it, at), max);
    return new Uint8Array(this.a8.buffer, this.a8.byteOffset + this.segOff, n);
  }

  itemValueEndsWithCrlf(it: number): boolean {
    const nb = this.itemNbytes(it);
    if (nb < 2) return false;
    valueSegment(this, it, nb - 2);
    const a = this.a8[this.segOff];
    valueSegment(this, it, nb - 1);
    return a === 13 && this.a8[this.segOff] === 10;
  }

  /** memcached's store_item: take the item lock, do_store_item, then help a pending hash expansion. */
  storeItem(it: number, op: StoreOp, casIn: number): StoreResult { return this.storeLocked(it, op, casIn, false); }

  /**
   * storeItem, then itemRelease(it), for a caller done with `it` once it is stored (the text set).
   * The reference is dropped before the item lock is released, with a plain write instead of an
   * atomic one (one atomic operation fewer per store). Why that is safe: `it` came from itemAlloc
   * (refcount 1, plain store) and no other thread could reach it before doStoreItem linked it under
   * this lock; since then every other way to it takes this lock first (the hash walk; the LRU tail,
   * page mover and crawler lock the item before touching its refcount), and a reference taken by
   * another thread would have been taken under this lock too. So until we unlock, the refcount is
   * ours alone (1 and unlinked: freed now, under the item lock, which may take the slabs lock), and
   * the unlock (an atomic exchange) publishes the write to the next holder.
   */
  storeItemRelease(it: number, op: StoreOp, casIn: number): StoreResult { return this.storeLocked(it, op, casIn, true); }

  private storeLocked(it: number, op: StoreOp, casIn: number, release: boolean): StoreResult {
    const hv = hash(this.a8, it * 8 + ITEM_HEADER, this.itemNkey(it));
    let r: StoreResult;
    this.itemLock(hv);
    try {
      r = doStoreItem(this, it, op, hv, casIn);
    } finally {
      if (release) {
        const i = it * 2 + ItemField.refcount;
        const refs = this.a32[i] - 1;
        this.a32[i] = refs;
        if (refs === 0) itemFree(this, it);
      }
      this.itemUnlock(hv);
    }
    this.maybeExpand();
    return r;
  }

  doStoreItem(it: number, op: StoreOp, hv: number, casIn: number, newCas = CAS_NEXT): StoreResult {
    return doStoreItem(this, it, op, hv, casIn, newCas);
  }
  doItemGet(buf: Uint8Array, off: number, len: number, hv: number): number { return doItemGet(this, buf, off, len, hv, true); }

  /** Runs an expansion step while the table wants one; call only with no item lock held. True while more are left. */
  maybeExpand(): boolean {
    return (this.expandWanted || (this.c32[G.hashState] & HASH_EXPANDING) !== 0) && assocExpandStep(this);
  }

  itemDelete(buf: Uint8Array, off: number, len: number, casIn: number): DeleteResult {
    const hv = hash(buf, off, len);
    this.itemLock(hv);
    try {
      const it = doItemGet(this, buf, off, len, hv, false);
      if (it === 0) return DeleteResult.NOT_FOUND;
      let r: DeleteResult = DeleteResult.DELETED;
      this.lastClsid = this.itemClsid(it);
      if (casIn === 0 || casIn === this.itemCas(it)) this.doItemUnlink(it, hv);
      else r = DeleteResult.EXISTS;
      this.itemRelease(it);
      return r;
    } finally { this.itemUnlock(hv); }
  }

  addDelta(buf: Uint8Array, off: number, len: number, incr: boolean, delta: bigint, casIn: number): DeltaResult {
    const hv = hash(buf, off, len);
    let r: DeltaResult;
    this.itemLock(hv);
    try { r = addDelta(this, buf, off, len, hv, incr, delta, casIn); } finally { this.itemUnlock(hv); }
    this.maybeExpand();
    return r;
  }

  // ---- link / unlink (item lock held) ----

  doItemLink(it: number, hv: number, newCas = CAS_NEXT): void { doItemLink(this, it, hv, newCas); }

  /** memcached's do_item_unlink: drop from hash and LRU, release the table's reference. */
  doItemUnlink(it: number, hv: number): void {
    if (!this.unlinkFromTable(it, hv)) return;
    itemUnlinkQ(this, it);
    this.itemRelease(it);
  }

  /** do_item_unlink_nolock: the same with the item's LRU lock already held (lru_pull_tail). */
  doItemUnlinkNolock(it: number, hv: number, lruId: number): void {
    if (!this.unlinkFromTable(it, hv)) return;
    doItemUnlinkQ(this, it, lruId);
    this.itemRelease(it);
  }

  /** The first half of both unlinks: false when the item was not linked, else it is out of the hash table. */
  private unlinkFromTable(it: number, hv: number): boolean {
    const i = it * 2 + ItemField.bits;
    if ((this.a32[i] & ItemFlag.LINKED) === 0) return false;
    this.a32[i] &= ~ItemFlag.LINKED;
    if ((this.a32[i] & ItemFlag.HDR) !== 0) storageDelete(this, it);
    if (this.c32[G.sizesOn] !== 0) sizesCount(this, it, -1);
    this.countUnlinked(it);
    assocDelete(this, it, hv);
    return true;
  }

  /** stats_state.curr_items and curr_bytes, as memcached's do_item_unlink moves them. */
  private countUnlinked(it: number): void {
    this.stats.row[ThreadStat.curr_items]--;
    this.stats.row[ThreadStat.curr_bytes] -= itemNtotal(this.a32, it);
  }

  doItemReplace(old: number, it: number, hv: number, newCas = CAS_NEXT): void { doItemReplace(this, old, it, hv, newCas); }
  /** The page mover's copy in place of the item: a new CAS, as memcached's do_item_replace links it anew. */
  doItemReplaceRescued(old: number, it: number, hv: number): void { doItemReplace(this, old, it, hv, CAS_NEXT, true); }

  assocInsertItem(it: number, hv: number): void { assocInsert(this, it, hv); }
  linkQ(it: number): void { itemLinkQ(this, it); }
  linkQNolock(it: number, id: number): void { doItemLinkQ(this, it, id); }

  /** The CAS counter's value now (the last one handed out). */
  currentCas(): number { return (this.c32[G.casHi] >>> 0) * 4294967296 + (this.c32[G.casLo] >>> 0); }

  /** memcached's get_cas_id under cas_id_lock: one shared 64-bit counter (53 bits used), no allocation. */
  nextCas(): number {
    const c32 = this.c32;
    this.locks.lock(G.casLock);
    let lo = (c32[G.casLo] >>> 0) + 1, hi = c32[G.casHi] >>> 0;
    if (lo > 0xffffffff) { lo = 0; hi++; }
    c32[G.casLo] = lo | 0;
    c32[G.casHi] = hi | 0;
    this.locks.unlock(G.casLock);
    return hi * 4294967296 + lo;
  }

  /** memcached's ITEM_set_cas(it, cas_in): the counter's next value, or the client's `newCas` (meta's E). */
  setNextCas(it: number, newCas = CAS_NEXT): void {
    const cas = newCas === CAS_NEXT ? this.nextCas() : newCas;
    this.a32[it * 2 + ItemField.casLo] = cas | 0;
    this.a32[it * 2 + ItemField.casHi] = Math.floor(cas / 4294967296) | 0;
  }

  /** memcached's item_is_flushed. */
  isFlushed(it: number): boolean {
    const c32 = this.c32;
    const oldestLive = c32[G.oldestLive] >>> 0; // plain read: a flush becomes visible to the next lock holder
    if (oldestLive === 0 || oldestLive > this.currentTime()) return false;
    if (this.a32[it * 2 + ItemField.time] <= oldestLive) return true;
    const oldestCas = (c32[G.oldestCasHi] >>> 0) * 4294967296 + (c32[G.oldestCasLo] >>> 0);
    if (oldestCas === 0) return false;
    const cas = casOf(this.a32, it);
    return cas !== 0 && cas < oldestCas;
  }

  /** flush_all [exptime]: memcached 1.6's process_flush_all_command (exptime through realtime(), 0 = now). */
  flushAll(delaySecs: number): void {
    const now = this.currentTime();
    const newOldest = delaySecs > 0 ? this.realtime(delaySecs) : now;
    const c32 = this.c32;
    if (this.useCas) {
      const live = newOldest - 1;
      if (live <= now) {
        const cas = this.nextCas();
        c32[G.oldestCasLo] = cas | 0;
        c32[G.oldestCasHi] = Math.floor(cas / 4294967296) | 0;
      }
      Atomics.store(c32, G.oldestLive, live);
    } else {
      Atomics.store(c32, G.oldestLive, newOldest);
    }
  }

  /**
   * cache_memlimit (memcached's slabs_adjust_mem_limit): pages beyond the new limit are not handed out, and
   * pages of the global pool over it are released at once; pages in classes stay until the automover empties
   * them. Refused, as memcached refuses it, when memory was preallocated (-L, -e), and past the arena reserved.
   */
  setMemLimit(bytes: number): boolean {
    const pages = Math.floor(bytes / this.pageSize);
    const s = this.shared.settings;
    if (s.preallocate || s.prefillPool === true || pages > this.maxPages || pages < 1) return false;
    this.locks.lock(G.slabLock);
    Atomics.store(this.c32, G.memLimitPages, memLimitPages(bytes, this.pageSize, this.cf[F.glob + FG.mallocedBase]));
    this.cf[F.glob + FG.memLimitBytes] = bytes;
    memoryRelease(this);
    this.locks.unlock(G.slabLock);
    return true;
  }

  /** limit_maxbytes: -m, or the last cache_memlimit. */
  memLimit(): number { return this.cf[F.glob + FG.memLimitBytes]; }
  /** settings.oldest_live (the `oldest` line of stats settings): rel time of the last flush_all, 0 = none. */
  oldestLive(): number { return Atomics.load(this.c32, G.oldestLive) >>> 0; }
  /** memcached's process_started: wall seconds at rel time 0 (stats time = processStarted() + currentTime()). */
  processStarted(): number { return this.shared.startedUnix; }

  // ---- stats ----

  reportGeneral(emit: (name: string, value: string | number) => void): void { reportGeneral(this, emit); }
  reportItems(emit: (name: string, value: string | number) => void): void { reportItems(this, emit); }
  reportSlabs(emit: (name: string, value: string | number) => void): void { reportSlabs(this, emit); }
  reportSizes(emit: (name: string, value: string | number) => void): void { reportSizes(this, emit); }
  resetStats(): void { resetStats(this); }

  hashPower(): number { return this.c32[G.hashState] & 0xff; }
  hashSize(): number { return 1 << this.hashPower(); }
  hashIsExpanding(): boolean { return (Atomics.load(this.c32, G.hashState) & HASH_EXPANDING) !== 0; }
  /** Items in the hash table (stats_state.curr_items), summed over the threads that linked and unlinked them. */
  currItems(): number { return this.stats.sum(ThreadStat.curr_items); }
  currBytes(): number { return this.stats.sum(ThreadStat.curr_bytes); }
  lruHead(id: number): number { return this.c32[LRU_BASE + id * LRU_WORDS + LruW.head]; }
  lruTail(id: number): number { return this.c32[LRU_BASE + id * LRU_WORDS + LruW.tail]; }
}

