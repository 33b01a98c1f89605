// memcached's restartable cache (-e <file>, restart.c): stopped with SIGUSR1 or `shutdown graceful`, the
// server saves its items, and the next start with the same file and the same memory settings finds them
// all again. memcached's item memory is a mapping of the file, saved by msync and a metadata file; here
// item memory is shared memory between threads, so the stop writes the store's image into the file (the
// arena's pages in use, the control block, the hash table) and the start reads it back. Items are offsets,
// not pointers, so nothing needs the pointer fixups memcached makes. `<file>.meta` holds memcached's
// metadata keys, is checked as memcached checks them, and is deleted once read: a server that then stops
// any other way leaves nothing to restore.

import fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { strerrorOf } from '../libc/errno.ts';
import { ctlBuffer } from './locks.ts';
import { ARENA_PAD, CLASS_BASE, CLASS_WORDS, Cls, ctlLayout, F, FG, G, ItemField, LRU_BASE, LRU_WORDS, LruW, MAX_CLASSES } from './layout.ts';
import { nextGid, setGid } from '../logger/logger.ts';
import { sizesCount } from './sizes.ts';
import { itemNtotal } from './lru.ts';
import { SlabStat, SLAB_FIELDS, THREAD_FIELDS, ThreadStat } from '../stats/thread-stats.ts';
import { CLOCK_START, Store } from './store.ts';
import { safeStrtol, safeStrtoll, safeStrtoul, safeStrtoull } from '../settings/c-numbers.ts';
import type { StoreShared } from './create.ts';

/** What must match between the saved store and this one (memcached's list), as the meta file writes it. */
export type RestartSettings = {
  slabConfig: string; maxBytes: number; chunkSize: number; itemSizeMax: number; slabChunkMax: number;
  slabPageSize: number; useCas: boolean; slabReassign: boolean;
};

const MAGIC = 'cachalot-restart-3';
/** memcached refuses a meta file with fewer checked lines than this (RESTART_REQUIRED_META). */
const REQUIRED_META = 17;

function metaPath(file: string): string { return `${file}.meta`; }

/**
 * memcached opens (creating it) its memory file at start and aborts when it cannot: the message it prints
 * then (perror's), or null when the file is there to be written at the stop.
 */
export function restartOpenFile(file: string, limit: number): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o700);
  } catch (err) {
    return `failed to open file for mmap: ${strerrorOf(err)}`;
  }
  try {
    // memcached sizes the file to -m for its mapping, which a device (/dev/null) refuses, and that stops the start.
    // A regular file is left at the size of the image saved in it (readImage checks size and checksum).
    if (!fs.fstatSync(fd).isFile()) fs.ftruncateSync(fd, limit);
    return null;
  } catch (err) {
    return `ftruncate failed: ${strerrorOf(err)}`;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * What restart_check made of `<file>.meta`: the values, and whether they let this start reuse the saved store.
 * memcached applies some values as it reads them, whether or not the check then passes: the CAS counter, the
 * logger's gid and hashpower_init (which sizes the hash table and is checked against -t's lock table).
 */
export type RestartMeta = {
  reuse: boolean; values: Map<string, string>;
  cas: number | null; loggerGid: number | null; hashpower: number | null;
};

/**
 * At start, before the store is made (memcached's restart_check and its _mc_meta_load_cb): the meta file read
 * line by line as memcached reads it, saying on stderr what memcached says; the file is deleted. A file whose
 * first line is not a known tag stops the start ('abort'), as memcached aborts on it.
 */
export function restartCheck(file: string, want: RestartSettings, log: (line: string) => void): RestartMeta | 'abort' {
  const meta: RestartMeta = { reuse: false, values: new Map(), cas: null, loggerGid: null, hashpower: null };
  let text: string;
  try {
    text = fs.readFileSync(metaPath(file), 'latin1');
  } catch {
    log('[restart] no metadata save file, starting with a clean cache');
    return meta;
  }
  const lines = new MetaLines(text, log);
  const first = lines.next();
  if (first.kind !== 'tag') {
    log(first.kind === 'eof' ? '[restart] Failed to read a tag from metadata file' : '[restart] corrupt metadata file');
    return 'abort';
  }
  let failed = false;
  while (!lines.done) { // memcached calls its callback again after a line that is not a key, from a count of 0
    if (!mainMetaCallback(lines, meta, want, log)) { failed = true; break; }
  }
  fs.rmSync(metaPath(file), { force: true });
  if (failed) log('[restart] failed to validate metadata, starting with a clean cache');
  meta.reuse = !failed;
  return meta;
}

type MetaLine = { kind: 'tag' | 'kv' | 'bad' | 'eof'; key: string; val: string };

/** restart_get_kv over the file's lines: a T line picks the callback (only "main" exists), a K line is a key. */
class MetaLines {
  done = false;
  private declare readonly lines: string[];
  private readonly log: (line: string) => void;
  private at = 0;
  constructor(text: string, log: (line: string) => void) {
    this.log = log;
    this.lines = text.split('\n');
    if (this.lines[this.lines.length - 1] === '') this.lines.pop(); // getline: no line after the last newline
  }

  next(): MetaLine {
    if (this.at >= this.lines.length) { this.done = true; return { kind: 'eof', key: '', val: '' }; }
    const line = this.lines[this.at++];
    if (line[0] === 'T') {
      if (line.slice(1) === 'main') return { kind: 'tag', key: '', val: '' };
      this.log(`[restart] internal handler for metadata tag not found: ${line.slice(1)}:`);
      return { kind: 'bad', key: '', val: '' };
    }
    if (line[0] !== 'K') {
      this.log(`[restart] invalid metadata line:\n\n${line}`);
      return { kind: 'bad', key: '', val: '' };
    }
    const sp = line.indexOf(' ');
    return { kind: 'kv', key: line.slice(1, sp < 0 ? undefined : sp), val: sp < 0 ? '' : line.slice(sp + 1) };
  }
}

/** Our own key (the image's parts and checksum), unknown to memcached's callback and read by readImage. */
const IMAGE_KEY = 'image';

/**
 * memcached's _mc_meta_load_cb: keys until a line that is not one, each read as memcached reads it; the first
 * value that does not let this start reuse the store ends it with its message, and fewer known keys than
 * memcached requires fail too. False: the store is not reused.
 */
function mainMetaCallback(lines: MetaLines, meta: RestartMeta, want: RestartSettings, log: (line: string) => void): boolean {
  let seen = 0;
  let ok = true;
  for (let kv = lines.next(); kv.kind === 'kv'; kv = lines.next()) {
    if (kv.key === IMAGE_KEY) { meta.values.set(kv.key, kv.val); continue; }
    if (!KNOWN_KEYS.has(kv.key)) { log(`[restart] unknown/unhandled key: ${kv.key}`); continue; }
    seen++;
    meta.values.set(kv.key, kv.val);
    if (!metaValueFits(kv.key, kv.val, want, meta)) {
      if (kv.key === 'mmap_oldbase') log(`[restart] failed to parse ${kv.key}: ${kv.val}`);
      log(`[restart] restart incompatible due to setting for [${kv.key}] [old value: ${kv.val}]`);
      ok = false;
      break;
    }
  }
  if (seen < REQUIRED_META) {
    log('[restart] missing some metadata lines');
    ok = false;
  }
  return ok;
}

const KNOWN_KEYS = new Set(['mmap_oldbase', 'maxbytes', 'chunk_size', 'item_size_max', 'slab_chunk_size_max', 'slab_page_size',
  'slab_config', 'use_cas', 'slab_reassign', 'current_cas', 'oldest_cas', 'oldest_live', 'logger_gid', 'current_time',
  'stop_time', 'process_started', 'hashpower']);

/** A value memcached applies as it reads it (set_cas_id, logger_set_gid, hashpower_init); -1: it did not read. */
function apply(meta: RestartMeta, field: 'cas' | 'loggerGid' | 'hashpower', v: number): boolean {
  if (v < 0) return false;
  meta[field] = v;
  return true;
}

/** One key's value as _mc_meta_load_cb reads it (safe_strto*), applying what memcached applies as it reads. */
function metaValueFits(key: string, val: string, want: RestartSettings, meta: RestartMeta): boolean {
  switch (key) {
    case 'mmap_oldbase': return /^\s*(0x)?[0-9a-f]+\s*$/i.test(val); // safe_strtoull_hex of "%p"
    case 'maxbytes': return safeStrtoll(val) === want.maxBytes;
    case 'chunk_size': return safeStrtol(val) === want.chunkSize;
    case 'item_size_max': return safeStrtol(val) === want.itemSizeMax;
    case 'slab_chunk_size_max': return safeStrtol(val) === want.slabChunkMax;
    case 'slab_page_size': return safeStrtol(val) === want.slabPageSize;
    case 'slab_config': return val === want.slabConfig;
    case 'use_cas': return val === String(want.useCas);
    case 'slab_reassign': return val === String(want.slabReassign);
    case 'current_cas': return apply(meta, 'cas', safeStrtoull(val));
    case 'logger_gid': return apply(meta, 'loggerGid', safeStrtoull(val));
    case 'hashpower': return apply(meta, 'hashpower', safeStrtoul(val));
    case 'oldest_cas': case 'process_started': return safeStrtoull(val) >= 0;
    case 'oldest_live': case 'current_time': return safeStrtoul(val) >= 0;
    case 'stop_time': { // memcached refuses a stop time not in the past: the clock went back, or the same second
      const t = safeStrtoll(val);
      return t !== null && Math.floor(Date.now() / 1000) - t > 0;
    }
    default: return true;
  }
}

/**
 * Then, into the store just made (nothing served yet): what memcached applied as it read the meta file, and
 * when the check passed the saved items. The settings that admin commands change (`lru`, `lru_crawler`,
 * `slabs automove`) are the command line's again and the counters start at 0, as in memcached, which saves
 * neither. True when the saved items were restored.
 */
export function restartRestore(shared: StoreShared, file: string, meta: RestartMeta, log: (line: string) => void): boolean {
  let restored = meta.reuse;
  if (meta.reuse) {
    const fresh = runtimeState(shared);
    restored = readImage(shared, file, meta.values);
    if (restored) {
      fresh.putBack();
      resumeClock(shared, meta.values);
      afterRestore(shared);
    } else {
      log('[restart] the memory file does not hold the saved store, starting with a clean cache');
    }
  }
  if (meta.cas !== null) resumeCas(shared, meta.cas); // over the image's counter
  if (meta.loggerGid !== null) setGid(new Int32Array(shared.log), meta.loggerGid);
  return restored;
}

/**
 * The words of the control block that are not the store's contents: the live settings (G's line 4 and FG's
 * factors, as the command line set them), the counters (as a new process has them: 0) and each class's
 * evicted_time. Read before the image is, to be put back over what it brought.
 */
function runtimeState(shared: StoreShared): { putBack: () => void } {
  const c32 = new Int32Array(ctlBuffer(shared.ctl));
  const cf = new Float64Array(ctlBuffer(shared.ctl), ctlLayout(shared.maxPages, shared.lockPower).f64Offset);
  const liveWords = [G.lruSegmented, G.hotLruPct, G.warmLruPct, G.tempLru, G.temporaryTtl, G.lruCrawler, G.crawlerSleepUs,
    G.crawlerTocrawl, G.slabAutomove, G.automoveWindow, G.slabReassign, G.memLimitPages];
  const liveFloats = [FG.hotMaxFactor, FG.warmMaxFactor, FG.automoveRatio, FG.memLimitBytes];
  const counters = [FG.crawlerStarts, FG.maintainerJuggles, FG.slabsMoved, FG.reassignEvictions, FG.reassignBusy,
    FG.reassignRescues, FG.reassignChunkRescues];
  const words = liveWords.map((w) => c32[w]);
  const floats = liveFloats.map((f) => cf[F.glob + f]);
  return {
    putBack: () => {
      liveWords.forEach((w, i) => { c32[w] = words[i]; });
      liveFloats.forEach((f, i) => { cf[F.glob + f] = floats[i]; });
      for (const f of counters) cf[F.glob + f] = 0;
      for (let id = 0; id < MAX_CLASSES; id++) c32[CLASS_BASE + id * CLASS_WORDS + Cls.evictedTime] = 0;
    },
  };
}

/**
 * At a graceful stop (every thread done with the store): save it for the next start. Answers what memcached's
 * restart_mmap_close says on stderr when the meta file cannot be written (the stop goes on), else ''.
 */
export function restartSave(shared: StoreShared, file: string, s: RestartSettings, now: { currentTime: number; processStarted: number }): string {
  const c32 = new Int32Array(ctlBuffer(shared.ctl));
  const parts = imageParts(shared);
  let crc = 0;
  try {
    const fd = fs.openSync(file, 'w', 0o600);
    try {
      for (const p of parts) { fs.writeSync(fd, p); crc = crc32(p, crc); }
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // memcached's items are in its mapping of the file all along and are never written at the stop, so it has
    // nothing to say here; an image not written whole fails its checksum at the next start
  }
  const lines = [
    'Tmain',
    `Kslab_config ${s.slabConfig}`, `Kmaxbytes ${s.maxBytes}`, `Kchunk_size ${s.chunkSize}`,
    `Kitem_size_max ${s.itemSizeMax}`, `Kslab_chunk_size_max ${s.slabChunkMax}`, `Kslab_page_size ${s.slabPageSize}`,
    `Kuse_cas ${s.useCas}`, `Kslab_reassign ${s.slabReassign}`,
    `Kcurrent_time ${now.currentTime}`, `Kprocess_started ${now.processStarted}`,
    `Kstop_time ${Math.floor(Date.now() / 1000)}`,
    // memcached saves get_cas_id(), which takes the next id: the first CAS after the restart skips one
    `Kcurrent_cas ${(c32[G.casHi] >>> 0) * 4294967296 + (c32[G.casLo] >>> 0) + 1}`,
    `Koldest_cas ${(c32[G.oldestCasHi] >>> 0) * 4294967296 + (c32[G.oldestCasLo] >>> 0)}`,
    `Klogger_gid ${nextGid(new Int32Array(shared.log))}`, // logger_get_gid: it takes one
    `Khashpower ${c32[G.hashState] & 0xff}`, `Koldest_live ${c32[G.oldestLive] >>> 0}`,
    'Kmmap_oldbase 0', // memcached's: where its mapping was, for its pointer fixups; offsets need none
    // ours: the image's parts and checksum, so that a file that is not this save's image is never taken up
    `Kimage ${MAGIC} ${parts.map((p) => p.length).join(' ')} ${crc}`,
  ];
  try {
    fs.writeFileSync(metaPath(file), lines.join('\n') + '\n', { mode: 0o600 });
  } catch (err) {
    return `failed to write metadata file: ${strerrorOf(err)}\n[restart] failed to save metadata`; // perror, then no newline
  }
  return '';
}

/**
 * The image, in order: the arena's bytes up to the last page handed out, the control block's words before
 * the item locks (globals, classes, LRUs, the page table) and its Float64 counters after them, the hash table
 * up to its last bucket in use. The locks are all free at a graceful stop and are not saved, so a restart may
 * change -t. The size histogram is not saved either: afterRestore counts the items again, as memcached's
 * relinking does.
 */
function imageParts(shared: StoreShared): Buffer[] {
  const ctl = ctlBuffer(shared.ctl);
  const c32 = new Int32Array(ctl);
  const lay = ctlLayout(shared.maxPages, shared.lockPower);
  const arenaBytes = ARENA_PAD + c32[G.pagesUsed] * shared.settings.slabPageSize;
  const hash = new Int32Array(shared.hashTable);
  let buckets = hash.length;
  while (buckets > 0 && hash[buckets - 1] === 0) buckets--;
  return [
    Buffer.from(shared.arena, 0, arenaBytes),
    Buffer.from(ctl, 0, lay.lockBase * 4),
    Buffer.from(ctl, lay.f64Offset, lay.bytes - lay.f64Offset),
    Buffer.from(shared.hashTable, 0, buckets * 4),
  ];
}

function readImage(shared: StoreShared, file: string, meta: Map<string, string>): boolean {
  const [magic, ...fields] = (meta.get('image') ?? '').split(' ');
  if (magic !== MAGIC || fields.length !== 5 || !fields.every((f) => /^\d+$/.test(f))) return false;
  const [arenaLen, ctlLen, floatLen, hashLen, crc] = fields.map(Number);
  const lay = ctlLayout(shared.maxPages, shared.lockPower);
  const targets: Array<[SharedArrayBuffer, number, number]> = [
    [shared.arena, 0, arenaLen], [ctlBuffer(shared.ctl), 0, ctlLen], [ctlBuffer(shared.ctl), lay.f64Offset, floatLen],
    [shared.hashTable, 0, hashLen],
  ];
  if (ctlLen !== lay.lockBase * 4 || floatLen !== lay.bytes - lay.f64Offset || arenaLen > shared.arena.byteLength ||
    hashLen > shared.hashTable.byteLength) return false;
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return false; }
  try {
    if (fs.fstatSync(fd).size !== arenaLen + ctlLen + floatLen + hashLen) return false;
    const ctl32 = new Int32Array(ctlBuffer(shared.ctl));
    const sizesOn = ctl32[G.sizesOn], sizesBuckets = ctl32[G.sizesBuckets]; // the command line's, not the saved ones
    if (fileChecksum(fd) !== crc) return false; // checked first: the fresh store is only written once it holds
    let at = 0;
    for (const [buf, offset, len] of targets) {
      if (fs.readSync(fd, new Uint8Array(buf, offset, len), 0, len, at) !== len) return false;
      at += len;
    }
    ctl32[G.sizesOn] = sizesOn;
    ctl32[G.sizesBuckets] = sizesBuckets;
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

/** CRC-32 of the whole file, read a megabyte at a time. */
function fileChecksum(fd: number): number {
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  let sum = 0, at = 0;
  for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, at)) > 0; at += n) sum = crc32(chunk.subarray(0, n), sum);
  return sum;
}

/**
 * memcached keeps process_started across the restart, so that every item's times (relative to it) stay
 * right: the clock resumes at what it would have reached had the server never stopped.
 */
function resumeClock(shared: StoreShared, meta: Map<string, string>): void {
  const started = Number(meta.get('process_started'));
  const c32 = new Int32Array(ctlBuffer(shared.ctl));
  const now = Date.now();
  const rel = Math.floor(now / 1000) - started;
  shared.startedUnix = started;
  shared.startedMs = now - (rel - CLOCK_START) * 1000; // clockTick: CLOCK_START + elapsed since startedMs
  c32[G.clock] = Math.max(rel, Number(meta.get('current_time')));
}

/** memcached's set_cas_id: the counter continues from the saved id. */
function resumeCas(shared: StoreShared, cas: number): void {
  const c32 = new Int32Array(ctlBuffer(shared.ctl));
  c32[G.casHi] = Math.floor(cas / 4294967296) | 0;
  c32[G.casLo] = cas >>> 0;
}

/**
 * What no thread holds after a restart: every mutex free, no request pending for the maintainer, nobody
 * watching, each linked item referenced by its link alone; and what memcached's restart counts again as it
 * links every item: total_items, curr_items and curr_bytes, and the size histogram when it is kept.
 */
function afterRestore(shared: StoreShared): void {
  const st = new Store(shared, 0); // the dispatcher's thread: its stats row takes the counts
  const c32 = st.c32, a32 = st.a32;
  for (const w of [G.casLock, G.slabLock, G.expandLock, G.crawlerRunning, G.maintainerStop, G.watchMask,
    G.crawlSignal, G.reassignSignal]) c32[w] = 0;
  const sizes = st.sizes !== null && c32[G.sizesOn] !== 0 ? st.sizes : null;
  sizes?.fill(0);
  st.cf[F.glob + FG.sizesCasMin] = 0;
  for (let id = 0; id < 256; id++) {
    const base = LRU_BASE + id * LRU_WORDS;
    c32[base + LruW.lock] = 0;
    let linked = 0;
    for (let it = c32[base + LruW.head]; it !== 0; it = a32[it * 2 + ItemField.next]) {
      a32[it * 2 + ItemField.refcount] = 1;
      if (sizes !== null) sizesCount(st, it, 1);
      st.stats.row[ThreadStat.curr_items]++;
      st.stats.row[ThreadStat.curr_bytes] += itemNtotal(a32, it);
      linked++;
    }
    st.stats.row[THREAD_FIELDS + (id & 63) * SLAB_FIELDS + SlabStat.total_items] += linked;
  }
}
