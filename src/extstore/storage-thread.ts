// memcached's two storage threads, run by the maintainer thread between its own rounds: the writer
// (storage_write_thread), which moves cold values of the classes from ext_item_size up to flash, and the
// compactor (storage_compact_thread), which reads back the oldest page that is mostly empty, rewrites what is
// still used and closes the page. Each round does what memcached's loops do once and answers how long to sleep.

import type { Store } from '../store/store.ts';
import { CLASS_BASE, CLASS_WORDS, Cls, G, ITEM_HEADER, ItemField, ItemFlag, Lru } from '../store/layout.ts';
import { ITEM_HDR_DATA, ntotalOf } from '../store/lru.ts';
import { casOf, doItemAlloc, doItemReplace } from '../store/items.ts';
import { assocFind } from '../store/assoc.ts';
import { LogFlag } from '../logger/logger.ts';
import { slabsClsid } from '../store/slabs.ts';
import { Bucket } from './engine.ts';
import type { Extstore, ObjLoc, PageData } from './engine.ts';
import { hdrOffset, hdrPage, hdrVersion, setHdr } from './item-hdr.ts';
import { EXT, storageWrite } from './storage.ts';
import type { ExtLive } from './storage.ts';

const WRITE_SLEEP_MIN_US = 500;
/** memcached's MIN_PAGES_FREE: below this many pages' worth of free chunks, a class's cold items go regardless of age. */
const MIN_PAGES_FREE = 3;
const COMPACT_SLEEP_US = 10_000; // MIN_STORAGE_COMPACT_SLEEP: a compaction, once begun, goes on quickly

export class StorageThreads {
  private declare readonly st: Store;
  private declare readonly ext: Extstore;
  private declare readonly live: ExtLive;
  private readonly backoff = new Int32Array(64);
  private counter = 0;
  private writeSleepUs = WRITE_SLEEP_MIN_US;
  private declare compactSleepUs: number;
  private compactAfterUs = 0;
  private writeAfterUs = 0;
  private readonly compaction = { on: false, page: 0, version: 0, offset: 0, dropUnread: false };
  private declare readonly block: Buffer;
  private readonly pd: PageData = { version: 0, bytes: 0, bucket: 0, freeBucket: 0 };

  constructor(st: Store, ext: Extstore, live: ExtLive) {
    this.st = st;
    this.ext = ext;
    this.live = live;
    this.compactSleepUs = live.extSetting(EXT.maxSleep);
    this.block = Buffer.alloc(ext.wbufSize);
  }

  /** One turn of each thread that is due (elapsedUs since the last call); the sleep until the next is due. */
  round(elapsedUs: number): number {
    this.writeAfterUs -= elapsedUs;
    this.compactAfterUs -= elapsedUs;
    if (this.writeAfterUs <= 0) this.writeAfterUs = this.writeRound();
    if (this.compactAfterUs <= 0) this.compactAfterUs = this.compactRound();
    return Math.max(0, Math.min(this.writeAfterUs, this.compactAfterUs));
  }

  /** A `watch sysevents` line of the compactor's, made only when someone watches. */
  private sysevent(line: () => string): void {
    if ((this.st.c32[G.watchMask] & LogFlag.SYSEVENTS) !== 0) this.st.log.text(line());
  }

  // ---- the writer: storage_write_thread's loop body ----

  private writeRound(): number {
    const st = this.st, live = this.live;
    const maxSleep = live.extSetting(EXT.maxSleep);
    if (this.writeSleepUs > maxSleep) this.writeSleepUs = maxSleep;
    const minClass = slabsClsid(st, live.extSetting(EXT.itemSize));
    const poolPages = st.c32[G.poolPages], poolMin = Atomics.load(st.c32, G.extGlobalPoolMin);
    this.counter++;
    for (let x = 1; x <= st.nclasses; x++) {
      const back = this.backoff[x];
      if (minClass > x || (back !== 0 && this.counter % back !== 0)) {
        if (this.writeSleepUs > WRITE_SLEEP_MIN_US * 10) this.backoff[x] = back >> 1; // long sleeps: retry sooner
        continue;
      }
      let chunksFree = st.c32[CLASS_BASE + x * CLASS_WORDS + Cls.freeCount];
      const target = st.perslab[x] * MIN_PAGES_FREE;
      let moved = false;
      for (;;) {
        // low on free chunks, and the global pool down to what the extstore automover keeps (memcached's
        // ext_global_pool_min, 0 without it): cold items go out whatever their age
        const itemAge = chunksFree < target && poolPages <= poolMin ? 0 : live.extSetting(EXT.itemAge);
        if (!storageWrite(st, this.ext, x, itemAge, live.extSetting(EXT.lowTtl))) break;
        chunksFree++;
        moved = true;
        if (this.writeSleepUs > WRITE_SLEEP_MIN_US) this.writeSleepUs >>= 1;
      }
      if (!moved) this.backoff[x]++;
      else if (this.backoff[x] !== 0) this.backoff[x] = 1;
    }
    return this.writeSleepUs++;
  }

  // ---- the compactor: storage_compact_thread's loop body ----

  private compactRound(): number {
    this.ext.runMaint();
    const c = this.compaction;
    if (!c.on && this.compactCheck()) {
      c.on = true;
      c.offset = 0;
      this.sysevent(() => `type=compact_start id=${c.page} version=${c.version}`);
    }
    if (!c.on) {
      const maxSleep = this.live.extSetting(EXT.maxSleep);
      if (this.compactSleepUs < maxSleep) this.compactSleepUs += maxSleep;
      return this.compactSleepUs;
    }
    const ext = this.ext;
    if (c.offset < ext.pageSize) {
      const ok = ext.pageVersion(c.page) === c.version && ext.readAt(c.page, c.offset, this.block, ext.wbufSize, true)
        && ext.pageVersion(c.page) === c.version;
      if (!ok) { // the page went (evicted) under us: memcached's compaction abort
        c.on = false;
        this.sysevent(() => `type=compact_abort id=${c.page}`);
      } else {
        this.sysevent(() => `type=compact_read_start id=${c.page} offset=${c.offset}`);
        this.readback(c.page, c.version, c.offset, c.dropUnread);
        c.offset += ext.wbufSize;
      }
    } else {
      c.on = false;
      ext.closePage(c.page, c.version);
      this.sysevent(() => `type=compact_end id=${c.page}`);
    }
    this.compactSleepUs = COMPACT_SLEEP_US;
    return COMPACT_SLEEP_US;
  }

  /**
   * memcached's storage_compact_check: with no more than ext_compact_under pages free, the oldest page whose used
   * bytes are under the fragmentation limit (ext_max_frag, less as fewer pages are free); failing that, with
   * ext_drop_unread and no more than ext_drop_under free, the oldest page, whose unread values are dropped.
   */
  private compactCheck(): boolean {
    const ext = this.ext, live = this.live;
    const pagesFree = ext.pagesFree(), pagesUsed = ext.pageCount - pagesFree;
    if (pagesUsed === 0 || pagesFree > live.extSetting(EXT.compactUnder)) return false;
    const rate = (1 - pagesFree / ext.pageCount) * live.extMaxFrag();
    const fragLimit = Math.floor(ext.pageSize * rate);
    this.sysevent(() => `type=compact_fraginfo ratio=${rate.toFixed(2)} bytes=${fragLimit}`);
    let low = -1, lowVersion = Infinity, lowest = -1, lowestVersion = Infinity;
    for (let p = 0; p < ext.pageCount; p++) {
      const d = ext.pageData(p, this.pd);
      if (d.version === 0 || d.bucket === Bucket.LOWTTL) continue;
      if (d.version < lowestVersion) { lowest = p; lowestVersion = d.version; }
      if (d.bytes < fragLimit && d.version < lowVersion) { low = p; lowVersion = d.version; }
    }
    const c = this.compaction;
    c.dropUnread = false;
    if (low >= 0) { c.page = low; c.version = lowVersion; return true; }
    if (lowest >= 0 && live.extSetting(EXT.dropUnread) !== 0 && pagesFree <= live.extSetting(EXT.dropUnder)) {
      c.page = lowest; c.version = lowestVersion; c.dropUnread = true;
      return true;
    }
    return false;
  }

  /**
   * memcached's storage_compact_readback over the block at `blockOffset` of the page: each object whose header item
   * still points here is written again and the header pointed at the copy (a header in use by a reader is replaced
   * by a new one; lost only when no memory holds one), or with drop_unread and its header in COLD, dropped
   * (skipped). "Points here" is page, version and offset: a key written twice to the page has an older object
   * before the one its header names (memcached 1.6.18 matched the page alone, rescuing the older value and
   * deleting it twice; fixed in 1.6.21, c91842e13).
   */
  private readback(page: number, version: number, blockOffset: number, dropUnread: boolean): void {
    const st = this.st, ext = this.ext, a32 = st.a32, obj = this.block, now = st.currentTime();
    let rescues = 0, lost = 0, skipped = 0;
    let o = 0;
    for (; obj.length - o >= ITEM_HEADER;) {
      const bits = obj.readInt32LE(o + 28), nkey = bits >>> 24;
      if (nkey === 0) break; // an end marker, or a block never written
      const len = ntotalOf(nkey, obj.readInt32LE(o + 40), obj.readInt32LE(o + 20), (bits & ItemFlag.CAS) !== 0);
      if (o + len > obj.length) break;
      const hv = obj.readInt32LE(o + 12);
      st.itemLock(hv);
      try {
        const hdr = assocFind(st, obj, o + ITEM_HEADER, nkey, hv);
        const exp = hdr === 0 ? 0 : a32[hdr * 2 + ItemField.exptime] >>> 0;
        if (hdr !== 0 && (a32[hdr * 2 + ItemField.bits] & ItemFlag.HDR) !== 0 && !st.isFlushed(hdr) && (exp === 0 || exp > now)
          && hdrPage(st, hdr) === page && hdrVersion(st, hdr) === version && hdrOffset(st, hdr) === blockOffset + o) {
          // The object is let go from this page only once its header names the copy: a header left naming the page
          // (dropped, or no copy made) is let go by the page's close, and its own delete, coming later, finds the
          // page closed or gone. (memcached lets go of it at once, and such a header's delete then counts it twice.)
          if (dropUnread && ((a32[hdr * 2 + ItemField.bits] >>> 16) & 0xc0) === Lru.COLD) skipped++;
          else if (!ext.writeRequest(Bucket.COMPACT, len)) lost++;
          else {
            ext.writeAt(ext.loc.page, ext.loc.offset, obj.subarray(o, o + len), len);
            ext.countWrite(len);
            // the header is changed in place when no reader holds it; else a new one takes its place, as memcached
            // 1.6.21's (5f1c65177) and do_add_delta's: the reader keeps the old one, which still names this page
            if (Atomics.load(a32, hdr * 2 + ItemField.refcount) === 1) setHdr(st, hdr, ext.loc.page, ext.loc.version, ext.loc.offset);
            else if (!replaceHdr(st, hdr, hv, ext.loc)) { lost++; continue; }
            ext.delete(page, version, 1, len);
            rescues++;
          }
        }
      } finally {
        st.itemUnlock(hv);
        o += len;
      }
    }
    ext.countCompaction(rescues, lost, skipped);
    this.sysevent(() => `type=compact_read_end id=${page} offset=${o} rescues=${rescues} lost=${lost} skipped=${skipped}`);
  }
}

/**
 * A new header item naming the copy at `loc` in place of `hdr`, which a reader holds (item lock held): the key, client
 * flags, exptime, value length, CAS and FETCHED/ACTIVE of the old one. False when no memory holds it.
 */
function replaceHdr(st: Store, hdr: number, hv: number, loc: ObjLoc): boolean {
  const a32 = st.a32, bits = a32[hdr * 2 + ItemField.bits];
  const it = doItemAlloc(st, st.a8, hdr * 8 + ITEM_HEADER, bits >>> 24, a32[hdr * 2 + ItemField.flags] >>> 0,
    a32[hdr * 2 + ItemField.exptime], ITEM_HDR_DATA);
  if (it === 0) return false;
  setHdr(st, it, loc.page, loc.version, loc.offset);
  a32[it * 2 + ItemField.bits] |= ItemFlag.HDR | (bits & (ItemFlag.FETCHED | ItemFlag.ACTIVE));
  a32[it * 2 + ItemField.nbytes] = a32[hdr * 2 + ItemField.nbytes];
  // its place in the LRU kept (no storageDelete of the old header: the compactor lets go of the object itself)
  doItemReplace(st, hdr, it, hv, casOf(a32, hdr), true);
  st.itemRelease(it); // the allocation's reference: the table holds it now
  return true;
}
