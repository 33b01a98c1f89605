// memcached's item_size_ok: whether an item fits -I is judged by memcached's item size, which is
// also what our items take (store/lru.ts ntotalOf), so the largest storable value is memcached's.

import type { Settings } from '../settings/settings.ts';
import { ntotalOf } from '../store/lru.ts';

export function itemSizeOk(s: Settings, nkey: number, flags: number, nbytes: number): boolean {
  return ntotalOf(nkey, flags, nbytes, s.useCas) <= s.itemSizeMax;
}
