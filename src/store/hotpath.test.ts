// The hot path allocates nothing: get + copy + release, and alloc + write + store + release, measured with
// V8's own count of allocated bytes over many operations (after a warm-up, so that compilation is done).
// Both the API's reference-taking calls and the ones the text get and set take (a peek under the item lock
// with the key's hash given, a store that drops the caller's reference under the lock) are measured.

import { test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import { newStore } from "./test-support.ts";
import { StoreOp, StoreResult } from "./results.ts";
import { hash } from "./hash.ts";

const N = 1000;

function setup() {
  const st = newStore();
  const keys: Buffer[] = [];
  for (let i = 0; i < N; i++) keys.push(Buffer.from(`hot:key:${i}`));
  const small = Buffer.alloc(100, 0x61), large = Buffer.alloc(5000, 0x62), crlf = Buffer.from("\r\n");
  const out = Buffer.alloc(8192);
  /** Key i's item, allocated and filled (a large value every tenth key), with the caller's reference. */
  const filledItem = (i: number): number => {
    const k = keys[i], v = i % 10 === 0 ? large : small;
    const it = st.itemAlloc(k, 0, k.length, 0, 0, v.length + 2);
    st.itemWriteValue(it, 0, v, 0, v.length);
    st.itemWriteValue(it, v.length, crlf, 0, 2);
    return it;
  };
  const setAll = (): void => {
    for (let i = 0; i < N; i++) {
      const it = filledItem(i);
      if (st.storeItem(it, StoreOp.SET, 0) !== StoreResult.STORED) throw new Error("not stored");
      st.itemRelease(it);
    }
  };
  const getAll = (): number => {
    let n = 0;
    for (let i = 0; i < N; i++) {
      const k = keys[i];
      const it = st.itemGet(k, 0, k.length);
      if (it === 0) continue;
      n += st.itemCopyValue(it, out, 0) + st.itemFlags(it) + st.itemCas(it);
      st.itemRelease(it);
    }
    return n;
  };
  // the text set's path: the caller's reference dropped under the item lock
  const setAllReleased = (): void => {
    for (let i = 0; i < N; i++) {
      if (st.storeItemRelease(filledItem(i), StoreOp.SET, 0) !== StoreResult.STORED) throw new Error("not stored");
    }
  };
  // the text get's path: no reference, the item lock held from the peek to its done
  const peekAll = (): number => {
    let n = 0;
    for (let i = 0; i < N; i++) {
      const k = keys[i];
      const it = st.itemPeekHashed(k, 0, k.length, hash(k, 0, k.length));
      try {
        if (it !== 0) n += st.itemCopyValue(it, out, 0) + st.itemFlags(it) + st.itemCas(it);
      } finally {
        st.itemPeekDone();
      }
    }
    return n;
  };
  return { setAll, getAll, setAllReleased, peekAll };
}

function allocatedBy(f: () => void): number {
  const before = v8.getHeapStatistics().total_allocated_bytes;
  f();
  return v8.getHeapStatistics().total_allocated_bytes - before;
}

test("set and get allocate nothing per operation", () => {
  const { setAll, getAll, setAllReleased, peekAll } = setup();
  for (let r = 0; r < 50; r++) { setAll(); getAll(); setAllReleased(); peekAll(); } // let the JIT settle
  // V8 allocates a fixed few hundred KB around any measured stretch (compiler, counters); what must not
  // grow is the part proportional to the work: compare 20 rounds with 120 (100k more operations each).
  const marginal = (f: () => void): number => {
    const short = allocatedBy(() => { for (let r = 0; r < 20; r++) f(); });
    const long = allocatedBy(() => { for (let r = 0; r < 120; r++) f(); });
    return long - short;
  };
  // A one-off event (a late optimization, a deopt under a loaded machine) can land in one stretch;
  // allocation per operation would be in every one: take the least of three.
  const least = (f: () => void): number => Math.min(marginal(f), marginal(f), marginal(f));
  // even 8 bytes per operation would show as 800 KB
  const paths: Array<[string, () => unknown]> = [
    ["set", setAll], ["get", getAll], ["text set (storeItemRelease)", setAllReleased], ["text get (itemPeekHashed)", peekAll],
  ];
  for (const [name, run] of paths) {
    const bytes = least(() => { run(); });
    assert.ok(bytes < 200 * 1024, `${name} path: ${bytes} more bytes for 100k more operations`);
  }
});
