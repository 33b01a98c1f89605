// `-o`: memcached's sub-options as its getsubopt() loop in main() reads them, one handler per name with
// memcached's own "Missing ..." and range messages. TLS's (ssl_*) are tls-settings.ts', extstore's (ext_*)
// ext-settings.ts'.

import type { Settings } from './settings.ts';
import { atof, atoi, safeStrtol, safeStrtoul } from './c-numbers.ts';
import { applyTlsSubopt, isTlsSubopt } from './tls-settings.ts';
import { applyExtSubopt, isExtSubopt } from './ext-settings.ts';
import { fail1, MB, type Exit, type ParseState } from './parse-state.ts';

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
  // memcached's item_stats_sizes_init, at once: its buckets reach the -I given so far, and a second one changes nothing
  track_sizes: set((s) => { s.trackSizesAt ??= { itemSizeMax: s.itemSizeMax, useCas: s.useCas }; s.trackSizes = true; }),
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
  // SO_MARK on the listening sockets (dispatcher/listen-conn.ts's markSocket). memcached's safe_strtoul leaves 0 for
  // what it cannot read, and no mark; without a value it crashes (strtoul of NULL), where this takes none
  sock_cookie_id: (st, v) => {
    const n = v === null ? -1 : safeStrtoul(v);
    st.s.sockCookieId = n < 0 ? 0 : n;
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

/** `-o`'s comma-separated list, as getsubopt() walks it: TLS's and extstore's names first, then the table. */
export function applySubopts(st: ParseState, arg: string): Exit | null {
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
