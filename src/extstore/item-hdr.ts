// memcached's item_hdr: what an item whose value went to external storage keeps in place of the value (flag
// ITEM_HDR): the page's version, the offset in the page and the page's id, 12 bytes where the value would begin.
// Its nbytes stays the value's, as memcached "overloads nbytes for the header it": a get answers the value's
// length before the value is read, and `bytes` counts the item as it was.

import type { Store } from '../store/store.ts';
import { ITEM_HEADER, ItemField } from '../store/layout.ts';
import { itemNtotal } from '../store/lru.ts';

function dataOffset(st: Store, it: number): number {
  return it * 8 + ITEM_HEADER + (st.a32[it * 2 + ItemField.bits] >>> 24);
}

export function hdrVersion(st: Store, it: number): number { return st.arenaView.getUint32(dataOffset(st, it), true); }
export function hdrOffset(st: Store, it: number): number { return st.arenaView.getUint32(dataOffset(st, it) + 4, true); }
export function hdrPage(st: Store, it: number): number { return st.arenaView.getUint16(dataOffset(st, it) + 8, true); }

export function setHdr(st: Store, it: number, page: number, version: number, offset: number): void {
  const at = dataOffset(st, it);
  st.arenaView.setUint32(at, version, true);
  st.arenaView.setUint32(at + 4, offset, true);
  st.arenaView.setUint16(at + 8, page, true);
}

/**
 * memcached's STORAGE_delete: a header item leaves the hash table (deleted, replaced, expired, evicted), so its
 * object on flash is no longer used; the page's counts drop, and an empty page is freed by the next maintenance.
 */
export function storageDelete(st: Store, it: number): void {
  const ext = st.ext;
  if (ext !== null) ext.delete(hdrPage(st, it), hdrVersion(st, it), 1, itemNtotal(st.a32, it));
}
