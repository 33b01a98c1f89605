import { test } from "node:test";
import assert from "node:assert/strict";
import { b, get, newStore, put } from "./test-support.ts";
import { StoreOp, StoreResult } from "./results.ts";

test("set then get returns the value, flags and a CAS", () => {
  const st = newStore();
  assert.equal(put(st, "foo", "bar", StoreOp.SET, 0, 42), StoreResult.STORED);
  assert.equal(get(st, "foo"), "bar");
  const it = st.itemGet(b("foo"), 0, 3);
  assert.equal(st.itemFlags(it), 42);
  assert.equal(st.itemNbytes(it), 5);
  assert.equal(st.itemCas(it), st.lastCas);
  assert.ok(st.itemCas(it) > 0);
  st.itemRelease(it);
  assert.equal(get(st, "nope"), null);
});
