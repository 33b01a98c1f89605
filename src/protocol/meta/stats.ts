// Counters the meta commands share with the text ones (memcached's thread_stats fields).

import type { Conn } from '../../worker/conn.ts';
import type { Store } from '../../store/store.ts';
import { SlabStat, SLAB_FIELDS, THREAD_FIELDS } from '../../stats/thread-stats.ts';
import { lruIdOf } from '../../store/lru.ts';

/**
 * memcached's lru_hits[slabs_clsid]++: a hit for the class (get_hits) and for the LRU segment the
 * item was in (hits_to_hot/warm/cold/temp). The store's own lookups (itemGet, itemPeek) count the
 * segment's hit and leave get_hits to the protocol; mg looks up with doItemGet, which counts neither,
 * so both are counted here.
 */
export function countLruHit(c: Conn, st: Store, it: number): void {
  const id = lruIdOf(st.a32, it);
  const row = c.ctx.stats.row;
  row[THREAD_FIELDS + (id & 63) * SLAB_FIELDS + SlabStat.get_hits]++;
  row[THREAD_FIELDS + (id & 63) * SLAB_FIELDS + SlabStat.hits_to_hot + (id >>> 6)]++;
}
