// memcached's storage.c: what the store does with external storage. The storage writer moves cold values of
// large items to flash and leaves a header item in their place (storage_write); a get of a header item reads
// the value back (storage_get_item), sometimes putting it back in memory (recache_or_free); the compactor
// rewrites what is still used from pages that are mostly empty, so that their space comes back
// (storage_compact_*). The writer and the compactor run in the maintainer thread (storage-thread.ts), reads in
// the worker that answers.
//
// An object on flash is the item as it was: a 48-byte header (the key's hash where the access time was, the
// CRC-32C of everything after it where the expiry was, then nbytes, the flags word, the CAS and the client
// flags), the key and the value, padded with zeros to memcached's ITEM_ntotal, which is its length.

import type { Store } from '../store/store.ts';
import { G, ITEM_HEADER, ITEM_UPDATE_INTERVAL, ItemField, ItemFlag, Lru } from '../store/layout.ts';
import { LogFlag } from '../logger/logger.ts';
import { ITEM_HDR_DATA, itemNtotal, lruPullTail, LruPull } from '../store/lru.ts';
import { casOf, doItemAlloc, doItemReplace, itemFree, valueSegment } from '../store/items.ts';
import { assocFind } from '../store/assoc.ts';
import { ThreadStat } from '../stats/thread-stats.ts';
import { uintIndex } from '../settings/ext-settings.ts';
import { Bucket } from './engine.ts';
import type { Extstore } from './engine.ts';
import { crc32c } from './crc32c.ts';
import type { ExtIoQueue } from './io-queue.ts';
import { hdrOffset, hdrPage, hdrVersion, setHdr } from './item-hdr.ts';

/** extstore's settings as they stand: the server's words (server-ctl.ts), which `extstore <name> <value>` changes. */
export type ExtLive = { extSetting(i: number): number; extMaxFrag(): number };

/** Why a read back from flash failed (Store.extFailed): the object was gone, or no memory held the value. */
export const FetchFailure = { NONE: 0, MISS: 1, OOM: 2 } as const;
export type FetchFailure = (typeof FetchFailure)[keyof typeof FetchFailure];

export const EXT = {
  itemSize: uintIndex('ext_item_size'), itemAge: uintIndex('ext_item_age'), lowTtl: uintIndex('ext_low_ttl'),
  recacheRate: uintIndex('ext_recache_rate'), compactUnder: uintIndex('ext_compact_under'),
  dropUnder: uintIndex('ext_drop_under'), maxSleep: uintIndex('ext_max_sleep'), dropUnread: uintIndex('ext_drop_unread'),
} as const;

// The object header's words (Int32, little-endian), where memcached's item fields are.
const O = { hv: 3, crc: 4, nbytes: 5, bits: 7, casLo: 8, casHi: 9, flags: 10 } as const;
/** The CRC covers the object from nbytes on (memcached's STORE_OFFSET: past the links, time and exptime). */
const CRC_FROM = O.nbytes * 4;

/** One object's bytes, read or written: per thread, as large as the largest item. */
const scratchOf = new WeakMap<Store, Buffer>();
function scratch(st: Store): Buffer {
  let b = scratchOf.get(st);
  if (b === undefined) { b = Buffer.alloc(st.itemSizeMax + 1024); scratchOf.set(st, b); }
  return b;
}

// ---- the write: storage_write ----

/**
 * memcached's storage_write for class `clsid`: COLD's tail item, if idle longer than itemAge (0: any), goes to
 * flash and a header item takes its place with its CAS. False when nothing was moved (no such item, no page
 * free, no memory for the header), which ends the writer's pass over the class.
 */
export function storageWrite(st: Store, ext: Extstore, clsid: number, itemAge: number, lowTtl: number): boolean {
  lruPullTail(st, clsid, Lru.COLD, 0, LruPull.RETURN_ITEM, 0);
  const it = st.pulledIt, hv = st.pulledHv;
  if (it === 0) return false;
  try {
    const a32 = st.a32, bits = a32[it * 2 + ItemField.bits], now = st.currentTime();
    if ((bits & ItemFlag.HDR) !== 0 || (itemAge !== 0 && now - a32[it * 2 + ItemField.time] <= itemAge)) return false;
    const nkey = bits >>> 24, exptime = a32[it * 2 + ItemField.exptime];
    const hdr = doItemAlloc(st, st.a8, it * 8 + ITEM_HEADER, nkey, a32[it * 2 + ItemField.flags] >>> 0, exptime, ITEM_HDR_DATA);
    if (hdr === 0) return false;
    let bucket: number = (bits & ItemFlag.CHUNKED) !== 0 ? Bucket.CHUNKED : Bucket.DEFAULT;
    if (((exptime - now) >>> 0) < lowTtl) bucket = Bucket.LOWTTL; // memcached's unsigned compare: "never" is not low
    const len = itemNtotal(a32, it);
    if (!ext.writeRequest(bucket, len)) {
      itemFree(st, hdr);
      ext.runMaint(); // memcached's _allocate_page asks its maintenance thread for a page; the next pass has one
      return false;
    }
    const obj = scratch(st);
    objectOf(st, it, hv, obj, len);
    ext.writeAt(ext.loc.page, ext.loc.offset, obj, len);
    setHdr(st, hdr, ext.loc.page, ext.loc.version, ext.loc.offset);
    a32[hdr * 2 + ItemField.bits] |= ItemFlag.HDR;
    a32[hdr * 2 + ItemField.nbytes] = a32[it * 2 + ItemField.nbytes];
    // the header keeps the item's CAS, which memcached copies after the link: the link drew one from the counter
    const cas = casOf(a32, it);
    doItemReplace(st, it, hdr, hv);
    if (st.useCas) st.setNextCas(hdr, cas);
    st.itemRelease(hdr); // the allocation's reference: the table holds it now
    ext.countWrite(len);
    if ((st.c32[G.watchMask] & LogFlag.EVICTIONS) !== 0) {
      st.log.extWrite(st.a8, it * 8 + ITEM_HEADER, nkey, (bits & ItemFlag.FETCHED) !== 0, exptime >>> 0, now,
        now - a32[it * 2 + ItemField.time], (bits >>> 16) & 63, bucket);
    }
    return true;
  } finally {
    st.itemUnlock(hv);
  }
}

/** The object's bytes for item `it` in obj[0, len): header, key, value, zeros; its CRC last. */
function objectOf(st: Store, it: number, hv: number, obj: Buffer, len: number): void {
  const a32 = st.a32, bits = a32[it * 2 + ItemField.bits], nkey = bits >>> 24, nbytes = a32[it * 2 + ItemField.nbytes];
  obj.fill(0, 0, len);
  obj.writeInt32LE(hv, O.hv * 4);
  obj.writeInt32LE(nbytes, O.nbytes * 4);
  obj.writeInt32LE(bits & ~(ItemFlag.LINKED | (0xff << 16)), O.bits * 4);
  obj.writeInt32LE(a32[it * 2 + ItemField.casLo], O.casLo * 4);
  obj.writeInt32LE(a32[it * 2 + ItemField.casHi], O.casHi * 4);
  obj.writeInt32LE(a32[it * 2 + ItemField.flags], O.flags * 4);
  obj.set(st.a8.subarray(it * 8 + ITEM_HEADER, it * 8 + ITEM_HEADER + nkey), ITEM_HEADER);
  for (let at = 0, to = ITEM_HEADER + nkey; at < nbytes;) {
    const n = valueSegment(st, it, at);
    obj.set(st.a8.subarray(st.segOff, st.segOff + n), to);
    at += n; to += n;
  }
  obj.writeUInt32LE(crc32c(0, obj, CRC_FROM, len), O.crc * 4);
}

/** The object read back is the header item's: its CRC holds, and its key and length are the header's. */
function objectIsOf(st: Store, hdr: number, obj: Buffer, len: number): boolean {
  if (obj.readUInt32LE(O.crc * 4) !== crc32c(0, obj, CRC_FROM, len)) return false;
  const a32 = st.a32, nkey = a32[hdr * 2 + ItemField.bits] >>> 24;
  if ((obj.readInt32LE(O.bits * 4) >>> 24) !== nkey || obj.readInt32LE(O.nbytes * 4) !== a32[hdr * 2 + ItemField.nbytes]) return false;
  return obj.compare(st.a8, hdr * 8 + ITEM_HEADER, hdr * 8 + ITEM_HEADER + nkey, ITEM_HEADER, ITEM_HEADER + nkey) === 0;
}

// ---- the read: storage_get_item and recache_or_free ----

/**
 * memcached's storage_get_item and its IO's completion: the header item's value, read by an IO thread while the
 * command waited (Store.extReads) or else read here, goes into a new, unlinked item (the thread's slot:
 * extSlotTemp), which valueSegment then reads in the header's place. False
 * on a miss: the page was reused (the object evicted), or what came back is not the object (its CRC), or no
 * memory held it; a header whose object is gone is unlinked once the batch's replies are sent (storageMissesDone),
 * as memcached's recache_or_free unlinks it.
 * `locked`: the caller holds the item lock for hv, else a reference to hdr.
 */
export function storageFetch(st: Store, hdr: number, hv: number, locked: boolean): boolean {
  if (st.extSlotTemp !== 0) storageDone(st, null); // a reader that did not say it was done: no recache then
  const ext = st.ext;
  if (ext === null) return false;
  const row = st.stats.row, a32 = st.a32;
  const page = hdrPage(st, hdr), version = hdrVersion(st, hdr), offset = hdrOffset(st, hdr), len = itemNtotal(a32, hdr);
  let obj = scratch(st);
  let found: boolean;
  const read = st.extReads === null ? null : st.extReads.take(page, version, offset);
  if (read !== null) { // read by an IO thread while the command waited: the page must not have moved on since
    obj = read.buf;
    found = read.ok && ext.pageVersion(page) === version;
  } else {
    found = ext.pageVersion(page) === version && ext.readAt(page, offset, obj, len) && ext.pageVersion(page) === version;
  }
  row[ThreadStat.get_extstore]++;
  let badcrc = false;
  if (found && !objectIsOf(st, hdr, obj, len)) { found = false; badcrc = true; }
  if (!found) {
    st.extFailed = FetchFailure.MISS;
    st.extMissLruId = (a32[hdr * 2 + ItemField.bits] >>> 16) & 0xff;
    st.extMissCas = casOf(a32, hdr);
    // unlinked, and counted, once the batch's replies are sent (storageMissesDone): memcached's IO for it goes
    // out at the batch's end and its recache_or_free unlinks the header after the reply, so the batch's later
    // commands on the key find the header still, and each read of it is a flash miss too
    st.itemHold(hdr);
    st.extMisses.push(hdr, hv, badcrc ? 1 : 0);
    return false;
  }
  ext.countRead(len);
  const nkey = a32[hdr * 2 + ItemField.bits] >>> 24, nbytes = a32[hdr * 2 + ItemField.nbytes];
  const temp = doItemAlloc(st, st.a8, hdr * 8 + ITEM_HEADER, nkey, a32[hdr * 2 + ItemField.flags] >>> 0,
    a32[hdr * 2 + ItemField.exptime], nbytes);
  if (temp === 0) { row[ThreadStat.get_oom_extstore]++; st.extFailed = FetchFailure.OOM; return false; }
  st.extFetched++;
  st.itemWriteValue(temp, 0, obj, ITEM_HEADER + nkey, nbytes);
  a32[temp * 2 + ItemField.casLo] = a32[hdr * 2 + ItemField.casLo];
  a32[temp * 2 + ItemField.casHi] = a32[hdr * 2 + ItemField.casHi];
  st.extSlotHdr = hdr;
  st.extSlotTemp = temp;
  st.extSlotHv = hv;
  st.extSlotVersion = version;
  st.extSlotOffset = offset;
  // memcached recaches an item "hit at least twice": ACTIVE when its answer is done. Here a get's bump comes after
  // this read (text, meta) or before it (binary), and moving a COLD item to WARM at once clears ACTIVE: so, before
  // the bump, FETCHED says this hit is a second one; after it, ACTIVE or a move to WARM does.
  const bits = a32[hdr * 2 + ItemField.bits];
  st.extSlotHitTwice = locked ? (bits & ItemFlag.FETCHED) !== 0
    : (bits & ItemFlag.ACTIVE) !== 0 || ((bits >>> 16) & 0xc0) === Lru.WARM;
  return true;
}

/**
 * memcached's storage_get_item, its submitting half: the header item's object is queued for an IO thread to read.
 * True when the command must wait for it; false when it is read already, or its page moved on (a miss, answered at
 * once), or the worker's read buffers are full (it is read in place).
 */
export function storageQueue(st: Store, hdr: number, queue: ExtIoQueue): boolean {
  const ext = st.ext, page = hdrPage(st, hdr), version = hdrVersion(st, hdr);
  if (ext === null || ext.pageVersion(page) !== version) return false;
  return queue.want(page, version, hdrOffset(st, hdr), itemNtotal(st.a32, hdr));
}

/**
 * The header the copy was read for is still the key's, where it was (item lock held): a text get holds no
 * reference on it once its reply is written, so it may have been replaced, freed and its chunk reused since.
 */
function stillTheHeader(st: Store, hdr: number, temp: number, hv: number): boolean {
  const nkey = st.a32[temp * 2 + ItemField.bits] >>> 24;
  return assocFind(st, st.a8, temp * 8 + ITEM_HEADER, nkey, hv) === hdr && (st.a32[hdr * 2 + ItemField.bits] & ItemFlag.HDR) !== 0
    && hdrVersion(st, hdr) === st.extSlotVersion && hdrOffset(st, hdr) === st.extSlotOffset;
}

/**
 * The second half of memcached's recache_or_free for reads that missed (storageFetch): each header, if still linked
 * (nothing replaced or deleted it meanwhile), is unlinked, and the miss counted. No item lock held.
 */
export function storageMissesDone(st: Store): void {
  const misses = st.extMisses, row = st.stats.row;
  for (let i = 0; i < misses.length; i += 3) {
    const hdr = misses[i], hv = misses[i + 1];
    st.itemLock(hv);
    try { st.doItemUnlink(hdr, hv); } finally { st.itemUnlock(hv); }
    st.itemRelease(hdr);
    row[ThreadStat.miss_from_extstore]++;
    if (misses[i + 2] !== 0) row[ThreadStat.badcrc_from_extstore]++;
  }
  misses.length = 0;
}

/**
 * memcached's recache_or_free, once the answer is written (no item lock held): the value read back is let go,
 * or, for a header item hit twice lately, every ext_recache_rate-th time, linked in its place (the value is
 * in memory again, its object on flash let go). The lock is only tried: memcached throws the copy away rather
 * than wait.
 */
export function storageDone(st: Store, conn: { recacheCounter: number } | null): void {
  const temp = st.extSlotTemp;
  if (temp === 0) return;
  const hdr = st.extSlotHdr, hv = st.extSlotHv;
  st.extSlotTemp = 0; st.extSlotHdr = 0;
  const rate = st.extLive === null || conn === null ? 0 : st.extLive.extSetting(EXT.recacheRate);
  if (rate !== 0 && st.itemTrylock(hv)) {
    try {
      const a32 = st.a32, want = ItemFlag.LINKED | ItemFlag.FETCHED;
      const bits = a32[hdr * 2 + ItemField.bits];
      if (stillTheHeader(st, hdr, temp, hv) && (bits & want) === want && st.extSlotHitTwice && a32[hdr * 2 + ItemField.time] > st.currentTime() - ITEM_UPDATE_INTERVAL
        && conn !== null && conn.recacheCounter++ % rate === 0) {
        a32[temp * 2 + ItemField.exptime] = a32[hdr * 2 + ItemField.exptime];
        // a new CAS, as memcached 1.6.18's item_replace gives the copy (the value's clients have not seen it: a
        // quirk of memcached's, kept)
        doItemReplace(st, hdr, temp, hv);
        st.stats.row[ThreadStat.recache_from_extstore]++;
      }
    } finally { st.itemUnlock(hv); }
  }
  st.itemRelease(temp);
}
