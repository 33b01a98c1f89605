// glibc's tunables join the user's, and the server execs itself again only while one it wants is missing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MMAP_THRESHOLD, tunablesEnv } from './malloc-tunables.ts';
import type { Tunable } from './malloc-tunables.ts';

/** Another tunable, to see several join. */
const TCACHE: Tunable = ['glibc.malloc.tcache_count', '0'];

test('the mmap threshold (and any other tunable wanted) join GLIBC_TUNABLES; the user\'s own values stand', () => {
  assert.equal(tunablesEnv({ PATH: '/bin' }, [MMAP_THRESHOLD])?.GLIBC_TUNABLES, 'glibc.malloc.mmap_threshold=131072');
  assert.equal(tunablesEnv({ PATH: '/bin' }, [MMAP_THRESHOLD])?.PATH, '/bin');
  assert.equal(tunablesEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, [MMAP_THRESHOLD, TCACHE])?.GLIBC_TUNABLES,
    'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.tcache_count=0');
  assert.equal(tunablesEnv({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' }, [MMAP_THRESHOLD]), null);
  assert.equal(tunablesEnv({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072' }, [MMAP_THRESHOLD, TCACHE])?.GLIBC_TUNABLES,
    'glibc.malloc.mmap_threshold=131072:glibc.malloc.tcache_count=0');
});
