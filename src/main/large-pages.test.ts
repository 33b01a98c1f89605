// -L's checks and words, as memcached's enable_large_pages and alloc_large_chunk say them. The kernel's
// answers are given here; test/large-pages.test.ts runs both servers on this machine's own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hugePageSize, largeChunkReport, largePagesRefusal } from './large-pages.ts';
import { parseSettings } from '../settings/settings.ts';

const CANNOT = 'Cannot enable large pages on this system\n(There is no support as of this version)\n';

test('-L is refused, exit 1, where the kernel has no transparent huge pages, cannot say, or turned them off', () => {
  const cases: [string | null, string][] = [
    [null, 'Transparent huge pages support not detected.\nWill use default page size.\n'],
    ['', 'Transparent huge pages could not read the configuration.\nWill use default page size.\n'],
    ['always madvise [never]\n', 'Transparent huge pages support disabled.\nWill use default page size.\n'],
  ];
  for (const [thp, said] of cases) {
    assert.equal(largePagesRefusal(thp), said + CANNOT);
    assert.deepEqual(parseSettings(['-m', '64', '-L', '-t', '4'], {}, () => thp), { kind: 'exit', code: 1, stdout: '', stderr: said + CANNOT });
  }
});

test('-L is taken where the kernel offers huge pages always or on request, and the kernel is asked only for -L', () => {
  for (const thp of ['[always] madvise never\n', 'always [madvise] never\n']) {
    assert.equal(largePagesRefusal(thp), null);
    const r = parseSettings(['-L'], {}, () => thp);
    assert.ok(r.kind === 'run' && r.settings.preallocate);
  }
  const r = parseSettings(['-m', '64'], {}, () => { throw new Error('asked without -L'); });
  assert.ok(r.kind === 'run' && !r.settings.preallocate);
});

test('the huge page size comes from /proc/meminfo; without one, memory is allocated page by page, as memcached falls back', () => {
  assert.equal(hugePageSize('MemTotal:       24576000 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n'), 2097152);
  assert.equal(hugePageSize('Hugepagesize:    1048576 kB\n'), 1073741824);
  assert.equal(hugePageSize('MemTotal:       24576000 kB\n'), 0);
  assert.deepEqual(largeChunkReport(2097152, 2), { stderr: 'huge page size: 2097152\n', preallocated: true });
  assert.deepEqual(largeChunkReport(2097152, 1), { stderr: '', preallocated: true });
  assert.deepEqual(largeChunkReport(0, 0), {
    stderr: 'Failed to get supported huge page size\nWarning: Failed to allocate requested memory in one large chunk.\n'
      + 'Will allocate in smaller chunks\n',
    preallocated: false,
  });
});
