// One watcher's reading of every thread's ring (logger.ts): its own cursor per ring, the entries it wants (its
// flags, gids from its own on), and what it lost when a ring lapped it. memcached's logger thread reads each
// worker's buffer in turn in the same way; its watchers never lose entries to a lap, because its workers drop new
// entries instead (log_worker_dropped).

import { CLASS_FLAGS, CLASS_OF_EVENT, LOG_CLASSES, NSLOTS, ringWord, Slot, slotWord } from './logger.ts';

/** A reader this close to being lapped jumps ahead: what it jumps over cannot be overwritten while it reads. */
export const LAP_MARGIN = NSLOTS / 4;

export class LogReader {
  declare readonly flags: number;
  private declare readonly minGid: number;
  private declare readonly i32: Int32Array;
  private declare readonly nrings: number;
  /** Per ring: the next entry to read (u32, wrapping with the ring's counter). */
  private declare readonly cursors: Int32Array;
  /** Per ring and class: entries of that class up to the cursor (what a lap cost, by class). */
  private declare readonly seen: Int32Array;
  private readonly lapCounts = new Int32Array(LOG_CLASSES);
  /** The ring next() is in, and the entry it returned (for commit). */
  private ring = 0;
  private pendingRing = -1;
  private pendingCls = 0;
  /** Entries of the watched kinds lost to laps, not yet taken (takeLost). */
  private lost = 0;

  /** Reads what is written from now on in `nrings` rings of the log buffer (viewed as i32). */
  constructor(i32: Int32Array, nrings: number, flags: number, minGid: number) {
    this.i32 = i32;
    this.nrings = nrings;
    this.flags = flags;
    this.minGid = minGid;
    this.cursors = new Int32Array(nrings);
    this.seen = new Int32Array(nrings * LOG_CLASSES);
    for (let r = 0; r < nrings; r++) {
      const written = Atomics.load(i32, ringWord(r)) >>> 0;
      this.cursors[r] = written;
      if (written !== 0 && !this.readCounts(r, (written - 1) >>> 0, this.seen, r * LOG_CLASSES)) this.seen.fill(0, r * LOG_CLASSES, (r + 1) * LOG_CLASSES);
    }
  }

  /** Class counts as of entry `seq` (inclusive), from its slot; false if it may have been overwritten meanwhile. */
  private readCounts(r: number, seq: number, into: Int32Array, at: number): boolean {
    const w = slotWord(r, seq);
    for (let k = 0; k < LOG_CLASSES; k++) into[at + k] = this.i32[w + Slot.counts + k];
    return ((Atomics.load(this.i32, ringWord(r)) - seq) >>> 0) < NSLOTS;
  }

  /** The ring has (nearly) lapped us: jump ahead, counting what we lost of the kinds we watch. */
  private lapped(r: number, written: number): void {
    const next = (written - (NSLOTS - LAP_MARGIN)) >>> 0;
    if (!this.readCounts(r, (next - 1) >>> 0, this.lapCounts, 0)) return; // written moved on: the caller retries
    for (let k = 0; k < LOG_CLASSES; k++) {
      if ((CLASS_FLAGS[k] & this.flags) !== 0) this.lost += (this.lapCounts[k] - this.seen[r * LOG_CLASSES + k]) | 0;
      this.seen[r * LOG_CLASSES + k] = this.lapCounts[k];
    }
    this.cursors[r] = next;
  }

  /** Entries of the kinds watched that laps made us lose since the last call. */
  takeLost(): number {
    const n = this.lost;
    this.lost = 0;
    return n;
  }

  /** Whether any ring has entries past our cursors. */
  hasNew(): boolean {
    for (let r = 0; r < this.nrings; r++) if ((Atomics.load(this.i32, ringWord(r)) | 0) !== this.cursors[r]) return true;
    return false;
  }

  /**
   * The slot (word index) of the next entry we want, ring by ring, or -1 once every ring is read. Entries we do
   * not want are passed over. Call commit() once the slot is used, before the next call.
   */
  next(): number {
    const i32 = this.i32;
    for (; this.ring < this.nrings; this.ring++) {
      const r = this.ring, wordW = ringWord(r);
      for (;;) {
        const written = Atomics.load(i32, wordW) >>> 0, cur = this.cursors[r] >>> 0;
        if (cur === written) break;
        if (((written - cur) >>> 0) > NSLOTS - LAP_MARGIN) { this.lapped(r, written); continue; }
        const w = slotWord(r, cur);
        const cls = CLASS_OF_EVENT[i32[w + Slot.event] & 0xff] ?? 0;
        const gid = (i32[w + Slot.gidHi] >>> 0) * 4294967296 + (i32[w + Slot.gidLo] >>> 0);
        if ((CLASS_FLAGS[cls] & this.flags) !== 0 && gid >= this.minGid) {
          this.pendingRing = r;
          this.pendingCls = cls;
          return w;
        }
        this.seen[r * LOG_CLASSES + cls]++;
        this.cursors[r] = (cur + 1) | 0;
      }
    }
    this.ring = 0;
    return -1;
  }

  /**
   * Done with the entry next() returned: true, or false when the ring overwrote it while it was read (what was
   * made of it must be dropped; the next call counts it lost).
   */
  commit(): boolean {
    const r = this.pendingRing;
    this.pendingRing = -1;
    if (r < 0) return false;
    const cur = this.cursors[r] >>> 0;
    if (((Atomics.load(this.i32, ringWord(r)) - cur) >>> 0) >= NSLOTS) return false;
    this.seen[r * LOG_CLASSES + this.pendingCls]++;
    this.cursors[r] = (cur + 1) | 0;
    return true;
  }
}
