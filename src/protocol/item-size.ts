// memcached's item_size_ok: whether an item fits -I is judged by memcached's own item size (its
// 48-byte header, the key and its NUL, 4 bytes of flags when non-zero, 8 of CAS), so the largest
// storable value is the same byte for byte whatever our own header costs.

import type { Settings } from '../settings.ts';

const MEMCACHED_ITEM_HEADER = 48;

export function itemSizeOk(s: Settings, nkey: number, flags: number, nbytes: number): boolean {
  const ntotal = MEMCACHED_ITEM_HEADER + nkey + 1 + (flags !== 0 ? 4 : 0) + nbytes + (s.useCas ? 8 : 0);
  return ntotal <= s.itemSizeMax;
}
