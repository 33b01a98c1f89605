// Pins the shared layouts: a change here changes every thread's view of memory (README.md draws them).

import { test } from "node:test";
import assert from "node:assert/strict";
import { CACHE_LINE_WORDS, CLASS_WORDS, ctlLayout, F, F_WORDS, G, GLOBAL_WORDS, LOCK_STRIDE, LRU_WORDS, ITEM_HEADER, ItemField, ItemFlag, Lru, LRU_BASE, MAX_CLASSES, PAGE_BASE } from "./layout.ts";

test("the item header is 48 bytes: 12 Int32 fields, memcached's sizeof(item)", () => {
  assert.equal(ITEM_HEADER, 48);
  const fields = Object.values(ItemField);
  assert.equal(fields.length * 4, ITEM_HEADER);
  assert.deepEqual([...fields].sort((a, b) => a - b), fields.map((_, i) => i));
});

test("item flags and LRU ids are memcached's values", () => {
  assert.deepEqual({ ...ItemFlag }, {
    LINKED: 1, CAS: 2, SLABBED: 4, FETCHED: 8, ACTIVE: 16, CHUNKED: 32, CHUNK: 64,
    HDR: 128, KEY_BINARY: 256, TOKEN_SENT: 512, STALE: 1024,
  });
  assert.deepEqual({ ...Lru }, { HOT: 0, WARM: 64, COLD: 128, TEMP: 192 });
});

test("ctl regions do not overlap and the Float64 tail is 8-byte aligned", () => {
  assert.ok(Math.max(...Object.values(G)) < GLOBAL_WORDS);
  assert.equal(LRU_BASE, GLOBAL_WORDS + MAX_CLASSES * CACHE_LINE_WORDS);
  assert.equal(PAGE_BASE, LRU_BASE + 256 * CACHE_LINE_WORDS);
  const lay = ctlLayout(64, 12);
  assert.ok(lay.lockBase >= PAGE_BASE + 64);
  assert.equal(lay.f64Offset % 8, 0);
  assert.ok(lay.f64Offset >= (lay.lockBase + 4096 * LOCK_STRIDE) * 4);
  assert.equal(lay.bytes, lay.f64Offset + F_WORDS * 8);
  assert.ok(F.glob + 16 <= F_WORDS);
});

test("words that different threads write often are on different cache lines", () => {
  const line = (word: number): number => Math.floor(word / CACHE_LINE_WORDS);
  const groups = [line(G.clock), line(G.casLock), line(G.slabLock), line(G.hashItems)];
  assert.equal(new Set(groups).size, groups.length, "read-mostly, CAS, slabs and hash-count words apart");
  assert.equal(line(G.casHi), line(G.casLock), "the CAS counter beside its own lock");
  assert.equal(CACHE_LINE_WORDS * 4, 64);
  for (const power of [10, 13]) {
    const lay = ctlLayout(100, power);
    assert.equal(lay.lockBase % CACHE_LINE_WORDS, 0, "item locks start on a line");
    assert.equal(LOCK_STRIDE % CACHE_LINE_WORDS, 0, "one item lock per line");
  }
  assert.equal(CLASS_WORDS, CACHE_LINE_WORDS);
  assert.equal(LRU_WORDS, CACHE_LINE_WORDS);
});
