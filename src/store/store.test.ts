// The store's operations and rules, one test each (memcached 1.6.18 behaviour, checked against the real one).

import { test } from "node:test";
import assert from "node:assert/strict";
import { b, casOfKey, get, MB, newStore, put } from "./test-support.ts";
import { AllocError, DeleteResult, DeltaResult, StoreOp, StoreResult } from "./results.ts";
import { ThreadStat } from "../stats/thread-stats.ts";

const { SET, ADD, REPLACE, APPEND, PREPEND, CAS } = StoreOp;

test("set then get returns the value, flags, nbytes and the CAS of the link", () => {
  const st = newStore();
  assert.equal(put(st, "foo", "bar", SET, 0, 0xffffffff), StoreResult.STORED);
  const cas = st.lastCas;
  assert.equal(get(st, "foo"), "bar");
  const it = st.itemGet(b("foo"), 0, 3);
  assert.equal(st.itemFlags(it), 0xffffffff);
  assert.equal(st.itemNbytes(it), 5);
  assert.equal(st.itemNkey(it), 3);
  assert.equal(st.itemCas(it), cas);
  assert.ok(st.itemValueEndsWithCrlf(it));
  const key = Buffer.alloc(3);
  assert.equal(st.itemCopyKey(it, key, 0), 3);
  assert.equal(key.toString(), "foo");
  st.itemRelease(it);
  assert.equal(get(st, "nope"), null);
});

test("set replaces: a new item is linked, CAS grows, the old bytes stay readable through a held reference", () => {
  const st = newStore();
  put(st, "k", "one");
  const c1 = st.lastCas;
  const held = st.itemGet(b("k"), 0, 1);
  put(st, "k", "two!");
  assert.ok(st.lastCas > c1);
  assert.equal(get(st, "k"), "two!");
  const out = Buffer.alloc(5);
  st.itemCopyValue(held, out, 0);
  assert.equal(out.toString(), "one\r\n"); // immutable once linked
  assert.equal(st.itemLinked(held), false);
  st.itemRelease(held);
});

test("add stores only a missing key; replace only an existing one", () => {
  const st = newStore();
  assert.equal(put(st, "a", "1", REPLACE), StoreResult.NOT_STORED);
  assert.equal(put(st, "a", "1", ADD), StoreResult.STORED);
  assert.equal(put(st, "a", "2", ADD), StoreResult.NOT_STORED);
  assert.equal(get(st, "a"), "1");
  assert.equal(put(st, "a", "3", REPLACE), StoreResult.STORED);
  assert.equal(get(st, "a"), "3");
});

test("append and prepend need the key, keep its flags and exptime, and join the bytes", () => {
  const st = newStore();
  assert.equal(put(st, "x", "mid", APPEND), StoreResult.NOT_STORED);
  assert.equal(put(st, "x", "mid", PREPEND), StoreResult.NOT_STORED);
  put(st, "x", "mid", SET, 0, 7, st.realtime(100));
  assert.equal(put(st, "x", "END", APPEND, 0, 99, 0), StoreResult.STORED);
  assert.equal(put(st, "x", "start", PREPEND), StoreResult.STORED);
  assert.equal(get(st, "x"), "startmidEND");
  const it = st.itemGet(b("x"), 0, 1);
  assert.equal(st.itemFlags(it), 7);
  assert.equal(st.itemExptime(it), st.currentTime() + 100);
  st.itemRelease(it);
  // with a CAS: a stale one is EXISTS, the right one appends
  const cas = casOfKey(st, "x");
  assert.equal(put(st, "x", "!", APPEND, cas + 1), StoreResult.EXISTS);
  assert.equal(put(st, "x", "!", APPEND, cas), StoreResult.STORED);
  assert.equal(get(st, "x"), "startmidEND!");
});

test("append across the chained-item boundary keeps every byte", () => {
  const st = newStore();
  const big = Buffer.alloc(600_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
  put(st, "big", big.subarray(0, 400_000));
  assert.equal(put(st, "big", big.subarray(400_000), APPEND), StoreResult.STORED);
  const k = b("big");
  const it = st.itemGet(k, 0, 3);
  const out = Buffer.alloc(st.itemNbytes(it));
  st.itemCopyValue(it, out, 0);
  st.itemRelease(it);
  assert.ok(out.subarray(0, 600_000).equals(big));
  assert.equal(out.subarray(600_000).toString(), "\r\n");
});

test("cas: NOT_FOUND when missing, EXISTS on a mismatch, STORED on the current CAS", () => {
  const st = newStore();
  assert.equal(put(st, "c", "v", CAS, 12345), StoreResult.NOT_FOUND);
  put(st, "c", "v1");
  const cas = st.lastCas;
  assert.equal(put(st, "c", "v2", CAS, cas + 1), StoreResult.EXISTS);
  assert.equal(get(st, "c"), "v1");
  assert.equal(put(st, "c", "v2", CAS, cas), StoreResult.STORED);
  assert.notEqual(st.lastCas, cas);
  assert.equal(put(st, "c", "v3", CAS, cas), StoreResult.EXISTS);
  assert.equal(get(st, "c"), "v2");
});

test("delete: DELETED, then NOT_FOUND; with a CAS, EXISTS unless it matches", () => {
  const st = newStore();
  assert.equal(st.itemDelete(b("d"), 0, 1, 0), DeleteResult.NOT_FOUND);
  put(st, "d", "v");
  const cas = st.lastCas;
  assert.equal(st.itemDelete(b("d"), 0, 1, cas + 1), DeleteResult.EXISTS);
  assert.equal(get(st, "d"), "v");
  assert.equal(st.itemDelete(b("d"), 0, 1, cas), DeleteResult.DELETED);
  assert.equal(get(st, "d"), null);
  put(st, "d", "v");
  assert.equal(st.itemDelete(b("d"), 0, 1, 0), DeleteResult.DELETED);
  assert.equal(st.currItems(), 0);
});

function delta(st: ReturnType<typeof newStore>, key: string, incr: boolean, by: bigint, casIn = 0): number {
  const k = b(key);
  return st.addDelta(k, 0, k.length, incr, by, casIn);
}

test("incr/decr: 64-bit unsigned, incr wraps at 2^64, decr floors at 0", () => {
  const st = newStore();
  assert.equal(delta(st, "n", true, 1n), DeltaResult.NOT_FOUND);
  put(st, "n", "18446744073709551615");
  assert.equal(delta(st, "n", true, 1n), DeltaResult.OK);
  assert.equal(st.deltaValue, 0n);
  assert.equal(get(st, "n"), "0                   "); // in place, padded with spaces, as memcached
  assert.equal(delta(st, "n", false, 5n), DeltaResult.OK);
  assert.equal(st.deltaValue, 0n);
  put(st, "n", "10");
  assert.equal(delta(st, "n", false, 3n), DeltaResult.OK);
  assert.equal(get(st, "n"), "7 ");
  assert.equal(delta(st, "n", true, 18446744073709551615n), DeltaResult.OK);
  assert.equal(st.deltaValue, 6n); // (7 + 2^64 - 1) mod 2^64
});

test("incr that needs more digits relinks a new item with a new CAS; a held reader keeps the old bytes", () => {
  const st = newStore();
  put(st, "n", "99", SET, 0, 5, st.realtime(50));
  const held = st.itemGet(b("n"), 0, 1);
  const c0 = st.itemCas(held);
  assert.equal(delta(st, "n", true, 1n), DeltaResult.OK);
  assert.equal(get(st, "n"), "100");
  assert.notEqual(st.lastCas, c0);
  assert.equal(casOfKey(st, "n"), st.lastCas);
  const out = Buffer.alloc(4);
  st.itemCopyValue(held, out, 0);
  assert.equal(out.toString(), "99\r\n");
  st.itemRelease(held);
  const it = st.itemGet(b("n"), 0, 1);
  assert.equal(st.itemFlags(it), 5);
  assert.equal(st.itemExptime(it), st.currentTime() + 50);
  st.itemRelease(it);
  // a held reference forces a relink even when the digits fit
  const h2 = st.itemGet(b("n"), 0, 1);
  assert.equal(delta(st, "n", false, 1n), DeltaResult.OK);
  assert.equal(get(st, "n"), "99");
  st.itemRelease(h2);
});

test("incr/decr refuse non-numeric values and a mismatched CAS", () => {
  const st = newStore();
  for (const v of ["abc", "12abc", "", "-5", "18446744073709551616", " "]) {
    put(st, "v", v);
    assert.equal(delta(st, "v", true, 1n), DeltaResult.NON_NUMERIC, JSON.stringify(v));
  }
  for (const [v, want] of [[" 12", 13n], ["+4", 5n], ["-0", 1n]] as const) {
    put(st, "v", v);
    assert.equal(delta(st, "v", true, 1n), DeltaResult.OK, v);
    assert.equal(st.deltaValue, want);
  }
  put(st, "v", "1");
  const cas = st.lastCas;
  assert.equal(delta(st, "v", true, 1n, cas + 1), DeltaResult.EXISTS);
  assert.equal(delta(st, "v", true, 1n, cas), DeltaResult.OK);
  assert.equal(get(st, "v"), "2");
});

test("keys of 250 bytes are stored; 251 is a caller bug the store refuses loudly", () => {
  const st = newStore();
  const k250 = "k".repeat(250);
  assert.equal(put(st, k250, "v"), StoreResult.STORED);
  assert.equal(get(st, k250), "v");
  assert.throws(() => put(st, "k".repeat(251), "v"), RangeError);
});

test("item size limit is memcached's: header + key + 1 + value + CRLF (+ 4 with flags) <= -I", () => {
  const st = newStore();
  // memcached 1.6.18 -I 1m stores at most 1048515 value bytes under a 2-byte key, flags 0, with CAS
  const max = Buffer.alloc(1048515, 0x61);
  assert.equal(put(st, "kk", max), StoreResult.STORED);
  assert.equal(get(st, "kk")?.length, 1048515);
  assert.equal(put(st, "kk", Buffer.alloc(1048516, 0x61)), -AllocError.TOO_LARGE);
  assert.equal(put(st, "kk", Buffer.alloc(1048515 - 4, 0x61), SET, 0, 1), StoreResult.STORED);
  assert.equal(put(st, "kk", Buffer.alloc(1048515 - 3, 0x61), SET, 0, 1), -AllocError.TOO_LARGE);
  // -I 1m exactly, and 1m + 1: both too large, as memcached
  assert.equal(put(st, "kk", Buffer.alloc(MB, 0x61)), -AllocError.TOO_LARGE);
  const big = newStore({ itemSizeMax: 2 * MB });
  const v = Buffer.alloc(2 * MB - 100);
  for (let i = 0; i < v.length; i++) v[i] = i % 251;
  assert.equal(put(big, "huge", v), StoreResult.STORED);
  const it = big.itemGet(b("huge"), 0, 4);
  const out = Buffer.alloc(v.length);
  big.itemCopyValue(it, out, 0, 0, v.length);
  big.itemRelease(it);
  assert.ok(out.equals(v));
});

test("exptime: 30 days is relative, 30 days + 1 is unix time (1970: expired), negative is expired", () => {
  const st = newStore();
  const now = st.currentTime();
  assert.equal(st.realtime(0), 0);
  assert.equal(st.realtime(2592000), now + 2592000);
  assert.equal(st.realtime(2592001), 1);
  assert.equal(st.realtime(-1), 1);
  const unix = Math.floor(Date.now() / 1000) + 100;
  assert.ok(Math.abs(st.realtime(unix) - (now + 100)) <= 1);
  put(st, "rel", "v", SET, 0, 0, st.realtime(2592000));
  put(st, "abs", "v", SET, 0, 0, st.realtime(2592001));
  put(st, "neg", "v", SET, 0, 0, st.realtime(-1));
  assert.equal(get(st, "rel"), "v");
  assert.equal(get(st, "abs"), null);
  assert.equal(get(st, "neg"), null);
  assert.equal(st.stats.row[ThreadStat.get_expired], 2);
});

test("a relative exptime expires when the clock reaches it", () => {
  const st = newStore();
  put(st, "t", "v", SET, 0, 0, st.realtime(10));
  st.clockAdvance(9);
  assert.equal(get(st, "t"), "v");
  st.clockAdvance(1);
  assert.equal(get(st, "t"), null);
  assert.equal(st.currItems(), 0);
});

test("touch and get-and-touch set a new exptime", () => {
  const st = newStore();
  put(st, "t", "v", SET, 0, 0, st.realtime(10));
  const it = st.itemTouch(b("t"), 0, 1, st.realtime(100));
  assert.notEqual(it, 0);
  st.itemRelease(it);
  st.clockAdvance(50);
  const g = st.itemPeek(b("t"), 0, 1, st.realtime(5)); // gat
  st.itemPeekDone();
  assert.notEqual(g, 0);
  st.clockAdvance(5);
  assert.equal(get(st, "t"), null);
  assert.equal(st.itemTouch(b("t"), 0, 1, 0), 0);
});

test("flush_all hides everything stored before it, not what is stored after, in the same second", () => {
  const st = newStore();
  put(st, "a", "1");
  put(st, "b", "2");
  st.flushAll(0);
  put(st, "c", "3");
  assert.equal(get(st, "a"), null);
  assert.equal(get(st, "b"), null);
  assert.equal(get(st, "c"), "3");
  assert.equal(st.stats.row[ThreadStat.get_flushed], 2);
  st.clockAdvance(1);
  assert.equal(get(st, "c"), "3");
});

test("flush_all with a delay: items stay until the clock passes it", () => {
  const st = newStore();
  put(st, "a", "1");
  st.flushAll(10); // memcached: oldest_live = realtime(10) - 1, so the flush lands 9 s from now
  st.clockAdvance(8);
  assert.equal(get(st, "a"), "1");
  st.clockAdvance(1);
  assert.equal(get(st, "a"), null);
  put(st, "b", "2"); // stored in the very second the flush lands: memcached hides it too (time <= oldest_live)
  assert.equal(get(st, "b"), null);
  st.clockAdvance(1);
  put(st, "b", "2");
  assert.equal(get(st, "b"), "2");
});

test("-C: no CAS values, and cas never matches", () => {
  const st = newStore({ useCas: false });
  put(st, "k", "v");
  assert.equal(casOfKey(st, "k"), 0);
  assert.equal(put(st, "k", "w", CAS, 0), StoreResult.EXISTS);
  assert.equal(put(st, "k", "w", CAS, 1), StoreResult.EXISTS);
  st.flushAll(0);
  assert.equal(get(st, "k"), null);
});

test("-M: a full store refuses with NO_MEMORY instead of evicting", () => {
  const st = newStore({ maxBytes: 2 * MB, evictToFree: false });
  const v = Buffer.alloc(1000, 0x62);
  let n = 0, r = 0;
  for (; n < 5000; n++) {
    r = put(st, `key${n}`, v);
    if (r !== StoreResult.STORED) break;
  }
  assert.equal(r, -AllocError.NO_MEMORY);
  assert.ok(n > 1000);
  for (let i = 0; i < n; i += 97) assert.equal(get(st, `key${i}`)?.length, 1000);
  const lines = new Map<string, string | number>();
  st.reportGeneral((k, v) => lines.set(k, v));
  assert.equal(lines.get("evictions"), 0);
  assert.equal(lines.get("curr_items"), n);
});

test("-M: expired items are still reclaimed to make room", () => {
  const st = newStore({ maxBytes: 2 * MB, evictToFree: false });
  const v = Buffer.alloc(1000, 0x62);
  let n = 0;
  while (put(st, `key${n}`, v, SET, 0, 0, st.realtime(5)) === StoreResult.STORED) n++;
  assert.equal(put(st, "fresh", v), -AllocError.NO_MEMORY);
  st.clockAdvance(10);
  assert.equal(put(st, "fresh", v), StoreResult.STORED);
  assert.equal(get(st, "fresh")?.length, 1000);
  const lines = new Map<string, string | number>();
  st.reportGeneral((k, x) => lines.set(k, x));
  assert.ok(Number(lines.get("reclaimed")) >= 1);
  assert.equal(lines.get("evictions"), 0);
});

test("get_expired / get_flushed / curr_items / total_items / bytes follow memcached", () => {
  const st = newStore();
  put(st, "a", "12345");
  put(st, "a", "123");
  put(st, "b", "x");
  const s = new Map<string, string | number>();
  st.reportGeneral((k, v) => s.set(k, v));
  assert.equal(s.get("curr_items"), 2);
  assert.equal(s.get("total_items"), 3);
  // memcached's ITEM_ntotal: its header with CAS (56), the key and its NUL, the value with its \r\n
  assert.equal(s.get("bytes"), (56 + 1 + 1 + 5) + (56 + 1 + 1 + 3));
  st.resetStats();
  st.reportGeneral((k, v) => s.set(k, v));
  assert.equal(s.get("total_items"), 0);
  assert.equal(s.get("curr_items"), 2);
});
