// memcached 1.6.18's command line -> Settings (the `stats settings` report is report.ts).
//
// Mirrors memcached.c's main(): getopt_long over the same option table, `-o` sub-options as
// getsubopt() does, then the same checks in the same order with the same messages and exit codes
// (1 where memcached `return 1`s, 64 = EX_USAGE where it exit(EX_USAGE)s; getopt's own errors
// print "<prog>: invalid option -- 'x'" and then memcached's `Illegal argument "?"`, status 1).
// Numbers are read as memcached reads them (atoi, atof, strtol(8), safe_strtoul), so `-m 64m`
// means 64 MB here as there. Options memcached has and Cachalot cannot honour are refused or, where
// memcached itself goes on without them, warned about as memcached warns; never silently ignored.
// Here: the Settings, their defaults and the parse's entry. The rest is beside it: the option switch
// (options.ts), `-o` (suboptions.ts), the checks after the options (checks.ts), what the three share
// (parse-state.ts); TLS's options (-Z, ssl_*) tls-settings.ts, external storage's (ext_*) ext-settings.ts.

import { getoptLong } from './getopt.ts';
import { defaultTlsSettings } from './tls-settings.ts';
import type { TlsSettings } from './tls-settings.ts';
import { defaultExtSettings } from './ext-settings.ts';
import type { ExtSettings } from './ext-settings.ts';
import type { SizesInit } from '../store/sizes.ts';
import { readThpEnabled } from '../main/large-pages.ts';
import { exit, type Exit, type ParseState } from './parse-state.ts';
import { applyOption } from './options.ts';
import { validate } from './checks.ts';

export type Protocol = 'auto' | 'ascii' | 'binary';
export type HashAlgorithm = 'murmur3' | 'jenkins' | 'xxh3';

export type Settings = {
  port: number;              // -p; 0 = TCP off; -1 (any negative) = ephemeral port
  udpPort: number;           // -U; 0 = off
  socketPath: string | null; // -s
  socketMask: number;        // -a, octal (0o700)
  listen: string[];          // -l, in order, deduplicated; default ["127.0.0.1"] (memcached: all interfaces)
  listenSpecified: boolean;  // whether -l was given (memcached reports `inter NULL` otherwise)
  threads: number;           // -t
  numThreadsPerUdp: number;  // memcached: 1 when several -l interfaces, else threads
  maxBytes: number;          // -m in bytes
  maxConns: number;          // -c
  napiIds: number;           // -N: 0, or how many NAPI ids to spread over the workers (see dispatcher/README.md)
  reqsPerEvent: number;      // -R
  backlog: number;           // -b
  protocol: Protocol;        // -B (forced binary by -S, ascii by -Y, as memcached)
  itemSizeMax: number;       // -I in bytes
  factor: number;            // -f
  chunkSizeMin: number;      // -n
  preallocate: boolean;      // -L
  evictToFree: boolean;      // !-M
  useCas: boolean;           // !-C
  shutdownEnabled: boolean;  // -A
  verbose: number;           // -v count
  user: string | null;       // -u: the identity a server started as root takes on (main/assume-identity.ts)
  sasl: boolean;             // -S
  authFile: string | null;   // -Y
  pidFile: string | null;    // -P
  daemonize: boolean;        // -d
  lockMemory: boolean;       // -k: memcached's mlockall() (main/lock-memory.ts)
  enableCoredumps: boolean;  // -r: RLIMIT_CORE raised at start (main/rlimits.ts)
  prefixDelimiter: string;   // -D (':')
  detailEnabled: boolean;    // -D turns `stats detail` on
  flushEnabled: boolean;     // !-F
  dumpEnabled: boolean;      // !-X
  watchEnabled: boolean;     // !-W
  portFilename: string | null; // env MEMCACHED_PORT_FILENAME
  // -o
  maxConnsFast: boolean; hashpowerInit: number; hashExpand: boolean; hashAlgorithm: HashAlgorithm;
  slabReassign: boolean; slabAutomove: number; slabAutomoveRatio: number; slabAutomoveWindow: number;
  slabPageSize: number; slabChunkMax: number; slabSizes: number[] | null;
  lruCrawler: boolean; lruCrawlerSleep: number; lruCrawlerTocrawl: number;
  lruMaintainer: boolean; lruSegmented: boolean; hotLruPct: number; warmLruPct: number;
  hotMaxFactor: number; warmMaxFactor: number; tempLru: boolean; temporaryTtl: number;
  idleTimeout: number; tailRepairTime: number; watcherLogbufSize: number; workerLogbufSize: number;
  readBufMemLimit: number; trackSizes: boolean; dropPrivileges: boolean;
  /** -I and !-C as they stood when -o track_sizes was read: memcached makes the histogram then (null: no track_sizes). */
  trackSizesAt: SizesInit | null;
  sockCookieId: number;      // -o sock_cookie_id: SO_MARK on the TCP and UDP listening sockets; 0: none
  tls: TlsSettings;          // -Z, -o ssl_*
  ext: ExtSettings;          // -o ext_* and slab_automove_freeratio; ext.paths not empty: external storage on
  memoryFile: string | null; // -e: the restartable cache's file (store/restart.ts)
  slabConfig: string;        // -f's text, or slab_sizes': what a restart must find unchanged (memcached's)
};

export type ParseOutcome =
  | { kind: 'run'; settings: Settings; warnings: string[] } // warnings: print each on stderr, then run
  | { kind: 'exit'; code: number; stdout: string; stderr: string };

const MB = 1024 * 1024;

export function defaultSettings(): Settings {
  return {
    port: 11211, udpPort: 0, socketPath: null, socketMask: 0o700, listen: ['127.0.0.1'],
    listenSpecified: false, threads: 4, numThreadsPerUdp: 4, maxBytes: 64 * MB, maxConns: 1024,
    reqsPerEvent: 20, backlog: 1024, protocol: 'auto', itemSizeMax: MB, factor: 1.25,
    chunkSizeMin: 48, preallocate: false, evictToFree: true, useCas: true, shutdownEnabled: false,
    verbose: 0, user: null, sasl: false, authFile: null, pidFile: null, daemonize: false, lockMemory: false,
    enableCoredumps: false, prefixDelimiter: ':', detailEnabled: false, flushEnabled: true, napiIds: 0,
    dumpEnabled: true, watchEnabled: true, portFilename: null,
    maxConnsFast: true, hashpowerInit: 0, hashExpand: true, hashAlgorithm: 'murmur3',
    slabReassign: true, slabAutomove: 1, slabAutomoveRatio: 0.8, slabAutomoveWindow: 30,
    slabPageSize: MB, slabChunkMax: MB / 2, slabSizes: null,
    lruCrawler: true, lruCrawlerSleep: 100, lruCrawlerTocrawl: 0,
    lruMaintainer: true, lruSegmented: true, hotLruPct: 20, warmLruPct: 40,
    hotMaxFactor: 0.2, warmMaxFactor: 2.0, tempLru: false, temporaryTtl: 61,
    idleTimeout: 0, tailRepairTime: 0, watcherLogbufSize: 256 * 1024, workerLogbufSize: 64 * 1024,
    readBufMemLimit: 0, trackSizes: false, trackSizesAt: null, dropPrivileges: false, sockCookieId: 0, tls: defaultTlsSettings(), ext: defaultExtSettings(),
    memoryFile: null, slabConfig: '1.25',
  };
}

/**
 * memcached's command line. `argv` excludes the program and script (process.argv.slice(2));
 * `env` supplies MEMCACHED_PORT_FILENAME; `thpEnabled` what the kernel says of huge pages, for -L.
 * Never prints or exits itself: the caller writes `stdout`/`stderr` and exits with `code`, or prints
 * `warnings` to stderr and runs.
 */
export function parseSettings(argv: string[], env: Record<string, string | undefined>,
  thpEnabled: () => string | null = readThpEnabled): ParseOutcome {
  const st: ParseState = {
    s: defaultSettings(), warnings: [], protocolSpecified: false, tcpSpecified: false,
    udpSpecified: false, slabChunkChanged: false, slabSizesUnparsed: null, inter: null, thpEnabled,
  };
  st.s.portFilename = env.MEMCACHED_PORT_FILENAME ?? null;
  for (const o of getoptLong(argv, 'cachalot')) {
    const r = 'error' in o ? exit(1, `${o.error}\nIllegal argument "?"\n`) : applyOption(st, o.c, o.arg ?? '');
    if (r) return withWarnings(r, st.warnings);
  }
  const r = validate(st);
  if (r) return withWarnings(r, st.warnings);
  return { kind: 'run', settings: st.s, warnings: st.warnings };
}

/** Warnings printed before an exit come first on stderr, as memcached prints them as it goes. */
function withWarnings(r: Exit, warnings: string[]): Exit {
  if (warnings.length === 0) return r;
  return { ...r, stderr: warnings.map((w) => w + '\n').join('') + r.stderr };
}

