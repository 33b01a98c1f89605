// The page engine of external storage, as memcached's extstore.c: the files cut into pages of ext_page_size,
// pages handed to a bucket and filled in order, a version per page life (a reader holding an old version
// knows its object is gone), objects deleted by count and bytes, pages freed once empty or closed by the
// compactor, and the oldest page evicted when none is free. Its state lives in one SharedArrayBuffer, so that
// every thread attached to the store sees the same pages: the storage thread (src/maintainer) writes and
// compacts, workers read and delete.
//
// Differences from memcached's, on purpose:
// - Objects are written to the file as they are stored (a pwrite each, into the page cache), not gathered in
//   a write buffer first: a read never has to look in a buffer not yet flushed, and no object waits in memory
//   for its neighbours. Pages are still laid out in wbuf-sized blocks that no object crosses, as memcached's,
//   so the compactor reads a page a block at a time.
// - Reads are a pread in the worker that asks (extstore_read's IO threads are not there): ext_threads and
//   ext_io_depth are taken and shown, not used. A read checks the page's version before and after: a page
//   reused meanwhile is a miss, as memcached's refcount on the page keeps one from being reused under a read.

import fs from 'node:fs';

/** memcached's page buckets (extstore.h). */
export const Bucket = { DEFAULT: 0, COMPACT: 1, CHUNKED: 2, LOWTTL: 3 } as const;
const BUCKETS = 4;

/** Engine words (Int32). */
const E = { lock: 0, version: 1, pageFree: 2, freeHead: 3, ioQueue: 4, bucketPage: 8 } as const;
const ENGINE_WORDS = 16;

/** Per page (Int32), PAGE_WORDS apart. */
const P = { version: 0, objCount: 1, bytesUsed: 2, allocated: 3, bucket: 4, freeBucket: 5, state: 6, next: 7, file: 8, filePage: 9 } as const;
const PAGE_WORDS = 16;
const PageState = { FREE: 1, ACTIVE: 2, CLOSED: 4 } as const;

/** The engine's counters (Float64), as `stats` names them without the extstore_ prefix. */
export const EStat = {
  page_allocs: 0, page_evictions: 1, page_reclaims: 2, objects_evicted: 3, objects_read: 4, objects_written: 5,
  objects_used: 6, bytes_evicted: 7, bytes_written: 8, bytes_read: 9, bytes_used: 10,
  compact_lost: 11, compact_rescues: 12, compact_skipped: 13,
} as const;
const ESTAT_COUNT = 16;

/** An end marker: an object header of zeros (key length 0), as memcached's zeroed wbuf tail reads. */
const MARK_BYTES = 48;
const ZEROS = new Uint8Array(MARK_BYTES);

/** What every thread attaches to: plain values and one SharedArrayBuffer, so it posts to workers. */
export type ExtShared = {
  buf: SharedArrayBuffer;
  fds: number[];
  pageSize: number;
  wbufSize: number;
  pageCount: number;
};

/** A page's view for `stats extstore`: what memcached's maintenance pass copies out (zeros where it skips). */
export type PageData = { version: number; bytes: number; bucket: number; freeBucket: number };

/**
 * memcached's extstore_init, after its checks (src/settings): the pages interleaved over the files, first file
 * first, and every page free but page 0, which memcached's loop (`i > 0`) never puts on a free list.
 */
export function createExtShared(fds: number[], pageCounts: number[], pageSize: number, wbufSize: number): ExtShared {
  const pageCount = pageCounts.reduce((a, b) => a + b, 0);
  const words = ENGINE_WORDS + pageCount * PAGE_WORDS;
  const buf = new SharedArrayBuffer(words * 4 + ESTAT_COUNT * 8);
  const e32 = new Int32Array(buf, 0, words);
  const left = pageCounts.slice(), nextFilePage = pageCounts.map(() => 0);
  let f = -1;
  for (let i = 0; i < pageCount; i++) {
    do f = (f + 1) % fds.length; while (left[f] === 0);
    left[f]--;
    const w = ENGINE_WORDS + i * PAGE_WORDS;
    e32[w + P.file] = f;
    e32[w + P.filePage] = nextFilePage[f]++;
    e32[w + P.state] = PageState.FREE;
    e32[w + P.next] = -1;
  }
  e32[E.freeHead] = -1;
  for (let i = pageCount - 1; i > 0; i--) {
    e32[ENGINE_WORDS + i * PAGE_WORDS + P.next] = e32[E.freeHead];
    e32[E.freeHead] = i;
    e32[E.pageFree]++;
  }
  e32[E.version] = 1; // 0 is "freed"
  for (let b = 0; b < BUCKETS; b++) e32[E.bucketPage + b] = -1;
  return { buf, fds, pageSize, wbufSize, pageCount };
}

/** Where a write request put an object: its page, that page's version, the offset in the page. */
export type ObjLoc = { page: number; version: number; offset: number };

export class Extstore {
  declare readonly fds: number[];
  declare readonly pageSize: number;
  declare readonly wbufSize: number;
  declare readonly pageCount: number;
  private declare readonly e32: Int32Array;
  declare readonly stats: Float64Array;
  /** Where the last writeRequest put its object (one writer thread: the storage thread). */
  readonly loc: ObjLoc = { page: 0, version: 0, offset: 0 };

  constructor(shared: ExtShared) {
    this.fds = shared.fds;
    this.pageSize = shared.pageSize;
    this.wbufSize = shared.wbufSize;
    this.pageCount = shared.pageCount;
    const words = ENGINE_WORDS + shared.pageCount * PAGE_WORDS;
    this.e32 = new Int32Array(shared.buf, 0, words);
    this.stats = new Float64Array(shared.buf, words * 4, ESTAT_COUNT);
  }

  // ---- the engine lock (memcached's e->mutex and the page mutexes in one: nothing here is on a hot path) ----

  lock(): void {
    const e32 = this.e32;
    if (Atomics.compareExchange(e32, E.lock, 0, 1) === 0) return;
    while (Atomics.exchange(e32, E.lock, 2) !== 0) Atomics.wait(e32, E.lock, 2);
  }

  unlock(): void {
    if (Atomics.exchange(this.e32, E.lock, 0) === 2) Atomics.notify(this.e32, E.lock, 1);
  }

  private w(page: number, field: number): number { return ENGINE_WORDS + page * PAGE_WORDS + field; }

  /** The page's current version (0: free); read without the lock, as a reader checks its object's page. */
  pageVersion(page: number): number { return Atomics.load(this.e32, this.w(page, P.version)) >>> 0; }

  /** Byte offset of a page's object in its file, and that file's fd. */
  fileOffset(page: number, offset: number): number { return this.e32[this.w(page, P.filePage)] * this.pageSize + offset; }
  fdOf(page: number): number { return this.fds[this.e32[this.w(page, P.file)]]; }

  // ---- writes (the storage thread only) ----

  /**
   * memcached's extstore_write_request + extstore_write: room for `len` bytes in the bucket's page (a new
   * page when it is full), counted as written and used. False when no page is free: the caller tries again
   * after runMaint has freed or evicted one. The object's place is left in `loc`. Where a block is left with
   * room at its end (the object starts the next block, or a new page, or none is free), an end marker is written
   * there, so that the compactor, reading the block, stops there and not at what an earlier life of the page left
   * (a value's bytes read as an object header can say a negative length). memcached writes whole zero-tailed
   * buffers instead.
   */
  writeRequest(bucket: number, len: number): boolean {
    if (len > this.wbufSize) return false;
    this.markPage = -1;
    let placed: boolean;
    this.lock();
    try { placed = this.place(bucket, len); } finally { this.unlock(); }
    if (this.markPage >= 0) this.writeAt(this.markPage, this.markOffset, ZEROS, this.markBytes());
    return placed;
  }

  /** writeRequest's part under the engine lock: a full page is finished before a free one is looked for. */
  private place(bucket: number, len: number): boolean {
    const e32 = this.e32;
    let p = e32[E.bucketPage + bucket];
    if (p < 0 || !this.fits(p, len)) {
      if (p >= 0) { this.markEnd(p, e32[this.w(p, P.allocated)]); this.finishPage(p); }
      p = this.allocatePage(bucket);
      if (p < 0) return false;
    }
    const alloc = this.w(p, P.allocated);
    let at = e32[alloc];
    const blockEnd = this.blockEnd(at);
    if (at + len > blockEnd) { this.markEnd(p, at); at = blockEnd; }
    e32[alloc] = at + len;
    e32[this.w(p, P.objCount)]++;
    e32[this.w(p, P.bytesUsed)] += len;
    this.loc.page = p;
    this.loc.version = e32[this.w(p, P.version)] >>> 0;
    this.loc.offset = at;
    return true;
  }

  /**
   * The object writeRequest placed is written and in use: the counters of `stats` take it now, once its header
   * (or the header pointed at its copy) is in place, so that a client that sees it counted finds it linked.
   */
  countWrite(len: number): void {
    this.lock();
    const s = this.stats;
    s[EStat.bytes_written] += len; s[EStat.bytes_used] += len;
    s[EStat.objects_written]++; s[EStat.objects_used]++;
    this.unlock();
  }

  /** Set by place: the page (-1: none) and offset where a block's objects end short of the block's end. */
  private markPage = -1;
  private markOffset = 0;

  private markEnd(p: number, at: number): void {
    if (at % this.wbufSize === 0) return; // a block's end, or a block never begun
    this.markPage = p;
    this.markOffset = at;
  }

  /** Bytes of end marker at markOffset: a zero header, or what is left of the block when that is less. */
  private markBytes(): number {
    const blockEnd = this.blockEnd(this.markOffset);
    return Math.min(MARK_BYTES, blockEnd - this.markOffset);
  }

  /** Where the wbuf-sized block holding page offset `at` ends (the next block's start when `at` begins one). */
  private blockEnd(at: number): number { return (Math.floor(at / this.wbufSize) + 1) * this.wbufSize; }

  /** An object of len fits in the page: in the rest of its block, or at the start of the next one. */
  private fits(p: number, len: number): boolean {
    const at = this.e32[this.w(p, P.allocated)];
    const blockEnd = this.blockEnd(at);
    return at + len <= blockEnd ? blockEnd <= this.pageSize : blockEnd + len <= this.pageSize;
  }

  /** A full page stops being written: it may now be compacted, evicted or, once empty, freed. */
  private finishPage(p: number): void {
    this.e32[this.w(p, P.state)] &= ~PageState.ACTIVE;
    this.e32[E.bucketPage + this.e32[this.w(p, P.bucket)]] = -1;
  }

  /** memcached's _allocate_page (lock held): a free page for the bucket with a new version, or -1. */
  private allocatePage(bucket: number): number {
    const e32 = this.e32;
    const p = e32[E.freeHead];
    if (p < 0) return -1;
    e32[E.freeHead] = e32[this.w(p, P.next)];
    e32[this.w(p, P.next)] = -1;
    e32[this.w(p, P.state)] = PageState.ACTIVE;
    e32[this.w(p, P.bucket)] = bucket;
    e32[this.w(p, P.allocated)] = 0;
    Atomics.store(e32, this.w(p, P.version), e32[E.version]++);
    e32[E.pageFree]--;
    e32[E.bucketPage + bucket] = p;
    this.stats[EStat.page_allocs]++;
    return p;
  }

  // ---- deletes and checks (any thread) ----

  /** memcached's extstore_delete: an object of the page's version is gone; false when the page moved on. */
  delete(page: number, version: number, count: number, bytes: number): boolean {
    this.lock();
    try {
      const e32 = this.e32;
      if ((e32[this.w(page, P.state)] & PageState.CLOSED) !== 0 || e32[this.w(page, P.version)] >>> 0 !== version) return false;
      const bu = this.w(page, P.bytesUsed), oc = this.w(page, P.objCount);
      e32[bu] = e32[bu] >= bytes ? e32[bu] - bytes : 0;
      e32[oc] = e32[oc] >= count ? e32[oc] - count : 0;
      this.stats[EStat.bytes_used] -= bytes;
      this.stats[EStat.objects_used] -= count;
      return true;
    } finally { this.unlock(); }
  }

  /** memcached's extstore_close_page: the compactor is done with the page; the next maintenance frees it. */
  closePage(page: number, version: number): void {
    this.lock();
    if ((this.e32[this.w(page, P.state)] & PageState.CLOSED) === 0 && this.pageVersion(page) === version) {
      this.e32[this.w(page, P.state)] |= PageState.CLOSED;
    }
    this.unlock();
  }

  /** An object read back: counted as memcached's IO thread counts it. */
  countRead(bytes: number): void {
    this.lock();
    this.stats[EStat.objects_read]++;
    this.stats[EStat.bytes_read] += bytes;
    this.unlock();
  }

  /** The compactor's counters (memcached keeps these three in its global stats). */
  countCompaction(rescues: number, lost: number, skipped: number): void {
    this.lock();
    this.stats[EStat.compact_rescues] += rescues;
    this.stats[EStat.compact_lost] += lost;
    this.stats[EStat.compact_skipped] += skipped;
    this.unlock();
  }

  // ---- maintenance (the storage thread) ----

  /**
   * memcached's extstore_maint_thread pass: free every page that is empty or closed; then, when no page is
   * free, evict the oldest page in use (by version), its objects lost.
   */
  runMaint(): void {
    this.lock();
    try {
      const e32 = this.e32;
      let doEvict = e32[E.pageFree] === 0 || e32[E.freeHead] < 0;
      let low = -1, lowVersion = Infinity;
      for (let p = 0; p < this.pageCount; p++) {
        const state = e32[this.w(p, P.state)];
        if ((state & (PageState.ACTIVE | PageState.FREE)) !== 0) continue;
        const objs = e32[this.w(p, P.objCount)], version = e32[this.w(p, P.version)] >>> 0;
        if (objs > 0 && (state & PageState.CLOSED) === 0 && e32[this.w(p, P.freeBucket)] === 0 && version < lowVersion) {
          lowVersion = version;
          low = p;
        }
        if (objs === 0 || (state & PageState.CLOSED) !== 0) {
          this.freePage(p);
          doEvict = false;
        }
      }
      if (doEvict && low >= 0) this.evictPage(low);
    } finally { this.unlock(); }
  }

  private evictPage(p: number): void {
    const s = this.stats, e32 = this.e32;
    e32[this.w(p, P.state)] |= PageState.CLOSED;
    s[EStat.page_evictions]++;
    s[EStat.objects_evicted] += e32[this.w(p, P.objCount)];
    s[EStat.bytes_evicted] += e32[this.w(p, P.bytesUsed)];
    this.freePage(p);
  }

  /** memcached's _free_page (lock held): what the page still held leaves the used counts; it goes back to the free list. */
  private freePage(p: number): void {
    const e32 = this.e32, s = this.stats;
    s[EStat.objects_used] -= e32[this.w(p, P.objCount)];
    s[EStat.bytes_used] -= e32[this.w(p, P.bytesUsed)];
    s[EStat.page_reclaims]++;
    Atomics.store(e32, this.w(p, P.version), 0);
    e32[this.w(p, P.objCount)] = 0;
    e32[this.w(p, P.bytesUsed)] = 0;
    e32[this.w(p, P.allocated)] = 0;
    e32[this.w(p, P.bucket)] = 0;
    e32[this.w(p, P.state)] = PageState.FREE;
    e32[this.w(p, P.next)] = e32[E.freeHead];
    e32[E.freeHead] = p;
    e32[E.pageFree]++;
  }

  // ---- stats ----

  pagesFree(): number { return Atomics.load(this.e32, E.pageFree); }

  /** Reads submitted to IO threads and not back, every worker's (`stats`' extstore_io_queue). */
  ioQueue(): number { return Atomics.load(this.e32, E.ioQueue); }
  ioQueued(delta: number): void { Atomics.add(this.e32, E.ioQueue, delta); }

  /** A page's row for `stats extstore` and the compactor: zeros for pages free, being written, closed or empty. */
  pageData(p: number, out: PageData): PageData {
    const e32 = this.e32, state = e32[this.w(p, P.state)];
    const shown = (state & (PageState.ACTIVE | PageState.FREE | PageState.CLOSED)) === 0 && e32[this.w(p, P.objCount)] > 0;
    out.version = shown ? e32[this.w(p, P.version)] >>> 0 : 0;
    out.bytes = shown ? e32[this.w(p, P.bytesUsed)] : 0;
    out.bucket = shown ? e32[this.w(p, P.bucket)] : 0;
    out.freeBucket = e32[this.w(p, P.freeBucket)];
    return out;
  }

  // ---- file IO ----

  /** pwrite of bytes[0, len) at the object's place. */
  writeAt(page: number, offset: number, bytes: Uint8Array, len: number): void {
    let done = 0;
    const fd = this.fdOf(page), at = this.fileOffset(page, offset);
    try {
      while (done < len) done += fs.writeSync(fd, bytes, done, len - done, at + done);
    } catch {
      // a full disk, an IO error: memcached's IO thread goes on as if written (its write's result is not looked
      // at), and so does this one; what is not on the file reads back as a miss (short, or its CRC)
    }
  }

  /**
   * pread of len bytes at the object's place into bytes[0, len); false on a short read (a file cut short), or with
   * `pastEndIsZeros` (the compactor's read of a whole block) the bytes past the file's end read as the zeros
   * they are: a page's last blocks are not in the file until something is written there.
   */
  readAt(page: number, offset: number, bytes: Uint8Array, len: number, pastEndIsZeros = false): boolean {
    let done = 0;
    const fd = this.fdOf(page), at = this.fileOffset(page, offset);
    while (done < len) {
      let n: number;
      try { n = fs.readSync(fd, bytes, done, len - done, at + done); } catch { return false; } // an IO error: a miss
      if (n <= 0) {
        if (!pastEndIsZeros) return false;
        bytes.fill(0, done, len);
        return true;
      }
      done += n;
    }
    return true;
  }
}
