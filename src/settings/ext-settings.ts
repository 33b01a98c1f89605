// extstore's sub-options of -o, read as a memcached built with extstore (Debian's is) reads them in
// storage_read_config, with its messages. Such a memcached started without `ext_path` keeps the values,
// shows them in `stats settings`, and stores nothing outside memory; Cachalot is that server, and refuses
// ext_path itself, the one option that would ask for external storage.

import { safeStrtod, safeStrtoul } from './c-numbers.ts';

/**
 * The settings `extstore <name> <value>` changes at run time, as `stats settings` names them, with memcached's
 * defaults; -o sets them at start as ext_<name>.
 */
export const EXT_UINT_SETTINGS: ReadonlyArray<[command: string, stat: string, initial: number]> = [
  ['item_size', 'ext_item_size', 512], ['item_age', 'ext_item_age', 4294967295], ['low_ttl', 'ext_low_ttl', 0],
  ['recache_rate', 'ext_recache_rate', 2000], ['compact_under', 'ext_compact_under', 0],
  ['drop_under', 'ext_drop_under', 0], ['max_sleep', 'ext_max_sleep', 1000000], ['drop_unread', 'ext_drop_unread', 0],
];

export type ExtSettings = {
  uints: number[];   // in EXT_UINT_SETTINGS order
  maxFrag: number;   // ext_max_frag
  wbufSize: number;  // ext_wbuf_size in bytes, a uint32 as memcached keeps it (4096 MB wraps to 0)
  freeRatio: number; // slab_automove_freeratio
};

export function defaultExtSettings(): ExtSettings {
  return { uints: EXT_UINT_SETTINGS.map(([, , initial]) => initial), maxFrag: 0.8, wbufSize: 4 * 1024 * 1024, freeRatio: 0.01 };
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

/** Read and checked as memcached reads them; they size external storage, which nothing here opens. */
const checkedOnly = (name: string): ExtSubopt => uint(name, () => {});

const EXT_SUBOPTS: Readonly<Record<string, ExtSubopt>> = {
  ext_page_size: checkedOnly('ext_page_size'),
  ext_wbuf_size: uint('ext_wbuf_size', (e, n) => { e.wbufSize = Math.imul(n, 1024 * 1024) >>> 0; }),
  ext_threads: checkedOnly('ext_threads'),
  ext_io_depth: checkedOnly('ext_io_depth'),
  ext_path: (_e, v) => v === null ? 'missing argument to ext_path, ie: ext_path=/d/file:5G'
    : 'ext_path: Cachalot has no external storage (extstore); it keeps every item in memory',
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
