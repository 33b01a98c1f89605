// memcached's do_store_item (memcached.c): set, add, replace, cas, append and prepend against the item found,
// append's and prepend's new item (_store_item_copy_chunks' copies), and the item_store log lines.
// The caller holds the item lock for hv, as for the `do` functions of items.ts.

import type { Store } from "./store.ts";
import * as layout from "./layout.ts";
import * as logger from "../logger/logger.ts";
import * as results from "./results.ts";
import { doItemUpdate } from "./lru.ts";
import { CAS_NEXT, casOf, chainAsCopied, doItemAlloc, doItemLink, doItemPeek, doItemReplace, itemFree, valueSegment } from "./items.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { G, ITEM_HEADER, ItemField, ItemFlag } = layout;
const { LogFlag } = logger;
const { StoreOp, StoreResult } = results;
type StoreOp = results.StoreOp;
type StoreResult = results.StoreResult;

/**
 * memcached's do_store_item (item lock for hv held). `casIn` is the client's CAS to compare (0 = none);
 * `newCas` the CAS the stored item gets (CAS_NEXT: the counter's next).
 */
export function doStoreItem(st: Store, it: number, op: StoreOp, hv: number, casIn: number, newCas = CAS_NEXT): StoreResult {
  const a32 = st.a32;
  const nkey = a32[it * 2 + ItemField.bits] >>> 24;
  // No reference on old (memcached's do_item_get takes one): we hold its item lock throughout, and the
  // hash table's reference keeps it alive until doItemReplace drops that, after its last use here. Only
  // an item lock holder can unlink an item or find it (hash walk; LRU tail, page mover and crawler all
  // take the item lock before touching an item's refcount), so nothing can free it under us. Two atomic
  // operations fewer per store of an existing key.
  const old = doItemPeek(st, st.a8, it * 8 + ITEM_HEADER, nkey, hv);
  let stored: StoreResult = StoreResult.NOT_STORED;
  if (!st.useCas) casIn = 0;
  if (old !== 0) {
    const oldCas = casOf(a32, old);
    st.lastClsid = (a32[old * 2 + ItemField.bits] >>> 16) & 63;
    // CAS_NONE when no CAS was given, CAS_MATCH, else CAS_BADVAL (the stale mode is meta's, via doStoreItemStale)
    const casMatch = casIn !== 0 && casIn === oldCas;
    let newIt = 0, doStore = false;
    switch (op) {
      case StoreOp.ADD:
        doItemUpdate(st, old); // add only adds a nonexistent item, but promotes it
        break;
      case StoreOp.CAS:
        if (casMatch) doStore = true;
        else { stored = StoreResult.EXISTS; st.lastCasSeen = oldCas; }
        break;
      case StoreOp.APPEND:
      case StoreOp.PREPEND:
        if (casIn !== 0 && !casMatch) { stored = StoreResult.EXISTS; break; }
        if ((a32[old * 2 + ItemField.bits] & ItemFlag.HDR) !== 0) break; // memcached's: not to a value on flash (NOT_STORED)
        newIt = appendAlloc(st, old, it, op === StoreOp.APPEND);
        if (newIt === 0) stored = StoreResult.NOT_STORED;
        else { it = newIt; doStore = true; }
        break;
      default: // SET, REPLACE
        doStore = true;
    }
    if (doStore) {
      doItemReplace(st, old, it, hv, newCas); // may free old: not read after this
      stored = StoreResult.STORED;
    }
    if (newIt !== 0) {
      if (stored === StoreResult.STORED) st.lastCas = casOf(a32, newIt);
      if ((st.c32[G.watchMask] & LogFlag.MUTATIONS) !== 0) logItemStore(st, newIt, op, stored);
      st.itemRelease(newIt);
      return stored;
    }
  } else if (op === StoreOp.CAS) {
    stored = StoreResult.NOT_FOUND;
  } else if (op === StoreOp.ADD || op === StoreOp.SET) {
    doItemLink(st, it, hv, newCas);
    stored = StoreResult.STORED;
  }
  if (stored === StoreResult.STORED) st.lastCas = casOf(a32, it);
  if ((st.c32[G.watchMask] & LogFlag.MUTATIONS) !== 0) logItemStore(st, it, op, stored);
  return stored;
}

/** A new item holding old's value and the appended/prepended one, with old's flags and exptime. */
function appendAlloc(st: Store, old: number, add: number, append: boolean): number {
  const a32 = st.a32;
  const nkey = a32[old * 2 + ItemField.bits] >>> 24;
  const oldN = a32[old * 2 + ItemField.nbytes], addN = a32[add * 2 + ItemField.nbytes];
  const n = oldN + addN - 2;
  const it = doItemAlloc(st, st.a8, old * 8 + ITEM_HEADER, nkey, a32[old * 2 + ItemField.flags] >>> 0, a32[old * 2 + ItemField.exptime], n, true);
  if (it === 0) return 0;
  const first = append ? old : add, second = append ? add : old;
  const firstN = a32[first * 2 + ItemField.nbytes] - 2, secondN = a32[second * 2 + ItemField.nbytes];
  if ((a32[it * 2 + ItemField.bits] & ItemFlag.CHUNKED) !== 0 && !chainAsCopied(st, it, firstN, secondN)) {
    itemFree(st, it); // memcached's failed copy: NOT_STORED, and the new item goes
    return 0;
  }
  itemCopyBetween(st, first, 0, it, 0, firstN);
  itemCopyBetween(st, second, 0, it, firstN, secondN);
  return it;
}

function itemCopyBetween(st: Store, src: number, from: number, dst: number, at: number, len: number): void {
  const a8 = st.a8;
  while (len > 0) {
    let n = valueSegment(st, src, from);
    const s = st.segOff;
    n = Math.min(n, valueSegment(st, dst, at), len);
    a8.copyWithin(st.segOff, s, s + n);
    from += n; at += n; len -= n;
  }
}

/** memcached's store_item_type and NREAD_* numbering, for the item_store log line: by StoreResult and StoreOp. */
const LOG_STATUS = [0, 1, 0, 2, 3, 4, 5] as const;
const LOG_CMD = [0, 2, 1, 3, 4, 5, 6] as const;

/** memcached's LOGGER_ITEM_STORE at the end of do_store_item: what became of `it` (the new item of an append). */
export function logItemStore(st: Store, it: number, op: StoreOp, result: StoreResult): void {
  const a32 = st.a32, exp = a32[it * 2 + ItemField.exptime] >>> 0;
  st.log.itemStore(LOG_STATUS[result] ?? 0, LOG_CMD[op] ?? 0, st.a8, it * 8 + ITEM_HEADER, a32[it * 2 + ItemField.bits] >>> 24,
    a32[it * 2 + ItemField.nbytes], exp !== 0 ? exp - st.currentTime() : 0, (a32[it * 2 + ItemField.bits] >>> 16) & 63,
    st.log.cfd);
}

/**
 * A store refused before it reached the store (memcached's process_update_command when item_alloc fails): status
 * too_large or no_memory. memcached's call passes one argument too few, so its line shows the connection's fd as
 * the clsid and 0 as the cfd (and 0 ttl and size); so does this one.
 */
export function logRefusedStore(st: Store, buf: Uint8Array, off: number, nkey: number, op: StoreOp | 0, noMemory: boolean): void {
  st.log.itemStore(noMemory ? 5 : 4, LOG_CMD[op] ?? 0, buf, off, nkey, 0, 0, st.log.cfd & 0xff, 0);
}
