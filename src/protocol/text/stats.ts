// `stats` and its subcommands: memcached's process_stat / server_stats. Counters are summed over
// every thread's row in shared memory; no thread is asked anything. Cold path: strings are fine.

import { extstorePages, storageStats } from '../../extstore/report.ts';
import type { Conn } from '../../worker/conn.ts';
import { ConnState, memcachedStateName } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';
import { ThreadStat, SlabStat } from '../../stats/thread-stats.ts';
import { ConnTable, ConnRow, intToIpv4, ipv6At, Transport } from '../../stats/conn-table.ts';
import { tok, tokIs } from './tokens.ts';
import { outString } from './out-string.ts';
import { reportSettings } from '../../settings/report.ts';
import type { LiveSettings } from '../../settings/report.ts';
import { Ctl } from '../../server-ctl.ts';
import { EXT_UINT_SETTINGS } from '../../settings/ext-settings.ts';
import { PROTOCOL_VERSION } from './commands.ts';
import { processCachedump } from './dump.ts';
import { G } from '../../store/layout.ts';
import { sizesDisable, sizesEnable } from '../../store/sizes.ts';
import { watcherCount } from '../../logger/watcher.ts';

export type Emit = (name: string, value: string | number) => void;

/** memcached's append_stat prints a value into a buffer of STAT_VAL_LEN (128) bytes, less one, and its NUL. */
const STAT_VAL_MAX = 126;

/**
 * A stat as memcached's %llu prints it: an integer past 2^53 (maxbytes of a negative -m, which memcached wraps
 * to nearly 2^64) in all its digits, where JavaScript would print the shortest number that reads back the same.
 * A longer value (a factor of 1e200 in %.2f, a long -l list) is cut to what memcached's buffer holds.
 */
export function statValue(value: string | number): string {
  const text = typeof value === 'string' ? value
    : value > Number.MAX_SAFE_INTEGER && Number.isInteger(value) ? BigInt(value).toString() : String(value);
  return text.length > STAT_VAL_MAX ? text.slice(0, STAT_VAL_MAX) : text;
}
const L = (s: string): Buffer => Buffer.from(s);
const SUB = {
  reset: L('reset'), detail: L('detail'), on: L('on'), off: L('off'), dump: L('dump'), cachedump: L('cachedump'),
} as const;

export function processStatCommand(c: Conn, buf: Buffer, ntokens: number): void {
  const out = c.ctx.out;
  const emit: Emit = (name, value) => {
    out.bytes(REPLY.STAT_SP);
    out.ascii(name);
    out.space();
    out.ascii(statValue(value));
    out.crlf();
  };
  if (ntokens < 2) { outString(c, REPLY.ERROR); return; }
  if (ntokens === 2) { reportStats(c, '', emit); out.bytes(REPLY.END); return; }
  if (tokIs(c, buf, 1, SUB.reset)) { resetStats(c); outString(c, REPLY.RESET); return; }
  if (tokIs(c, buf, 1, SUB.detail)) { statsDetail(c, buf, ntokens); return; }
  if (tokIs(c, buf, 1, SUB.cachedump)) { processCachedump(c, buf, ntokens); return; }
  const group = tok(c, buf, 1);
  // memcached built with extstore (Debian's) but started without a path has no pages to list: just END.
  // Its binary STAT has no such group (KEY_ENOENT), so this stays out of reportStats.
  if (group === 'extstore') {
    const ext = c.ctx.store.ext;
    if (ext !== null) extstorePages(ext, emit);
    out.bytes(REPLY.END);
    return;
  }
  if (!reportStats(c, group, emit)) { outString(c, REPLY.ERROR); return; }
  if (!SIZES_SWITCHES.has(group)) out.bytes(REPLY.END); // memcached ends these two without END
}

/** `stats sizes_enable|sizes_disable`: memcached's get_stats answers them without the terminator. */
export const SIZES_SWITCHES = new Set(['sizes_enable', 'sizes_disable']);

/**
 * One group of statistics as (name, value) pairs, for whichever protocol frames them: '' (plain
 * `stats`), settings, items, slabs, sizes, conns, threads. False for a group there is none of.
 */
export function reportStats(c: Conn, group: string, emit: Emit): boolean {
  const store = c.ctx.store;
  switch (group) {
    case '': serverStats(c, emit); return true;
    case 'settings': reportSettings(c.ctx.settings, emit, liveSettings(c)); return true;
    case 'items': store.reportItems(emit); return true;
    case 'slabs': store.reportSlabs(emit); return true;
    case 'sizes': store.reportSizes(emit); return true;
    case 'sizes_enable': for (const [k, v] of sizesEnable(store)) emit(k, v); return true;
    case 'sizes_disable': for (const [k, v] of sizesDisable(store)) emit(k, v); return true;
    case 'conns': connStats(c, emit); return true;
    case 'threads': threadStats(c, emit); return true;
    default: return false;
  }
}

function liveSettings(c: Conn): LiveSettings {
  const store = c.ctx.store;
  const ctl = c.ctx.ctl;
  const uints = EXT_UINT_SETTINGS.map((_, i) => ctl.extSetting(i));
  return {
    maxBytes: store.memLimit(), verbosity: ctl.get(Ctl.verbosity), oldest: store.oldestLive(), store: store.liveSettings(),
    trackSizes: store.c32[G.sizesOn] !== 0, // item_stats_sizes_status()
    detailEnabled: c.ctx.prefixStats.enabled(),
    ext: { uints, maxFrag: ctl.extMaxFrag() },
  };
}

function rusage(micros: number): string {
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
}

/**
 * Plain `stats`: memcached's server_stats, group by group in its order, then the store's lines (its
 * get_stats(NULL) in process_stat), with the logger, TLS and thread-pool lines where memcached prints them.
 */
function serverStats(c: Conn, emit: Emit): void {
  processStats(c, emit);
  connectionStats(c, emit);
  commandStats(c, emit);
  acceptAndThreadStats(c, emit);
  // The store's lines: hash_power_level ... malloc_fails, then bytes ... lru_bumps_dropped; the
  // logger lines memcached prints between the two groups go where its `bytes` line starts.
  c.ctx.store.reportGeneral((name, value) => {
    if (name === 'bytes') loggerStats(c, emit);
    emit(name, value);
  });
}

/** server_stats' first lines: the process (pid ... rusage_system). */
function processStats(c: Conn, emit: Emit): void {
  const store = c.ctx.store;
  const now = store.currentTime();
  const ru = process.resourceUsage();
  emit('pid', process.pid);
  emit('uptime', now - 60); // memcached's clock starts at ITEM_UPDATE_INTERVAL + 2
  emit('time', store.processStarted() + now);
  emit('version', PROTOCOL_VERSION);
  emit('libevent', `libuv-${process.versions.uv}`);
  emit('pointer_size', 64);
  emit('rusage_user', rusage(ru.userCPUTime));
  emit('rusage_system', rusage(ru.systemCPUTime));
}

/** Connections and their buffers (max_connections ... reserved_fds): memcached's stats and stats_state gauges. */
function connectionStats(c: Conn, emit: Emit): void {
  const { stats: ts, ctl, settings } = c.ctx;
  emit('max_connections', settings.maxConns);
  // memcached's curr_conns counts its listening and UDP conns too, and stats prints it less one
  emit('curr_connections', ctl.get(Ctl.currConns) + ctl.get(Ctl.listenConns) - 1);
  emit('total_connections', ctl.get(Ctl.totalConns));
  if (settings.maxConnsFast) emit('rejected_connections', ctl.get(Ctl.rejectedConns)); // memcached: with maxconns_fast only
  emit('connection_structures', ctl.get(Ctl.connStructures));
  // Placeholders: memcached's gauges of its response objects and read buffers are not kept (worker/README.md).
  // These stand in with shapes of ours: a 16 KB out buffer per worker, a 4 KB share of a read buffer per
  // connection. The two oom counters are real.
  emit('response_obj_oom', ts.sum(ThreadStat.response_obj_oom));
  emit('response_obj_count', settings.threads);
  emit('response_obj_bytes', settings.threads * 16384);
  emit('read_buf_count', ctl.get(Ctl.currConns));
  emit('read_buf_bytes', ctl.get(Ctl.currConns) * 4096);
  emit('read_buf_bytes_free', 0);
  emit('read_buf_oom', ts.sum(ThreadStat.read_buf_oom));
  emit('reserved_fds', 5 * settings.threads); // memcached reserves 5 per worker: its event base and notify pipe
}

/**
 * The command counters (cmd_get ... bytes_written), summed over every thread's row: memcached's
 * threadlocal_stats_aggregate (the misses, `ThreadStat`) and slab_stats_aggregate (the hits, `SlabStat`,
 * kept per slab class and summed over all of them).
 */
function commandStats(c: Conn, emit: Emit): void {
  const ts = c.ctx.stats;
  emit('cmd_get', ts.sum(ThreadStat.get_cmds));
  emit('cmd_set', ts.sumSlabAll(SlabStat.set_cmds));
  emit('cmd_flush', ts.sum(ThreadStat.flush_cmds));
  emit('cmd_touch', ts.sum(ThreadStat.touch_cmds));
  emit('cmd_meta', ts.sum(ThreadStat.meta_cmds));
  emit('get_hits', ts.sumSlabAll(SlabStat.get_hits));
  emit('get_misses', ts.sum(ThreadStat.get_misses));
  emit('get_expired', ts.sum(ThreadStat.get_expired));
  emit('get_flushed', ts.sum(ThreadStat.get_flushed));
  if (c.ctx.store.ext !== null) { // memcached: with external storage only
    emit('get_extstore', ts.sum(ThreadStat.get_extstore));
    emit('get_aborted_extstore', ts.sum(ThreadStat.get_aborted_extstore));
    emit('get_oom_extstore', ts.sum(ThreadStat.get_oom_extstore));
    emit('recache_from_extstore', ts.sum(ThreadStat.recache_from_extstore));
    emit('miss_from_extstore', ts.sum(ThreadStat.miss_from_extstore));
    emit('badcrc_from_extstore', ts.sum(ThreadStat.badcrc_from_extstore));
  }
  emit('delete_misses', ts.sum(ThreadStat.delete_misses));
  emit('delete_hits', ts.sumSlabAll(SlabStat.delete_hits));
  emit('incr_misses', ts.sum(ThreadStat.incr_misses));
  emit('incr_hits', ts.sumSlabAll(SlabStat.incr_hits));
  emit('decr_misses', ts.sum(ThreadStat.decr_misses));
  emit('decr_hits', ts.sumSlabAll(SlabStat.decr_hits));
  emit('cas_misses', ts.sum(ThreadStat.cas_misses));
  emit('cas_hits', ts.sumSlabAll(SlabStat.cas_hits));
  emit('cas_badval', ts.sumSlabAll(SlabStat.cas_badval));
  emit('touch_hits', ts.sumSlabAll(SlabStat.touch_hits));
  emit('touch_misses', ts.sum(ThreadStat.touch_misses));
  emit('store_too_large', ts.sum(ThreadStat.store_too_large));
  emit('store_no_memory', ts.sum(ThreadStat.store_no_memory));
  emit('auth_cmds', ts.sum(ThreadStat.auth_cmds));
  emit('auth_errors', ts.sum(ThreadStat.auth_errors));
  if (c.ctx.settings.idleTimeout !== 0) emit('idle_kicks', ts.sum(ThreadStat.idle_kicks)); // with -o idle_timeout only
  emit('bytes_read', ts.sum(ThreadStat.bytes_read));
  emit('bytes_written', ts.sum(ThreadStat.bytes_written));
}

/** The memory limit, the dispatcher's accept loop (its EMFILE back-off) and the workers (limit_maxbytes ... conn_yields). */
function acceptAndThreadStats(c: Conn, emit: Emit): void {
  const { stats: ts, ctl, store, settings } = c.ctx;
  emit('limit_maxbytes', store.memLimit());
  emit('accepting_conns', ctl.get(Ctl.acceptingConns));
  emit('listen_disabled_num', ctl.get(Ctl.listenDisabledNum));
  emit('time_in_listen_disabled_us', ctl.get(Ctl.timeInListenDisabledMs) * 1000);
  emit('threads', settings.threads);
  emit('conn_yields', ts.sum(ThreadStat.conn_yields));
}

/** memcached's logger counters (src/logger); a ring never drops (it overwrites), so log_worker_dropped stays 0. */
function loggerStats(c: Conn, emit: Emit): void {
  const ts = c.ctx.stats;
  emit('log_worker_dropped', 0);
  emit('log_worker_written', ts.sum(ThreadStat.log_worker_written));
  emit('log_watcher_skipped', ts.sum(ThreadStat.log_watcher_skipped));
  emit('log_watcher_sent', ts.sum(ThreadStat.log_watcher_sent));
  emit('log_watchers', watcherCount(c.ctx.store));
  const ext = c.ctx.store.ext;
  if (ext !== null) storageStats(ext, emit);
  tlsStats(c, emit);
  emit('unexpected_napi_ids', c.ctx.ctl.get(Ctl.unexpectedNapiIds));
  emit('round_robin_fallback', c.ctx.ctl.get(Ctl.roundRobinFallback));
}

/** memcached's TLS counters, with -Z only. */
function tlsStats(c: Conn, emit: Emit): void {
  const tls = c.ctx.settings.tls;
  if (!tls.enabled) return;
  const ctl = c.ctx.ctl;
  if (tls.sessionCache) emit('ssl_new_sessions', ctl.get(Ctl.sslNewSessions));
  emit('ssl_handshake_errors', ctl.get(Ctl.sslHandshakeErrors));
  emit('time_since_server_cert_refresh', c.ctx.store.currentTime() - ctl.get(Ctl.certRefreshTime));
}

/** `stats reset`: memcached zeroes the counters but not the gauges (connections, items). */
export function resetStats(c: Conn): void {
  c.ctx.stats.resetAll([ThreadStat.curr_conns, ThreadStat.curr_items, ThreadStat.curr_bytes]);
  c.ctx.ctl.set(Ctl.totalConns, 0);
  c.ctx.ctl.set(Ctl.rejectedConns, 0);
  c.ctx.ctl.set(Ctl.listenDisabledNum, 0);
  c.ctx.ctl.set(Ctl.timeInListenDisabledMs, 0);
  c.ctx.ctl.set(Ctl.roundRobinFallback, 0); // memcached's struct stats, zeroed whole
  c.ctx.ctl.set(Ctl.unexpectedNapiIds, 0);
  c.ctx.store.resetStats();
  c.ctx.prefixStats.clear();
}

function statsDetail(c: Conn, buf: Buffer, ntokens: number): void {
  const out = c.ctx.out;
  if (ntokens < 4) { outString(c, REPLY.CLIENT_ERROR_STATS_DETAIL); return; }
  if (tokIs(c, buf, 2, SUB.on)) { c.ctx.prefixStats.setEnabled(true); outString(c, REPLY.OK); }
  else if (tokIs(c, buf, 2, SUB.off)) { c.ctx.prefixStats.setEnabled(false); outString(c, REPLY.OK); }
  else if (tokIs(c, buf, 2, SUB.dump)) { out.ascii(c.ctx.prefixStats.dump()); out.bytes(REPLY.END); }
  else outString(c, REPLY.CLIENT_ERROR_STATS_DETAIL);
}

/**
 * `stats conns`: the listening sockets, then every connection of every worker, from the shared connection
 * table, in memcached's words: an idle connection is in conn_read (Cachalot's conn_waiting is memcached's
 * conn_waiting and conn_read in one), and a unix-socket client's own address is memcached's "?:<AF 0>".
 */
function connStats(c: Conn, emit: Emit): void {
  const table = c.ctx.connTable;
  const now = c.ctx.store.currentTime();
  const unixAddr = `unix:${c.ctx.settings.socketPath ?? ''}`;
  for (let r = 0; r < table.rows; r++) {
    if (!table.used(r)) continue;
    const id = table.idOf(r);
    const transport = table.get(r, ConnRow.transport);
    const state = table.get(r, ConnRow.state);
    const remote = (): string => addressOf(table, r, transport, ConnRow.ipv4, ConnRow.ipv6, ConnRow.port);
    const local = (): string => addressOf(table, r, transport, ConnRow.localIpv4, ConnRow.localIpv6, ConnRow.localPort);
    if (transport === Transport.udp || transport === Transport.udp6) {
      // memcached's UDP rows: the port's own address while it waits, the sender's and the port's while it answers
      emit(`${id}:UDP`, 'UDP');
      emit(`${id}:addr`, state === ConnState.waiting ? local() : remote());
      if (state !== ConnState.waiting) emit(`${id}:listen_addr`, local());
    } else if (state === ConnState.listening) {
      emit(`${id}:addr`, transport === Transport.unix ? unixAddr : remote());
    } else if (transport === Transport.unix) {
      emit(`${id}:addr`, '?:<AF 0>');
      emit(`${id}:listen_addr`, unixAddr);
    } else {
      emit(`${id}:addr`, remote());
      emit(`${id}:listen_addr`, local());
    }
    emit(`${id}:state`, memcachedStateName(state));
    emit(`${id}:secs_since_last_cmd`, now - table.get(r, ConnRow.lastCmd));
  }
}

/** memcached's get_conn_text for an IP address: "tcp:a.b.c.d:port", "tcp6:[v6]:port", "udp:...", "udp6:[...]...". */
function addressOf(table: ConnTable, r: number, transport: number, v4Field: number, v6Field: number, portField: number): string {
  const udp = transport === Transport.udp || transport === Transport.udp6;
  const port = table.get(r, portField);
  if (transport === Transport.tcp6 || transport === Transport.udp6) return `${udp ? 'udp6' : 'tcp6'}:[${ipv6At(table, r, v4Field, v6Field)}]:${port}`;
  return `${udp ? 'udp' : 'tcp'}:${intToIpv4(table.get(r, v4Field))}:${port}`;
}

/**
 * `stats threads` (Cachalot's own; memcached has no such subcommand): each worker's open and
 * total connections, so the dispatcher's round-robin hand-off can be seen from outside.
 */
function threadStats(c: Conn, emit: Emit): void {
  const ts = c.ctx.stats;
  for (let t = 1; t <= c.ctx.settings.threads; t++) {
    emit(`thread:${t}:curr_connections`, ts.at(t, ThreadStat.curr_conns));
    emit(`thread:${t}:total_connections`, ts.at(t, ThreadStat.total_conns));
    emit(`thread:${t}:cmd_get`, ts.at(t, ThreadStat.get_cmds));
    emit(`thread:${t}:conn_faults`, ts.at(t, ThreadStat.conn_faults));
  }
}
