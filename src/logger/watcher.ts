// memcached's log watchers (logger.c's logger_add_watcher, logger_thread_write_entry, logger_thread_poll_watchers):
// a connection that said `watch` stays with its worker, in conn_watch, and receives lines. There is no logger
// thread: each worker reads every thread's ring (logger.ts) for its own watchers, on a timer that sleeps from 1 ms
// (while lines come) up to MAX_SLEEP_MS (while none do), as memcached's logger thread does, and writes the lines
// through the connection's ordinary output (the out buffer, then one write).
//
// Bounds: a watcher whose client does not read holds at most -o watcher_logbuf_size (256 KB, memcached's
// LOGGER_WATCHER_BUF_SIZE) of queued lines, and never more than the connection's 256 KB high-water mark, plus
// one step; while it is over that, lines for it are skipped
// and counted, and the next line it gets is preceded by memcached's "skipped=N". A watcher lapped by a ring (more
// entries written there between two of its reads than the ring holds) counts what it lost of the kinds it watches
// the same way. A watcher that hangs up is read (its input thrown away) so that its close is noticed at once; it
// is then unregistered, and once no watcher wants an event the store stops logging it.

import type { Conn, ReplyStream, StreamStepValue } from '../worker/conn.ts';
import { ConnState, StreamStep } from '../worker/conn.ts';
import { connStartStream, driveMachine } from '../worker/drive-machine.ts';
import type { Store } from '../store/store.ts';
import { ThreadStat } from '../stats/thread-stats.ts';
import { countWatchFlags, Hdr, nextGid, WATCHER_LIMIT } from './logger.ts';
import { LogReader } from './reader.ts';
import { formatEntry, formatSkipped } from './format.ts';

const OK = Buffer.from('OK\r\n');
/** A step appends at most about this much before the connection flushes and the loop turns. */
const STEP_BYTES = 64 * 1024;
const MIN_SLEEP_MS = 1;
const MAX_SLEEP_MS = 100;

/** `watch`'s arguments, as memcached's process_watch_command reads them. */
export const WATCH_FLAG_NAMES: ReadonlyMap<string, number> = new Map([
  ['rawcmds', 1 << 9], ['evictions', 1 << 6], ['fetchers', 1 << 2], ['mutations', 1 << 3], ['sysevents', 1 << 1],
  ['connevents', 1 << 5], ['proxyreqs', 1 << 10], ['proxyevents', 1 << 11], ['proxyuser', 1 << 12],
]);

class Watcher implements ReplyStream {
  readonly readsInput = true;
  declare readonly c: Conn;
  declare readonly flags: number;
  private declare readonly reader: LogReader;
  private declare readonly i32: Int32Array;
  private declare readonly u8: Uint8Array;
  private skipped = 0;
  private greeted = false;
  closed = false;

  constructor(c: Conn, flags: number, minGid: number) {
    const log = c.ctx.store.log;
    this.c = c;
    this.flags = flags;
    this.i32 = log.i32;
    this.u8 = log.u8;
    this.reader = new LogReader(log.i32, c.ctx.stats.nthreads, flags, minGid);
  }

  private skip(n: number): void {
    if (n <= 0) return;
    this.skipped += n;
    this.c.ctx.stats.row[ThreadStat.log_watcher_skipped] += n;
  }

  /**
   * Read what the rings hold for us: into the out buffer as lines (stopping past STEP_BYTES: true then), or,
   * with no connection to write to (the client is not reading), counted as skipped.
   */
  private pump(c: Conn | null): boolean {
    const reader = this.reader, out = c?.ctx.out ?? null;
    for (;;) {
      const w = reader.next();
      this.skip(reader.takeLost());
      if (w < 0) return false;
      if (out === null) { if (reader.commit()) this.skip(1); continue; }
      const at = out.size();
      if (this.skipped > 0) formatSkipped(out, this.skipped);
      formatEntry(out, this.i32, this.u8, w);
      if (!reader.commit()) { out.truncate(at); continue; } // overwritten while we read it: counted lost next
      this.skipped = 0;
      this.c.ctx.stats.row[ThreadStat.log_watcher_sent]++;
      if (out.size() >= STEP_BYTES) return true;
    }
  }

  /** conn_watch: "OK", then whatever lines are there. */
  step(c: Conn): StreamStepValue {
    if (!this.greeted) { this.greeted = true; c.ctx.out.bytes(OK); }
    return this.pump(c) ? StreamStep.more : StreamStep.idle;
  }

  /** A turn of the worker's timer: send what is new, or count it skipped while the client is not reading. */
  poll(): boolean {
    const c = this.c;
    if (this.closed || !this.reader.hasNew()) return false;
    // full: memcached's watcher buffer (-o watcher_logbuf_size, 256 KB) has no room; here the connection's
    // replies still queued in libuv stand for it (and past 256 KB the connection is write-blocked anyway)
    if (c.writeBlocked || (c.io !== null && c.io.queued() > c.ctx.settings.watcherLogbufSize)) this.pump(null);
    else if (c.state === ConnState.watch && c.stream === this) driveMachine(c);
    return true;
  }

  /** An exception (a broken invariant): as the worker's connFault, count it and close this connection only. */
  fault(err: unknown): void {
    const c = this.c;
    c.ctx.stats.row[ThreadStat.conn_faults]++;
    c.ctx.log(`<${c.id} internal error in a watcher, closing: ${err instanceof Error ? err.stack : String(err)}`);
    c.ctx.out.truncate(0);
    this.abort();
    c.io?.close();
  }

  /** The connection closed: memcached's logger_thread_close_watcher. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    local.delete(this);
    countWatchFlags(this.c.ctx.store, this.flags, -1);
    Atomics.sub(this.i32, Hdr.watchers, 1);
  }
}


/** memcached's stats_state.log_watchers: watchers on every worker. */
export function watcherCount(store: Store): number { return Atomics.load(store.log.i32, Hdr.watchers); }

// ---- this worker's watchers and their timer ----

const local = new Set<Watcher>();
let timer: ReturnType<typeof setTimeout> | null = null;
let sleepMs = MIN_SLEEP_MS;

function tick(): void {
  timer = null;
  let found = false;
  for (const w of local) {
    try { if (w.poll()) found = true; } catch (err) { w.fault(err); }
  }
  if (local.size === 0) return;
  // memcached's logger thread: back off by an eighth while nothing comes, halve the sleep when something does
  sleepMs = found ? Math.max(MIN_SLEEP_MS, sleepMs / 2) : Math.min(MAX_SLEEP_MS, sleepMs + sleepMs / 8);
  timer = setTimeout(tick, sleepMs);
  timer.unref();
}

/**
 * memcached's logger_add_watcher: make c a watcher of `flags`. False when WATCHER_LIMIT watchers already
 * exist. "OK" is its first line; what the client sent after `watch` is dropped.
 */
export function startWatching(c: Conn, flags: number): boolean {
  const store = c.ctx.store, i32 = store.log.i32;
  for (;;) {
    const n = Atomics.load(i32, Hdr.watchers);
    if (n >= WATCHER_LIMIT) return false;
    if (Atomics.compareExchange(i32, Hdr.watchers, n, n + 1) === n) break;
  }
  countWatchFlags(store, flags, +1);
  const w = new Watcher(c, flags, nextGid(i32)); // memcached's min_gid: a gid of its own
  local.add(w);
  c.rpos = c.rend;
  connStartStream(c, w);
  sleepMs = MIN_SLEEP_MS;
  if (timer === null) { timer = setTimeout(tick, sleepMs); timer.unref(); }
  return true;
}
