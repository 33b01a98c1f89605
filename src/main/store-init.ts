// The shared store built at start, as memcached's main() builds its own: with -e the memory file opened and
// checked (restart_mmap_open), assoc_init's and slabs_init's sizes and refusals, with ext_path external storage's
// files (storage_init), memcached_thread_init's lock table, then the saved items restored.

import os from 'node:os';
import { writeErr } from '../libc/stdio.ts';
import { storeSettingsOf } from '../settings/report.ts';
import type { Settings } from '../settings/settings.ts';
import { createStore, preallocationShortfall } from '../store/create.ts';
import type { StoreSettings, StoreShared } from '../store/create.ts';
import { lockTableRefusal } from '../store/locks.ts';
import { restartCheck, restartOpenFile, restartRestore } from '../store/restart.ts';
import type { RestartMeta, RestartSettings } from '../store/restart.ts';
import { slabClassSizes, slabClassTable } from '../store/slabs.ts';
import { hugePageSize, largeChunkReport, readMeminfo } from './large-pages.ts';
import { storageInit } from './storage-init.ts';

/** The store, and with ext_path one descriptor per file in settings.ext.paths' order (else null). */
export type StoreInit = { storeShared: StoreShared; extFds: number[] | null };

/**
 * The shared store, as memcached's assoc_init, slabs_init (with -e: restart_mmap_open first, the saved items
 * after), storage_init (with ext_path) and memcached_thread_init's lock table make theirs; memcached's refusals
 * on the way end the start.
 */
export function storeInit(settings: Settings, largeChunk: boolean): StoreInit {
  const saved = settings.memoryFile !== null ? restartOpen(settings.memoryFile, restartSettingsOf(settings)) : null;
  if (saved !== null && saved.hashpower !== null) { // the saved table's size is hashpower_init now
    if (saved.hashpower > HASHPOWER_MAX) { writeErr('Failed to init hashtable.\n'); process.exit(1); } // assoc_init's calloc
    settings.hashpowerInit = saved.hashpower;
  }
  const extstore = settings.ext.paths.length > 0;
  if (extstore && saved !== null && saved.reuse) {
    // memcached's items in flash are not saved with the memory file: the start goes on with a clean cache (what the
    // meta file set besides the items, the CAS counter and the log's ids, still applies, as in memcached)
    logLine('[restart] memory restart with extstore not presently supported.');
    saved.reuse = false;
  }
  if (largeChunk) { // slabs_init's alloc_large_chunk: it may fall back to no preallocation
    const chunk = largeChunkReport(hugePageSize(readMeminfo()), settings.verbose);
    writeErr(chunk.stderr);
    settings.preallocate = chunk.preallocated;
  }
  const storeSettings = storeSettingsOf(settings, os.totalmem());
  if (settings.verbose > 1) { // slabs_init prints the classes before it preallocates (and may refuse, below)
    const sizes = slabClassSizes(storeSettings.chunkSizeMin, storeSettings.factor, storeSettings.slabChunkMax, storeSettings.slabSizes);
    writeErr(slabClassTable(sizes, storeSettings.slabPageSize));
  }
  const shortfall = preallocationShortfall(storeSettings);
  if (shortfall !== null) { writeErr(shortfall + '\n'); process.exit(1); }
  const extFds = extstore ? storageInit(settings.ext) : null; // storage_init, just after slabs_init
  const lockRefusal = lockTableRefusal(settings.threads, settings.hashpowerInit); // memcached_thread_init's check
  if (lockRefusal !== null) { writeErr(lockRefusal + '\n'); process.exit(1); }
  const storeShared = createStoreOrExit(storeSettings);
  warnArenaShort(storeShared, settings);
  if (saved !== null && settings.memoryFile !== null) restartRestore(storeShared, settings.memoryFile, saved, logLine);
  return { storeShared, extFds };
}

/** The largest hash table -o hashpower takes; memcached's calloc of a larger one fails as a meta file asks for it. */
const HASHPOWER_MAX = 32;

/** memcached's restart_mmap_open: the memory file opened (else abort) and its saved metadata checked. */
function restartOpen(file: string, want: RestartSettings): RestartMeta {
  const unusable = restartOpenFile(file, want.maxBytes);
  if (unusable !== null) { logLine(unusable); abort(); }
  const saved = restartCheck(file, want, logLine);
  if (saved === 'abort') abort(); // on a meta file it cannot read
  return saved;
}

/** memcached's abort(): the process ends by SIGABRT (process.abort() would print Node's stack traces first). */
export function abort(): never {
  process.kill(process.pid, 'SIGABRT');
  return process.exit(134); // not reached: SIGABRT's default action ends the process
}

/** What a restart (-e) must find unchanged, memcached's list. */
export function restartSettingsOf(s: Settings): RestartSettings {
  return {
    slabConfig: s.slabConfig, maxBytes: s.maxBytes, chunkSize: s.chunkSizeMin, itemSizeMax: s.itemSizeMax,
    slabChunkMax: s.slabChunkMax, slabPageSize: s.slabPageSize, useCas: s.useCas, slabReassign: s.slabReassign,
  };
}

/**
 * The store's shared memory, with a row per thread for its statistics and log: a -t too large for that is
 * memcached's failed calloc of its thread descriptors (exit 1), not a stack trace.
 */
function createStoreOrExit(s: StoreSettings): StoreShared {
  try {
    return createStore(s);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    writeErr("Can't allocate thread descriptors: Cannot allocate memory\n");
    return process.exit(1);
  }
}

/**
 * memcached takes any -m and mallocs pages as they are needed, failing past what the machine gives. The arena
 * is reserved at start, as one buffer whose item references reach 16 GB: a larger -m, or one the address space
 * will not take, runs with the arena there is, and says so.
 */
function warnArenaShort(shared: StoreShared, settings: Settings): void {
  const held = shared.maxPages * settings.slabPageSize;
  if (held >= settings.maxBytes) return;
  writeErr(`Warning: -m ${settings.maxBytes / (1024 * 1024)} is more memory than could be reserved; ` +
    `the cache holds at most ${held / (1024 * 1024)} megabytes.\n`);
}

function logLine(line: string): void { writeErr(line + '\n'); }
