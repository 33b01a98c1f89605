// What one worker thread owns and every connection on it shares: its view of the store, its row
// of counters, the one out buffer replies are collected in, the settings, and the log.

import type { Store } from '../store/store.ts';
import type { Settings } from '../settings/settings.ts';
import type { ThreadStats } from '../stats/thread-stats.ts';
import type { ServerCtl } from '../server-ctl.ts';
import * as serverCtl from '../server-ctl.ts';
import { OutBuffer } from './out-buffer.ts';
import { MAX_TOKENS, type Conn } from './conn.ts';
import { ReadBufCache } from './rbuf-cache.ts';
import { writeErr } from '../libc/stdio.ts';
import type { ConnTable } from '../stats/conn-table.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { Ctl } = serverCtl;
import type { PrefixStats } from '../stats/prefix-stats.ts';
import type { WorkerCertificates } from '../tls/certificates.ts';

export class WorkerContext {
  declare readonly store: Store;
  declare readonly stats: ThreadStats;
  declare readonly settings: Settings;
  declare readonly ctl: ServerCtl;
  declare readonly connTable: ConnTable;
  declare readonly prefixStats: PrefixStats;
  declare readonly thread: number;
  declare readonly out: OutBuffer;
  /** The words of the command being parsed, for every connection of the worker: one command runs at a time. */
  readonly tokens = new Int32Array(MAX_TOKENS * 2);
  /** Connections not read from until the client takes its replies (transmit.ts bounds what they hold). */
  readonly writeBlocked = new Set<Conn>();
  /** What memcached's connections on this thread would hold of `-o read_buf_mem_limit` (rbuf-cache.ts). */
  declare readonly rbufCache: ReadBufCache;
  /** The limit is on: the request path counts only then, at the cost of one test without it. */
  declare readonly readBufLimited: boolean;
  /** CACHALOT_DEBUG_TIME=1: the `debugtime` command may move the clock (tests only). */
  readonly debugTime = process.env.CACHALOT_DEBUG_TIME === '1';
  /** -Z: the certificates new TLS connections take (`refresh_certs` reloads them); null without -Z. */
  certificates: WorkerCertificates | null = null;
  /**
   * The server is stopping: connections close without their -vv lines (a graceful stop's come from the main
   * thread, in memcached's order; an immediate one, like memcached's exit, has none).
   */
  stopping = false;
  /** Asks the main thread to shut the server down (`shutdown` with -A). */
  readonly requestShutdown: (how: 'graceful' | 'immediate') => void;

  constructor(store: Store, settings: Settings, ctl: ServerCtl, connTable: ConnTable, prefixStats: PrefixStats, thread: number,
    requestShutdown: (how: 'graceful' | 'immediate') => void) {
    this.store = store;
    this.rbufCache = new ReadBufCache(settings.readBufMemLimit, settings.threads);
    this.readBufLimited = this.rbufCache.limit !== 0;
    // the out buffer frees response objects as it sends: only counted under the limit
    this.out = new OutBuffer((it) => store.itemRelease(it), (it) => store.itemHold(it), this.readBufLimited ? this.rbufCache : null);
    this.stats = store.stats;
    this.settings = settings;
    this.ctl = ctl;
    this.connTable = connTable;
    this.prefixStats = prefixStats;
    this.thread = thread;
    this.requestShutdown = requestShutdown;
  }

  /** A plain read: checked several times per command, and a stale value for a moment is harmless. */
  verbosity(): number { return this.ctl.i32[Ctl.verbosity]; }

  /**
   * memcached's -v lines go to stderr. They carry the client's bytes (keys, command lines) as fprintf prints them:
   * built from buffers read as latin1, so written back as latin1, one byte a character, never re-encoded.
   */
  log(line: string): void { writeErr(Buffer.from(line + '\n', 'latin1')); }
}
