// memcached's logger (logger.c), the writing side: each thread that logs has a ring of fixed-size entries in one
// shared buffer, and writes an entry only when the store's watch mask (G.watchMask) says some `watch` connection
// wants that kind of event. Watchers, on any worker, read every ring with cursors of their own (watcher.ts) and
// turn entries into lines (format.ts).
//
// A ring never waits for its readers: the newest entry overwrites the oldest. A watcher that was lapped counts
// what it lost as skipped (memcached's worker drops the new entry instead when its logger thread is behind, and
// counts it in log_worker_dropped; here a slow watcher costs the others nothing).
//
// Buffer: [ header: 32 Int32 words | ring 0 | ring 1 | ... ] with one ring per thread of the store (0
// dispatcher, 1..N workers, N+1 maintainer).
//   header: 0 gid (low 32 bits) | 1 gid (high) | 2 watchers | 3 lock (watcher registration) |
//           16..31 watchers wanting each flag bit (bit i counts in word 16 + i)
//   ring:   [ written (entries ever written, u32), on a line of its own | slot 0 | slot 1 | ... NSLOTS - 1 ]
//   slot (SLOT_BYTES): Int32 words, then the key (or the peer address) from byte SLOT_DATA (72)
//     0 event | len << 8       1 gid low   2 gid high   3 ts seconds   4 ts microseconds
//     5..9 entries of each class written so far by this ring, this one included (fetchers, mutations,
//          evictions, connevents, sysevents): what a lapped watcher lost of the classes it watches
//    10 a: item_get found status, item_store status, eviction fetched, connection transport, slab_move src
//    11 b: item_store command, connection close reason, eviction: 1 when the item never expires, slab_move dst
//    12 clsid   13 cfd   14 size   15 ttl (item_store: uint32; eviction: signed) or the peer's port   16 la

import { ThreadStat } from '../stats/thread-stats.ts';
import type { Store } from '../store/store.ts';
import { G } from '../store/layout.ts';

/** memcached's LOG_* event flags (logger.h), as `watch` takes them. */
export const LogFlag = {
  SYSEVENTS: 1 << 1, FETCHERS: 1 << 2, MUTATIONS: 1 << 3, SYSERRORS: 1 << 4, CONNEVENTS: 1 << 5,
  EVICTIONS: 1 << 6, RAWCMDS: 1 << 9, PROXYREQS: 1 << 10, PROXYEVENTS: 1 << 11, PROXYUSER: 1 << 12,
  /**
   * Not memcached's, and no watcher's: set while the verbosity is over 2, when memcached's do_item_get prints every
   * lookup. In the watch mask so that a lookup's one check of it covers both.
   */
  VERBOSE_LOOKUPS: 1 << 15,
} as const;

/** What makes a lookup log: a `watch fetchers`, or -vvv. */
export const LOOKUPS_LOGGED = LogFlag.FETCHERS | LogFlag.VERBOSE_LOOKUPS;

/** What an entry records (memcached's log_entry_type, the ones Cachalot writes). */
export const LogEvent = {
  ITEM_GET: 1, ITEM_STORE: 2, EVICTION: 3, CONN_NEW: 4, CONN_CLOSE: 5, SLAB_MOVE: 6,
  EXT_WRITE: 7, // extstore's write of a value to flash (an evictions event)
  TEXT: 8, // a sysevents line memcached formats when it logs it (the extstore compactor's): the slot holds the text
} as const;

/** Entry classes, counted per ring: CLASS_OF_EVENT[event] (the two connection events share one). */
export const CLASS_FLAGS = [LogFlag.FETCHERS, LogFlag.MUTATIONS, LogFlag.EVICTIONS, LogFlag.CONNEVENTS, LogFlag.SYSEVENTS] as const;
export const LOG_CLASSES = CLASS_FLAGS.length;
export const CLASS_OF_EVENT: readonly number[] = [0, 0, 1, 2, 3, 3, 4, 2, 4];

/** memcached's WATCHER_LIMIT. */
export const WATCHER_LIMIT = 20;

export const Hdr = { gidLo: 0, gidHi: 1, watchers: 2, lock: 3, flagCounts: 16 } as const;
export const HEADER_WORDS = 32;
export const SLOT_BYTES = 328;
export const SLOT_WORDS = SLOT_BYTES / 4;
export const SLOT_DATA = 72;
/** A key is at most 250 bytes; an address string far less. */
export const SLOT_DATA_MAX = SLOT_BYTES - SLOT_DATA;
/** Entries per ring: a power of two, so that u32 counters wrap onto the same slot. */
export const NSLOTS = 1024;
const RING_HEADER_BYTES = 64;
export const RING_BYTES = RING_HEADER_BYTES + NSLOTS * SLOT_BYTES;
export const Slot = {
  event: 0, gidLo: 1, gidHi: 2, sec: 3, usec: 4, counts: 5, a: 10, b: 11, clsid: 12, cfd: 13, size: 14,
  ttl: 15, la: 16,
} as const;

/** Word index of ring r's `written` counter; its slot s starts at ringWord(r) + 16 + s * SLOT_WORDS. */
export function ringWord(r: number): number { return (HEADER_WORDS * 4 + r * RING_BYTES) / 4; }
export function slotWord(r: number, seq: number): number {
  return ringWord(r) + RING_HEADER_BYTES / 4 + (seq & (NSLOTS - 1)) * SLOT_WORDS;
}

/** The logger's shared buffer, for `nthreads` store threads. Untouched rings cost no memory (lazy pages). */
export function createLogBuffer(nthreads: number): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_WORDS * 4 + nthreads * RING_BYTES);
}

/** memcached's logger_set_gid: a restart (-e) resumes the sequence where the stop left it. */
export function setGid(i32: Int32Array, gid: number): void {
  i32[Hdr.gidLo] = gid % 4294967296;
  i32[Hdr.gidHi] = Math.floor(gid / 4294967296);
}

/** memcached's logger_get_gid: one global sequence, so watchers can order lines from every thread. */
export function nextGid(i32: Int32Array): number {
  const lo = (Atomics.add(i32, Hdr.gidLo, 1) + 1) >>> 0;
  if (lo === 0) Atomics.add(i32, Hdr.gidHi, 1); // a racing reader may see the old high word once, at 2^32
  return (Atomics.load(i32, Hdr.gidHi) >>> 0) * 4294967296 + lo;
}

/** Wall time of an entry, as gettimeofday: seconds and microseconds. */
let tsSec = 0, tsUsec = 0;
function wallNow(): void {
  const ms = performance.timeOrigin + performance.now();
  tsSec = Math.floor(ms / 1000);
  tsUsec = Math.min(999999, Math.floor((ms - tsSec * 1000) * 1000));
}

/**
 * One thread's writer (memcached's per-thread `logger`). Callers check the watch mask first, so that nothing
 * here runs while nobody watches: `if ((st.c32[G.watchMask] & LogFlag.FETCHERS) !== 0) st.log.itemGet(...)`.
 */
export class LogWriter {
  /** The connection being served (memcached's c->sfd): the worker sets it before it runs a connection. */
  cfd = 0;
  declare readonly i32: Int32Array;
  declare readonly u8: Uint8Array;
  private declare readonly ring: number;
  private declare readonly writtenWord: number;
  private declare written: number;
  private readonly counts = new Int32Array(LOG_CLASSES);
  private declare readonly statsRow: Float64Array;

  constructor(buf: SharedArrayBuffer, thread: number, statsRow: Float64Array) {
    this.i32 = new Int32Array(buf);
    this.u8 = new Uint8Array(buf);
    this.ring = thread;
    this.writtenWord = ringWord(thread);
    this.written = Atomics.load(this.i32, this.writtenWord) >>> 0;
    this.statsRow = statsRow;
  }

  /** Start an entry: its slot's first word, header filled. */
  private begin(event: number): number {
    const i32 = this.i32, w = slotWord(this.ring, this.written);
    const gid = nextGid(i32);
    wallNow();
    i32[w + Slot.event] = event;
    i32[w + Slot.gidLo] = gid % 4294967296;
    i32[w + Slot.gidHi] = Math.floor(gid / 4294967296);
    i32[w + Slot.sec] = tsSec;
    i32[w + Slot.usec] = tsUsec;
    const counts = this.counts;
    counts[CLASS_OF_EVENT[event]]++;
    for (let k = 0; k < LOG_CLASSES; k++) i32[w + Slot.counts + k] = counts[k];
    return w;
  }

  /** The entry's bytes (a key, at most SLOT_DATA_MAX), then publish it. */
  private finish(w: number, src: Uint8Array, off: number, len: number): void {
    const n = Math.min(len, SLOT_DATA_MAX), at = w * 4 + SLOT_DATA, u8 = this.u8;
    for (let i = 0; i < n; i++) u8[at + i] = src[off + i];
    this.i32[w + Slot.event] |= n << 8;
    this.written = (this.written + 1) >>> 0;
    Atomics.store(this.i32, this.writtenWord, this.written | 0);
    this.statsRow[ThreadStat.log_worker_written]++;
  }

  /** memcached's LOGGER_ITEM_GET: status 0 not_found, 1 found, 2 flushed, 3 expired; nbytes with its "\r\n". */
  itemGet(status: number, key: Uint8Array, off: number, nkey: number, nbytes: number, clsid: number): void {
    const w = this.begin(LogEvent.ITEM_GET), i32 = this.i32;
    i32[w + Slot.a] = status;
    i32[w + Slot.clsid] = clsid;
    i32[w + Slot.cfd] = this.cfd;
    i32[w + Slot.size] = nbytes > 0 ? nbytes - 2 : 0;
    this.finish(w, key, off, nkey);
  }

  /**
   * memcached's LOGGER_ITEM_STORE: status and cmd in memcached's numbering (format.ts names them), ttl already
   * relative (memcached's uint32 exptime - current_time, 0 for none).
   */
  itemStore(status: number, cmd: number, key: Uint8Array, off: number, nkey: number, nbytes: number, ttl: number,
    clsid: number, cfd: number): void {
    const w = this.begin(LogEvent.ITEM_STORE), i32 = this.i32;
    i32[w + Slot.a] = status;
    i32[w + Slot.b] = cmd;
    i32[w + Slot.ttl] = ttl;
    i32[w + Slot.clsid] = clsid;
    i32[w + Slot.cfd] = cfd;
    i32[w + Slot.size] = nbytes > 0 ? nbytes - 2 : 0;
    this.finish(w, key, off, nkey);
  }

  /**
   * memcached's LOGGER_EVICTION: ttl is exptime - current_time as uint32 (so an item already expired shows
   * near 2^32), or -1 (never: exptime 0); la = seconds since last access.
   */
  eviction(key: Uint8Array, off: number, nkey: number, fetched: boolean, exptime: number, now: number, la: number,
    clsid: number, nbytes: number): void {
    this.itemLeaving(LogEvent.EVICTION, key, off, nkey, fetched, exptime, now, la, clsid, nbytes > 0 ? nbytes - 2 : 0);
  }

  /** An item that leaves memory (evicted, or its value written to flash): the fields both entries have. */
  private itemLeaving(event: number, key: Uint8Array, off: number, nkey: number, fetched: boolean, exptime: number,
    now: number, la: number, clsid: number, last: number): void {
    const w = this.begin(event), i32 = this.i32;
    i32[w + Slot.a] = fetched ? 1 : 0;
    i32[w + Slot.b] = exptime > 0 ? 0 : 1;
    i32[w + Slot.ttl] = exptime - now;
    i32[w + Slot.la] = la;
    i32[w + Slot.clsid] = clsid;
    i32[w + Slot.size] = last;
    this.finish(w, key, off, nkey);
  }

  /**
   * memcached's LOGGER_EXTSTORE_WRITE (evictions): the item whose value just went to flash, into `bucket`; ttl as
   * the eviction's (exptime - current_time, unsigned, or -1 for none).
   */
  extWrite(key: Uint8Array, off: number, nkey: number, fetched: boolean, exptime: number, now: number, la: number,
    clsid: number, bucket: number): void {
    this.itemLeaving(LogEvent.EXT_WRITE, key, off, nkey, fetched, exptime, now, la, clsid, bucket);
  }

  /** A sysevents line memcached formats as it logs it (_logger_log_text): "type=compact_start id=1 version=5". */
  text(line: string): void {
    const w = this.begin(LogEvent.TEXT);
    const bytes = Buffer.from(line, 'latin1');
    this.finish(w, bytes, 0, bytes.length);
  }

  /** memcached's LOGGER_SLAB_MOVE (sysevents): the automover asked for a page of class src to go to dst. */
  slabMove(src: number, dst: number): void {
    const w = this.begin(LogEvent.SLAB_MOVE), i32 = this.i32;
    i32[w + Slot.a] = src;
    i32[w + Slot.b] = dst;
    this.finish(w, this.u8, 0, 0);
  }

  /**
   * memcached's LOGGER_CONNECTION_NEW / _CLOSE: transport 0 local (unix), 1 tcp; reason 0 error, 1 normal,
   * 2 idle_timeout, 3 shutdown. `addr` is the peer's address as text ('unix' on a unix socket).
   */
  connEvent(event: number, addr: string, port: number, transport: number, reason: number, cfd: number): void {
    const w = this.begin(event), i32 = this.i32;
    i32[w + Slot.a] = transport;
    i32[w + Slot.b] = reason;
    i32[w + Slot.ttl] = port;
    i32[w + Slot.cfd] = cfd;
    const n = Math.min(addr.length, 64), at = w * 4 + SLOT_DATA, u8 = this.u8;
    for (let i = 0; i < n; i++) u8[at + i] = addr.charCodeAt(i) & 0xff;
    this.i32[w + Slot.event] |= n << 8;
    this.written = (this.written + 1) >>> 0;
    Atomics.store(this.i32, this.writtenWord, this.written | 0);
    this.statsRow[ThreadStat.log_worker_written]++;
  }
}

/** memcached's close_reasons. */
export const CloseReason = { ERROR: 0, NORMAL: 1, IDLE_TIMEOUT: 2, SHUTDOWN: 3 } as const;

/**
 * The verbosity went from `was` to `now`: past 2 every lookup prints a line (memcached's do_item_get at -vvv),
 * so LogFlag.VERBOSE_LOOKUPS joins the watch mask, and leaves it when the verbosity drops back.
 */
export function verbosityChanged(store: Store, was: number, now: number): void {
  if ((was > 2) !== (now > 2)) countWatchFlags(store, LogFlag.VERBOSE_LOOKUPS, now > 2 ? 1 : -1);
}

/**
 * Count (delta +1) or uncount (-1) a watcher's flags, and publish the union of every watched flag as the store's
 * watch mask. Under the header's lock, so that two workers changing watchers at once agree on the mask.
 */
export function countWatchFlags(store: Store, flags: number, delta: number): void {
  const i32 = store.log.i32;
  while (Atomics.compareExchange(i32, Hdr.lock, 0, 1) !== 0) Atomics.wait(i32, Hdr.lock, 1, 1);
  let mask = 0;
  for (let bit = 0; bit < 16; bit++) {
    if ((flags & (1 << bit)) !== 0) Atomics.add(i32, Hdr.flagCounts + bit, delta);
    if (Atomics.load(i32, Hdr.flagCounts + bit) > 0) mask |= 1 << bit;
  }
  store.setLive(G.watchMask, mask);
  Atomics.store(i32, Hdr.lock, 0);
  Atomics.notify(i32, Hdr.lock);
}
