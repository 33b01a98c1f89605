// extstore's sub-options of -o, read as a memcached built with extstore (Debian's is) reads them in
// storage_read_config, with its messages: the tuning values `stats settings` shows, the storage's geometry
// (page size, write buffer size, IO threads and depth) and its files (`ext_path`, read as storage_conf_parse
// reads one). A start with no ext_path keeps the values and stores nothing outside memory, as memcached does;
// with one, storage_check_config's checks follow the options (checks.ts) and storage_init's once the store is
// built (main/storage-init.ts).

import { atoi, safeStrtod, safeStrtoul } from './c-numbers.ts';

/**
 * The settings `extstore <name> <value>` changes at run time, as `stats settings` names them, with memcached's
 * defaults; -o sets them at start as ext_<name>.
 */
export const EXT_UINT_SETTINGS: ReadonlyArray<[command: string, stat: string, initial: number]> = [
  ['item_size', 'ext_item_size', 512], ['item_age', 'ext_item_age', 4294967295], ['low_ttl', 'ext_low_ttl', 0],
  ['recache_rate', 'ext_recache_rate', 2000], ['compact_under', 'ext_compact_under', 0],
  ['drop_under', 'ext_drop_under', 0], ['max_sleep', 'ext_max_sleep', 1000000], ['drop_unread', 'ext_drop_unread', 0],
];

/** One `ext_path=<file>:<size>[:<bucket>]`: its file, and how many whole pages of ext_page_size its size holds. */
export type ExtPath = { file: string; pageCount: number };

export type ExtSettings = {
  uints: number[];   // in EXT_UINT_SETTINGS order
  maxFrag: number;   // ext_max_frag
  wbufSize: number;  // ext_wbuf_size in bytes, a uint32 as memcached keeps it (4096 MB wraps to 0)
  freeRatio: number; // slab_automove_freeratio
  pageSize: number;  // ext_page_size in bytes, a uint32 as memcached keeps it (4096 MB wraps to 0)
  ioThreads: number; // ext_threads
  ioDepth: number;   // ext_io_depth
  /**
   * The ext_path files in memcached's list order, which is NOT the command line's: storage_read_config puts each
   * new one at the head of its list, so the last ext_path given is paths[0]. The order matters: files are opened
   * in it (the first that fails ends the start, before the later ones are made), storage_init's default
   * ext_compact_under and ext_drop_under come from paths[0], and extstore_init deals pages out over the files
   * starting from paths[0]. Empty: no external storage (memcached's storage_enabled is `paths.length > 0`).
   */
  paths: ExtPath[];
};

const MB = 1024 * 1024;

export function defaultExtSettings(): ExtSettings {
  return {
    uints: EXT_UINT_SETTINGS.map(([, , initial]) => initial), maxFrag: 0.8, wbufSize: 4 * MB, freeRatio: 0.01,
    pageSize: 64 * MB, ioThreads: 1, ioDepth: 1, paths: [],
  };
}

export function isExtSubopt(name: string): boolean {
  return Object.hasOwn(EXT_SUBOPTS, name);
}

/** One extstore sub-option; memcached's message (it then exits 1) when the value is missing or bad. */
export function applyExtSubopt(e: ExtSettings, name: string, value: string | null): string | null {
  return EXT_SUBOPTS[name](e, value);
}

type ExtSubopt = (e: ExtSettings, value: string | null) => string | null;

/** A safe_strtoul value; `set` gets it, or nothing when the value is missing or rejected. */
function uint(name: string, set: (e: ExtSettings, v: number) => void): ExtSubopt {
  return (e, v) => {
    if (v === null) return `Missing ${name} argument`;
    const n = safeStrtoul(v);
    if (n < 0) return `could not parse argument to ${name}`;
    set(e, n);
    return null;
  };
}

function double(name: string, set: (e: ExtSettings, v: number) => void): ExtSubopt {
  return (e, v) => {
    if (v === null) return `Missing ${name} argument`;
    const n = safeStrtod(v);
    if (n === null) return `could not parse argument to ${name}`;
    set(e, n);
    return null;
  };
}

/** Where a setting, by its stats name ("ext_item_size"), stands in EXT_UINT_SETTINGS and in `uints`. */
export function uintIndex(stat: string): number {
  return EXT_UINT_SETTINGS.findIndex(([, s]) => s === stat);
}

function stat(name: string): ExtSubopt {
  const i = uintIndex(name);
  return uint(name, (e, n) => { e.uints[i] = n; });
}

/** A flag: its value, if any, is not read (`ext_drop_unread=0` turns it on, as in memcached). */
function flag(name: string): ExtSubopt {
  const i = uintIndex(name);
  return (e) => { e.uints[i] = 1; return null; };
}

/** Megabytes, kept in bytes in memcached's unsigned int: 4096 MB wraps to 0, 4097 to 1 MB. */
const megabytes = (n: number): number => Math.imul(n, MB) >>> 0;

const pageSizeOption = uint('ext_page_size', (e, n) => { e.pageSize = megabytes(n); });

const EXT_SUBOPTS: Readonly<Record<string, ExtSubopt>> = {
  // an ext_path's page count is worked out with the page size of the moment, so a later size would not apply to it
  ext_page_size: (e, v) => e.paths.length > 0 ? 'Must specify ext_page_size before any ext_path arguments' : pageSizeOption(e, v),
  ext_wbuf_size: uint('ext_wbuf_size', (e, n) => { e.wbufSize = megabytes(n); }),
  ext_threads: uint('ext_threads', (e, n) => { e.ioThreads = n; }),
  ext_io_depth: uint('ext_io_depth', (e, n) => { e.ioDepth = n; }),
  ext_path: (e, v) => {
    if (v === null) return 'missing argument to ext_path, ie: ext_path=/d/file:5G';
    const path = storageConfParse(v, e.pageSize);
    if (typeof path === 'string') return path + 'failed to parse ext_path argument';
    e.paths.unshift(path); // memcached's list: the newest at its head
    return null;
  },
  ext_item_size: stat('ext_item_size'),
  ext_item_age: stat('ext_item_age'),
  ext_low_ttl: stat('ext_low_ttl'),
  ext_recache_rate: stat('ext_recache_rate'),
  ext_compact_under: stat('ext_compact_under'),
  ext_drop_under: stat('ext_drop_under'),
  ext_max_sleep: stat('ext_max_sleep'),
  ext_max_frag: double('ext_max_frag', (e, n) => { e.maxFrag = n; }),
  ext_drop_unread: flag('ext_drop_unread'),
  slab_automove_freeratio: double('slab_automove_freeratio', (e, n) => { e.freeRatio = n; }),
};

/** What storage_conf_parse multiplies an ext_path's number by, for the size's last letter (any other: 0). */
const UNIT_BYTES: Readonly<Record<string, bigint>> = { m: 1n << 20n, g: 1n << 30n, t: 1n << 40n, p: 1n << 50n };

/**
 * memcached's storage_conf_parse of `<file>:<size>[:<bucket>]`: the ExtPath, or the lines it prints before
 * storage_read_config's "failed to parse ext_path argument" (each ending in a newline; '' when it prints none).
 * Read as strtok_r reads it: the file and the size are the first two ':'-separated tokens (empty ones skipped),
 * the bucket everything after the size's ':'. The size is atoi's int of all but its last character, times that
 * character's unit in a uint64 (a negative int wraps; a number with no known unit is 0 bytes); the page count is
 * that over the page size, cut to memcached's unsigned int: the whole pages the size holds, sizes that are no
 * page's multiple rounded down, 0 when smaller than a page.
 */
function storageConfParse(arg: string, pageSize: number): ExtPath | string {
  const file = strtok(arg, 0, ':');
  if (file === null) return '';
  const size = strtok(arg, file.next, ':');
  if (size === null) return 'must supply size to ext_path, ie: ext_path=/f/e:64m (M|G|T|P supported)\n';
  const unit = UNIT_BYTES[asciiLower(size.token[size.token.length - 1])] ?? 0n;
  const bytes = BigInt.asUintN(64, unit * BigInt.asUintN(64, BigInt(atoi(size.token.slice(0, -1)))));
  // memcached divides by the page size here, and a 0 one (ext_page_size=0, or a multiple of 4096) ends it with
  // SIGFPE and no word; refused with the words of the parse it was in
  if (pageSize === 0) return '';
  const pageCount = Number(BigInt.asUintN(32, bytes / BigInt(pageSize)));
  const bucket = size.next < arg.length ? arg.slice(size.next) : null;
  if (bucket !== null && bucket !== 'default') {
    // compact, lowttl and chunked are buckets memcached knows, and turns down: compaction is not ready for them
    if (bucket === 'compact' || bucket === 'lowttl' || bucket === 'chunked') {
      return 'ext_path only presently supports the default bucket\n';
    }
    return `Unknown extstore bucket: ${bucket}\n`;
  }
  return { file: file.token, pageCount };
}

/** strtok_r from `from`: the next token (delimiters before it skipped) and where the next call starts, or null. */
function strtok(s: string, from: number, delims: string): { token: string; next: number } | null {
  let start = from;
  while (start < s.length && delims.includes(s[start])) start++;
  if (start >= s.length) return null;
  let end = start;
  while (end < s.length && !delims.includes(s[end])) end++;
  return { token: s.slice(start, end), next: end < s.length ? end + 1 : end };
}

/** C's tolower in the C locale: ASCII letters only. */
function asciiLower(c: string): string {
  return c >= 'A' && c <= 'Z' ? c.toLowerCase() : c;
}
