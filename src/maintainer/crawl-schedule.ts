// When the LRU crawler walks a class on its own: memcached's lru_maintainer_crawler_check, run by the
// maintainer once a second. Every class is walked at start; after each walk of a class, the live items it
// saw (their TTLs, by minute, for the next hour) set the next: the wait moves a minute toward the time by
// which 1% of the class's items with a TTL will have expired, or grows a minute when none expires within
// the hour; it is never more than an hour. memcached keeps this per LRU (HOT, WARM, COLD, TEMP of a class);
// Cachalot's crawler walks a class's pages, all its LRUs at once, so the schedule is per class.

import { MAX_CLASSES } from "../store/layout.ts";

/** memcached's MAX_MAINTCRAWL_WAIT: every class is walked at least once an hour. */
const MAX_WAIT = 60 * 60;
/** Minutes of TTL counted; memcached's histo[] has one more slot, for a TTL of exactly 3600 s. */
const HISTO = 61;

export class CrawlSchedule {
  private readonly next = new Int32Array(MAX_CLASSES); // next_crawls: rel time after which a class is due
  private readonly wait = new Int32Array(MAX_CLASSES); // next_crawl_wait
  private readonly complete = new Uint8Array(MAX_CLASSES); // run_complete: a walk ended, not yet planned from
  private readonly seen = new Float64Array(MAX_CLASSES);
  private readonly noexp = new Float64Array(MAX_CLASSES);
  private readonly histo = new Float64Array(MAX_CLASSES * HISTO);

  /** The classes due at `now`, marked in `todo` (each then retried 5 s later unless a walk ends first); true when any is. */
  due(now: number, todo: Uint8Array): boolean {
    let any = false;
    for (let c = 1; c < MAX_CLASSES; c++) {
      if (this.complete[c] !== 0) this.plan(c, now);
      todo[c] = now > this.next[c] ? 1 : 0;
      if (todo[c] !== 0) { this.next[c] = now + 5; any = true; }
    }
    todo[0] = 0;
    return any;
  }

  /** A walk starts: every class's tally starts over (crawler_expired_init). */
  begin(): void {
    this.complete.fill(0);
    this.seen.fill(0);
    this.noexp.fill(0);
    this.histo.fill(0);
  }

  /** A live item the walk looked at (crawler_expired_eval), with its exptime (0: none). */
  tally(clsid: number, exptime: number, now: number): void {
    this.seen[clsid]++;
    if (exptime === 0) { this.noexp[clsid]++; return; }
    const remain = exptime - now;
    if (remain <= 3599) this.histo[clsid * HISTO + Math.floor(remain / 60)]++;
  }

  /** The walk is over for these classes (crawler_expired_doneclass). */
  end(walked: Uint8Array): void {
    for (let c = 1; c < MAX_CLASSES; c++) if (walked[c] !== 0) this.complete[c] = 1;
  }

  private plan(c: number, now: number): void {
    const lowWatermark = Math.floor((this.seen[c] - this.noexp[c]) / 100) + 1;
    let available = 0;
    for (let x = 0; x < 60; x++) {
      available += this.histo[c * HISTO + x];
      if (available > lowWatermark) {
        if (this.wait[c] < x * 60) this.wait[c] += 60;
        else if (this.wait[c] >= 60) this.wait[c] -= 60;
        break;
      }
    }
    if (available === 0) this.wait[c] += 60;
    if (this.wait[c] > MAX_WAIT) this.wait[c] = MAX_WAIT;
    this.next[c] = now + this.wait[c] + 5;
    this.complete[c] = 0;
  }
}
