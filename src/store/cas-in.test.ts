// An explicit CAS at link time (memcached's cas_in; the meta protocol's E flag): every path that links or
// rewrites an item can take the client's value instead of the shared counter's next, and the counter is
// then left alone.

import { test } from "node:test";
import assert from "node:assert/strict";
import { b, casOfKey, get, newStore, put } from "./test-support.ts";
import { CAS_NEXT } from "./items.ts";
import { addDelta } from "./delta.ts";
import { DeltaResult, StoreOp, StoreResult } from "./results.ts";
import type { Store } from "./store.ts";

const E = 2 ** 53 - 1; // the largest CAS a JS number carries exactly: both 32-bit halves in use

/** alloc key=value, doStoreItem under the lock with newCas, release: as ms with E does. */
function putWithCas(st: Store, key: string, value: string, op: StoreOp, casIn: number, newCas: number): StoreResult {
  const k = b(key), v = b(value + "\r\n");
  const it = st.itemAlloc(k, 0, k.length, 0, 0, v.length);
  st.itemWriteValue(it, 0, v, 0, v.length);
  const hv = st.hash(k, 0, k.length);
  st.itemLock(hv);
  let r: StoreResult;
  try { r = st.doStoreItem(it, op, hv, casIn, newCas); } finally { st.itemUnlock(hv); }
  st.itemRelease(it);
  return r;
}

test("set with an explicit CAS: a new key and a replaced one take it; lastCas reports it", () => {
  const st = newStore();
  assert.equal(putWithCas(st, "k", "a", StoreOp.SET, 0, 1000), StoreResult.STORED);
  assert.equal(st.lastCas, 1000);
  assert.equal(casOfKey(st, "k"), 1000);
  assert.equal(putWithCas(st, "k", "b", StoreOp.SET, 0, E), StoreResult.STORED);
  assert.equal(casOfKey(st, "k"), E);
  assert.equal(get(st, "k"), "b");
});

test("the counter is not drawn for an explicit CAS: the next ordinary link continues from the last one", () => {
  const st = newStore();
  put(st, "a", "1");
  const before = st.lastCas;
  putWithCas(st, "b", "2", StoreOp.SET, 0, 777);
  put(st, "c", "3");
  assert.equal(st.lastCas, before + 1);
});

test("CAS_NEXT is the ordinary path: the counter's next value", () => {
  const st = newStore();
  put(st, "a", "1");
  const before = st.lastCas;
  assert.equal(putWithCas(st, "b", "2", StoreOp.SET, 0, CAS_NEXT), StoreResult.STORED);
  assert.equal(casOfKey(st, "b"), before + 1);
});

test("cas op: the compare uses casIn, the stored item gets newCas; a mismatch changes nothing", () => {
  const st = newStore();
  putWithCas(st, "k", "a", StoreOp.SET, 0, 50);
  assert.equal(putWithCas(st, "k", "b", StoreOp.CAS, 49, 60), StoreResult.EXISTS);
  assert.equal(casOfKey(st, "k"), 50);
  assert.equal(putWithCas(st, "k", "b", StoreOp.CAS, 50, 60), StoreResult.STORED);
  assert.equal(casOfKey(st, "k"), 60);
  assert.equal(get(st, "k"), "b");
});

test("append and prepend link their joined item with newCas", () => {
  const st = newStore();
  put(st, "k", "mid");
  assert.equal(putWithCas(st, "k", "<", StoreOp.PREPEND, 0, 11), StoreResult.STORED);
  assert.equal(st.lastCas, 11);
  assert.equal(putWithCas(st, "k", ">", StoreOp.APPEND, 11, 12), StoreResult.STORED);
  assert.equal(casOfKey(st, "k"), 12);
  assert.equal(get(st, "k"), "<mid>");
});

test("doItemLink and doItemReplace take newCas", () => {
  const st = newStore();
  const k = b("k"), v = b("\r\n");
  const hv = st.hash(k, 0, 1);
  const it = st.itemAlloc(k, 0, 1, 0, 0, 2);
  st.itemWriteValue(it, 0, v, 0, 2);
  const it2 = st.itemAlloc(k, 0, 1, 0, 0, 2);
  st.itemWriteValue(it2, 0, v, 0, 2);
  st.itemLock(hv);
  try {
    st.doItemLink(it, hv, 5);
    assert.equal(st.itemCas(it), 5);
    st.doItemReplace(it, it2, hv, 4);
    assert.equal(st.itemCas(it2), 4);
  } finally { st.itemUnlock(hv); }
  st.itemRelease(it);
  st.itemRelease(it2);
  assert.equal(casOfKey(st, "k"), 4);
});

test("incr with newCas: in place and when the value grows (a new item is linked)", () => {
  const st = newStore();
  put(st, "n", "10");
  const k = b("n");
  const hv = st.hash(k, 0, 1);
  const incr = (delta: bigint, newCas: number): number => {
    st.itemLock(hv);
    try { return addDelta(st, k, 0, 1, hv, true, delta, 0, newCas); } finally { st.itemUnlock(hv); }
  };
  assert.equal(incr(1n, 300), DeltaResult.OK); // "11": same length, rewritten in place
  assert.equal(st.lastCas, 300);
  assert.equal(casOfKey(st, "n"), 300);
  assert.equal(incr(100n, 301), DeltaResult.OK); // "111": longer, relinked
  assert.equal(st.lastCas, 301);
  assert.equal(casOfKey(st, "n"), 301);
  assert.equal(get(st, "n"), "111");
});

test("-C: there is no CAS to set; an explicit one is ignored", () => {
  const st = newStore({ useCas: false });
  assert.equal(putWithCas(st, "k", "a", StoreOp.SET, 0, 99), StoreResult.STORED);
  assert.equal(casOfKey(st, "k"), 0);
});
