// Starting with external storage (-o ext_path): memcached's storage_init and extstore_init, side by side with
// memcached. Each file is created (0644) and emptied, locked so that a second server on it (either kind) is refused
// without touching it, and the start refused, with memcached's words and status, on sizes extstore cannot use, on a file
// it cannot open, on too many pages. (The options' own messages are src/settings/settings.test.ts'; what the
// storage does with the files, once started, is not tested here.)

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client } from './support/client.ts';
import { commandFor, runToExit, type Server } from './support/server.ts';
import { kindsFor, serversOfFile } from './support/spec.ts';

const KINDS = kindsFor();
const start = serversOfFile();
const dirs: string[] = [];
after(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'extstore-start-'));
  dirs.push(dir);
  return dir;
}

const failed = (why: string): string => `Failed to initialize external storage: ${why}\n`;
const openFailed = (errno: string): string => `${failed('failed to open file')}extstore open: ${errno}\n`;
const TOO_MANY = failed('page_count must total to < 65536. Increase page_size or lower path sizes');

/** A start that must fail, in a directory of its own: `-o` built from the directory's path; the files it left. */
type Refusal = { name: string; o: (dir: string) => string; stderr: string; files: string[]; prepare?: (dir: string) => void };

const REFUSALS: Refusal[] = [
  { name: 'a page holds whole write buffers', o: (d) => `ext_path=${d}/a:64m,ext_wbuf_size=3`,
    stderr: failed('page_size must be divisible by wbuf_size'), files: [] },
  { name: 'ext_page_size wrapped past 4096 MB', o: (d) => `ext_page_size=4098,ext_path=${d}/a:64m`,
    stderr: failed('page_size must be divisible by wbuf_size'), files: [] },
  { name: 'pages and buffers in whole 2 MB', o: (d) => `ext_page_size=6,ext_wbuf_size=3,ext_path=${d}/a:64m`,
    stderr: failed('page_size and wbuf_size must be divisible by 1024*1024*2'), files: [] },
  // counted once every file is open: they are made (and emptied) all the same
  { name: '65535 pages in all', o: (d) => `ext_path=${d}/a:2000G,ext_path=${d}/c:2096G`, stderr: TOO_MANY, files: ['a', 'c'] },
  { name: 'a negative size, a huge one in uint64', o: (d) => `ext_path=${d}/a:-1g`, stderr: TOO_MANY, files: ['a'] },
  // the last ext_path given is opened first: the missing directory ends the start before c is made
  { name: 'a file that cannot be made', o: (d) => `ext_path=${d}/c:64m,ext_path=${d}/none/x:64m`,
    stderr: openFailed('No such file or directory'), files: [] },
  { name: 'the files before it are made', o: (d) => `ext_path=${d}/none/x:64m,ext_path=${d}/d:64m`,
    stderr: openFailed('No such file or directory'), files: ['d'] },
  { name: 'a directory', o: (d) => `ext_path=${d}/sub:64m`, stderr: openFailed('Is a directory'), files: ['sub'],
    prepare: (d) => mkdirSync(join(d, 'sub')) },
  { name: 'a file that cannot be emptied', o: () => 'ext_path=/dev/null:64m', stderr: openFailed('Invalid argument'), files: [] },
];

for (const kind of KINDS) {
  test(`extstore_init's refusals: memcached's words, status 1, the files it made [${kind}]`, () => {
    for (const r of REFUSALS) {
      const dir = scratch();
      r.prepare?.(dir);
      const run = runToExit(kind, ['-o', r.o(dir)]);
      assert.deepEqual([run.status, run.stderr], [1, r.stderr], r.name);
      assert.deepEqual(readdirSync(dir).sort(), r.files, `${r.name}: the files left`);
      for (const f of r.files.filter((f) => f !== 'sub')) assert.equal(statSync(join(dir, f)).size, 0, `${r.name}: ${f} emptied`);
    }
  });
}

async function statsSettings(s: Server): Promise<string> {
  const c = await Client.connect(s.port);
  await c.send('stats settings\r\n');
  const reply = (await c.readUntil('END\r\n')).toString('latin1');
  c.end();
  return reply;
}

const stat = (reply: string, name: string): string | undefined => new RegExp(`^STAT ${name} (\\S+)\\r$`, 'm').exec(reply)?.[1];

for (const kind of KINDS) {
  test(`a started server's files: made 0644, emptied; the thresholds a quarter of the last file's pages [${kind}]`, async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a'), 'what a previous server left');
    // a: 1 GB = 16 pages of 64 MB; b: 512 MB = 8. b, given last, is first in memcached's list: 8 / 4 = 2, and
    // ext_drop_under as given is overwritten with it, since ext_compact_under was left at 0
    const s = await start(kind, ['-o', `ext_path=${dir}/a:1g,ext_path=${dir}/b:512m,ext_drop_under=7`]);
    try {
      assert.deepEqual(readdirSync(dir).sort(), ['a', 'b']);
      const umask = process.umask();
      for (const f of ['a', 'b']) {
        const st = statSync(join(dir, f));
        assert.deepEqual([st.size, st.mode & 0o777], [0, 0o644 & ~umask], f);
      }
      const settings = await statsSettings(s);
      assert.deepEqual([stat(settings, 'ext_compact_under'), stat(settings, 'ext_drop_under')], ['2', '2']);
    } finally { await s.stop(); }
    const given = await start(kind, ['-o', `ext_compact_under=5,ext_drop_under=7,ext_path=${dir}/c:1g`]);
    try {
      const settings = await statsSettings(given);
      assert.deepEqual([stat(settings, 'ext_compact_under'), stat(settings, 'ext_drop_under')], ['5', '7'], 'both as given');
    } finally { await given.stop(); }
  });
}

for (const kind of KINDS) {
  test(`a second server on a file in use is refused and leaves it alone; once the first is gone, it starts [${kind}]`, async () => {
    const dir = scratch();
    const file = join(dir, 'store');
    const first = await start(kind, ['-o', `ext_path=${file}:64m`]);
    let stopped = false;
    try {
      writeFileSync(file, 'the first server\'s pages'); // as if it had written some
      const second = runToExit(kind, ['-o', `ext_path=${file}:64m`]);
      assert.deepEqual([second.status, second.stderr], [1, openFailed('Resource temporarily unavailable')]);
      assert.equal(statSync(file).size, 24, 'not emptied by the refused start');
      // opened after another file (the last ext_path given is opened first), which is made
      const other = runToExit(kind, ['-o', `ext_path=${file}:64m,ext_path=${dir}/other:64m`]);
      assert.deepEqual([other.status, other.stderr], [1, openFailed('Resource temporarily unavailable')], 'the second of two');
      assert.deepEqual([existsSync(join(dir, 'other')), statSync(file).size], [true, 24]);
      await first.stop();
      stopped = true;
      const again = await start(kind, ['-o', `ext_path=${file}:64m`]);
      assert.equal(statSync(file).size, 0, 'the file free again: taken and emptied');
      await again.stop();
    } finally { if (!stopped) await first.stop(); }
  });
}

// Both servers lock the whole file, memcached with fcntl(F_SETLK), Cachalot with an open file description lock
// (F_OFD_SETLK), and the two kinds conflict: neither empties a file the other is using.
test('a Cachalot and a memcached on one file refuse each other, whichever started first', { skip: KINDS.length < 2 && 'memcached is not installed' }, async () => {
  for (const [first, second] of [['memcached', 'cachalot'], ['cachalot', 'memcached']] as const) {
    const file = join(scratch(), 'store');
    const running = await start(first, ['-o', `ext_path=${file}:64m`]);
    try {
      writeFileSync(file, 'the first server\'s pages');
      const refused = runToExit(second, ['-o', `ext_path=${file}:64m`]);
      assert.deepEqual([refused.status, refused.stderr], [1, openFailed('Resource temporarily unavailable')], `${second} after ${first}`);
      assert.equal(statSync(file).size, 24, 'not emptied by the refused start');
    } finally { await running.stop(); }
  }
});

for (const kind of KINDS) {
  test(`-e with ext_path: a saved cache is not restored, with memcached's line, and the start goes on [${kind}]`, async () => {
    const dir = scratch();
    const args = ['-e', join(dir, 'memory'), '-o', `ext_path=${dir}/store:64m`];
    const first = await start(kind, args);
    const c = await Client.connect(first.port);
    assert.equal((await c.request('set k 0 0 1\r\nv\r\n', 8)).toString(), 'STORED\r\n');
    c.end();
    process.kill(first.pid, 'SIGUSR1'); // the graceful stop, which saves
    await first.exited;
    assert.equal(existsSync(join(dir, 'memory.meta')), true, 'saved');
    await new Promise((resolve) => setTimeout(resolve, 1100)); // memcached reuses a save from a past second only
    const second = await start(kind, args);
    try {
      assert.match(second.stderr(), /^\[restart\] memory restart with extstore not presently supported\.$/m);
      const d = await Client.connect(second.port);
      assert.equal((await d.request('get k\r\n', 5)).toString(), 'END\r\n');
      d.end();
    } finally { await second.stop(); }
  });
}

test('-h: memcached\'s external storage section, word for word', { skip: KINDS.length < 2 && 'memcached is not installed' }, () => {
  const section = (kind: 'cachalot' | 'memcached'): string => {
    const [cmd, argv] = commandFor(kind, ['-h']);
    const out = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 10_000 }).stdout;
    const from = out.indexOf('\n\n   - External storage');
    const to = out.indexOf('(see doc/storage.txt for more info, default: 0.010)\n');
    assert.ok(from >= 0 && to > from, `${kind}: no external storage section`);
    return out.slice(from, to);
  };
  const ours = section('cachalot');
  assert.equal(ours, section('memcached'));
  assert.match(ours, /ext_path/, 'what t/lib/MemcachedTest.pm looks for');
});
