// extstore's lines of `stats` (memcached's storage_stats, after the logger's) and `stats extstore` (its
// process_extstore_stats: a block per page).

import type { Extstore, PageData } from './engine.ts';
import { EStat } from './engine.ts';

type Emit = (name: string, value: string | number) => void;

export function storageStats(ext: Extstore, emit: Emit): void {
  const s = ext.stats;
  emit('extstore_compact_lost', s[EStat.compact_lost]);
  emit('extstore_compact_rescues', s[EStat.compact_rescues]);
  emit('extstore_compact_skipped', s[EStat.compact_skipped]);
  emit('extstore_page_allocs', s[EStat.page_allocs]);
  emit('extstore_page_evictions', s[EStat.page_evictions]);
  emit('extstore_page_reclaims', s[EStat.page_reclaims]);
  const pagesFree = ext.pagesFree(), pagesUsed = ext.pageCount - pagesFree;
  emit('extstore_pages_free', pagesFree);
  emit('extstore_pages_used', pagesUsed);
  emit('extstore_objects_evicted', s[EStat.objects_evicted]);
  emit('extstore_objects_read', s[EStat.objects_read]);
  emit('extstore_objects_written', s[EStat.objects_written]);
  emit('extstore_objects_used', s[EStat.objects_used]);
  emit('extstore_bytes_evicted', s[EStat.bytes_evicted]);
  emit('extstore_bytes_written', s[EStat.bytes_written]);
  emit('extstore_bytes_read', s[EStat.bytes_read]);
  emit('extstore_bytes_used', s[EStat.bytes_used]);
  // open pages, partly written, count as fragmented, as memcached computes it
  emit('extstore_bytes_fragmented', pagesUsed * ext.pageSize - s[EStat.bytes_used]);
  emit('extstore_limit_maxbytes', ext.pageCount * ext.pageSize);
  emit('extstore_io_queue', ext.ioQueue()); // reads submitted by gets and not back
}

/** `stats extstore`: each page's version, bytes used, bucket and free bucket ("<page>:version" ...). */
export function extstorePages(ext: Extstore, emit: Emit): void {
  const d: PageData = { version: 0, bytes: 0, bucket: 0, freeBucket: 0 };
  for (let p = 0; p < ext.pageCount; p++) {
    ext.pageData(p, d);
    emit(`${p}:version`, d.version);
    emit(`${p}:bytes`, d.bytes);
    emit(`${p}:bucket`, d.bucket);
    emit(`${p}:free_bucket`, d.freeBucket);
  }
}
