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
import { strerrorOf } from '../errno.ts';
import { ctlBuffer } from './locks.ts';
import { ARENA_PAD, ctlLayout, F, FG, G, ItemField, LRU_BASE, LRU_WORDS, LruW } from './layout.ts';
import { sizesCount } from './sizes.ts';
import { itemNtotal } from './lru.ts';
import { SlabStat, SLAB_FIELDS, THREAD_FIELDS, ThreadStat } from '../stats/thread-stats.ts';
import { CLOCK_START, Store } from './store.ts';
import type { StoreShared } from './store.ts';

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
export function restartOpenFile(file: string): string | null {
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o700));
    return null;
  } catch (err) {
    return `failed to open file for mmap: ${strerrorOf(err)}`;
  }
}

/**
 * At start, before the store is made (memcached's restart_check): the saved metadata when it lets this
 * start reuse the saved store, else null, saying why on stderr as memcached does; the file is deleted. A
 * file that does not begin with the tag line stops the start ('abort'), as memcached aborts on it.
 */
export function restartCheck(file: string, want: RestartSettings, log: (line: string) => void): Map<string, string> | null | 'abort' {
  let text: string;
  try {
    text = fs.readFileSync(metaPath(file), 'latin1');
  } catch {
    log('[restart] no metadata save file, starting with a clean cache');
    return null;
  }
  const unreadable = tagLineProblem(text);
  if (unreadable !== null) { log(unreadable); return 'abort'; }
  fs.rmSync(metaPath(file), { force: true });
  const meta = parseMeta(text);
  if (meta === null || !metaMatches(meta, want, log)) {
    log('[restart] failed to validate metadata, starting with a clean cache');
    return null;
  }
  return meta;
}

/** Then, into the store just made (nothing served yet): the saved items. False if the image is not whole. */
export function restartRestore(shared: StoreShared, file: string, meta: Map<string, string>, log: (line: string) => void): boolean {
  if (!readImage(shared, file, meta)) {
    log('[restart] the memory file does not hold the saved store, starting with a clean cache');
    return false;
  }
  resumeClock(shared, meta);
  resumeCas(shared, Number(meta.get('current_cas')));
  afterRestore(shared);
  return true;
}

/** At a graceful stop (every thread done with the store): save it for the next start. */
export function restartSave(shared: StoreShared, file: string, s: RestartSettings, now: { currentTime: number; processStarted: number }): void {
  const c32 = new Int32Array(ctlBuffer(shared.ctl));
  const parts = imageParts(shared);
  let crc = 0;
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    for (const p of parts) { fs.writeSync(fd, p); crc = crc32(p, crc); }
  } finally {
    fs.closeSync(fd);
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
    `Klogger_gid 0`, `Khashpower ${c32[G.hashState] & 0xff}`, `Koldest_live ${c32[G.oldestLive]}`,
    'Kmmap_oldbase 0', // memcached's: where its mapping was, for its pointer fixups; offsets need none
    // ours: the image's parts and checksum, so that a file that is not this save's image is never taken up
    `Kimage ${MAGIC} ${parts.map((p) => p.length).join(' ')} ${crc}`,
  ];
  fs.writeFileSync(metaPath(file), lines.join('\n') + '\n', { mode: 0o600 });
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
    const sizesOn = new Int32Array(ctlBuffer(shared.ctl))[G.sizesOn]; // the command line's, not the saved one
    if (fileChecksum(fd) !== crc) return false; // checked first: the fresh store is only written once it holds
    let at = 0;
    for (const [buf, offset, len] of targets) {
      if (fs.readSync(fd, new Uint8Array(buf, offset, len), 0, len, at) !== len) return false;
      at += len;
    }
    new Int32Array(ctlBuffer(shared.ctl))[G.sizesOn] = sizesOn;
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

/** memcached's restart_check on the first line: what it says before it aborts, or null for its own tag. */
function tagLineProblem(text: string): string | null {
  if (text === '') return '[restart] Failed to read a tag from metadata file';
  const first = text.slice(0, text.indexOf('\n') < 0 ? undefined : text.indexOf('\n'));
  if (first === 'Tmain') return null;
  const why = first[0] === 'T' ? `[restart] internal handler for metadata tag not found: ${first.slice(1)}:\n`
    : first[0] === 'K' ? '' : `[restart] invalid metadata line:\n\n${first}\n\n`;
  return `${why}[restart] corrupt metadata file`;
}

function parseMeta(text: string): Map<string, string> | null {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines[0] !== 'Tmain') return null;
  const meta = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line[0] !== 'K') continue;
    const sp = line.indexOf(' ');
    meta.set(line.slice(1, sp < 0 ? undefined : sp), sp < 0 ? '' : line.slice(sp + 1));
  }
  return meta;
}

/** The keys memcached's _mc_meta_load_cb knows; ours (image) is checked when the image is read. */
const KNOWN_KEYS = new Set(['mmap_oldbase', 'maxbytes', 'chunk_size', 'item_size_max', 'slab_chunk_size_max', 'slab_page_size',
  'slab_config', 'use_cas', 'slab_reassign', 'current_cas', 'oldest_cas', 'oldest_live', 'logger_gid', 'current_time',
  'stop_time', 'process_started', 'hashpower']);

/**
 * memcached's _mc_meta_load_cb, line by line in the file's order: the first value that does not let this start
 * reuse the store stops the check with its message; fewer checked lines than memcached requires fail too.
 */
function metaMatches(meta: Map<string, string>, want: RestartSettings, log: (line: string) => void): boolean {
  const expected: Record<string, string> = {
    maxbytes: String(want.maxBytes), chunk_size: String(want.chunkSize), item_size_max: String(want.itemSizeMax),
    slab_chunk_size_max: String(want.slabChunkMax), slab_page_size: String(want.slabPageSize),
    slab_config: want.slabConfig, use_cas: String(want.useCas), slab_reassign: String(want.slabReassign),
  };
  let seen = 0;
  let ok = true;
  for (const [key, value] of meta) {
    if (!KNOWN_KEYS.has(key)) continue;
    seen++;
    const bad = key in expected ? value !== expected[key]
      // memcached refuses a stop time not in the past: the clock went back, or the start is within the same second
      : key === 'stop_time' ? !(Math.floor(Date.now() / 1000) - Number(value) > 0)
      : !/^\d+$/.test(value);
    if (bad) {
      log(`[restart] restart incompatible due to setting for [${key}] [old value: ${value}]`);
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
