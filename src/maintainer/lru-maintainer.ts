// memcached's lru_maintainer_juggle (items.c): per class, move HOT/WARM overflow and idle items down to COLD,
// ACTIVE COLD items back up to WARM, and reclaim expired tails. Runs in the maintainer thread.

import type { Store } from "../store/store.ts";
import * as layout from "../store/layout.ts";
import { lruPullTail } from "../store/lru.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { F, LRU_BASE, LRU_WORDS, LruW, ItemField, Lru } = layout;

function tailAge(st: Store, id: number): number {
  const tail = st.c32[LRU_BASE + id * LRU_WORDS + LruW.tail];
  return tail === 0 ? 0 : st.currentTime() - st.a32[tail * 2 + ItemField.time];
}

/** Returns how many rounds moved something (memcached's did_moves). */
export function lruMaintainerJuggle(st: Store, clsid: number): number {
  let hotAge = 0, warmAge = 0, total = 0;
  if (st.lruSegmented) {
    const coldAge = tailAge(st, clsid | Lru.COLD);
    hotAge = coldAge * st.hotMaxFactor;
    warmAge = coldAge * st.warmMaxFactor;
    total = st.cf[F.sizesBytes + (clsid | Lru.COLD)] + st.cf[F.sizesBytes + (clsid | Lru.HOT)] +
      st.cf[F.sizesBytes + (clsid | Lru.WARM)];
  }
  let did = 0;
  if (st.temporaryTtl >= 0) { // TEMP only ever reclaims its expired tail
    for (let i = 0; i < 500 && lruPullTail(st, clsid, Lru.TEMP, 0, 0, 0) > 0; i++) did++;
  }
  for (let i = 0; i < 500; i++) {
    let more = 0;
    if (lruPullTail(st, clsid, Lru.HOT, total, 0, hotAge) > 0 || lruPullTail(st, clsid, Lru.WARM, total, 0, warmAge) > 0) more++;
    if (st.lruSegmented) more += lruPullTail(st, clsid, Lru.COLD, 0, 0, 0);
    if (more === 0) break;
    did++;
  }
  return did;
}

export function classHasItems(st: Store, clsid: number): boolean {
  return st.cf[F.sizes + clsid] + st.cf[F.sizes + (clsid | Lru.WARM)] + st.cf[F.sizes + (clsid | Lru.COLD)] +
    st.cf[F.sizes + (clsid | Lru.TEMP)] > 0;
}
