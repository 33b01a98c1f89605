// The page mover reads the moving page without the slabs lock, so a data chunk it found may belong to another
// item by the time it holds the head item's lock. It then leaves that item alone (CHANGED) and looks again on
// the next pass: evicting it would drop an item with nothing in the page (a race the stress hunt saw lose keys).

import { test } from "node:test";
import assert from "node:assert/strict";
import { b, get, newStore, put } from "./test-support.ts";
import { ItemField } from "./layout.ts";
import { pageOffset } from "./slabs.ts";
import { Moved, rescueOrEvict } from "./slab-mover.ts";

/** The item `key` names (its header), with no reference kept. */
function itemOf(st: ReturnType<typeof newStore>, key: string): number {
  const k = b(key);
  const it = st.itemGet(k, 0, k.length);
  assert.notEqual(it, 0, key);
  st.itemRelease(it);
  return it;
}

test("a chunk that is not in the named item's chain is CHANGED: that item is neither moved nor evicted", () => {
  const st = newStore();
  const big = "c".repeat(700_000); // past slab_chunk_max: a header and data chunks
  put(st, "chained", big);
  put(st, "bystander", "just an item");
  put(st, "other", "x".repeat(700_000));
  const chunk = st.a32[itemOf(st, "chained") * 2 + ItemField.chain];
  const chunkClass = (st.a32[chunk * 2 + ItemField.bits] >>> 16) & 63;
  const page = Math.floor((chunk * 8 - pageOffset(st, 0)) / st.pageSize);
  const evictions = (): string | undefined => { let n: string | undefined; st.reportGeneral((k, v) => { if (k === "slab_reassign_evictions_nomem") n = String(v); }); return n; };
  // the chunk's head pointer read before the chunk changed hands: a plain item, or another chained one
  for (const wrong of ["bystander", "other"]) {
    assert.equal(rescueOrEvict(st, itemOf(st, wrong), chunkClass, chunk, page), Moved.CHANGED, wrong);
  }
  assert.equal(get(st, "bystander"), "just an item");
  assert.equal(get(st, "other"), "x".repeat(700_000));
  assert.equal(get(st, "chained"), big);
  assert.equal(evictions(), "0");
});
