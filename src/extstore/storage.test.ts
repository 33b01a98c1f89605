// External storage in the store, without a server: values written to a file page by page, header items in
// their place, reads back, deletes, page evictions and bad objects (memcached's storage.c and extstore.c).

import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Store } from "../store/store.ts";
import { createStore } from "../store/create.ts";
import { b, MB, put, settings } from "../store/test-support.ts";
import { Lru } from "../store/layout.ts";
import { itemNtotal, lruPullTail } from "../store/lru.ts";
import { ThreadStat } from "../stats/thread-stats.ts";
import { DeltaResult, StoreOp, StoreResult } from "../store/results.ts";
import { createExtShared, EStat } from "./engine.ts";
import { storageWrite } from "./storage.ts";
import { hdrOffset, hdrPage } from "./item-hdr.ts";
import { StorageThreads } from "./storage-thread.ts";
import { EXT_UINT_SETTINGS } from "../settings/ext-settings.ts";

const PAGE = 2 * MB, WBUF = MB;

/** The files' folders, removed when the file's tests are done (each holds up to 16 MB). */
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A store with `pages` pages of external storage in a fresh file (page 0, as memcached's, never used); `flags`
 * how the file is opened ("r": writes to it fail).
 */
function extStore(pages: number, flags = "w+"): { st: Store; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cachalot-ext-"));
  dirs.push(dir);
  const file = path.join(dir, "ext");
  fs.writeFileSync(file, "");
  const fd = fs.openSync(file, flags);
  const shared = createStore(settings({ maxBytes: 64 * MB }));
  shared.ext = createExtShared([fd], [pages], PAGE, WBUF);
  const st = new Store(shared, 1);
  const uints = EXT_UINT_SETTINGS.map(([, , initial]) => initial);
  st.extLive = { extSetting: (i) => uints[i], extMaxFrag: () => 0.8 };
  return { st, file };
}

/** extstore's settings as started, but for compaction from `pages` pages free (ext_compact_under) and ext_max_frag 0.9. */
function compactUnder(st: Store, pages: number): void {
  const uints = EXT_UINT_SETTINGS.map(([, , initial]) => initial);
  uints[EXT_UINT_SETTINGS.findIndex(([n]) => n === "compact_under")] = pages;
  st.extLive = { extSetting: (i) => uints[i], extMaxFrag: () => 0.9 };
}

/** `n` turns of the storage threads (writer and compactor), each as if long overdue. */
function storageRounds(st: Store, n: number): void {
  const threads = new StorageThreads(st, st.ext!, st.extLive!);
  for (let r = 0; r < n; r++) threads.round(1e9);
}

const value = (key: string, n: number): string => (key + ":").repeat(Math.ceil(n / (key.length + 1))).slice(0, n);

/** Every item of the class to COLD, then every COLD item to flash; how many went. */
function flushClass(st: Store, clsid: number): number {
  while (lruPullTail(st, clsid, Lru.HOT, 0, 0, 0) > 0);
  let n = 0;
  while (storageWrite(st, st.ext!, clsid, 0, 0)) n++;
  return n;
}

/** A connection's recache count, for the reads of these tests. */
const conn = { recacheCounter: 0 };

/** get through the store's peek (which reads a value on flash back): the value, or null. */
function peek(st: Store, key: string): string | null {
  const k = b(key);
  try {
    const it = st.itemPeek(k, 0, k.length);
    if (it === 0) return null;
    const out = Buffer.alloc(st.itemNbytes(it));
    st.itemCopyValue(it, out, 0);
    return out.subarray(0, out.length - 2).toString("latin1");
  } finally {
    st.itemPeekDone();
    st.extDone(conn);
  }
}

/** Look at the key's item without reading a value back (itemGet does not): what `look` answers of it, or null. */
function look<T>(st: Store, key: string, f: (it: number) => T): T | null {
  const k = b(key);
  const it = st.itemGet(k, 0, k.length);
  if (it === 0) return null;
  try { return f(it); } finally { st.itemRelease(it); }
}
const isHdr = (st: Store, key: string): boolean => look(st, key, (it) => st.itemIsHdr(it)) === true;
const clsOf = (st: Store, key: string): number => look(st, key, (it) => st.itemClsid(it)) ?? 0;

test("cold values go to flash: a header item takes their place with their CAS and flags, and gets read them back", () => {
  const { st } = extStore(8);
  for (let i = 0; i < 40; i++) put(st, `k${i}`, value(`k${i}`, 20000), undefined, 0, i);
  const cas = st.lastCas;
  const clsid = clsOf(st, "k39");
  assert.equal(flushClass(st, clsid), 40);
  assert.ok(isHdr(st, "k0") && isHdr(st, "k39"));
  const ext = st.ext!;
  assert.equal(ext.stats[EStat.objects_written], 40);
  assert.ok(ext.stats[EStat.bytes_written] > 40 * 20000);
  for (let i = 0; i < 40; i++) assert.equal(peek(st, `k${i}`), value(`k${i}`, 20000));
  assert.equal(look(st, "k39", (it) => st.itemCas(it)), cas);
  assert.equal(look(st, "k39", (it) => st.itemFlags(it)), 39);
  assert.equal(st.stats.row[ThreadStat.get_extstore], 40);
  assert.equal(ext.stats[EStat.objects_read], 40);
  assert.equal(st.currItems(), 40);
});

test("a delete lets go of the object on flash: bytes and objects used drop", () => {
  const { st } = extStore(8);
  for (let i = 0; i < 10; i++) put(st, `d${i}`, value("d", 30000));
  const clsid = clsOf(st, "d0");
  flushClass(st, clsid);
  const ext = st.ext!;
  const used = ext.stats[EStat.bytes_used];
  assert.equal(ext.stats[EStat.objects_used], 10);
  st.itemDelete(b("d3"), 0, 2, 0);
  put(st, "d4", "replaced in memory");
  assert.equal(ext.stats[EStat.objects_used], 8);
  assert.ok(ext.stats[EStat.bytes_used] < used);
  assert.equal(peek(st, "d4"), "replaced in memory");
  assert.equal(peek(st, "d3"), null);
});

test("with no page free the oldest page is evicted: its keys miss, counted in miss_from_extstore", () => {
  const { st } = extStore(4); // pages 1..3 usable, 2 MB each
  for (let i = 0; i < 300; i++) {
    put(st, `e${i}`, value(`e${i}`, 30000));
    if (i % 20 === 19) { flushClass(st, clsOf(st, `e${i}`)); st.ext!.runMaint(); }
  }
  const ext = st.ext!;
  assert.ok(ext.stats[EStat.page_evictions] > 0);
  assert.ok(ext.stats[EStat.objects_evicted] > 0);
  assert.equal(peek(st, "e0"), null);
  assert.equal(isHdr(st, "e0"), true); // until the reply is sent, as memcached's recache_or_free
  st.extMissesDone();
  assert.equal(st.stats.row[ThreadStat.miss_from_extstore], 1);
  assert.equal(isHdr(st, "e0"), false); // its header is unlinked by the miss
  assert.equal(peek(st, "e299"), value("e299", 30000));
});

test("an object changed on disk is a miss with badcrc_from_extstore, never sent", () => {
  const { st, file } = extStore(8);
  put(st, "c", value("c", 5000));
  const clsid = clsOf(st, "c");
  flushClass(st, clsid);
  const fd = fs.openSync(file, "r+");
  fs.writeSync(fd, Buffer.from("X"), 0, 1, PAGE + 48 + 1 + 100); // page 1: a byte of the value
  fs.closeSync(fd);
  assert.equal(peek(st, "c"), null);
  st.extMissesDone();
  assert.equal(st.stats.row[ThreadStat.badcrc_from_extstore], 1);
  assert.equal(st.stats.row[ThreadStat.miss_from_extstore], 1);
});

test("incr, append and prepend leave a value on flash alone, as memcached's", () => {
  const { st } = extStore(8);
  put(st, "n", "1".repeat(2000));
  const clsid = clsOf(st, "n");
  flushClass(st, clsid);
  assert.equal(put(st, "n", "x", StoreOp.APPEND), StoreResult.NOT_STORED);
  assert.equal(put(st, "n", "x", StoreOp.PREPEND), StoreResult.NOT_STORED);
  assert.equal(st.addDelta(b("n"), 0, 1, true, 1n, 0), DeltaResult.NON_NUMERIC);
  assert.equal(peek(st, "n"), "1".repeat(2000));
});

test("compaction: a mostly empty page's live objects are rewritten and the page freed", () => {
  const { st } = extStore(6);
  compactUnder(st, 6);
  for (let i = 0; i < 150; i++) put(st, `p${i}`, value(`p${i}`, 30000)); // pages 1 and 2 filled, 3 begun
  flushClass(st, clsOf(st, "p0"));
  for (let i = 0; i < 150; i++) if (i % 4 !== 0) st.itemDelete(b(`p${i}`), 0, `p${i}`.length, 0);
  storageRounds(st, 20);
  const ext = st.ext!;
  assert.ok(ext.stats[EStat.compact_rescues] > 0);
  assert.ok(ext.stats[EStat.page_reclaims] > 0);
  for (let i = 0; i < 150; i += 4) assert.equal(peek(st, `p${i}`), value(`p${i}`, 30000));
});

// memcached's compactor asks the maintenance thread for a page and tries again (ten times, 1 ms apart) before it
// counts an object lost; that thread, finding none free, evicts the oldest. Here the maintenance pass runs in the
// compactor's own turn, before each block is read, so the block's rescues find the page it evicted. Its next pass,
// with none free again, evicts the oldest once more, which is now the page being compacted: the compaction ends
// there, as memcached's does.
test("compaction with no page free: the oldest page is evicted for the rescues, none is lost", () => {
  const { st } = extStore(6); // pages 1..5, 2 MB each: some 68 objects of 30 KB a page
  compactUnder(st, 6);
  const N = 300; // pages 1..4 filled, 5 begun: none free
  for (let i = 0; i < N; i++) put(st, `q${i}`, value(`q${i}`, 30000));
  assert.equal(flushClass(st, clsOf(st, "q0")), N);
  const ext = st.ext!;
  assert.equal(ext.pagesFree(), 0);
  const pageOf = (key: string): number => look(st, key, (it) => hdrPage(st, it)) ?? -1;
  // the second page written, mostly emptied: the one compaction takes (the first stays full, the oldest)
  const second = pageOf(`q${N - 1}`) === 5 ? pageOf("q100") : -1;
  const kept: string[] = [];
  for (let i = 0; i < N; i++) {
    if (pageOf(`q${i}`) !== second) continue;
    if (i % 4 === 0) kept.push(`q${i}`);
    else st.itemDelete(b(`q${i}`), 0, `q${i}`.length, 0);
  }
  assert.ok(kept.length > 10, `${kept.length} kept on page ${second}`);
  storageRounds(st, 20);
  const rescued = ext.stats[EStat.compact_rescues];
  assert.ok(rescued > 0 && rescued < kept.length, `${rescued} of ${kept.length} rescued`);
  assert.equal(ext.stats[EStat.compact_lost], 0);
  assert.equal(ext.stats[EStat.page_evictions], 2, "the oldest page, then the one being compacted");
  const hits = kept.filter((key) => {
    const v = peek(st, key);
    if (v !== null) assert.equal(v, value(key, 30000));
    return v !== null;
  });
  assert.equal(hits.length, rescued, "the rescued are read back; the rest went with their page");
});

test("compaction rescues the object a header points at, not an older one of the same key earlier in the page", () => {
  // memcached 1.6.18 matched a header by page and version alone: a key written to the same page twice had its
  // older object rescued (the header pointed at an old value of the same length) and deleted twice (memcached's
  // fix: c91842e13, 1.6.21, which checks the offset too)
  const { st } = extStore(6);
  compactUnder(st, 6);
  const older = "old:".repeat(5000), newer = "new:".repeat(5000);
  put(st, "ow", older);
  flushClass(st, clsOf(st, "ow"));
  put(st, "ow", newer); // the same length, to the same page
  flushClass(st, clsOf(st, "ow"));
  for (let i = 0; i < 100; i++) put(st, `f${i}`, value(`f${i}`, 30000)); // page 1 filled, page 2 begun
  flushClass(st, clsOf(st, "f0"));
  for (let i = 0; i < 100; i++) if (i % 4 !== 0) st.itemDelete(b(`f${i}`), 0, `f${i}`.length, 0);
  storageRounds(st, 20);
  const ext = st.ext!;
  assert.ok(ext.stats[EStat.compact_rescues] > 0);
  const got = peek(st, "ow");
  assert.ok(got === newer, `the value last set, not ${got?.slice(0, 8)}...`);
  assert.equal(st.stats.row[ThreadStat.badcrc_from_extstore], 0);
  // every object still used is a header's: one for "ow", one for each filler kept
  assert.equal(ext.stats[EStat.objects_used], 1 + 25);
});

test("a page finished when no page is free to follow it still ends in an end marker: compaction reads no further", () => {
  const { st, file } = extStore(4); // pages 1..3, two blocks each
  // what earlier lives of the pages left: bytes that read as an object header of a negative length
  const fd = fs.openSync(file, "r+");
  fs.writeSync(fd, Buffer.alloc(4 * PAGE, 0xcc), 0, 4 * PAGE, 0);
  fs.closeSync(fd);
  compactUnder(st, 3);
  for (let i = 0; i < 210; i++) put(st, `m${i}`, value(`m${i}`, 30000));
  // 68 objects a page: the 205th finds page 3 full and no page free (page 1, the oldest, is evicted for the next)
  assert.equal(flushClass(st, clsOf(st, "m0")), 204);
  const ext = st.ext!;
  assert.equal(ext.stats[EStat.page_evictions], 1);
  const end = look(st, "m203", (it) => hdrOffset(st, it) + itemNtotal(st.a32, it))!;
  const page3 = Buffer.alloc(PAGE);
  ext.readAt(3, 0, page3, PAGE);
  assert.ok(page3.subarray(end, end + 48).every((x) => x === 0), "an end marker after page 3's last object");
  // page 3 nearly emptied: the compactor takes it, reads both its blocks, and rescues what is left
  const kept = [136, 137, 138, 139, 200, 201, 202, 203]; // in each block, the first objects and the last
  for (let i = 136; i < 204; i++) if (!kept.includes(i)) st.itemDelete(b(`m${i}`), 0, `m${i}`.length, 0);
  storageRounds(st, 20);
  assert.equal(ext.stats[EStat.compact_rescues], 8);
  for (const i of kept) assert.ok(peek(st, `m${i}`) === value(`m${i}`, 30000), `m${i} read back`);
});

test("compaction of an object whose header a reader holds: a new header takes its place, and nothing is let go twice", () => {
  // memcached 1.6.18 counted it lost (the header kept naming the page, so the key was gone once the page closed;
  // fixed in 1.6.21, 5f1c65177, with a new header); and the object it had let go was let go again by the key's delete
  const { st } = extStore(6);
  compactUnder(st, 6);
  for (let i = 0; i < 100; i++) put(st, `h${i}`, value(`h${i}`, 30000)); // page 1 filled, page 2 begun
  flushClass(st, clsOf(st, "h0"));
  const cas = look(st, "h0", (it) => st.itemCas(it));
  for (let i = 0; i < 100; i++) if (i % 4 !== 0) st.itemDelete(b(`h${i}`), 0, `h${i}`.length, 0);
  const ext = st.ext!;
  const held = st.itemGet(b("h0"), 0, 2); // a reader between its lookup and its reply (binary get, mg)
  const heldPage = hdrPage(st, held);
  const threads = new StorageThreads(st, ext, st.extLive!);
  for (let r = 0; r < 20 && ext.pageVersion(heldPage) !== 0 && ext.stats[EStat.compact_rescues] === 0; r++) threads.round(1e9);
  assert.ok(ext.stats[EStat.compact_rescues] > 0, "compaction ran");
  st.itemDelete(b("h4"), 0, 2, 0); // a key the compactor rewrote, deleted before the page is closed
  for (let r = 0; r < 20; r++) threads.round(1e9);
  st.itemRelease(held);
  assert.equal(ext.stats[EStat.compact_lost], 0);
  const got = peek(st, "h0");
  assert.ok(got === value("h0", 30000), "h0 read back from its copy");
  assert.equal(look(st, "h0", (it) => st.itemCas(it)), cas, "the new header keeps the CAS");
  // every object still used is a header's: h0, h8, h12, ... (h4 deleted)
  assert.equal(ext.stats[EStat.objects_used], 24);
});

test("a write the file refuses (a full disk, an IO error) is let pass, as memcached's IO thread does; the value then reads as a miss", () => {
  const { st } = extStore(8, "r");
  put(st, "w", value("w", 2000));
  assert.equal(flushClass(st, clsOf(st, "w")), 1);
  assert.equal(isHdr(st, "w"), true);
  assert.equal(peek(st, "w"), null);
  st.extMissesDone();
  assert.equal(st.stats.row[ThreadStat.miss_from_extstore], 1);
});
