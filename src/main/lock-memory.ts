// -k: memcached's mlockall(MCL_CURRENT | MCL_FUTURE), after it has taken on -u's identity and daemonized, before its
// threads start; on failure its warning with strerror's words, and it goes on unlocked.
//
// What is locked differs, on purpose. mlockall cannot be had under Node: V8 gives pages back to the system as its
// heaps shrink (madvise), which locked pages refuse, and V8 stops the process when they do (seen: a worker's isolate
// failed its start). So Cachalot locks the store's memory, the item arena, the hash table and the rest of the shared
// store: the memory -k is there for, that the cache's items are never swapped out. And it locks it on fault
// (MLOCK_ONFAULT): the arena and the hash table are reserved at their largest at start and backed page by page as
// they are touched (src/store/README.md), so locking them up front would make every byte resident at once, where
// memcached mallocs its slab pages as it goes and locks what it has. As with memcached, a server not allowed to
// lock that much (not root, past RLIMIT_MEMLOCK) is told so and runs unlocked.

import { MLOCK_ONFAULT, mlock2, munlock } from '../libc/ffi.ts';
import { strerror } from '../libc/errno.ts';

/** Lock these memories; what memcached would print about it (a line), or null when they are all locked. */
export function lockMemory(memories: readonly SharedArrayBuffer[]): string | null {
  const locked: SharedArrayBuffer[] = [];
  for (const memory of memories) {
    const r = mlock2(memory, MLOCK_ONFAULT);
    if (r === null) return 'warning: -k invalid, mlockall() not supported on this platform.  proceeding without.';
    if (r.errno !== 0) {
      for (const m of locked) munlock(m); // all or nothing: memcached's one call either locks or does not
      return `warning: -k invalid, mlockall() failed: ${strerror(r.errno)}`;
    }
    locked.push(memory);
  }
  return null;
}
