// Stat names and their order, as memcached 1.6.18 prints them (taken from a real one).

import { test } from "node:test";
import assert from "node:assert/strict";
import { get, newStore, put } from "./test-support.ts";

function names(report: (emit: (k: string, v: string | number) => void) => void): string[] {
  const out: string[] = [];
  report((k) => out.push(k));
  return out;
}

const ITEMS_1 = `number number_hot number_warm number_cold age_hot age_warm age mem_requested evicted evicted_nonzero
  evicted_time outofmemory tailrepairs reclaimed expired_unfetched evicted_unfetched evicted_active crawler_reclaimed
  crawler_items_checked lrutail_reflocked moves_to_cold moves_to_warm moves_within_lru direct_reclaims hits_to_hot
  hits_to_warm hits_to_cold hits_to_temp`.split(/\s+/);

const SLABS_1 = `chunk_size chunks_per_page total_pages total_chunks used_chunks free_chunks free_chunks_end get_hits
  cmd_set delete_hits incr_hits decr_hits cas_hits cas_badval touch_hits`.split(/\s+/);

const GENERAL = `hash_power_level hash_bytes hash_is_expanding slab_reassign_rescues slab_reassign_chunk_rescues
  slab_reassign_evictions_nomem slab_reassign_inline_reclaim slab_reassign_busy_items slab_reassign_busy_deletes
  slab_reassign_running slabs_moved lru_crawler_running lru_crawler_starts lru_maintainer_juggles malloc_fails
  bytes curr_items total_items slab_global_page_pool expired_unfetched evicted_unfetched evicted_active evictions
  reclaimed crawler_reclaimed crawler_items_checked lrutail_reflocked moves_to_cold moves_to_warm moves_within_lru
  direct_reclaims lru_bumps_dropped`.split(/\s+/);

test("stats items / slabs / sizes / the store's part of stats use memcached's names in its order", () => {
  const st = newStore();
  put(st, "a", "x");
  put(st, "b", "y".repeat(200));
  get(st, "a");
  assert.deepEqual(names((e) => st.reportItems(e)), [...ITEMS_1.map((n) => `items:1:${n}`), ...ITEMS_1.map((n) => `items:6:${n}`)]);
  assert.deepEqual(names((e) => st.reportSlabs(e)), [...SLABS_1.map((n) => `1:${n}`), ...SLABS_1.map((n) => `6:${n}`), "active_slabs", "total_malloced"]);
  assert.deepEqual(names((e) => st.reportSizes(e)), ["sizes_status"]);
  assert.deepEqual(names((e) => st.reportGeneral(e)), GENERAL);
});

test("stats slabs values: chunk size, chunks per page, pages, used and free chunks", () => {
  const st = newStore();
  put(st, "a", "x");
  const m = new Map<string, string | number>();
  st.reportSlabs((k, v) => m.set(k, v));
  assert.equal(m.get("1:chunk_size"), 96);
  assert.equal(m.get("1:chunks_per_page"), 10922);
  assert.equal(m.get("1:total_pages"), 1);
  assert.equal(m.get("1:total_chunks"), 10922);
  assert.equal(m.get("1:used_chunks"), 1);
  assert.equal(m.get("1:free_chunks"), 10921);
  assert.equal(m.get("active_slabs"), 1);
  assert.equal(m.get("total_malloced"), 1048576);
});
