// memcached's CAS counters (do_store_item's cas_misses, cas_hits and cas_badval), counted alike by the text, meta
// and binary stores, and the line it prints at -vv for a CAS that did not match.

import type { Conn } from '../worker/conn.ts';
import { StoreResult } from '../store/results.ts';
import { ThreadStat, SlabStat } from '../stats/thread-stats.ts';

/**
 * After a store with a CAS (`casIn`, the client's): its counter, in the class of the item it found
 * (`store.lastClsid`), which memcached counts rather than the new item's: a CAS may change the size.
 */
export function countCas(c: Conn, ret: StoreResult, casIn: number): void {
  if (ret === StoreResult.NOT_FOUND) c.ctx.stats.row[ThreadStat.cas_misses]++;
  else if (ret === StoreResult.STORED) c.ctx.stats.slab(c.ctx.store.lastClsid, SlabStat.cas_hits);
  else if (ret === StoreResult.EXISTS) {
    c.ctx.stats.slab(c.ctx.store.lastClsid, SlabStat.cas_badval);
    // memcached prints the new item's CAS, which it set to the client's (0 under -C)
    if (c.ctx.verbosity() > 1) c.ctx.log(`CAS:  failure: expected ${c.ctx.store.lastCasSeen}, got ${c.ctx.settings.useCas ? clientCas(c, casIn) : 0}`);
  }
}

/** The client's CAS as memcached's %llu prints it: casIn, or past 2^53 the exact value its parser kept (Conn.casInExact). */
function clientCas(c: Conn, casIn: number): number | bigint {
  return casIn > Number.MAX_SAFE_INTEGER ? c.casInExact : casIn;
}
