// memcached's -L on Linux: the item memory is reserved in one chunk and advised into transparent huge
// pages (enable_large_pages checks the kernel offers them, alloc_large_chunk madvises MADV_HUGEPAGE), so
// that a cache of many gigabytes costs fewer TLB misses.
//
// Node has no madvise. The arena is one SharedArrayBuffer that V8 gets from glibc's calloc, which maps it
// on its own (mmap), and glibc advises its mappings into huge pages itself when the tunable
// glibc.malloc.hugetlb=1 is set. A tunable is read once, at exec: so with -L the main thread execs itself
// again with it set (malloc-tunables.ts) before it builds anything, and the arena, and the hash table
// beside it, come out as memcached's -L arena does (THPeligible in /proc/<pid>/smaps). RSS then grows in 2 MB
// steps (each class's preallocated first page is backed whole: ~18 MB more at start with -m 64). The tunable
// also covers glibc's other large allocations, and a libc that does not know it
// ignores it: then -L preallocates without huge pages, as it did before this module.

import fs from 'node:fs';
import type { Tunable } from './malloc-tunables.ts';

/** Where the kernel says whether it offers transparent huge pages (the second is Red Hat's older name). */
const THP_ENABLED_PATHS = ['/sys/kernel/mm/transparent_hugepage/enabled', '/sys/kernel/mm/redhat_transparent_hugepage/enabled'];
/** glibc's huge page tunable, which main.ts execs with for -L (malloc-tunables.ts). */
export const HUGETLB: Tunable = ['glibc.malloc.hugetlb', '1'];
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

