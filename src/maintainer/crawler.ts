// The LRU crawler's job (memcached's crawler_expired_eval), done by walking slab pages instead of inserting a
// crawler item into each LRU: every chunk that looks like a linked, dead item is re-checked under its item
// lock (still in the hash table under its own key?) and unlinked. Counts crawler_reclaimed,
// crawler_items_checked, expired_unfetched per class.

import { hdrPage, hdrVersion } from '../extstore/item-hdr.ts';
import type { Store } from "../store/store.ts";
import { ITEM_HEADER, ItemField, ItemFlag } from "../store/layout.ts";
import { writeErr } from "../libc/stdio.ts";
import { pageOffset } from "../store/slabs.ts";
import { assocFind } from "../store/assoc.ts";
import { hash } from "../store/hash.ts";
import { SlabStat, SLAB_FIELDS, THREAD_FIELDS } from "../stats/thread-stats.ts";
import { F, FG, G, MAX_CLASSES } from "../store/layout.ts";
import { CrawlSchedule } from "./crawl-schedule.ts";

/** memcached's crawls_persleep: items checked between two rests of lru_crawler_sleep. */
const CRAWLS_PER_SLEEP = 1000;
/** Chunks a round looks at, at most: a walk over pages with few checked items still gives the thread back. */
const CHUNKS_PER_ROUND = 64 * 1024;

/**
 * The crawler, run by the maintainer thread: the walks memcached's LRU maintainer schedules while the crawler is
 * enabled (crawl-schedule.ts: every class at start, then each as its items' TTLs make it worth it; none under
 * -o no_lru_maintainer, which starts no such thread), and the walks `lru_crawler crawl` asks for (G.crawlSignal,
 * with the classes in G.crawlMaskLo/Hi). A walk rests lru_crawler_sleep µs after every CRAWLS_PER_SLEEP items it
 * checks, as memcached's crawler thread does, and checks at most lru_crawler_tocrawl items per class (0: all).
 */
export class Crawler {
  private page = -1; // -1: not crawling
  private slot = 0; // the next chunk of the page
  /** The last round checked CRAWLS_PER_SLEEP items: rest before the next. */
  private rest = false;
  /** The walk under way was scheduled (its items' TTLs feed the schedule), not asked for. */
  private scheduled = false;
  private lastCheck = -1;
  private readonly schedule = new CrawlSchedule();
  private readonly classes = new Uint8Array(MAX_CLASSES);
  private readonly checked = new Int32Array(MAX_CLASSES);
  private tocrawl = 0;
  private declare readonly st: Store;
  private declare readonly schedules: boolean;

  constructor(st: Store, schedules: boolean) { this.st = st; this.schedules = schedules; }

  /** One round: maybe start a walk, then crawl up to CRAWLS_PER_SLEEP items. True when it did something. */
  round(): boolean {
    const st = this.st;
    if (this.page < 0) this.maybeStart();
    if (this.page < 0) return false;
    const pages = Atomics.load(st.c32, G.pagesUsed);
    let items = CRAWLS_PER_SLEEP, chunks = CHUNKS_PER_ROUND;
    while (this.page < pages && items > 0 && chunks > 0) {
      const clsid = st.c32[st.pageBase + this.page];
      if (clsid > 0) { // else a page in no class: the pool's, or released
        const perslab = st.perslab[clsid], first = pageOffset(st, this.page), size = st.classSizes[clsid];
        for (; this.slot < perslab && items > 0 && chunks > 0; this.slot++, chunks--) {
          if (this.crawlChunk(first + this.slot * size)) items--;
        }
        if (this.slot < perslab) break;
      }
      this.page++;
      this.slot = 0;
    }
    this.rest = items === 0;
    if (this.page >= pages) this.finish();
    return true;
  }

  /** Microseconds to rest before the next round (lru_crawler_sleep after a round's CRAWLS_PER_SLEEP items). */
  sleepUs(): number { return this.page < 0 || !this.rest ? 0 : this.st.c32[G.crawlerSleepUs]; }

  private maybeStart(): void {
    const st = this.st, c32 = st.c32;
    if (Atomics.load(c32, G.crawlerRunning) !== 0) return; // a metadump has the crawler
    if (Atomics.load(c32, G.crawlSignal) === 1) {
      if (!st.claimCrawler()) return; // a metadump took it meanwhile: the asked-for crawl waits for it
      const lo = c32[G.crawlMaskLo], hi = c32[G.crawlMaskHi];
      for (let id = 0; id < MAX_CLASSES; id++) this.classes[id] = ((id < 32 ? lo >>> id : hi >>> (id - 32)) & 1);
      Atomics.store(c32, G.crawlSignal, 0);
      this.scheduled = false;
    } else if (this.schedules && c32[G.lruCrawler] !== 0 && st.currentTime() !== this.lastCheck) { // once a second, as memcached's
      this.lastCheck = st.currentTime();
      if (!this.schedule.due(this.lastCheck, this.classes) || !st.claimCrawler()) return;
      this.schedule.begin();
      this.scheduled = true;
    } else {
      return;
    }
    this.page = this.slot = 0;
    this.checked.fill(0);
    this.tocrawl = c32[G.crawlerTocrawl] >>> 0;
    st.cf[F.glob + FG.crawlerStarts]++;
  }

  private finish(): void {
    this.page = -1;
    if (this.st.verbosity() > 2) writeErr('LRU crawler thread sleeping\n'); // memcached's crawler, its run done
    if (this.scheduled) this.schedule.end(this.classes);
    this.st.releaseCrawler();
  }

  /** One chunk at byte offset `at`: true when it held an item of a class being crawled, now checked. */
  private crawlChunk(at: number): boolean {
    const st = this.st, it = at / 8;
    const bits = st.a32[it * 2 + ItemField.bits];
    if ((bits & ItemFlag.LINKED) === 0 || (bits & ItemFlag.CHUNK) !== 0) return false;
    const lruClass = (bits >>> 16) & 63; // a chained item counts in its LRU's class
    if (this.classes[lruClass] === 0) return false;
    if (this.tocrawl !== 0 && this.checked[lruClass]++ >= this.tocrawl) return false;
    st.stats.row[THREAD_FIELDS + lruClass * SLAB_FIELDS + SlabStat.crawler_items_checked]++;
    if (looksDead(st, it)) reclaimIfDead(st, it, lruClass);
    else if (this.scheduled) this.schedule.tally(lruClass, st.a32[it * 2 + ItemField.exptime] >>> 0, st.currentTime());
    return true;
  }
}

/**
 * crawler_expired_eval's test: expired strictly before this second ("<", as the LRU tail's; only do_item_get
 * has "<="), so an item whose exptime is now stays for the crawl's histogram and a lookup's get_expired.
 */
function looksDead(st: Store, it: number): boolean {
  const exp = st.a32[it * 2 + ItemField.exptime] >>> 0;
  return (exp !== 0 && exp < st.currentTime()) || st.isFlushed(it) || !storageValid(st, it);
}

/** memcached's storage_validate_item: a header item whose page has moved on (evicted) holds nothing any more. */
function storageValid(st: Store, it: number): boolean {
  if ((st.a32[it * 2 + ItemField.bits] & ItemFlag.HDR) === 0 || st.ext === null) return true;
  return st.ext.pageVersion(hdrPage(st, it)) === hdrVersion(st, it);
}

/** memcached's crawler_expired_eval at -vv: the item's flags and its slabs_clsid (class and LRU), then its key. */
function sayReclaim(st: Store, it: number): void {
  const bits = st.a32[it * 2 + ItemField.bits], keyOff = it * 8 + ITEM_HEADER;
  const head = `LRU crawler found an expired item (flags: ${bits & 0xffff}, slab: ${(bits >>> 16) & 0xff}): `;
  writeErr(Buffer.concat([Buffer.from(head), st.a8.subarray(keyOff, keyOff + (bits >>> 24)), Buffer.from('\n')]));
}

function reclaimIfDead(st: Store, it: number, clsid: number): void {
  const nkey = st.a32[it * 2 + ItemField.bits] >>> 24;
  const keyOff = it * 8 + ITEM_HEADER;
  const hv = hash(st.a8, keyOff, nkey);
  st.itemLock(hv);
  try {
    if (assocFind(st, st.a8, keyOff, nkey, hv) !== it) return; // reused or unlinked meanwhile
    Atomics.add(st.a32, it * 2 + ItemField.refcount, 1);
    const flushed = st.isFlushed(it);
    const exp = st.a32[it * 2 + ItemField.exptime] >>> 0;
    if (flushed || (exp !== 0 && exp < st.currentTime()) || !storageValid(st, it)) { // looksDead's test, under the lock
      const row = st.stats.row, base = THREAD_FIELDS + clsid * SLAB_FIELDS;
      row[base + SlabStat.crawler_reclaimed]++; // not `reclaimed`: memcached counts there only its LRU's own finds
      if ((st.a32[it * 2 + ItemField.bits] & ItemFlag.FETCHED) === 0 && !flushed) row[base + SlabStat.expired_unfetched]++;
      if (st.verbosity() > 1) sayReclaim(st, it);
      st.doItemUnlink(it, hv);
    }
    st.itemRelease(it);
  } finally {
    st.itemUnlock(hv);
  }
}
