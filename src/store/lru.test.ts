// Segmented LRU (HOT / WARM / COLD) moves, bumps, reclaim and eviction order, as memcached 1.6's items.c.

import { test } from "node:test";
import assert from "node:assert/strict";
import { b, get, MB, newStore, put } from "./test-support.ts";
import { ItemFlag, Lru } from "./layout.ts";
import { DeltaResult, StoreOp, StoreResult } from "./results.ts";
import { doItemGetUnlogged } from "./items.ts";
import { doItemLinkQ, doItemUnlinkQ, lruPullTail, LruPull } from "./lru.ts";
import { SlabStat, ThreadStat } from "../stats/thread-stats.ts";
import type { Store } from "./store.ts";

function segOf(st: Store, key: string): number {
  const k = b(key);
  const it = st.itemGet(k, 0, k.length);
  const bits = st.a32[it * 2 + 7];
  st.itemRelease(it);
  return (bits >>> 16) & 0xc0;
}

function items(st: Store): Map<string, number> {
  const m = new Map<string, number>();
  st.reportItems((k, v) => m.set(k, Number(v)));
  return m;
}

/** The class whose HOT list is not empty (one class in use). */
function clsOfHead(st: Store): number {
  for (let c = 1; c < 64; c++) if (st.lruHead(c) !== 0) return c;
  return 0;
}

function clsOf(st: Store, key: string): number {
  const k = b(key);
  const it = st.itemGet(k, 0, k.length);
  const c = st.itemClsid(it);
  st.itemRelease(it);
  return c;
}

test("new items enter HOT; a pull with no HOT budget moves the tail to COLD", () => {
  const st = newStore();
  put(st, "a", "1");
  put(st, "b", "2");
  const c = clsOf(st, "a");
  assert.equal(items(st).get(`items:${c}:number_hot`), 2);
  assert.equal(lruPullTail(st, c, Lru.HOT, 0, 0, 0), 1);
  assert.equal(st.lruTail(c | Lru.COLD) !== 0, true);
  const m = items(st);
  assert.equal(m.get(`items:${c}:number_hot`), 1);
  assert.equal(m.get(`items:${c}:number_cold`), 1);
  assert.equal(m.get(`items:${c}:moves_to_cold`), 1);
});

test("a second fetch makes an item ACTIVE: HOT tail flows to WARM, a COLD item is bumped to WARM", () => {
  const st = newStore();
  put(st, "hot", "1");
  const c = clsOf(st, "hot"); // first fetch: FETCHED
  get(st, "hot"); // second: ACTIVE
  assert.equal(lruPullTail(st, c, Lru.HOT, 0, 0, 0), 1);
  assert.equal(segOf(st, "hot"), Lru.WARM);
  put(st, "cold", "2");
  lruPullTail(st, c, Lru.HOT, 0, 0, 0);
  assert.equal(segOf(st, "cold"), Lru.COLD); // that was its first fetch
  get(st, "cold"); // second fetch, in COLD: back to WARM at once
  assert.equal(segOf(st, "cold"), Lru.WARM);
  const m = items(st);
  assert.equal(m.get(`items:${c}:moves_to_warm`), 2);
  assert.ok(Number(m.get(`items:${c}:hits_to_cold`)) >= 1);
  assert.ok(Number(m.get(`items:${c}:hits_to_hot`)) >= 1);
});

test("eviction takes the COLD tail: the least recently stored, unfetched item", () => {
  const st = newStore({ maxBytes: 1 * MB });
  const v = Buffer.alloc(900, 0x61);
  put(st, "k0", v);
  const c = st.itemClsid(st.lruHead(clsOfHead(st)));
  let i = 1;
  while (!items(st).get(`items:${c}:evicted`)) {
    put(st, `k${i++}`, v);
    assert.ok(i < 5000);
  }
  const m = items(st);
  assert.equal(get(st, "k0"), null);
  assert.notEqual(get(st, `k${i - 1}`), null);
  assert.equal(m.get(`items:${c}:evicted`), 1);
  assert.equal(m.get(`items:${c}:evicted_unfetched`), 1);
  assert.equal(m.get(`items:${c}:evicted_nonzero`), 0);
});

test("an expired item at a tail is reclaimed, counting reclaimed and expired_unfetched", () => {
  const st = newStore();
  put(st, "gone", "1", StoreOp.SET, 0, 0, st.realtime(5));
  put(st, "stays", "1");
  const c = clsOf(st, "stays");
  st.clockAdvance(10);
  // a large HOT budget and age: only the expired tail is touched
  assert.equal(lruPullTail(st, c, Lru.HOT, 1e12, 0, 1000), 1);
  const m = items(st);
  assert.equal(m.get(`items:${c}:reclaimed`), 1);
  assert.equal(m.get(`items:${c}:expired_unfetched`), 1);
  assert.equal(m.get(`items:${c}:number`), 1);
});

test("-M: a COLD pull with EVICT refuses to evict", () => {
  const st = newStore({ evictToFree: false });
  put(st, "a", "1");
  const c = clsOf(st, "a");
  lruPullTail(st, c, Lru.HOT, 0, 0, 0);
  assert.equal(lruPullTail(st, c, Lru.COLD, 0, LruPull.EVICT, 0), 0);
  assert.equal(get(st, "a"), "1");
});

test("non-segmented LRU (-o no_lru_segmented): reads mark FETCHED and refresh at most once a minute", () => {
  const st = newStore({ lruSegmented: false });
  put(st, "a", "1");
  const k = b("a");
  const it = st.itemGet(k, 0, 1);
  const t0 = st.itemTime(it);
  st.itemRelease(it);
  st.clockAdvance(30);
  get(st, "a");
  const it2 = st.itemGet(k, 0, 1);
  assert.equal(st.itemTime(it2), t0);
  assert.ok(st.itemFetched(it2));
  st.itemRelease(it2);
  st.clockAdvance(31);
  get(st, "a");
  const it3 = st.itemGet(k, 0, 1);
  assert.equal(st.itemTime(it3), t0 + 61);
  st.itemRelease(it3);
});

test("meta bits: FETCHED, STALE, TOKEN_SENT have getters and setters", () => {
  const st = newStore();
  put(st, "m", "1");
  const it = st.itemGet(b("m"), 0, 1);
  assert.equal(st.itemStale(it), false);
  st.itemSetStale(it, true);
  st.itemSetTokenSent(it, true);
  assert.equal(st.itemStale(it), true);
  assert.equal(st.itemTokenSent(it), true);
  st.itemSetTokenSent(it, false);
  assert.equal(st.itemTokenSent(it), false);
  st.itemSetFetched(it, false);
  assert.equal(st.itemFetched(it), false);
  st.itemRelease(it);
});

test("curr_items and bytes count the hash table, not the LRUs: an item on its way between two still counts", () => {
  const st = newStore();
  put(st, "a", "1");
  put(st, "b", "22");
  const general = (): Map<string, number> => {
    const m = new Map<string, number>();
    st.reportGeneral((k, v) => m.set(k, Number(v)));
    return m;
  };
  const before = general();
  assert.equal(before.get("curr_items"), 2);
  // lruPullTail moving the tail from HOT to COLD: unlinked from HOT under HOT's lock, linked into COLD
  // only after that lock is let go. A `stats` answered in between must not miss it.
  const k = b("a");
  const it = st.itemGet(k, 0, k.length);
  const hot = (st.a32[it * 2 + 7] >>> 16) & 0xff;
  doItemUnlinkQ(st, it, hot);
  const between = general();
  assert.equal(between.get("curr_items"), 2);
  assert.equal(between.get("bytes"), before.get("bytes"));
  doItemLinkQ(st, it, hot);
  st.itemRelease(it);
  assert.deepEqual(general(), before);
});

test("stats reset keeps curr_items and bytes", () => {
  const st = newStore();
  put(st, "a", "1");
  const bytes = st.currBytes();
  st.stats.resetAll([ThreadStat.curr_items, ThreadStat.curr_bytes]);
  assert.equal(st.currItems(), 1);
  assert.equal(st.currBytes(), bytes);
  assert.equal(st.stats.sumSlabAll(SlabStat.total_items), 0);
});

/** The item of key, found without a fetch (no FETCHED, ACTIVE or move), or 0. */
function peekIt(st: Store, key: string): number {
  const k = b(key), hv = st.hash(k, 0, k.length);
  st.itemLock(hv);
  try {
    const it = doItemGetUnlogged(st, k, 0, k.length, hv);
    if (it !== 0) st.itemRelease(it); // the table's reference keeps it
    return it;
  } finally { st.itemUnlock(hv); }
}

const segOfIt = (st: Store, it: number): number => (st.a32[it * 2 + 7] >>> 16) & 0xc0;

test("do_item_update, segmented: an incr in place or an add that finds the item refreshes its time where it is", () => {
  const st = newStore();
  put(st, "a", "1");
  put(st, "b", "2"); // HOT: b, then a
  const a = peekIt(st, "a"), c = st.itemClsid(a);
  const k = b("a");
  st.a32[a * 2 + 3] = st.currentTime() - 100; // older than ITEM_UPDATE_INTERVAL, where flat mode would move it
  assert.equal(st.addDelta(k, 0, 1, true, 1n, 0), DeltaResult.OK);
  assert.equal(peekIt(st, "a"), a); // rewritten in place
  assert.equal(st.itemTime(a), st.currentTime());
  assert.equal(st.lruHead(c | Lru.HOT), peekIt(st, "b")); // not moved to the head
  st.a32[a * 2 + 3] = st.currentTime() - 100;
  assert.equal(put(st, "a", "x", StoreOp.ADD), StoreResult.NOT_STORED);
  assert.equal(st.itemTime(a), st.currentTime());
  assert.equal(st.lruHead(c | Lru.HOT), peekIt(st, "b"));
});

test("do_item_update, segmented: an ACTIVE item left in COLD goes to WARM when an incr rewrites it in place", () => {
  const st = newStore();
  put(st, "n", "10");
  const n = peekIt(st, "n"), c = st.itemClsid(n);
  lruPullTail(st, c, Lru.HOT, 0, 0, 0);
  assert.equal(segOfIt(st, n), Lru.COLD);
  st.a32[n * 2 + 7] |= ItemFlag.ACTIVE; // as a second fetch whose move to WARM found an LRU lock taken leaves it
  assert.equal(st.addDelta(b("n"), 0, 1, true, 1n, 0), DeltaResult.OK);
  assert.equal(peekIt(st, "n"), n);
  assert.equal(segOfIt(st, n), Lru.WARM);
  assert.equal(st.itemActive(n), false);
  assert.equal(items(st).get(`items:${c}:moves_to_warm`), 1);
});

test("segmented, a store that finds COLD unable to evict (-M) pulls HOT down and never WARM, its maintainer's to pull", () => {
  const st = newStore({ evictToFree: false, maxBytes: MB });
  let n = 0;
  while (put(st, `k${n}`, "v") === StoreResult.STORED) n++;
  const c = clsOf(st, "k0");
  for (let round = 0; round < 2; round++) for (let i = 0; i < n; i++) get(st, `k${i}`); // ACTIVE
  while (lruPullTail(st, c, Lru.HOT, 0, 0, 0) > 0); // the active flow to WARM
  const before = items(st);
  assert.equal(before.get(`items:${c}:number_hot`), 0);
  assert.ok((before.get(`items:${c}:number_warm`) ?? 0) > 0);
  assert.ok(put(st, "one-more", "v") < 0, "out of memory");
  const after = items(st);
  for (const seg of ["hot", "warm", "cold"]) assert.equal(after.get(`items:${c}:number_${seg}`), before.get(`items:${c}:number_${seg}`), seg);
});
