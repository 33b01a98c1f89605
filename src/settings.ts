// memcached 1.6.18's command line -> Settings (the `stats settings` report is settings/report.ts).
//
// Mirrors memcached.c's main(): getopt_long over the same option table, `-o` sub-options as
// getsubopt() does, then the same checks in the same order with the same messages and exit codes
// (1 where memcached `return 1`s, 64 = EX_USAGE where it exit(EX_USAGE)s; getopt's own errors
// print "<prog>: invalid option -- 'x'" and then memcached's `Illegal argument "?"`, status 1).
// Numbers are read as memcached reads them (atoi, atof, strtol(8), safe_strtoul), so `-m 64m`
// means 64 MB here as there. Options memcached has and Cachalot cannot honour are refused (extstore's
// `-o ext_path`) or, where memcached itself goes on without them, warned about as memcached warns (-k's
// mlockall); never silently ignored. TLS (-Z, ssl_*) is settings/tls-settings.ts; extstore's tuning
// options, which a memcached without ext_path only shows, settings/ext-settings.ts.

import { licenseText, usageText, versionLine } from './usage.ts';
import { atof, atoi, safeStrtol, safeStrtoul, strtolOctal } from './settings/c-numbers.ts';
import { getoptLong } from './settings/getopt.ts';
import { applyTlsSubopt, defaultTlsSettings, isTlsSubopt } from './settings/tls-settings.ts';
import type { TlsSettings } from './settings/tls-settings.ts';
import { applyExtSubopt, defaultExtSettings, isExtSubopt } from './settings/ext-settings.ts';
import type { ExtSettings } from './settings/ext-settings.ts';
import { largePagesRefusal, readThpEnabled } from './large-pages.ts';

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
  user: string | null;       // -u: the identity a server started as root takes on (assume-identity.ts)
  sasl: boolean;             // -S
  authFile: string | null;   // -Y
  pidFile: string | null;    // -P
  daemonize: boolean;        // -d
  lockMemory: boolean;       // -k: memcached's mlockall(), which Node lacks (main.ts warns as memcached does without it)
  enableCoredumps: boolean;  // -r: RLIMIT_CORE raised at start (rlimits.ts)
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
  tls: TlsSettings;          // -Z, -o ssl_*
  ext: ExtSettings;          // -o ext_* and slab_automove_freeratio: taken and shown, no external storage
  memoryFile: string | null; // -e: the restartable cache's file (store/restart.ts)
  slabConfig: string;        // -f's text, or slab_sizes': what a restart must find unchanged (memcached's)
};

export type ParseOutcome =
  | { kind: 'run'; settings: Settings; warnings: string[] } // warnings: print each on stderr, then run
  | { kind: 'exit'; code: number; stdout: string; stderr: string };
type Exit = Extract<ParseOutcome, { kind: 'exit' }>;

const MB = 1024 * 1024;
const ITEM_SIZE_MAX_LOWER_LIMIT = 1024;
const ITEM_SIZE_MAX_UPPER_LIMIT = 1024 * MB;
const CHUNK_ALIGN_BYTES = 8;
const MAX_NUMBER_OF_SLAB_CLASSES = 64;
export const EX_USAGE = 64;

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
    readBufMemLimit: 0, trackSizes: false, dropPrivileges: false, tls: defaultTlsSettings(), ext: defaultExtSettings(),
    memoryFile: null, slabConfig: '1.25',
  };
}

// ---- applying options ----

/** What main()'s locals hold while options are read, besides the settings themselves. */
type ParseState = {
  s: Settings;
  warnings: string[];
  protocolSpecified: boolean;
  tcpSpecified: boolean;
  udpSpecified: boolean;
  slabChunkChanged: boolean;
  slabSizesUnparsed: string | null;
  /** memcached's settings.inter: the -l arguments joined with commas, each skipped when already a substring. */
  inter: string | null;
  /** The kernel's transparent huge page setting, read when -L asks (large-pages.ts readThpEnabled). */
  thpEnabled: () => string | null;
};

function exit(code: number, stderr: string, stdout = ''): Exit {
  return { kind: 'exit', code, stdout, stderr };
}
const fail1 = (msg: string): Exit => exit(1, msg + '\n');
const usageFail = (msg: string): Exit => exit(EX_USAGE, msg + '\n');

function applyOption(st: ParseState, c: string, arg: string): Exit | null {
  const s = st.s;
  switch (c) {
    case 'A': s.shutdownEnabled = true; return null;
    case 'a': s.socketMask = strtolOctal(arg); return null;
    case 'U': s.udpPort = atoi(arg); st.udpSpecified = true; return null;
    case 'p': s.port = atoi(arg); st.tcpSpecified = true; return null;
    case 's': s.socketPath = arg; return null;
    case 'm': { // memcached's ((size_t)atoi(optarg)) * 1024 * 1024: a negative count wraps to a huge limit
      const n = atoi(arg);
      s.maxBytes = n >= 0 ? n * MB : 2 ** 64 + n * MB;
      return null;
    }
    case 'M': s.evictToFree = false; return null;
    case 'c':
      s.maxConns = atoi(arg);
      return s.maxConns <= 0 ? fail1('Maximum connections must be greater than 0') : null;
    case 'h': return exit(0, '', usageText());
    case 'i': return exit(0, '', licenseText());
    case 'V': return exit(0, '', versionLine());
    case 'k': s.lockMemory = true; return null;
    case 'v': s.verbose++; return null;
    case 'l': addListen(st, arg); return null;
    case 'r': s.enableCoredumps = true; return null;
    case 'R':
      s.reqsPerEvent = atoi(arg);
      // memcached refuses only 0, and with a negative count yields before every command: it answers nothing and
      // spins. Its own message says what it means, so a negative is refused with it too.
      return s.reqsPerEvent <= 0 ? fail1('Number of requests per event must be greater than 0') : null;
    case 'u': s.user = arg; return null;
    case 'P': s.pidFile = arg; return null;
    case 'd': s.daemonize = true; return null;
    case 'e': s.memoryFile = arg; return null;
    case 'f':
      s.factor = atof(arg);
      s.slabConfig = arg;
      // memcached's check lets NaN through (and then crashes): refused here with its words
      return !(s.factor > 1.0) ? fail1('Factor must be greater than 1') : null;
    case 'n':
      s.chunkSizeMin = atoi(arg);
      return s.chunkSizeMin === 0 ? fail1('Chunk size must be greater than 0') : null;
    case 't': return applyThreads(st, arg);
    case 'D':
      if (arg === '') return fail1('No delimiter specified');
      s.prefixDelimiter = arg[0]; s.detailEnabled = true; return null;
    case 'L': { // enable_large_pages: refused at once where the kernel offers no transparent huge pages
      const refusal = largePagesRefusal(st.thpEnabled());
      if (refusal !== null) return exit(1, refusal);
      s.preallocate = true; return null;
    }
    case 'C': s.useCas = false; return null;
    case 'b': s.backlog = atoi(arg); return null;
    case 'B': return applyProtocol(st, arg);
    case 'I': s.itemSizeMax = parseItemSize(arg); return null;
    case 'S': s.sasl = true; return null;
    case 'F': s.flushEnabled = false; return null;
    case 'X': s.dumpEnabled = false; return null;
    case 'W': s.watchEnabled = false; return null;
    case 'Y': s.authFile = arg; return null;
    case 'o': return applySubopts(st, arg);
    case 'Z': s.tls.enabled = true; return null;
    case 'N':
      s.napiIds = atoi(arg);
      return s.napiIds <= 0 ? fail1('Maximum number of NAPI IDs must be greater than 0') : null;
    default: return fail1(`Illegal argument "${c}"`);
  }
}

/**
 * memcached's -l (repeatable and comma-separated): appended to settings.inter after a comma, unless the argument is already part of it (strstr,
 * so an address inside one given before is skipped too); a list with a comma is several interfaces, which
 * gives each UDP port one worker (num_threads_per_udp).
 */
function addListen(st: ParseState, arg: string): void {
  const s = st.s;
  if (st.inter !== null && st.inter.includes(arg)) return;
  st.inter = st.inter === null ? arg : `${st.inter},${arg}`;
  if (!s.listenSpecified) { s.listen = []; s.listenSpecified = true; }
  for (const one of arg.split(',')) if (!s.listen.includes(one)) s.listen.push(one);
}

function applyThreads(st: ParseState, arg: string): Exit | null {
  st.s.threads = atoi(arg);
  if (st.s.threads <= 0) return fail1('Number of threads must be greater than 0');
  if (st.s.threads > 64) {
    // memcached's text, missing space included, so logs match.
    st.warnings.push('WARNING: Setting a high number of workerthreads is not recommended.\n' +
      ' Set this value to the number of cores in your machine or less.');
  }
  return null;
}

function applyProtocol(st: ParseState, arg: string): Exit | null {
  st.protocolSpecified = true;
  if (arg === 'auto' || arg === 'binary' || arg === 'ascii') { st.s.protocol = arg; return null; }
  return usageFail(`Invalid value for binding protocol: ${arg}\n -- should be one of auto, binary, or ascii`);
}

/** -I: a byte count, or k/m (K/M) suffixed; an int in memcached, so it wraps the same way. */
export function parseItemSize(arg: string): number {
  const unit = arg[arg.length - 1];
  if (unit === 'k' || unit === 'K') return (atoi(arg.slice(0, -1)) * 1024) | 0;
  if (unit === 'm' || unit === 'M') return (atoi(arg.slice(0, -1)) * MB) | 0;
  return atoi(arg);
}

// ---- -o, as getsubopt() walks it ----

type SubHandler = (st: ParseState, value: string | null) => Exit | null;

/** A sub-option that needs a value: memcached's "Missing ... argument" wording differs per option. */
function needs(missing: string, then: (st: ParseState, v: string) => Exit | null): SubHandler {
  return (st, v) => (v === null ? fail1(missing) : then(st, v));
}
function set(f: (s: Settings) => void): SubHandler {
  return (st) => { f(st.s); return null; };
}
function pct(name: string, key: 'hotLruPct' | 'warmLruPct'): SubHandler {
  return needs(`Missing ${name} argument`, (st, v) => {
    st.s[key] = atoi(v);
    return st.s[key] < 1 || st.s[key] >= 80 ? fail1(`${name} must be > 1 and < 80`) : null;
  });
}
function maxFactor(name: string, key: 'hotMaxFactor' | 'warmMaxFactor'): SubHandler {
  return needs(`Missing ${name} argument`, (st, v) => {
    st.s[key] = atof(v);
    return st.s[key] <= 0 ? fail1(`${name} must be > 0`) : null;
  });
}
/** A kilobyte count read by safe_strtoul, kept in bytes in an unsigned int as memcached keeps it (wrapping past 4 GB). */
function kilobytes(name: string, key: 'watcherLogbufSize' | 'workerLogbufSize'): SubHandler {
  return needs(`Missing ${name} argument`, (st, v) => {
    const n = safeStrtoul(v);
    if (n < 0) return fail1(`could not parse argument to ${name}`);
    st.s[key] = Math.imul(n, 1024) >>> 0;
    return null;
  });
}

const SUBOPTS: Readonly<Record<string, SubHandler>> = {
  maxconns_fast: set((s) => { s.maxConnsFast = true; }),
  hashpower: needs('Missing numeric argument for hashpower', hashpower),
  no_hashexpand: set((s) => { s.hashExpand = false; }),
  slab_reassign: set((s) => { s.slabReassign = true; }),
  slab_automove: (st, v) => {
    st.s.slabAutomove = v === null ? 1 : atoi(v);
    const bad = st.s.slabAutomove < 0 || st.s.slabAutomove > 2;
    return bad ? fail1('slab_automove must be between 0 and 2') : null;
  },
  slab_automove_ratio: needs('Missing slab_automove_ratio argument', (st, v) => {
    st.s.slabAutomoveRatio = atof(v);
    const r = st.s.slabAutomoveRatio;
    return r <= 0 || r > 1 ? fail1('slab_automove_ratio must be > 0 and < 1') : null;
  }),
  slab_automove_window: needs('Missing slab_automove_window argument', (st, v) => {
    st.s.slabAutomoveWindow = atoi(v);
    return st.s.slabAutomoveWindow < 3 ? fail1('slab_automove_window must be > 2') : null;
  }),
  tail_repair_time: needs('Missing numeric argument for tail_repair_time', (st, v) => {
    st.s.tailRepairTime = atoi(v);
    return st.s.tailRepairTime < 10 ? fail1('Cannot set tail_repair_time to less than 10 seconds') : null;
  }),
  hash_algorithm: needs('Missing hash_algorithm argument', (st, v) => {
    if (v !== 'jenkins' && v !== 'murmur3' && v !== 'xxh3') {
      return fail1('Unknown hash_algorithm option (jenkins, murmur3, xxh3)');
    }
    st.s.hashAlgorithm = v;
    return null;
  }),
  lru_crawler: set((s) => { s.lruCrawler = true; }),
  lru_crawler_sleep: needs('Missing lru_crawler_sleep value', (st, v) => {
    st.s.lruCrawlerSleep = atoi(v);
    const us = st.s.lruCrawlerSleep;
    return us > 1000000 || us < 0 ? fail1('LRU crawler sleep must be between 0 and 1 second') : null;
  }),
  lru_crawler_tocrawl: needs('Missing lru_crawler_tocrawl value', (st, v) => {
    const n = safeStrtoul(v);
    if (n < 0) return fail1('lru_crawler_tocrawl takes a numeric 32bit value');
    st.s.lruCrawlerTocrawl = n;
    return null;
  }),
  lru_maintainer: set((s) => { s.lruMaintainer = true; s.lruSegmented = true; }),
  hot_lru_pct: pct('hot_lru_pct', 'hotLruPct'),
  warm_lru_pct: pct('warm_lru_pct', 'warmLruPct'),
  hot_max_factor: maxFactor('hot_max_factor', 'hotMaxFactor'),
  warm_max_factor: maxFactor('warm_max_factor', 'warmMaxFactor'),
  temporary_ttl: needs('Missing temporary_ttl argument', (st, v) => {
    st.s.tempLru = true;
    st.s.temporaryTtl = atoi(v);
    return null;
  }),
  idle_timeout: needs('Missing numeric argument for idle_timeout', (st, v) => {
    st.s.idleTimeout = atoi(v);
    return null;
  }),
  watcher_logbuf_size: kilobytes('watcher_logbuf_size', 'watcherLogbufSize'),
  // memcached 1.6.18 falls through from here into slab_sizes (a bug); we do not.
  worker_logbuf_size: kilobytes('worker_logbuf_size', 'workerLogbufSize'),
  slab_sizes: needs('Missing slab_sizes argument', (st, v) => { st.slabSizesUnparsed = v; st.s.slabConfig = v; return null; }),
  slab_chunk_max: needs('Missing slab_chunk_max argument', (st, v) => {
    // Bytes in 1.6.18, whatever its -h says about kilobytes.
    const n = safeStrtol(v);
    if (n === null) return fail1('could not parse argument to slab_chunk_max');
    st.s.slabChunkMax = n;
    st.slabChunkChanged = true;
    return null;
  }),
  track_sizes: set((s) => { s.trackSizes = true; }),
  no_inline_ascii_resp: () => null, // dead settings memcached still accepts
  inline_ascii_resp: () => null,
  modern: () => null,
  no_modern: noModern,
  no_chunked_items: set((s) => { s.slabChunkMax = s.slabPageSize; }),
  no_slab_reassign: set((s) => { s.slabReassign = false; }),
  no_slab_automove: set((s) => { s.slabAutomove = 0; }),
  no_maxconns_fast: set((s) => { s.maxConnsFast = false; }),
  no_lru_crawler: set((s) => { s.lruCrawler = false; }),
  no_lru_maintainer: set((s) => { s.lruMaintainer = false; s.lruSegmented = false; }),
  no_drop_privileges: set((s) => { s.dropPrivileges = false; }),
  drop_privileges: set((s) => { s.dropPrivileges = true; }),
  // memcached sets it as SO_MARK on its listening sockets (needs CAP_NET_ADMIN, else it says so and goes on);
  // Node offers no way to set it: taken, so that command lines written for memcached start, and said
  sock_cookie_id: (st) => {
    st.warnings.push('WARNING: sock_cookie_id is not applied: Cachalot cannot set SO_MARK on its sockets');
    return null;
  },
  resp_obj_mem_limit: (st) => {
    st.warnings.push('DEPRECATED: resp_obj_mem_limit no longer used. See read_buf_mem_limit,');
    return null;
  },
  read_buf_mem_limit: needs('Missing read_buf_mem_limit argument', (st, v) => {
    const n = safeStrtoul(v);
    if (n < 0) return fail1('could not parse argument to read_buf_mem_limit');
    st.s.readBufMemLimit = (n * MB) >>> 0; // a uint32 in memcached
    return null;
  }),
};

function hashpower(st: ParseState, v: string): Exit | null {
  const hp = atoi(v);
  st.s.hashpowerInit = hp;
  if (hp < 12) return fail1(`Initial hashtable multiplier of ${hp} is too low`);
  if (hp > 32) {
    return fail1(`Initial hashtable multiplier of ${hp} is too high\n` +
      'Choose a value based on "STAT hash_power_level" from a running instance');
  }
  return null;
}

function noModern(st: ParseState): null {
  const s = st.s;
  if (!st.slabChunkChanged) s.slabChunkMax = s.slabPageSize;
  s.slabReassign = false; s.slabAutomove = 0; s.maxConnsFast = false; s.lruSegmented = false;
  s.hashAlgorithm = 'jenkins'; s.lruCrawler = false; s.lruMaintainer = false;
  return null;
}

function applySubopts(st: ParseState, arg: string): Exit | null {
  let rest = arg;
  while (rest !== '') {
    const comma = rest.indexOf(',');
    const item = comma < 0 ? rest : rest.slice(0, comma);
    rest = comma < 0 ? '' : rest.slice(comma + 1);
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? null : item.slice(eq + 1);
    if (isTlsSubopt(name)) {
      const error = applyTlsSubopt(st.s.tls, name, value);
      if (error !== null) return fail1(error);
      continue;
    }
    if (isExtSubopt(name)) {
      const error = applyExtSubopt(st.s.ext, name, value);
      if (error !== null) return fail1(error);
      continue;
    }
    const handler = Object.hasOwn(SUBOPTS, name) ? SUBOPTS[name] : undefined;
    if (!handler) return fail1(`Illegal suboption "${item}"`);
    const r = handler(st, value);
    if (r) return r;
  }
  return null;
}

// ---- after the options: memcached's checks, in its order ----

function checkItemSize(st: ParseState): Exit | null {
  const s = st.s;
  if (s.itemSizeMax < ITEM_SIZE_MAX_LOWER_LIMIT) return usageFail('Item max size cannot be less than 1024 bytes.');
  if (s.itemSizeMax > s.maxBytes / 2) return usageFail('Cannot set item size limit higher than 1/2 of memory max.');
  if (s.itemSizeMax > ITEM_SIZE_MAX_UPPER_LIMIT) return usageFail('Cannot set item size limit higher than a gigabyte.');
  if (s.itemSizeMax > MB && !st.slabChunkChanged) s.slabChunkMax = s.slabPageSize / 2;
  if (s.slabChunkMax > s.itemSizeMax) {
    return usageFail(`slab_chunk_max (bytes: ${s.slabChunkMax}) cannot be larger than -I (item_size_max ${s.itemSizeMax})`);
  }
  if (s.slabChunkMax <= 0 || s.itemSizeMax % s.slabChunkMax !== 0) {
    return usageFail(`-I (item_size_max: ${s.itemSizeMax}) must be evenly divisible by slab_chunk_max (bytes: ${s.slabChunkMax})`);
  }
  if (s.slabPageSize % s.slabChunkMax !== 0) {
    return usageFail(`slab_chunk_max (bytes: ${s.slabChunkMax}) must divide evenly into ${s.slabPageSize} (slab_page_size)`);
  }
  return null;
}

/** memcached's _parse_slab_sizes: dash-separated, rising by more than CHUNK_ALIGN_BYTES each. */
function parseSlabSizes(st: ParseState, text: string): Exit | null {
  const sizes: number[] = [];
  let last = 0;
  for (const part of text.split('-').filter((p) => p !== '')) {
    const size = safeStrtoul(part);
    const shown = size < 0 ? 0 : size;
    if (size < 0 || size < st.s.chunkSizeMin || size > st.s.slabChunkMax) {
      return usageFail(`slab size ${shown} is out of valid range`);
    }
    if (last >= size) return usageFail(`slab size ${size} cannot be lower than or equal to a previous class size`);
    if (size <= last + CHUNK_ALIGN_BYTES) {
      return usageFail(`slab size ${size} must be at least ${CHUNK_ALIGN_BYTES} bytes larger than previous class`);
    }
    sizes.push(size);
    last = size;
    if (sizes.length >= MAX_NUMBER_OF_SLAB_CLASSES - 1) return usageFail('too many slab classes specified');
  }
  if (sizes.length === 0) return exit(EX_USAGE, '');
  st.s.slabSizes = sizes;
  return null;
}

function checkLru(st: ParseState): Exit | null {
  const s = st.s;
  if (s.hotLruPct + s.warmLruPct > 80) return usageFail('hot_lru_pct + warm_lru_pct cannot be more than 80% combined');
  if (s.tempLru && !s.lruMaintainer) return usageFail('temporary_ttl requires lru_maintainer to be enabled');
  return null;
}

/** SASL forces the binary protocol and -Y the ascii one, unless -B chose otherwise (then it is an error). */
function checkAuth(st: ParseState): Exit | null {
  const s = st.s;
  if (s.sasl) {
    if (!st.protocolSpecified) s.protocol = 'binary';
    else if (s.protocol !== 'binary') return usageFail('ERROR: You cannot allow the ASCII protocol while using SASL.');
    if (s.udpPort) return usageFail('ERROR: Cannot enable UDP while using binary SASL authentication.');
  }
  if (s.authFile) {
    if (!st.protocolSpecified) s.protocol = 'ascii';
    else if (s.protocol !== 'ascii') {
      return usageFail('ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.');
    }
  }
  return null;
}

function checkPorts(st: ParseState): Exit | null {
  const s = st.s;
  // memcached: -U alone also moves TCP to that port.
  if (st.udpSpecified && s.udpPort !== 0 && !st.tcpSpecified) s.port = s.udpPort;
  if (s.port > 65535) return usageFail(`ERROR: Invalid port number ${s.port}.`);
  // Ours: memcached 1.6.18 takes these and listens on the number cut to 16 bits (-U 70000 is UDP port 4464).
  if (s.udpPort > 65535 || s.udpPort < -1) return usageFail(`ERROR: Invalid UDP port number ${s.udpPort}.`); // -1: any free port
  return null;
}

function validate(st: ParseState): Exit | null {
  if (st.s.napiIds > st.s.threads) {
    return usageFail(`Number of napi_ids(${st.s.napiIds}) cannot be greater than number of threads(${st.s.threads})`);
  }
  const r = checkItemSize(st)
    ?? (st.slabSizesUnparsed !== null ? parseSlabSizes(st, st.slabSizesUnparsed) : null)
    ?? checkLru(st);
  if (r) return r;
  st.s.numThreadsPerUdp = st.inter !== null && st.inter.includes(',') ? 1 : st.s.threads;
  return checkAuth(st) ?? checkPorts(st) ?? checkTls(st);
}

/** memcached checks -Z against the port just before it loads the certificates (tls/secure-context.ts). */
function checkTls(st: ParseState): Exit | null {
  const t = st.s.tls;
  if (!t.enabled) return null;
  if (st.s.port === 0) return usageFail('ERROR: You cannot enable SSL without a TCP port.');
  // memcached turns on OpenSSL's kernel offload (SSL_OP_ENABLE_KTLS); Node has no such switch. It changes how
  // records are encrypted, not what is sent: taken, so that memcached's command lines start, and said.
  if (t.kernelTls) st.warnings.push('WARNING: ssl_kernel_tls is not applied: Node offers no kernel TLS offload');
  return null;
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

