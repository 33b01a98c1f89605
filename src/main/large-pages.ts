// memcached's -L on Linux: the item memory is reserved in one chunk and advised into transparent huge
// pages (enable_large_pages checks the kernel offers them, alloc_large_chunk madvises MADV_HUGEPAGE), so
// that a cache of many gigabytes costs fewer TLB misses.
//
// Cachalot's arena and hash table are advised so (madvise MADV_HUGEPAGE through node:ffi, store/create.ts) before
// the classes' first pages are preallocated in them, and come out as memcached's -L arena does (THPeligible in
// /proc/<pid>/smaps). RSS then grows in 2 MB steps (each class's preallocated first page is backed whole: ~40 MB more
// at start with -m 64, README). Without node:ffi -L preallocates without huge pages. (Until round 39, with no madvise in Node,
// the server exec'd itself again with glibc's tunable glibc.malloc.hugetlb=1, and glibc advised its mappings.)

import fs from 'node:fs';

/** Where the kernel says whether it offers transparent huge pages (the second is Red Hat's older name). */
const THP_ENABLED_PATHS = ['/sys/kernel/mm/transparent_hugepage/enabled', '/sys/kernel/mm/redhat_transparent_hugepage/enabled'];
const CANNOT = 'Cannot enable large pages on this system\n(There is no support as of this version)\n';

/** The THP `enabled` file's text ('' when it reads empty), or null when there is no such file to open. */
export function readThpEnabled(): string | null {
  for (const path of THP_ENABLED_PATHS) {
    let fd: number;
    try { fd = fs.openSync(path, 'r'); } catch { continue; }
    try { return fs.readFileSync(fd, 'latin1').slice(0, 127); } catch { return ''; } finally { fs.closeSync(fd); }
  }
  return null;
}

/**
 * memcached's -L refusal, option parsing's exit(1) text, from what the THP `enabled` file says (readThpEnabled);
 * null when the kernel offers huge pages ("[always]" or "[madvise]").
 */
export function largePagesRefusal(thpEnabled: string | null): string | null {
  if (thpEnabled === null) return 'Transparent huge pages support not detected.\nWill use default page size.\n' + CANNOT;
  if (thpEnabled === '') return 'Transparent huge pages could not read the configuration.\nWill use default page size.\n' + CANNOT;
  if (thpEnabled.includes('[never]')) return 'Transparent huge pages support disabled.\nWill use default page size.\n' + CANNOT;
  return null;
}

/** The huge page size in bytes that /proc/meminfo's text names (Hugepagesize, in kB); 0 when it names none. */
export function hugePageSize(meminfo: string): number {
  const m = /^Hugepagesize:\s*(\d+)/m.exec(meminfo);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** /proc/meminfo's text, '' where there is none. */
export function readMeminfo(): string {
  try { return fs.readFileSync('/proc/meminfo', 'latin1'); } catch { return ''; }
}

/**
 * What alloc_large_chunk says as slabs_init reserves the item memory: at -vv the huge page size; with no size to
 * name, its failure, after which memcached allocates page by page (preallocated false).
 */
export function largeChunkReport(pageSize: number, verbose: number): { stderr: string; preallocated: boolean } {
  if (pageSize === 0) {
    return { stderr: 'Failed to get supported huge page size\nWarning: Failed to allocate requested memory in one large chunk.\n'
      + 'Will allocate in smaller chunks\n', preallocated: false };
  }
  return { stderr: verbose > 1 ? `huge page size: ${pageSize}\n` : '', preallocated: true };
}

