// Per-thread counters, as memcached's `struct thread_stats` and its per-slab-class `slab_stats`.
//
// One SharedArrayBuffer holds a Float64Array row per thread (0 = dispatcher, 1..N = workers,
// N+1 = maintainer). Only the owning thread writes its row (plain stores, no Atomics); whoever
// answers `stats` sums the rows. Float64 counts exactly to 2^53.
//
//   row t: [ ThreadStat fields (THREAD_FIELDS) | class 0 SlabStat fields | class 1 ... | class MAX_CLASSES-1 ]

import { MAX_CLASSES } from '../store/layout.ts';

export const ThreadStat = {
  get_cmds: 0, get_misses: 1, get_expired: 2, get_flushed: 3,
  touch_cmds: 4, touch_misses: 5,
  delete_misses: 6, incr_misses: 7, decr_misses: 8, cas_misses: 9,
  meta_cmds: 10, bytes_read: 11, bytes_written: 12, flush_cmds: 13,
  conn_yields: 14, auth_cmds: 15, auth_errors: 16,
  store_too_large: 17, store_no_memory: 18, idle_kicks: 19,
  // a worker's own connections (`stats threads`); the server's totals and -c are kept in server-ctl.ts
  curr_conns: 20, total_conns: 21,
  response_obj_oom: 22, read_buf_oom: 23,
  conn_faults: 24, // ours: exceptions caught per connection (a bug if ever non-zero)
  // memcached's logger counters (src/logger): entries a thread wrote to its ring; lines a worker handed to one of
  // its watchers, or skipped for it (the watcher was not reading, or its ring lapped it)
  log_worker_written: 25, log_watcher_sent: 26, log_watcher_skipped: 27,
  // memcached's stats_state.curr_items and curr_bytes, moved by do_item_link and do_item_unlink alone: the
  // items in the hash table and their ITEM_ntotal. A thread's share may go below 0 (it unlinked what
  // another linked); the sum over threads is the count. Not the sum of the LRUs' counts, which an item
  // between two LRUs (the maintainer moving it from HOT to COLD) is missing from for a moment.
  curr_items: 28, curr_bytes: 29,
  // memcached's extstore counters of a get (src/extstore/storage.ts), shown only with -o ext_path
  get_extstore: 30, get_aborted_extstore: 31, get_oom_extstore: 32, recache_from_extstore: 33, miss_from_extstore: 34,
  badcrc_from_extstore: 35,
} as const;
export const THREAD_FIELDS = 36;

export const SlabStat = {
  set_cmds: 0, get_hits: 1, touch_hits: 2, delete_hits: 3, cas_hits: 4, cas_badval: 5,
  incr_hits: 6, decr_hits: 7,
  // Item-level counters of memcached's itemstats_t, counted by the store in whichever thread does the work
  // (src/store): per class, summed over threads for `stats items` and the totals of `stats`.
  evicted: 8, evicted_nonzero: 9, outofmemory: 10, tailrepairs: 11, reclaimed: 12, expired_unfetched: 13,
  evicted_unfetched: 14, evicted_active: 15, crawler_reclaimed: 16, crawler_items_checked: 17,
  lrutail_reflocked: 18, moves_to_cold: 19, moves_to_warm: 20, moves_within_lru: 21, direct_reclaims: 22,
  hits_to_hot: 23, hits_to_warm: 24, hits_to_cold: 25, hits_to_temp: 26, total_items: 27,
} as const;
export const SLAB_FIELDS = 28;

export const ROW_FIELDS = THREAD_FIELDS + MAX_CLASSES * SLAB_FIELDS;

/** The rows, then as many again for `stats reset`'s baselines (see ThreadStats.base). */
export function createStatsBuffer(nthreads: number): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * nthreads * ROW_FIELDS * 8);
}

/** One thread's writable row plus read access to every row. */
export class ThreadStats {
  /** Every thread's row; only its owner writes a row. */
  declare readonly all: Float64Array;
  /**
   * The rows' values at the last `stats reset`, written only by the thread that ran it: a counter reads as its
   * row less its baseline. Zeroing other threads' rows instead raced their owners' plain increments, which could
   * write an old value back and undo the reset.
   */
  private declare readonly base: Float64Array;
  declare readonly row: Float64Array; // this thread's own counters: row[ThreadStat.get_cmds]++
  declare readonly nthreads: number;
  declare readonly thread: number;
  constructor(buf: SharedArrayBuffer, thread: number) {
    const fields = buf.byteLength / 16;
    this.all = new Float64Array(buf, 0, fields);
    this.base = new Float64Array(buf, fields * 8, fields);
    this.nthreads = fields / ROW_FIELDS;
    this.thread = thread;
    this.row = this.all.subarray(thread * ROW_FIELDS, (thread + 1) * ROW_FIELDS);
  }
  slab(clsid: number, field: number): void {
    this.row[THREAD_FIELDS + clsid * SLAB_FIELDS + field]++;
  }
  sum(field: number): number {
    let s = 0;
    for (let t = 0; t < this.nthreads; t++) s += this.all[t * ROW_FIELDS + field] - this.base[t * ROW_FIELDS + field];
    return s;
  }
  /** One thread's value of a field (since the last reset). */
  at(thread: number, field: number): number { return this.all[thread * ROW_FIELDS + field] - this.base[thread * ROW_FIELDS + field]; }
  sumSlab(clsid: number, field: number): number {
    return this.sum(THREAD_FIELDS + clsid * SLAB_FIELDS + field);
  }
  /** Total of one slab field over every class (e.g. get_hits for the whole server). */
  sumSlabAll(field: number): number {
    let s = 0;
    for (let c = 0; c < MAX_CLASSES; c++) s += this.sumSlab(c, field);
    return s;
  }
  /**
   * `stats reset`: every thread's counters that memcached resets read 0 from now on (their baselines take the
   * rows' values). The kept ones (gauges) are left alone.
   */
  resetAll(keep: readonly number[]): void {
    const kept = new Set(keep);
    for (let t = 0; t < this.nthreads; t++) {
      for (let f = 0; f < ROW_FIELDS; f++) if (!kept.has(f)) this.resetField(t, f);
    }
  }

  /** One thread's counter reads 0 from now on. */
  resetField(thread: number, field: number): void {
    const i = thread * ROW_FIELDS + field;
    this.base[i] = this.all[i];
  }
}
