// Items, as memcached's items.c: alloc (with eviction) and chunk chains, free, link / replace, get with expiry and
// flush checks (and their lookup log lines), and where a value's bytes lie in a (possibly chained) item.
// do_store_item, which uses them, is store-item.ts.
// `do` functions expect the caller to hold the item lock for hv.

import type { Store } from "./store.ts";
import * as layout from "./layout.ts";
import { sizesCount } from "./sizes.ts";
import * as logger from "../logger/logger.ts";
import { writeErr } from "../libc/stdio.ts";
import * as results from "./results.ts";
import { pageClassOf, slabsAlloc, slabsClsid, slabsFree } from "./slabs.ts";
import { doItemBump, itemNtotal, itemReplaceQ, lruPullTail, ntotalOf } from "./lru.ts";
import * as lru from "./lru.ts";
import { assocFind, assocReplace } from "./assoc.ts";
import * as threadStats from "../stats/thread-stats.ts";
import { storageDelete } from "../extstore/item-hdr.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { G, ITEM_HEADER, ItemField, ItemFlag, KEY_MAX_LENGTH, Lru } = layout;
const { LogFlag, LOOKUPS_LOGGED } = logger;
const { AllocError } = results;
const { LruPull } = lru;
const { SlabStat, SLAB_FIELDS, THREAD_FIELDS, ThreadStat } = threadStats;

/** A header item's value: the copy read back from flash for this answer (storageFetch made it). */
function hdrValueItem(st: Store, it: number): number {
  if (st.extSlotHdr !== it || st.extSlotTemp === 0) throw new Error("store: a header item's value was read before it was fetched");
  return st.extSlotTemp;
}

const CHUNK_HEADER = ITEM_HEADER; // a data chunk of a chained item keeps the item header's shape

/**
 * A chained item's header chunk as memcached sizes it (do_item_alloc's htotal): the item's ntotal without the
 * value, and an item_chunk (48 bytes, as our chunk header). Ours holds only the fields and the key, but it takes
 * memcached's size, so that it comes from memcached's slab class.
 */
export function chainedHeaderSize(a32: Int32Array, it: number): number {
  return itemNtotal(a32, it) - a32[it * 2 + ItemField.nbytes] + CHUNK_HEADER;
}

/** memcached's do_item_alloc_pull: take a chunk, evicting from COLD (pulling HOT down) when full. */
function allocPull(st: Store, clsid: number): number {
  let p = 0, i = 0;
  const flat = st.c32[G.lruSegmented] === 0;
  for (; i < 10; i++) {
    if (flat) lruPullTail(st, clsid, Lru.COLD, 0, 0, 0); // memcached's flat LRU reclaims an expired tail item first
    p = slabsAlloc(st, clsid);
    if (p !== 0) break;
    // COLD's tail: reclaim the expired (with -M too), else evict one (not with -M)
    if (lruPullTail(st, clsid, Lru.COLD, 0, LruPull.EVICT, 0) <= 0) {
      if (flat) break;
      // Segmented, memcached pulls HOT down and tries again, all ten times (direct_reclaims counts them). WARM is
      // its maintainer's to pull: with COLD and HOT empty (or -M) the store fails, in memcached as here.
      lruPullTail(st, clsid, Lru.HOT, 0, 0, 0);
    }
  }
  if (i > 0) st.stats.row[THREAD_FIELDS + clsid * SLAB_FIELDS + SlabStat.direct_reclaims] += i;
  return p;
}


function badKeyLength(nkey: number): never {
  throw new RangeError(`store: key length ${nkey} outside 1..${KEY_MAX_LENGTH} (the protocol must refuse it)`);
}

/**
 * memcached's do_item_alloc. A value past slab_chunk_max gets its chain of chunks here, unless `chainLater` (an
 * append's: appendAlloc chains it as memcached's copy does).
 */
export function doItemAlloc(st: Store, buf: Uint8Array, off: number, nkey: number, flags: number, exptime: number, nbytes: number,
  chainLater = false): number {
  if (nkey > KEY_MAX_LENGTH || nkey < 1) badKeyLength(nkey);
  st.allocError = AllocError.NONE;
  const ntotal = ntotalOf(nkey, flags, nbytes, st.useCas); // memcached's: -I applies to it, as there
  if (ntotal > st.itemSizeMax) {
    st.allocError = AllocError.TOO_LARGE;
    return 0;
  }
  const chained = ntotal > st.slabChunkMax;
  const hsize = chained ? ntotal - nbytes + CHUNK_HEADER : ntotal; // chainedHeaderSize
  const hclsid = slabsClsid(st, hsize);
  // A chained item lives in the LRU (and the stats) of the largest class, where its big chunks are: evicting
  // there is what frees them. Its header's own class is found from its page when it is freed.
  const clsid = chained ? st.nclasses : hclsid;
  const it = hclsid === 0 ? 0 : allocPull(st, hclsid);
  if (it === 0) {
    if (hclsid !== 0) st.stats.row[THREAD_FIELDS + clsid * SLAB_FIELDS + SlabStat.outofmemory]++; // memcached's only count of it
    st.allocError = AllocError.NO_MEMORY;
    return 0;
  }
  const a32 = st.a32, a8 = st.a8, b = it * 2;
  a32[b + ItemField.next] = 0; a32[b + ItemField.prev] = 0; a32[b + ItemField.hNext] = 0;
  a32[b + ItemField.time] = st.currentTime();
  a32[b + ItemField.exptime] = exptime;
  a32[b + ItemField.nbytes] = nbytes;
  a32[b + ItemField.casLo] = 0; a32[b + ItemField.casHi] = 0;
  a32[b + ItemField.flags] = flags | 0;
  a32[b + ItemField.chain] = 0;
  a32[b + ItemField.bits] = (st.useCas ? ItemFlag.CAS : 0) | (chained ? ItemFlag.CHUNKED : 0) | (clsid << 16) | (nkey << 24);
  a32[b + ItemField.refcount] = 1; // not reachable by any other thread until linked under a lock
  const k = it * 8 + ITEM_HEADER;
  for (let i = 0; i < nkey; i++) a8[k + i] = buf[off + i];
  if (chained && !chainLater && !allocChunks(st, it, nbytes)) {
    itemFree(st, it);
    st.allocError = AllocError.NO_MEMORY_IN_READ;
    return 0;
  }
  return it;
}

/**
 * Chain data chunks for `nbytes`: full largest-class chunks, the tail in the class that fits it, or (memcached's
 * do_item_alloc_chunk fallback) in a largest-class chunk when that class has neither room nor items to evict.
 */
function allocChunks(st: Store, it: number, nbytes: number): boolean {
  let prev = it, remaining = nbytes;
  while (remaining > 0) {
    const ch = allocChunk(st, it, prev, remaining);
    if (ch === 0) return false;
    const held = Math.min(remaining, allocatedSize);
    st.a32[ch * 2 + ItemField.nbytes] = held;
    remaining -= held;
    prev = ch;
  }
  return true;
}

/** The size of the chunk allocChunk returned last: what it was asked for, or slab_chunk_max's (both less the header). */
let allocatedSize = 0;

/** memcached's do_item_alloc_chunk: an empty chunk for up to `remaining` bytes linked after `prev`; 0 when out of memory. */
function allocChunk(st: Store, it: number, prev: number, remaining: number): number {
  const a32 = st.a32;
  let want = Math.min(remaining + CHUNK_HEADER, st.slabChunkMax);
  let clsid = slabsClsid(st, want);
  let ch = allocPull(st, clsid);
  if (ch === 0 && want < st.slabChunkMax) {
    want = st.slabChunkMax;
    clsid = slabsClsid(st, want);
    ch = allocPull(st, clsid);
  }
  if (ch === 0) return 0;
  allocatedSize = want - CHUNK_HEADER;
  a32[ch * 2 + ItemField.bits] = ItemFlag.CHUNK | (clsid << 16);
  a32[ch * 2 + ItemField.nbytes] = 0;
  a32[ch * 2 + ItemField.chain] = 0;
  a32[ch * 2 + ItemField.hNext] = it; // the chunk's head item, for the page walker
  a32[prev * 2 + ItemField.chain] = ch;
  return ch;
}

/**
 * memcached's _store_item_copy_chunks, as it allocates: `len` more bytes go first into the room the chain's
 * last chunk has left (`room`), then into new chunks, each asked for what is left. A chunk that fills is
 * followed at once by the next, an empty one when nothing is left. Chunks are as big as asked, so they fill,
 * unless do_item_alloc_chunk's fallback took one at slab_chunk_max. Returns the room the last chunk has left,
 * or -1 when out of memory. Nothing for 0 bytes.
 */
function growChainAsCopied(st: Store, it: number, len: number, room: number): number {
  const a32 = st.a32;
  let last = it;
  while (a32[last * 2 + ItemField.chain] !== 0) last = a32[last * 2 + ItemField.chain];
  let remaining = len;
  while (remaining > 0) {
    const take = Math.min(room, remaining);
    a32[last * 2 + ItemField.nbytes] += take;
    remaining -= take;
    room -= take;
    if (room > 0) break;
    last = allocChunk(st, it, last, remaining);
    if (last === 0) return -1;
    room = allocatedSize;
  }
  return room;
}

/** The chain memcached's two copies (first the one value, then the other) give a chained item; false when out of memory. */
export function chainAsCopied(st: Store, it: number, firstN: number, secondN: number): boolean {
  const room = growChainAsCopied(st, it, firstN, 0);
  return room >= 0 && growChainAsCopied(st, it, secondN, room) >= 0;
}

/** memcached's item_free: give the header and every chunk back to their classes. */
export function itemFree(st: Store, it: number): void {
  const a32 = st.a32;
  const bits = a32[it * 2 + ItemField.bits];
  let ch = a32[it * 2 + ItemField.chain];
  while (ch !== 0) {
    const next = a32[ch * 2 + ItemField.chain];
    slabsFree(st, ch, (a32[ch * 2 + ItemField.bits] >>> 16) & 63);
    ch = next;
  }
  slabsFree(st, it, (bits & ItemFlag.CHUNKED) !== 0 ? pageClassOf(st, it) : (bits >>> 16) & 63);
}

/**
 * The `newCas` a link takes: CAS_NEXT draws the shared counter; anything else is a CAS the client chose
 * (meta's E flag, memcached's cas_in), given to the item as is.
 */
export const CAS_NEXT = -1;

/**
 * The LRU segment a new item enters (memcached's do_item_alloc): TEMP when temp_lru is on and it expires
 * within temporary_ttl, else HOT, or COLD in flat mode (`lru mode flat`), where COLD is the only LRU.
 */
export function entrySegment(st: Store, exptime: number, now: number): number {
  const ttl = st.temporaryTtl;
  // memcached compares exptime - current_time as unsigned: "never" (0) and the already expired are not temporary
  if (ttl >= 0 && exptime !== 0 && exptime >= now && exptime - now <= ttl) return Lru.TEMP;
  return st.lruSegmented ? Lru.HOT : Lru.COLD;
}

/** memcached's do_item_link (item lock held): hash, LRU head, CAS, counters; takes the table's reference. */
export function doItemLink(st: Store, it: number, hv: number, newCas = CAS_NEXT): void {
  const a32 = st.a32, b = it * 2, now = st.currentTime();
  const seg = entrySegment(st, a32[b + ItemField.exptime] >>> 0, now);
  a32[b + ItemField.bits] = ((a32[b + ItemField.bits] | ItemFlag.LINKED) & ~(0xc0 << 16)) | (seg << 16);
  a32[b + ItemField.time] = now;
  if (st.useCas) st.setNextCas(it, newCas);
  if (st.c32[G.sizesOn] !== 0) sizesCount(st, it, 1);
  st.assocInsertItem(it, hv);
  const clsid = (a32[b + ItemField.bits] >>> 16) & 63, row = st.stats.row;
  row[THREAD_FIELDS + clsid * SLAB_FIELDS + SlabStat.total_items]++;
  row[ThreadStat.curr_items]++;
  row[ThreadStat.curr_bytes] += itemNtotal(a32, it);
  st.linkQ(it);
  // The table's reference. A plain add: only the item lock holder can reach a just-linked item, and the
  // linking thread's own reference is released later in program order.
  a32[b + ItemField.refcount]++;
}

/**
 * memcached's item_replace (do_item_unlink + do_item_link), fused: one chain walk, one LRU lock when they share it.
 * `keepSegment`: the new item takes the old one's place in its LRU segment (a copy the page mover rescued).
 */
export function doItemReplace(st: Store, old: number, it: number, hv: number, newCas = CAS_NEXT, keepSegment = false): void {
  const a32 = st.a32, ob = old * 2 + ItemField.bits;
  if ((a32[ob] & ItemFlag.LINKED) === 0) { doItemLink(st, it, hv, newCas); return; }
  a32[ob] &= ~ItemFlag.LINKED;
  // its object on flash is let go, unless a page move's copy takes the header's place (and its object)
  if ((a32[ob] & ItemFlag.HDR) !== 0 && !keepSegment) storageDelete(st, old);
  const b = it * 2, now = st.currentTime();
  const seg = keepSegment ? (a32[ob] >>> 16) & 0xc0 : entrySegment(st, a32[b + ItemField.exptime] >>> 0, now);
  a32[b + ItemField.bits] = ((a32[b + ItemField.bits] | ItemFlag.LINKED) & ~(0xc0 << 16)) | (seg << 16);
  a32[b + ItemField.time] = now;
  if (st.useCas) st.setNextCas(it, newCas);
  if (st.c32[G.sizesOn] !== 0) { sizesCount(st, old, -1); sizesCount(st, it, 1); }
  assocReplace(st, old, it, hv);
  const clsid = (a32[b + ItemField.bits] >>> 16) & 63, row = st.stats.row;
  row[THREAD_FIELDS + clsid * SLAB_FIELDS + SlabStat.total_items]++;
  row[ThreadStat.curr_bytes] += itemNtotal(a32, it) - itemNtotal(a32, old);
  itemReplaceQ(st, old, it);
  a32[b + ItemField.refcount]++; // the table's reference (see doItemLink)
  st.itemRelease(old); // the table's reference
}

/** memcached's do_item_get (item lock held): a held reference, or 0; dead items are unlinked and counted. */
export function doItemGet(st: Store, buf: Uint8Array, off: number, len: number, hv: number, doUpdate: boolean): number {
  const it = doItemPeek(st, buf, off, len, hv);
  if (it === 0) return 0;
  Atomics.add(st.a32, it * 2 + ItemField.refcount, 1);
  if (doUpdate) doItemBump(st, it);
  return it;
}

/**
 * doItemGet for a second look memcached does not take (so not in the log): a protocol that checks again what an
 * operation it just ran left behind.
 */
export function doItemGetUnlogged(st: Store, buf: Uint8Array, off: number, len: number, hv: number): number {
  const it = doItemFind(st, buf, off, len, hv);
  if (it <= 0) return 0;
  Atomics.add(st.a32, it * 2 + ItemField.refcount, 1);
  return it;
}

/**
 * do_item_get without the reference (item lock held): the live item or 0, dead items unlinked and
 * counted. For a reader that is done with the item before it lets go of the lock.
 */
export function doItemPeek(st: Store, buf: Uint8Array, off: number, len: number, hv: number, words = -1): number {
  const it = doItemFind(st, buf, off, len, hv, words);
  // memcached's do_item_get logs every lookup (LOGGER_ITEM_GET, and at -vvv a line), the store's own look for the
  // old item included
  if ((st.c32[G.watchMask] & LOOKUPS_LOGGED) !== 0) logItemGet(st, it, buf, off, len);
  return it > 0 ? it : 0;
}

const FIND_FLUSHED = -2, FIND_EXPIRED = -3;

/**
 * The lookup: the live item, 0, or why there was none (FIND_FLUSHED, FIND_EXPIRED: then unlinked). `words`: where
 * scanKey left the key's words (assocFind), or -1.
 */
function doItemFind(st: Store, buf: Uint8Array, off: number, len: number, hv: number, words = -1): number {
  const it = assocFind(st, buf, off, len, hv, words);
  if (it === 0) return 0;
  if (st.isFlushed(it)) {
    st.doItemUnlink(it, hv);
    st.stats.row[ThreadStat.get_flushed]++;
    return FIND_FLUSHED;
  }
  const exp = st.a32[it * 2 + ItemField.exptime] >>> 0;
  if (exp !== 0 && exp <= st.currentTime()) {
    st.doItemUnlink(it, hv);
    st.stats.row[ThreadStat.get_expired]++;
    return FIND_EXPIRED;
  }
  return it;
}

/** A lookup, for `watch fetchers` (memcached's was_found: 0 not_found, 1 found, 2 flushed, 3 expired) and -vvv. */
export function logItemGet(st: Store, it: number, buf: Uint8Array, off: number, len: number): void {
  const mask = st.c32[G.watchMask];
  if ((mask & LogFlag.VERBOSE_LOOKUPS) !== 0) sayLookup(it, buf, off, len);
  if ((mask & LogFlag.FETCHERS) === 0) return;
  if (it > 0) {
    const a32 = st.a32;
    st.log.itemGet(1, buf, off, len, a32[it * 2 + ItemField.nbytes], (a32[it * 2 + ItemField.bits] >>> 16) & 63);
  } else st.log.itemGet(it === 0 ? 0 : -it, buf, off, len, 0, 0);
}

const FOUND = Buffer.from('> FOUND KEY '), NOT_FOUND = Buffer.from('> NOT FOUND ');
const NUKED_BY_FLUSH = Buffer.from(' -nuked by flush\n'), NUKED_BY_EXPIRE = Buffer.from(' -nuked by expire\n');
const NEWLINE = Buffer.from('\n');

/** do_item_get's line at -vvv: the key as its bytes, and why a dead one is gone. */
function sayLookup(it: number, buf: Uint8Array, off: number, len: number): void {
  const end = it === FIND_FLUSHED ? NUKED_BY_FLUSH : it === FIND_EXPIRED ? NUKED_BY_EXPIRE : NEWLINE;
  writeErr(Buffer.concat([it === 0 ? NOT_FOUND : FOUND, buf.subarray(off, off + len), end]));
}

export function casOf(a32: Int32Array, it: number): number {
  return (a32[it * 2 + ItemField.casHi] >>> 0) * 4294967296 + (a32[it * 2 + ItemField.casLo] >>> 0);
}

/**
 * Where value byte `at` of `it` lives: sets st.segOff (arena byte offset) and returns how many bytes are
 * contiguous there. Unchained values are one segment; chained ones walk the chunk list.
 */
export function valueSegment(st: Store, it: number, at: number): number {
  const a32 = st.a32;
  const bits = a32[it * 2 + ItemField.bits];
  if ((bits & (ItemFlag.CHUNKED | ItemFlag.HDR)) === 0) {
    st.segOff = it * 8 + ITEM_HEADER + (bits >>> 24) + at;
    return a32[it * 2 + ItemField.nbytes] - at;
  }
  if ((bits & ItemFlag.HDR) !== 0) return valueSegment(st, hdrValueItem(st, it), at);
  let ch = a32[it * 2 + ItemField.chain];
  for (;;) {
    const used = a32[ch * 2 + ItemField.nbytes];
    if (at < used) { st.segOff = ch * 8 + CHUNK_HEADER + at; return used - at; }
    at -= used;
    ch = a32[ch * 2 + ItemField.chain];
  }
}
