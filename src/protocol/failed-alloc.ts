// A store whose item could not be allocated: the `if (it == 0)` block that memcached's process_update_command,
// process_mset_command and process_bin_update each write out after item_alloc. What they do alike is here: which
// error it is, what is counted, the watchers' line, and the old value unlinked ("Avoid stale data persisting in cache
// because we failed alloc"). Each protocol says the error in its own words and swallows the value itself.

import type { Conn } from '../worker/conn.ts';
import { ThreadStat } from '../stats/thread-stats.ts';
import { AllocError } from '../store/results.ts';
import type { StoreOp } from '../store/results.ts';
import { G } from '../store/layout.ts';
import { LogFlag } from '../logger/logger.ts';
import { logRefusedStore } from '../store/store-item.ts';

/**
 * Why a store got no item (an AllocError). As in memcached, item_size_ok decides: TOO_LARGE when the item cannot
 * fit (`fits` false: itemAlloc was not tried, and store.allocError is stale), else NO_MEMORY. Or NO_MEMORY_IN_READ:
 * a chained value's chunks ran out, which memcached finds only as the value arrives (conn_nread) and which counts,
 * logs and unlinks nothing, so failedAlloc is not for it.
 */
export function failedAllocError(c: Conn, fits: boolean): AllocError {
  if (!fits) return AllocError.TOO_LARGE;
  return c.ctx.store.allocError === AllocError.NO_MEMORY_IN_READ ? AllocError.NO_MEMORY_IN_READ : AllocError.NO_MEMORY;
}

/**
 * A TOO_LARGE or NO_MEMORY refusal: store_too_large or store_no_memory counted when `counted` (text and meta; memcached's
 * process_bin_update counts neither), the watchers' item_store line with `cmd` (a StoreOp; binary logs 0, as memcached),
 * then the key's old value unlinked when `unlinkOld` (text: a set; meta: any ms; binary: a Set), after the line, as
 * memcached's look for it logs its own.
 */
export function failedAlloc(c: Conn, buf: Uint8Array, ks: number, nkey: number, error: AllocError, cmd: StoreOp | 0,
  counted: boolean, unlinkOld: boolean): void {
  const st = c.ctx.store;
  const noMemory = error === AllocError.NO_MEMORY;
  if (counted) c.ctx.stats.row[noMemory ? ThreadStat.store_no_memory : ThreadStat.store_too_large]++;
  if ((st.c32[G.watchMask] & LogFlag.MUTATIONS) !== 0) logRefusedStore(st, buf, ks, nkey, cmd, noMemory);
  if (unlinkOld) st.itemDelete(buf, ks, nkey, 0);
}
