// memcached's item size histogram (item_stats_sizes_*): with `-o track_sizes`, or after `stats sizes_enable`,
// every item linked counts in the 32-byte bucket of its memcached size (ITEM_ntotal) and uncounts when unlinked;
// `stats sizes` lists the buckets that are not empty. Items older than the enabling (a smaller CAS) are left
// out, as memcached does. The buckets (one Int32 per 32 bytes of -I) are one shared buffer, made at start when
// they take at most 1 MiB (-I 8m) or -o track_sizes asks; otherwise enabling answers memcached's no_memory.
// memcached makes its buckets when the histogram starts: -o track_sizes does that as the option is read, with the
// -I given before it (1 MB when none was), so an item larger than that is not counted (G.sizesBuckets); and it
// takes a CAS as its mark unless -C came before, so under a later -C (every item's CAS 0) nothing is counted.

import type { Store } from "./store.ts";
import { FG, F, G } from "./layout.ts";
import { casOf } from "./items.ts";
import { itemNtotal } from "./lru.ts";

const SIZES_BYTES_ALWAYS = 1024 * 1024;

/** The histogram's buffer, or null when none is kept (see above). */
export function createSizesBuffer(itemSizeMax: number, trackSizes: boolean): SharedArrayBuffer | null {
  const bytes = (Math.floor(itemSizeMax / 32) + 1) * 4;
  return trackSizes || bytes <= SIZES_BYTES_ALWAYS ? new SharedArrayBuffer(bytes) : null;
}

/** What memcached's item_stats_sizes_init reads when -o track_sizes runs it: -I and whether CAS is on (!-C). */
export type SizesInit = { itemSizeMax: number; useCas: boolean };

/** memcached's stats_sizes_buckets for items up to itemSizeMax, within the buffer's. */
export function sizesBucketsFor(itemSizeMax: number, sizes: SharedArrayBuffer | null): number {
  return sizes === null ? 0 : Math.min(Math.floor(itemSizeMax / 32) + 1, sizes.byteLength / 4);
}

/** item_stats_sizes_add / _remove (item lock held): `delta` is 1 when the item is linked, -1 when unlinked. */
export function sizesCount(st: Store, it: number, delta: number): void {
  const hist = st.sizes, a32 = st.a32;
  if (hist === null || casOf(a32, it) < st.cf[F.glob + FG.sizesCasMin]) return;
  const ntotal = itemNtotal(a32, it);
  const bucket = Math.ceil(ntotal / 32);
  if (bucket < st.c32[G.sizesBuckets]) Atomics.add(hist, bucket, delta);
}

/** item_stats_sizes_enable: what it answers, as memcached's sizes_status (and sizes_error) lines. */
export function sizesEnable(st: Store): Array<[string, string]> {
  if (!st.useCas) return [["sizes_status", "error"], ["sizes_error", "cas_support_disabled"]];
  if (st.sizes === null) return [["sizes_status", "error"], ["sizes_error", "no_memory"]];
  if (Atomics.load(st.c32, G.sizesOn) === 0) {
    st.sizes.fill(0);
    st.c32[G.sizesBuckets] = st.sizes.length; // made now, for the -I the server runs with
    st.cf[F.glob + FG.sizesCasMin] = st.nextCas(); // memcached takes a CAS of its own for the mark
    Atomics.store(st.c32, G.sizesOn, 1);
  }
  return [["sizes_status", "enabled"]];
}

/** item_stats_sizes_disable: the counts are dropped. */
export function sizesDisable(st: Store): Array<[string, string]> {
  Atomics.store(st.c32, G.sizesOn, 0);
  return [["sizes_status", "disabled"]];
}

/** item_stats_sizes: "STAT <bytes> <items>" per bucket in use, or the status when off. */
export function reportSizes(st: Store, emit: (name: string, value: string | number) => void): void {
  const hist = st.sizes;
  if (hist === null || Atomics.load(st.c32, G.sizesOn) === 0) { emit("sizes_status", "disabled"); return; }
  for (let i = 0; i < hist.length; i++) if (hist[i] !== 0) emit(String(i * 32), hist[i]);
}
