// Pins the shared layouts: a change here changes every thread's view of memory (README.md draws them).

import { test } from "node:test";
import assert from "node:assert/strict";
import { ctlLayout, F, F_WORDS, G, GLOBAL_WORDS, ITEM_HEADER, ItemField, ItemFlag, Lru, LRU_BASE, MAX_CLASSES, PAGE_BASE } from "./layout.ts";

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
  assert.equal(LRU_BASE, GLOBAL_WORDS + MAX_CLASSES * 8);
  assert.equal(PAGE_BASE, LRU_BASE + 256 * 4);
  const lay = ctlLayout(64, 12);
  assert.equal(lay.lockBase, PAGE_BASE + 64);
  assert.equal(lay.f64Offset % 8, 0);
  assert.ok(lay.f64Offset >= (lay.lockBase + 4096) * 4);
  assert.equal(lay.bytes, lay.f64Offset + F_WORDS * 8);
  assert.ok(F.glob + 16 <= F_WORDS);
});
