// Memory is bounded by -m (and a first page per class, as memcached's) whatever is stored; eviction takes the least recently used; references pin memory.

import { test } from "node:test";
import assert from "node:assert/strict";
import { b, get, MB, newStore, put, settings } from "./test-support.ts";
import { AllocError, StoreResult } from "./results.ts";
import { ARENA_PAD } from "./layout.ts";
import { slabClassSizes, slabsClsid } from "./slabs.ts";
import { createStore, storeMemories } from "./create.ts";
import { createExtShared } from "../extstore/engine.ts";

function statsOf(report: (emit: (k: string, v: string | number) => void) => void): Map<string, string | number> {
  const m = new Map<string, string | number>();
  report((k, v) => m.set(k, v));
  return m;
}

function value(i: number, len: number): Buffer {
  const v = Buffer.alloc(len);
  v.write(`v${i}:`, "latin1");
  return v;
}

test("an item's class is the smallest whose chunks hold it, as memcached's walk of the classes finds it", () => {
  for (const over of [{}, { factor: 2 }, { factor: 1.01, chunkSizeMin: 5 }, { slabChunkMax: 16 * 1024 }]) {
    const st = newStore(over);
    const sizes = st.classSizes, last = sizes[st.nclasses];
    for (let size = 0; size <= last + 1; size += size < 4096 ? 1 : 7) {
      let want = 0;
      for (let c = 1; c <= st.nclasses; c++) if (size <= sizes[c]) { want = c; break; }
      assert.equal(slabsClsid(st, size), want, `size ${size} with ${JSON.stringify(over)}`);
    }
    assert.equal(slabsClsid(st, last), st.nclasses);
    assert.equal(slabsClsid(st, last + 1), 0);
  }
});

test("chunk sizes are memcached 1.6's defaults: 96, 120, 152, ... 524288", () => {
  const sizes = slabClassSizes(48, 1.25, MB / 2).slice(1);
  assert.deepEqual(sizes.slice(0, 6), [96, 120, 152, 192, 240, 304]);
  assert.equal(sizes[30], 82792); // class 31, as `stats slabs` of memcached 1.6.18
  assert.equal(sizes.length, 39);
  assert.equal(sizes[38], 524288);
});

test("-m 8 filled with 10x its size stays within -m, evicts, and keeps the most recent items", () => {
  const st = newStore({ maxBytes: 8 * MB });
  const len = 1000, n = Math.ceil((80 * MB) / len);
  for (let i = 0; i < n; i++) assert.equal(put(st, `key:${i}`, value(i, len)), StoreResult.STORED);
  assert.ok(st.arena.byteLength <= (8 + 39) * MB + ARENA_PAD, `arena ${st.arena.byteLength}`); // and a page per class
  for (let i = n - 1000; i < n; i++) assert.equal(get(st, `key:${i}`), value(i, len).toString("latin1"), `key:${i}`);
  let oldPresent = 0;
  for (let i = 0; i < 1000; i++) if (get(st, `key:${i}`) !== null) oldPresent++;
  assert.equal(oldPresent, 0);
  const g = statsOf((e) => st.reportGeneral(e));
  assert.equal(Number(g.get("evictions")) + Number(g.get("curr_items")), n);
  assert.equal(g.get("evicted_unfetched"), g.get("evictions"));
  const s = statsOf((e) => st.reportSlabs(e));
  assert.ok(Number(s.get("total_malloced")) <= 8 * MB);
});

test("-m 8 under mixed sizes (small to chained) goes past the limit only by each class's first page", () => {
  const st = newStore({ maxBytes: 8 * MB });
  const sizes = [10, 100, 700, 3000, 20000, 100000, 600000];
  for (let i = 0; i < 3000; i++) {
    const len = sizes[i % sizes.length];
    assert.equal(put(st, `m:${i}`, value(i, len)), StoreResult.STORED, `m:${i}`);
  }
  const slabs = statsOf((e) => st.reportSlabs(e)), classes = Number(slabs.get("active_slabs"));
  assert.ok(Number(slabs.get("total_malloced")) <= 8 * MB + classes * MB, `total_malloced ${slabs.get("total_malloced")}`);
  assert.ok(st.arena.byteLength <= (8 + 39) * MB + ARENA_PAD);
  for (let i = 2990; i < 3000; i++) assert.equal(get(st, `m:${i}`)?.length, sizes[i % sizes.length], `m:${i}`);
});

test("a class with no page takes its first one past the limit, as memcached's do_slabs_newslab; not a second", () => {
  const st = newStore({ maxBytes: 4 * MB });
  for (let i = 0; i < 40000; i++) put(st, `small:${i}`, value(i, 50)); // all 4 pages to one class
  assert.equal(statsOf((e) => st.reportSlabs(e)).get("active_slabs"), 1);
  const evicted = Number(statsOf((e) => st.reportGeneral(e)).get("evictions"));
  const bigs = 200; // 5000-byte values: 184 to a page
  for (let i = 0; i < bigs; i++) assert.equal(put(st, `big:${i}`, value(i, 5000)), StoreResult.STORED);
  const after = statsOf((e) => st.reportSlabs(e));
  assert.equal(after.get("active_slabs"), 2);
  assert.equal(after.get("total_malloced"), 5 * MB);
  const g = statsOf((e) => st.reportGeneral(e));
  assert.equal(g.get("slabs_moved"), 0, "no page was taken from the small values");
  assert.equal(Number(g.get("evictions")) - evicted, bigs - 184, "the big class evicts within its one page");
  assert.equal(get(st, "small:39999"), value(39999, 50).toString("latin1"));
  assert.equal(get(st, `big:${bigs - 1}`)?.length, 5000);
});

test("sets still being written cannot take pages from other classes: they run out of memory instead", () => {
  const st = newStore({ maxBytes: 8 * MB });
  const small = 3000;
  for (let i = 0; i < small; i++) put(st, `small:${i}`, value(i, 1000)); // ~3.5 MB of -m 8
  // 400 KB values (two to a page, not chained) allocated and never stored, as for clients that stall mid-value
  const inFlight: number[] = [];
  let refused = 0;
  for (let i = 0; i < 30; i++) {
    const k = b(`big:${i}`);
    const it = st.itemAlloc(k, 0, k.length, 0, 0, 400 * 1024);
    if (it !== 0) inFlight.push(it);
    else { assert.equal(st.allocError, AllocError.NO_MEMORY); refused++; }
  }
  assert.ok(inFlight.length > 0 && refused > 0, `${inFlight.length} allocated, ${refused} refused`);
  for (let i = 0; i < small; i++) assert.equal(get(st, `small:${i}`), value(i, 1000).toString("latin1"), `small:${i}`);
  const g = statsOf((e) => st.reportGeneral(e));
  assert.equal(g.get("slabs_moved"), 0);
  assert.equal(g.get("slab_reassign_evictions_nomem"), 0);
  for (const it of inFlight) st.itemRelease(it); // the clients hang up: their chunks come back
  const k = b("big:again");
  const again = st.itemAlloc(k, 0, k.length, 0, 0, 400 * 1024);
  assert.notEqual(again, 0);
  st.itemRelease(again);
});

test("an item held by a reader is never reused, even under eviction pressure", () => {
  const st = newStore({ maxBytes: 2 * MB });
  put(st, "pinned", value(-1, 500));
  const held = st.itemGet(b("pinned"), 0, 6);
  for (let i = 0; i < 20000; i++) put(st, `fill:${i}`, value(i, 500));
  // in use at the LRU tail: counted (lrutail_reflocked) and evicted all the same, as memcached's lru_pull_tail
  // does, but its chunk stays the reader's while every other one is reused
  assert.equal(get(st, "pinned"), null);
  assert.ok(Number(statsOf((e) => st.reportGeneral(e)).get("lrutail_reflocked")) > 0);
  for (let i = 0; i < 20000; i++) put(st, `fill:${i}`, value(i, 500));
  const out = Buffer.alloc(502);
  st.itemCopyValue(held, out, 0);
  assert.equal(out.toString("latin1"), value(-1, 500).toString("latin1") + "\r\n"); // ...but not reused
  st.itemRelease(held);
});

test("memory accounting balances: used chunks are exactly the live items' chunks", () => {
  const st = newStore({ maxBytes: 4 * MB });
  for (let i = 0; i < 5000; i++) put(st, `a:${i}`, value(i, 200));
  for (let i = 0; i < 5000; i += 2) st.itemDelete(b(`a:${i}`), 0, `a:${i}`.length, 0);
  const slabs = statsOf((e) => st.reportSlabs(e));
  let used = 0;
  for (const [k, v] of slabs) if (k.endsWith(":used_chunks")) used += Number(v);
  assert.equal(used, st.currItems());
  st.flushAll(0);
  for (let i = 0; i < 5000; i++) get(st, `a:${i}`);
  const after = statsOf((e) => st.reportSlabs(e));
  for (const [k, v] of after) if (k.endsWith(":used_chunks")) assert.equal(v, 0, k);
  assert.equal(st.currItems(), 0);
  assert.equal(st.currBytes(), 0);
});

test("what the LRU tail evicts is freed: accounting balances after heavy eviction", () => {
  const st = newStore({ maxBytes: 2 * MB });
  put(st, "pinned", value(-1, 500));
  const held = st.itemGet(b("pinned"), 0, 6); // evicted at the tail, but not freed under the reader
  for (let i = 0; i < 20000; i++) put(st, `fill:${i}`, value(i, 500));
  const general = statsOf((e) => st.reportGeneral(e));
  assert.ok(Number(general.get("evictions")) > 10000, "the tail evicted most of what was set");
  const usedChunks = (): number => {
    let used = 0;
    for (const [k, v] of statsOf((e) => st.reportSlabs(e))) if (k.endsWith(":used_chunks")) used += Number(v);
    return used;
  };
  assert.equal(get(st, "pinned"), null);
  assert.equal(usedChunks(), st.currItems() + 1, "the live items' chunks and the reader's");
  st.itemRelease(held);
  assert.equal(usedChunks(), st.currItems(), "no evicted chunk leaked");
});

test("-L preallocates the whole limit and gives every class a page", () => {
  const st = newStore({ maxBytes: 64 * MB, preallocate: true });
  assert.equal(st.arena.byteLength, 64 * MB + ARENA_PAD);
  const s = statsOf((e) => st.reportSlabs(e));
  assert.equal(s.get("active_slabs"), 39);
  assert.equal(put(st, "k", "v"), StoreResult.STORED);
});

test("cache_memlimit lowers the page budget; raising past the arena is refused", () => {
  const st = newStore({ maxBytes: 8 * MB });
  assert.equal(st.setMemLimit(4 * MB), true);
  assert.equal(st.memLimit(), 4 * MB);
  for (let i = 0; i < 20000; i++) put(st, `k${i}`, value(i, 1000));
  assert.ok(Number(statsOf((e) => st.reportSlabs(e)).get("total_malloced")) <= 4 * MB);
  assert.equal(st.setMemLimit(64 * MB), false, "past the arena (-m and a page per class)");
});

test("cache_memlimit raises the limit into the arena reserved past -m; past the reservation it is refused", () => {
  const st = newStore({ maxBytes: 8 * MB, reserveBytes: 32 * MB });
  const malloced = (): number => Number(statsOf((e) => st.reportSlabs(e)).get("total_malloced"));
  const evictions = (): number => Number(statsOf((e) => st.reportGeneral(e)).get("evictions"));
  for (let i = 0; i < 20000; i++) put(st, `a${i}`, value(i, 1000));
  assert.ok(malloced() <= 8 * MB && evictions() > 0);

  assert.equal(st.setMemLimit(16 * MB), true);
  assert.equal(st.memLimit(), 16 * MB);
  const evicted = evictions();
  for (let i = 0; i < 6000; i++) put(st, `b${i}`, value(i, 1000));
  assert.ok(malloced() > 8 * MB && malloced() <= 16 * MB, `total_malloced ${malloced()}`);
  assert.equal(evictions(), evicted, "the new pages took the new items");
  for (let i = 0; i < 6000; i++) assert.equal(get(st, `b${i}`), value(i, 1000).toString("latin1"));

  assert.equal(st.setMemLimit(64 * MB), false, "past the reserved arena");
  assert.equal(st.memLimit(), 16 * MB);
});

test("cache_memlimit is refused when memory was preallocated (-L, -e), as memcached's slabs_adjust_mem_limit", () => {
  assert.equal(newStore({ maxBytes: 64 * MB, reserveBytes: 128 * MB, preallocate: true }).setMemLimit(96 * MB), false);
  assert.equal(newStore({ maxBytes: 64 * MB, preallocate: true, prefillPool: true }).setMemLimit(32 * MB), false);
});

test("what -k locks (storeMemories) is every shared memory of the store, extstore's page table too when there is one", () => {
  const shared = createStore(settings({ trackSizes: true }));
  const memories = storeMemories(shared);
  assert.deepEqual(memories.slice(0, 2), [shared.arena, shared.hashTable], "the largest first");
  for (const m of [shared.stats, shared.log, shared.sizes]) assert.ok(memories.includes(m!));
  assert.ok(memories.every((m) => m instanceof SharedArrayBuffer) && memories.length === 6, "and the control block");
  shared.ext = createExtShared([], [2], 64 * 1024, 64 * 1024);
  assert.ok(storeMemories(shared).includes(shared.ext.buf));
});
