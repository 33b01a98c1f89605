// `stats settings`: memcached 1.6.18's lines in its order, from our Settings; and the store's
// share of the settings.

import type { Protocol, Settings } from './settings.ts';
import type { StoreSettings } from '../store/create.ts';
import { TLS_VERSION_NAMES } from './tls-settings.ts';
import { uintIndex, type ExtSettings } from './ext-settings.ts';
import { printfFixed, safeStrtoll } from './c-numbers.ts';

/** What `stats settings` shows that changes while running; each defaults to the start-up value. */
export type LiveSettings = {
  maxBytes?: number;      // after `cache_memlimit`
  oldest?: number;        // settings.oldest_live: rel time of the last flush_all (0 = none)
  verbosity?: number;     // after the `verbosity` command
  trackSizes?: boolean;   // after `stats sizes_enable` / `sizes_disable`
  detailEnabled?: boolean; // after `stats detail on` / `off`
  maxConns?: number;      // memcached can lower it at start when fds are short
  store?: StoreLiveSettings; // what `lru`, `lru_crawler` and `slabs` changed
  ext?: Pick<ExtSettings, 'uints' | 'maxFrag'>; // as the `extstore` command left them
};

/** The store's live settings (Store.liveSettings), as `stats settings` shows them. */
export type StoreLiveSettings = {
  lruCrawler: boolean; lruCrawlerSleep: number; lruCrawlerTocrawl: number;
  lruSegmented: boolean; hotLruPct: number; warmLruPct: number; hotMaxFactor: number; warmMaxFactor: number;
  tempLru: boolean; temporaryTtl: number; slabAutomove: number; slabAutomoveRatio: number;
};

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
const PROTOCOL_TEXT: Record<Protocol, string> = { auto: 'auto-negotiate', ascii: 'ascii', binary: 'binary' };

/** printf's %.2f (a -f of "inf" is taken, as strtod takes it). */
const fixed2 = (n: number): string => printfFixed(n, 2);

/**
 * The lines of memcached 1.6.18's process_stat_settings, in its order, as Debian builds it
 * (extstore and TLS compiled in: the extstore lines show what -o and the `extstore` command set, as a
 * memcached started without ext_path shows them), so `stats settings` compares line for line with a
 * real memcached.
 */
export function reportSettings(
  s: Settings, emit: (name: string, value: string | number) => void, live: LiveSettings = {},
): void {
  emit('maxbytes', live.maxBytes ?? s.maxBytes);
  emit('maxconns', live.maxConns ?? s.maxConns);
  emit('tcpport', s.port);
  emit('udpport', s.udpPort);
  emit('inter', s.listenSpecified ? s.listen.join(',') : 'NULL');
  emit('verbosity', live.verbosity ?? s.verbose);
  emit('oldest', live.oldest ?? 0);
  emit('evictions', s.evictToFree ? 'on' : 'off');
  emit('domain_socket', s.socketPath ?? 'NULL');
  emit('umask', s.socketMask.toString(8));
  emit('shutdown_command', yesNo(s.shutdownEnabled));
  emit('growth_factor', fixed2(s.factor));
  emit('chunk_size', s.chunkSizeMin);
  emit('num_threads', s.threads);
  emit('num_threads_per_udp', s.numThreadsPerUdp);
  emit('stat_key_prefix', s.prefixDelimiter);
  emit('detail_enabled', yesNo(live.detailEnabled ?? s.detailEnabled));
  emit('reqs_per_event', s.reqsPerEvent);
  emit('cas_enabled', yesNo(s.useCas));
  emit('tcp_backlog', s.backlog);
  emit('binding_protocol', PROTOCOL_TEXT[s.protocol]);
  emit('auth_enabled_sasl', yesNo(s.sasl));
  emit('auth_enabled_ascii', s.authFile ?? 'no');
  emit('item_size_max', s.itemSizeMax);
  reportSettingsExtended(s, emit, live);
}

function reportSettingsExtended(
  s: Settings, emit: (name: string, value: string | number) => void, live: LiveSettings,
): void {
  emit('maxconns_fast', yesNo(s.maxConnsFast));
  emit('hashpower_init', s.hashpowerInit);
  emit('slab_reassign', yesNo(s.slabReassign));
  const st: StoreLiveSettings = live.store ?? s;
  emit('slab_automove', st.slabAutomove);
  emit('slab_automove_ratio', fixed2(st.slabAutomoveRatio));
  emit('slab_automove_window', s.slabAutomoveWindow);
  emit('slab_chunk_max', s.slabChunkMax);
  emit('lru_crawler', yesNo(st.lruCrawler));
  emit('lru_crawler_sleep', st.lruCrawlerSleep);
  emit('lru_crawler_tocrawl', st.lruCrawlerTocrawl);
  emit('tail_repair_time', s.tailRepairTime);
  emit('flush_enabled', yesNo(s.flushEnabled));
  emit('dump_enabled', yesNo(s.dumpEnabled));
  emit('hash_algorithm', s.hashAlgorithm);
  emit('lru_maintainer_thread', yesNo(s.lruMaintainer));
  emit('lru_segmented', yesNo(st.lruSegmented));
  emit('hot_lru_pct', st.hotLruPct);
  emit('warm_lru_pct', st.warmLruPct);
  emit('hot_max_factor', fixed2(st.hotMaxFactor));
  emit('warm_max_factor', fixed2(st.warmMaxFactor));
  emit('temp_lru', yesNo(st.tempLru));
  emit('temporary_ttl', st.temporaryTtl >>> 0);
  emit('idle_timeout', s.idleTimeout);
  emit('watcher_logbuf_size', s.watcherLogbufSize);
  emit('worker_logbuf_size', s.workerLogbufSize);
  emit('read_buf_mem_limit', s.readBufMemLimit);
  emit('track_sizes', yesNo(live.trackSizes ?? s.trackSizes));
  emit('inline_ascii_response', 'no');
  reportSettingsAbsent(emit, live, s);
}

/**
 * extstore, TLS and napi lines, byte for byte as memcached prints them ("(null)" is glibc's printf): the
 * extstore settings as -o gave them or the `extstore` command changed them, the TLS settings as given.
 * memcached prints num_napi_ids with %s: "(null)" without -N, and with -N its `stats settings` crashes;
 * here it is the number.
 */
function reportSettingsAbsent(emit: (name: string, value: string | number) => void, live: LiveSettings, s: Settings): void {
  const tls = s.tls;
  const uints = live.ext?.uints ?? s.ext.uints;
  const ext = (name: string): number => uints[uintIndex(name)];
  const lines: Array<[string, string | number]> = [
    ['ext_item_size', ext('ext_item_size')], ['ext_item_age', ext('ext_item_age')],
    ['ext_low_ttl', ext('ext_low_ttl')], ['ext_recache_rate', ext('ext_recache_rate')],
    ['ext_wbuf_size', s.ext.wbufSize], ['ext_compact_under', ext('ext_compact_under')],
    ['ext_drop_under', ext('ext_drop_under')], ['ext_max_sleep', ext('ext_max_sleep')],
    ['ext_max_frag', fixed2(live.ext?.maxFrag ?? s.ext.maxFrag)], ['slab_automove_freeratio', printfFixed(s.ext.freeRatio, 3)],
    ['ext_drop_unread', ext('ext_drop_unread') !== 0 ? 'yes' : 'no'],
    ['ssl_enabled', yesNo(tls.enabled)], ['ssl_chain_cert', tls.chainCert ?? '(null)'], ['ssl_key', tls.key ?? '(null)'],
    ['ssl_verify_mode', tls.verifyMode], ['ssl_keyformat', tls.keyFormat], ['ssl_ciphers', tls.ciphers ?? 'NULL'],
    ['ssl_ca_cert', tls.caCert ?? 'NULL'], ['ssl_wbuf_size', tls.wbufSize], ['ssl_session_cache', yesNo(tls.sessionCache)],
    ['ssl_kernel_tls', yesNo(tls.kernelTls)], ['ssl_min_version', TLS_VERSION_NAMES[tls.minVersion]],
    ['num_napi_ids', s.napiIds === 0 ? '(null)' : s.napiIds], ['memory_file', s.memoryFile ?? '(null)'],
  ];
  for (const [name, value] of lines) emit(name, value);
}

// ---- the store's share ----

/**
 * The store's settings from the command line. `hostBytes` (the machine's memory) is the arena reserved for
 * cache_memlimit to raise the limit into: address space only, the OS commits a page when it is first used.
 * With -L or -e memory is preallocated and memcached refuses cache_memlimit, so nothing more is reserved.
 * slabPageSize stays 1 MiB even with -I above 1m, as in memcached 1.6.18: larger items are chained from
 * slabChunkMax-sized chunks (-I 2m sets slabChunkMax to 512 KiB). hashpowerInit is 0 when -o hashpower was
 * not given (memcached then starts at 16).
 */
export function storeSettingsOf(s: Settings, hostBytes = 0): StoreSettings {
  const preallocated = s.preallocate || s.memoryFile !== null;
  return {
    maxBytes: s.maxBytes, reserveBytes: preallocated ? 0 : hostBytes,
    chunkSizeMin: s.chunkSizeMin, factor: s.factor, slabSizes: s.slabSizes, itemSizeMax: s.itemSizeMax,
    slabPageSize: s.slabPageSize, slabChunkMax: s.slabChunkMax,
    // memcached preallocates with -e, and puts every page no class took into the global pool
    preallocate: preallocated, prefillPool: s.memoryFile !== null,
    // -L without -e: memcached's alloc_large_chunk, its item memory in one chunk advised into huge pages
    largePages: s.preallocate && s.memoryFile === null,
    // memcached fills the global page pool up to -m at start with extstore on (its page mover wants it so)
    extPrefill: s.ext.paths.length > 0, slabAutomoveFreeratio: s.ext.freeRatio,
    evictToFree: s.evictToFree, useCas: s.useCas, hashpowerInit: s.hashpowerInit, hashExpand: s.hashExpand,
    numThreads: s.threads, lruSegmented: s.lruSegmented, hotLruPct: s.hotLruPct, warmLruPct: s.warmLruPct,
    hotMaxFactor: s.hotMaxFactor, warmMaxFactor: s.warmMaxFactor, tempLru: s.tempLru, temporaryTtl: s.temporaryTtl,
    lruCrawler: s.lruCrawler, lruMaintainer: s.lruMaintainer, lruCrawlerSleep: s.lruCrawlerSleep, lruCrawlerTocrawl: s.lruCrawlerTocrawl,
    slabReassign: s.slabReassign, slabAutomove: s.slabAutomove, slabAutomoveRatio: s.slabAutomoveRatio,
    slabAutomoveWindow: s.slabAutomoveWindow, trackSizes: s.trackSizes, trackSizesAt: s.trackSizesAt,
    mallocedBase: initialMallocFromEnv(process.env.T_MEMD_INITIAL_MALLOC),
  };
}

/** memcached's slabs_init takes T_MEMD_INITIAL_MALLOC as mem_malloced when safe_strtoll reads it, else ignores it. */
export function initialMallocFromEnv(value: string | undefined): number {
  const v = value === undefined ? null : safeStrtoll(value);
  return v === null || v < 0 ? 0 : v; // (a negative one would wrap to near 2^64 in memcached's size_t)
}
