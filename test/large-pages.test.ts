// -L, "try to use large memory pages": memcached reserves its item memory in one chunk advised into
// transparent huge pages. Both servers run here on this machine's kernel, whose THP setting decides what
// each must do: with huge pages on offer ("always" or "madvise"), the item memory is huge-page eligible in
// /proc/<pid>/smaps; with them off ("never"), -L is refused with memcached's words.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Client } from './support/client.ts';
import { runToExit } from './support/server.ts';
import { kindsFor, serversOfFile } from './support/spec.ts';
import { readThpEnabled } from '../src/main/large-pages.ts';

const KINDS = kindsFor();
const MB = 1024 * 1024;
const thp = readThpEnabled();
const offered = thp !== null && !thp.includes('[never]');

const start = serversOfFile();

/** Whether a read-write mapping of at least `bytes` (the item memory of a -m that size) may take huge pages. */
function itemMemoryEligible(pid: number, bytes: number): boolean {
  let size = 0, writable = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'latin1').split('\n')) {
    const range = /^[0-9a-f]+-[0-9a-f]+ (\S+)/.exec(line);
    if (range !== null) { writable = range[1].startsWith('rw'); continue; }
    const kb = /^Size:\s+(\d+) kB/.exec(line);
    if (kb !== null) { size = Number(kb[1]) * 1024; continue; }
    if (writable && size >= bytes && /^THPeligible:\s+1/.test(line)) return true;
  }
  return false;
}

if (offered) {
  test('with -L the item memory may take huge pages, as memcached\'s does, and the cache works in it', async () => {
    for (const kind of KINDS) {
      const s = await start(kind, ['-L', '-m', '64']);
      assert.ok(itemMemoryEligible(s.pid, 64 * MB), `${kind}: no huge-page eligible mapping of 64 MB (THP: ${thp?.trim()})`);
      const c = await Client.connect(s.port);
      await c.send(`set k 0 0 5\r\nhello\r\nget k\r\n`);
      assert.equal((await c.readUntil('END\r\n')).toString('latin1'), 'STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n', kind);
      c.end();
    }
  });

  test('-L -vv names the huge page size before the slab classes, and a -m too small to preallocate is refused after them', () => {
    // -m 10 stops the start (slabs_preallocate) after everything -L and -vv print up to it
    const said = KINDS.map((kind) => runToExit(kind, ['-L', '-m', '10', '-vv']));
    const lines = said[0].stderr.split('\n');
    assert.equal(said[0].status, 1);
    assert.match(lines[0], /^huge page size: \d+$/);
    assert.match(lines[1], /^slab class {3}1: chunk size {8}96 perslab {3}10922$/);
    assert.equal(lines.slice(-3).join('\n'),
      'Error while preallocating slab memory!\nIf using -L or other prealloc options, max memory must be at least 39 megabytes.\n');
    if (said.length === 2) assert.deepEqual(said[0], said[1]);
  });
} else {
  test('-L is refused where the kernel offers no transparent huge pages, with memcached\'s words', () => {
    const said = KINDS.map((kind) => runToExit(kind, ['-L', '-m', '64']));
    assert.equal(said[0].status, 1);
    assert.match(said[0].stderr, /^Transparent huge pages .*\nWill use default page size\.\nCannot enable large pages on this system\n/);
    if (said.length === 2) assert.deepEqual(said[0], said[1]);
  });
}

test('without -L the item memory is left to the kernel\'s default, as memcached leaves its pages', async () => {
  const s = await start('cachalot', ['-m', '64']);
  // "always" gives every large mapping huge pages, asked or not; "madvise" only those advised, which -L alone asks for
  assert.equal(itemMemoryEligible(s.pid, 64 * MB), thp !== null && thp.includes('[always]'), `THP: ${thp?.trim()}`);
});
