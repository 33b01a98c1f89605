// The hash table, as memcached's assoc.c: buckets of item refs (Int32) chained through ItemField.hNext,
// in a SharedArrayBuffer sized for the largest table (the OS commits it as touched). Expansion doubles the
// table in place: bucket i splits into i and
// i + oldsize, one bucket at a time under that bucket's item lock, while every other thread goes on.
// A bucket's index keeps the low bits of the hash, and the item lock table is never larger than the hash
// table, so all items of one bucket share one item lock: "holding the item lock for hv" guards its chain.

import type { Store } from "./store.ts";
import * as layout from "./layout.ts";
import { hash } from "./hash.ts";
import * as hashModule from "./hash.ts";
import { writeErr } from "../libc/stdio.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { G, HASH_EXPANDING, ITEM_HEADER, ItemField } = layout;
const { keyWords } = hashModule;

const HASH_BULK_MOVE = 64; // buckets split per expansion step

/** The bucket of hv now (item lock for hv held, so its bucket cannot be split under us). */
export function bucketOf(st: Store, hv: number): number {
  // The words that matter for this bucket are written under its item lock, which we hold; a stale view of the
  // start of an expansion (old power, not expanding) names the same, unsplit bucket. The state is read with an
  // atomic load (the mutexes' wasm one: Atomics.load's order without the builtin call; a plain load on x86): its
  // store follows expandBucket's reset, and on a weaker memory order (ARM) a plain load could see the new state
  // with the last expansion's expandBucket, and name a bucket not split yet.
  const state = st.locks.load(G.hashState);
  const power = state & 0xff;
  if ((state & HASH_EXPANDING) !== 0) {
    const oldIdx = hv & ((1 << (power - 1)) - 1);
    if (oldIdx >= st.c32[G.expandBucket]) return oldIdx;
  }
  return hv & ((1 << power) - 1);
}

/** Typed arrays use the platform's byte order; keyEquals reads the item's key as little-endian words. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function keyEquals(st: Store, it: number, buf: Uint8Array, off: number, len: number): boolean {
  const a32 = st.a32;
  if (a32[it * 2 + ItemField.bits] >>> 24 !== len) return false;
  let i = 0;
  if (LITTLE_ENDIAN) {
    // The key starts right after the header, word-aligned: one Int32 load covers four of its bytes.
    const w = it * 2 + ITEM_HEADER / 4;
    for (; i + 4 <= len; i += 4) {
      const four = buf[off + i] | (buf[off + i + 1] << 8) | (buf[off + i + 2] << 16) | (buf[off + i + 3] << 24);
      if (a32[w + (i >> 2)] !== four) return false;
    }
  }
  const a8 = st.a8, k = it * 8 + ITEM_HEADER;
  for (; i < len; i++) if (a8[k + i] !== buf[off + i]) return false;
  return true;
}

/**
 * The item for the key buf[off, off + len) with hash hv, or 0. `words`: where scanKey left the key's words in keyWords,
 * or -1 (then its bytes are compared).
 */
export function assocFind(st: Store, buf: Uint8Array, off: number, len: number, hv: number, words = -1): number {
  const a32 = st.a32;
  let it = st.h32[bucketOf(st, hv)];
  if (words >= 0 && LITTLE_ENDIAN) {
    while (it !== 0 && !keyEqualsWords(st, it, len, words)) it = a32[it * 2 + ItemField.hNext];
    return it;
  }
  while (it !== 0) {
    if (keyEquals(st, it, buf, off, len)) return it;
    it = a32[it * 2 + ItemField.hNext];
  }
  return 0;
}

/**
 * keyEquals for a key whose words scanKey left in keyWords from `at`: a compare a word. The item's last word is
 * masked to the key's last bytes (past them its value starts, inside the item).
 */
function keyEqualsWords(st: Store, it: number, len: number, at: number): boolean {
  const a32 = st.a32;
  if (a32[it * 2 + ItemField.bits] >>> 24 !== len) return false;
  const w = it * 2 + ITEM_HEADER / 4, full = len >> 2;
  for (let j = 0; j < full; j++) if (a32[w + j] !== keyWords[at + j]) return false;
  const rem = len & 3;
  return rem === 0 || (a32[w + full] & ((1 << (rem * 8)) - 1)) === keyWords[at + full];
}

/** Insert at the bucket head (item lock held). Starts an expansion past 1.5 items per bucket. */
export function assocInsert(st: Store, it: number, hv: number): void {
  const b = bucketOf(st, hv);
  st.a32[it * 2 + ItemField.hNext] = st.h32[b];
  st.h32[b] = it;
  const n = Atomics.add(st.c32, G.hashItems, 1) + 1;
  if ((st.c32[G.hashState] & HASH_EXPANDING) === 0 && n > st.hashSize() * 1.5 && st.hashExpand) st.expandWanted = true;
}

/** Put `it` in `old`'s place in its chain (item lock held): item_replace without touching the item count. */
export function assocReplace(st: Store, old: number, it: number, hv: number): void {
  const a32 = st.a32, h32 = st.h32;
  const b = bucketOf(st, hv);
  a32[it * 2 + ItemField.hNext] = a32[old * 2 + ItemField.hNext];
  if (h32[b] === old) {
    h32[b] = it;
  } else {
    let cur = h32[b];
    while (a32[cur * 2 + ItemField.hNext] !== old) cur = a32[cur * 2 + ItemField.hNext];
    a32[cur * 2 + ItemField.hNext] = it;
  }
  a32[old * 2 + ItemField.hNext] = 0;
}

/** Remove `it` from its bucket (item lock held). */
export function assocDelete(st: Store, it: number, hv: number): void {
  const a32 = st.a32, h32 = st.h32;
  const b = bucketOf(st, hv);
  let cur = h32[b];
  if (cur === it) {
    h32[b] = a32[it * 2 + ItemField.hNext];
  } else {
    while (cur !== 0) {
      const nx = a32[cur * 2 + ItemField.hNext];
      if (nx === it) { a32[cur * 2 + ItemField.hNext] = a32[it * 2 + ItemField.hNext]; break; }
      cur = nx;
    }
    if (cur === 0) return;
  }
  a32[it * 2 + ItemField.hNext] = 0;
  Atomics.sub(st.c32, G.hashItems, 1);
}

/**
 * One step of memcached's assoc_maintenance_thread, run by whichever thread finds work (holding no item lock):
 * start an expansion (publish power+1 with EXPANDING: the new half is already zero) or split the next buckets.
 * Returns true while an expansion is under way.
 */
export function assocExpandStep(st: Store): boolean {
  const c32 = st.c32;
  if (!st.locks.trylock(G.expandLock)) return true;
  try {
    let state = Atomics.load(c32, G.hashState);
    if ((state & HASH_EXPANDING) === 0) {
      const power = state & 0xff;
      if (Atomics.load(c32, G.hashItems) <= 2 ** power * 1.5 || power >= st.hashpowerMax) return false;
      // the upper half has never been written (the table only grows): its buckets read as empty
      Atomics.store(c32, G.expandBucket, 0);
      state = (power + 1) | HASH_EXPANDING;
      Atomics.store(c32, G.hashState, state);
      if (st.verbosity() > 1) writeErr('Hash table expansion starting\n');
    }
    const oldSize = 2 ** ((state & 0xff) - 1);
    for (let n = 0; n < HASH_BULK_MOVE; n++) {
      const b = Atomics.load(c32, G.expandBucket);
      if (b >= oldSize) {
        Atomics.store(c32, G.hashState, state & 0xff);
        if (st.verbosity() > 1) writeErr('Hash table expansion done\n');
        return false;
      }
      splitBucket(st, b, oldSize);
    }
    return true;
  } finally {
    st.expandWanted = false;
    st.locks.unlock(G.expandLock);
  }
}

function splitBucket(st: Store, b: number, oldSize: number): void {
  const a32 = st.a32, h32 = st.h32, c32 = st.c32;
  const lock = st.itemLockWord(b);
  st.locks.lock(lock);
  try {
    let it = h32[b];
    let keep = 0, move = 0;
    while (it !== 0) {
      const nx = a32[it * 2 + ItemField.hNext];
      const hv = hash(st.a8, it * 8 + ITEM_HEADER, a32[it * 2 + ItemField.bits] >>> 24);
      if ((hv & oldSize) !== 0) { a32[it * 2 + ItemField.hNext] = move; move = it; }
      else { a32[it * 2 + ItemField.hNext] = keep; keep = it; }
      it = nx;
    }
    h32[b] = keep;
    h32[b + oldSize] = move;
    Atomics.store(c32, G.expandBucket, b + 1); // published while still holding the lock
  } finally {
    st.locks.unlock(lock);
  }
}
