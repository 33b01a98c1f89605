// `stats` (the store's lines), `stats items`, `stats slabs`, `stats sizes`, `stats reset`, with memcached
// 1.6.18's names in its order (items.c do_item_stats, slabs.c do_slabs_stats, memcached.c server_stats).
// Cold path: strings are fine here.

import type { Store } from "./store.ts";
import { CLASS_BASE, CLASS_WORDS, Cls, F, FG, G, Lru, LRU_BASE, LRU_WORDS, LruW, ItemField, MAX_CLASSES } from "./layout.ts";
import { SlabStat, SLAB_FIELDS, THREAD_FIELDS } from "../stats/thread-stats.ts";
import { mallocedBytes } from "./slabs.ts";

type Emit = (name: string, value: string | number) => void;

// Per-class item counters after mem_requested, in do_item_stats' order. evicted_time is not a counter
// (the age of the last evicted item) and sits in ctl: "" marks its place. memcached prints evicted_active and
// those from moves_to_cold on only while its LRU maintainer thread runs (MAINTAINER_ONLY).
const ITEM_COUNTERS = [
  "evicted", "evicted_nonzero", "", "outofmemory", "tailrepairs", "reclaimed",
  "expired_unfetched", "evicted_unfetched", "evicted_active", "crawler_reclaimed", "crawler_items_checked",
  "lrutail_reflocked", "moves_to_cold", "moves_to_warm", "moves_within_lru", "direct_reclaims",
  "hits_to_hot", "hits_to_warm", "hits_to_cold", "hits_to_temp",
] as const;
const MAINTAINER_ONLY: ReadonlySet<string> = new Set([
  "evicted_active", "moves_to_cold", "moves_to_warm", "moves_within_lru", "direct_reclaims",
  "hits_to_hot", "hits_to_warm", "hits_to_cold", "hits_to_temp",
]);

function classSum(st: Store, clsid: number, field: number): number {
  return st.stats.sumSlab(clsid, field);
}

function allClasses(st: Store, field: number): number {
  return st.stats.sumSlabAll(field);
}

/** Seconds since the tail of LRU `id` was last touched (0 when empty): `stats items`' age, the automover's sample. */
export function lruAge(st: Store, id: number): number {
  const tail = st.c32[LRU_BASE + id * LRU_WORDS + LruW.tail];
  return tail === 0 ? 0 : st.currentTime() - st.a32[tail * 2 + ItemField.time];
}

/** The store's lines of plain `stats`; see API.md for where the lead splices them. */
export function reportGeneral(st: Store, emit: Emit): void {
  emit("hash_power_level", st.hashPower());
  emit("hash_bytes", st.hashSize() * 4);
  emit("hash_is_expanding", st.hashIsExpanding() ? 1 : 0);
  if (Atomics.load(st.c32, G.slabReassign) !== 0) slabReassignStats(st, emit); // memcached: with slab_reassign only
  // memcached prints these only while the crawler is enabled, and with its LRU maintainer thread
  if (Atomics.load(st.c32, G.lruCrawler) !== 0) {
    emit("lru_crawler_running", Atomics.load(st.c32, G.crawlerRunning));
    emit("lru_crawler_starts", st.cf[F.glob + FG.crawlerStarts]);
  }
  const maintainer = st.shared.settings.lruMaintainer !== false;
  if (maintainer) emit("lru_maintainer_juggles", st.cf[F.glob + FG.maintainerJuggles]);
  emit("malloc_fails", 0);
  emit("bytes", st.currBytes());
  emit("curr_items", st.currItems());
  emit("total_items", allClasses(st, SlabStat.total_items));
  emit("slab_global_page_pool", st.c32[G.poolPages]);
  emit("expired_unfetched", allClasses(st, SlabStat.expired_unfetched));
  emit("evicted_unfetched", allClasses(st, SlabStat.evicted_unfetched));
  if (maintainer) emit("evicted_active", allClasses(st, SlabStat.evicted_active));
  emit("evictions", allClasses(st, SlabStat.evicted));
  emit("reclaimed", allClasses(st, SlabStat.reclaimed));
  emit("crawler_reclaimed", allClasses(st, SlabStat.crawler_reclaimed));
  emit("crawler_items_checked", allClasses(st, SlabStat.crawler_items_checked));
  emit("lrutail_reflocked", allClasses(st, SlabStat.lrutail_reflocked));
  if (!maintainer) return;
  emit("moves_to_cold", allClasses(st, SlabStat.moves_to_cold));
  emit("moves_to_warm", allClasses(st, SlabStat.moves_to_warm));
  emit("moves_within_lru", allClasses(st, SlabStat.moves_within_lru));
  emit("direct_reclaims", allClasses(st, SlabStat.direct_reclaims));
  emit("lru_bumps_dropped", 0);
}

function slabReassignStats(st: Store, emit: Emit): void {
  emit("slab_reassign_rescues", st.cf[F.glob + FG.reassignRescues]);
  emit("slab_reassign_chunk_rescues", st.cf[F.glob + FG.reassignChunkRescues]);
  emit("slab_reassign_evictions_nomem", st.cf[F.glob + FG.reassignEvictions]);
  emit("slab_reassign_inline_reclaim", 0);
  emit("slab_reassign_busy_items", st.cf[F.glob + FG.reassignBusy]);
  emit("slab_reassign_busy_deletes", 0);
  emit("slab_reassign_running", Atomics.load(st.c32, G.reassignSignal) !== 0 ? 1 : 0);
  emit("slabs_moved", st.cf[F.glob + FG.slabsMoved]);
}

/** `stats items`: one block per class holding items, names "items:<clsid>:<name>". */
export function reportItems(st: Store, emit: Emit): void {
  const maintainer = st.shared.settings.lruMaintainer !== false;
  for (let c = 1; c < MAX_CLASSES; c++) {
    let number = 0, bytes = 0;
    for (let seg = 0; seg < 256; seg += 64) {
      number += st.cf[F.sizes + (c | seg)];
      bytes += st.cf[F.sizesBytes + (c | seg)];
    }
    if (number === 0) continue;
    const p = `items:${c}:`;
    emit(p + "number", number);
    if (maintainer) { // memcached prints these when its LRU maintainer runs (the default), segmented or not
      emit(p + "number_hot", st.cf[F.sizes + (c | Lru.HOT)]);
      emit(p + "number_warm", st.cf[F.sizes + (c | Lru.WARM)]);
      emit(p + "number_cold", st.cf[F.sizes + (c | Lru.COLD)]);
      if (st.temporaryTtl >= 0) emit(p + "number_temp", st.cf[F.sizes + (c | Lru.TEMP)]);
      emit(p + "age_hot", lruAge(st, c | Lru.HOT));
      emit(p + "age_warm", lruAge(st, c | Lru.WARM));
    }
    emit(p + "age", lruAge(st, c | Lru.COLD));
    emit(p + "mem_requested", bytes);
    for (const name of ITEM_COUNTERS) {
      if (name === "") emit(p + "evicted_time", st.c32[CLASS_BASE + c * CLASS_WORDS + Cls.evictedTime]);
      else if (maintainer || !MAINTAINER_ONLY.has(name)) emit(p + name, classSum(st, c, SlabStat[name]));
    }
  }
}

/** `stats slabs`: every class holding pages, then active_slabs and total_malloced. */
export function reportSlabs(st: Store, emit: Emit): void {
  let active = 0;
  for (let c = 1; c <= st.nclasses; c++) {
    const base = CLASS_BASE + c * CLASS_WORDS;
    const pages = st.c32[base + Cls.pages];
    if (pages === 0) continue;
    const perslab = st.perslab[c], free = st.c32[base + Cls.freeCount];
    const p = `${c}:`;
    emit(p + "chunk_size", st.classSizes[c]);
    emit(p + "chunks_per_page", perslab);
    emit(p + "total_pages", pages);
    emit(p + "total_chunks", pages * perslab);
    emit(p + "used_chunks", pages * perslab - free);
    emit(p + "free_chunks", free);
    emit(p + "free_chunks_end", 0);
    emit(p + "get_hits", classSum(st, c, SlabStat.get_hits));
    emit(p + "cmd_set", classSum(st, c, SlabStat.set_cmds));
    emit(p + "delete_hits", classSum(st, c, SlabStat.delete_hits));
    emit(p + "incr_hits", classSum(st, c, SlabStat.incr_hits));
    emit(p + "decr_hits", classSum(st, c, SlabStat.decr_hits));
    emit(p + "cas_hits", classSum(st, c, SlabStat.cas_hits));
    emit(p + "cas_badval", classSum(st, c, SlabStat.cas_badval));
    emit(p + "touch_hits", classSum(st, c, SlabStat.touch_hits));
    active++;
  }
  emit("active_slabs", active);
  emit("total_malloced", mallocedBytes(st));
}

/** `stats reset`: zero the store's counters (memcached's item_stats_reset and the totals of stats_reset). */
export function resetStats(st: Store): void {
  for (let t = 0; t < st.stats.nthreads; t++) {
    for (let c = 0; c < MAX_CLASSES; c++) {
      for (let f = SlabStat.evicted; f < SLAB_FIELDS; f++) st.stats.resetField(t, THREAD_FIELDS + c * SLAB_FIELDS + f);
    }
  }
  for (let c = 0; c < MAX_CLASSES; c++) st.c32[CLASS_BASE + c * CLASS_WORDS + Cls.evictedTime] = 0;
  st.cf[F.glob + FG.crawlerStarts] = 0;
  st.cf[F.glob + FG.maintainerJuggles] = 0;
  st.cf[F.glob + FG.slabsMoved] = 0;
  st.cf[F.glob + FG.reassignEvictions] = 0;
  st.cf[F.glob + FG.reassignBusy] = 0;
  st.cf[F.glob + FG.reassignRescues] = 0;
  st.cf[F.glob + FG.reassignChunkRescues] = 0;
}
