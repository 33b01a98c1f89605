// The restartable cache (-e <file>): stopped gracefully (SIGUSR1, or `shutdown graceful` with -A), the
// server keeps its items for the next start with the same file and memory settings; any other stop, or
// other settings, and the next start is clean and says why. Each case runs against memcached too.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './support/client.ts';
import { runToExit, type Server, type ServerKind } from './support/server.ts';
import { kindsFor, serversOfFile } from './support/spec.ts';

const KINDS = kindsFor();
const dirs: string[] = [];
const start = serversOfFile();
after(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function memoryFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'restart-test-'));
  dirs.push(dir);
  return join(dir, 'memory');
}

/**
 * memcached reuses a saved cache only when its stop time is in the past, a whole second before the start
 * (a restart within the same second starts clean): a restart test waits that long. Not a timing assertion.
 */
function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1100));
}

/** The graceful stop: memcached's SIGUSR1. */
async function stopGracefully(s: Server): Promise<void> {
  process.kill(s.pid, 'SIGUSR1');
  await s.exited;
  await nextSecond();
}

async function talk(port: number, send: string, until: string): Promise<string> {
  const c = await Client.connect(port);
  await c.send(send);
  const reply = (await c.readUntil(until)).toString('latin1');
  c.end();
  return reply;
}

const BIG = 'b'.repeat(200_000);
const FILL = `set plain 7 0 5\r\nhello\r\nset ttl 0 10000 3\r\nttl\r\nset big 0 0 ${BIG.length}\r\n${BIG}\r\n` +
  'set n 0 0 1\r\n5\r\nincr n 10\r\ndelete gone\r\nset gone 0 0 1\r\nx\r\ndelete gone\r\nmn\r\n';
const READ_BACK = 'gets plain ttl n gone\r\nget big\r\nset after 0 0 1\r\na\r\ngets after\r\nmn\r\n';

test('a graceful stop keeps every item, with its flags, CAS and TTL, for the next start with -e', async () => {
  const seen = new Map<ServerKind, string>();
  for (const kind of KINDS) {
    const file = memoryFile();
    const first = await start(kind, ['-e', file]);
    await talk(first.port, FILL, 'MN\r\n');
    await stopGracefully(first);
    assert.match(first.stderr(), /Gracefully stopping/, kind);
    const second = await start(kind, ['-e', file]);
    seen.set(kind, (await talk(second.port, READ_BACK, 'MN\r\n')).replace(BIG, '<big>'));
    assert.doesNotMatch(second.stderr(), /\[restart\]/, `${kind}: restored without a word`);
  }
  const ours = seen.get('cachalot') ?? '';
  assert.ok(ours.startsWith('VALUE plain 7 5 1\r\nhello\r\nVALUE ttl 0 3 2\r\nttl\r\nVALUE n 0 2 '), ours.slice(0, 120));
  assert.ok(ours.includes(`VALUE big 0 ${BIG.length}\r\n<big>\r\n`));
  if (seen.has('memcached')) assert.equal(ours, seen.get('memcached'), 'the same bytes, CAS values included');
});

test('`shutdown graceful` saves as SIGUSR1 does; SIGTERM saves nothing and the next start is clean', async () => {
  for (const kind of KINDS) {
    const file = memoryFile();
    const first = await start(kind, ['-e', file, '-A']);
    await talk(first.port, 'set k 0 0 1\r\nv\r\n', 'STORED\r\n');
    const c = await Client.connect(first.port);
    await c.send('shutdown graceful\r\n');
    await c.closed();
    await first.exited;
    await nextSecond();
    const second = await start(kind, ['-e', file, '-A']);
    assert.equal(await talk(second.port, 'get k\r\n', 'END\r\n'), 'VALUE k 0 1\r\nv\r\nEND\r\n', kind);
    await second.stop(); // SIGTERM
    const third = await start(kind, ['-e', file]);
    assert.equal(await talk(third.port, 'get k\r\n', 'END\r\n'), 'END\r\n', `${kind}: nothing kept after SIGTERM`);
    assert.match(third.stderr(), /\[restart\] no metadata save file, starting with a clean cache/, kind);
  }
});

test('a restart with other memory settings starts clean and says which setting', async () => {
  const said = new Map<ServerKind, string>();
  for (const kind of KINDS) {
    const file = memoryFile();
    const first = await start(kind, ['-e', file, '-m', '64']);
    await talk(first.port, 'set k 0 0 1\r\nv\r\nmn\r\n', 'MN\r\n');
    await stopGracefully(first);
    const second = await start(kind, ['-e', file, '-m', '80']);
    assert.equal(await talk(second.port, 'get k\r\n', 'END\r\n'), 'END\r\n', kind);
    said.set(kind, second.stderr().split('\n').filter((l) => l.startsWith('[restart]')).join('\n'));
  }
  assert.equal(said.get('cachalot'), '[restart] restart incompatible due to setting for [maxbytes] [old value: 67108864]\n' +
    '[restart] missing some metadata lines\n[restart] failed to validate metadata, starting with a clean cache');
  if (said.has('memcached')) assert.equal(said.get('cachalot'), said.get('memcached'));
});

test('-e preallocates as memcached does: a page per class, the rest in the global page pool', async () => {
  const lines = new Map<ServerKind, string[]>();
  for (const kind of KINDS) {
    const s = await start(kind, ['-e', memoryFile(), '-m', '64']);
    const stats = (await talk(s.port, 'stats\r\n', 'END\r\n')) + (await talk(s.port, 'stats slabs\r\n', 'END\r\n'));
    lines.set(kind, stats.split('\r\n').filter((l) => /^STAT (slab_global_page_pool|total_malloced|active_slabs) /.test(l)));
    assert.match(await talk(s.port, 'stats settings\r\n', 'END\r\n'), /STAT memory_file \/\S+\/memory\r\n/, kind);
  }
  assert.deepEqual(lines.get('cachalot'), ['STAT slab_global_page_pool 25', 'STAT active_slabs 39', 'STAT total_malloced 67108864']);
  if (lines.has('memcached')) assert.deepEqual(lines.get('cachalot'), lines.get('memcached'));
});

/** Start, expecting an exit: its status (or signal) and stderr. */
function startFails(kind: ServerKind, args: string[]): { ended: string; said: string } {
  const r = runToExit(kind, args);
  return { ended: r.signal ?? String(r.status), said: r.stderr.trim() };
}

test('a memory file that cannot be opened, or too little memory to preallocate, stops the start', () => {
  for (const kind of KINDS) {
    const unopenable = startFails(kind, ['-e', '/nonexistent/dir/memory']);
    // memcached aborts (SIGABRT); a Node process exits with the status a shell shows for that, 134
    assert.ok(unopenable.ended === 'SIGABRT' || unopenable.ended === '134', `${kind}: ${unopenable.ended}`);
    assert.equal(unopenable.said, 'failed to open file for mmap: No such file or directory', kind);
    const small = startFails(kind, ['-e', memoryFile(), '-m', '16']);
    assert.deepEqual(small, { ended: '1', said: '[restart] no metadata save file, starting with a clean cache\n' +
      'Error while preallocating slab memory!\n' +
      'If using -L or other prealloc options, max memory must be at least 39 megabytes.' }, kind);
  }
});

test('the size histogram (-o track_sizes) counts the restored items again, as memcached\'s relinking does', async () => {
  const seen = new Map<ServerKind, string>();
  for (const kind of KINDS) {
    const file = memoryFile();
    const first = await start(kind, ['-e', file, '-o', 'track_sizes']);
    await talk(first.port, `set a 0 0 10\r\n${'a'.repeat(10)}\r\nset b 0 0 300\r\n${'b'.repeat(300)}\r\nmn\r\n`, 'MN\r\n');
    await stopGracefully(first);
    const second = await start(kind, ['-e', file, '-o', 'track_sizes']);
    seen.set(kind, await talk(second.port, 'stats sizes\r\n', 'END\r\n'));
  }
  assert.match(seen.get('cachalot') ?? '', /^STAT 96 1\r\nSTAT 384 1\r\nEND\r\n$/);
  if (seen.has('memcached')) assert.equal(seen.get('cachalot'), seen.get('memcached'));
});

test('a memory file that is not the saved image (changed since) is not taken up: the start is clean', async () => {
  const file = memoryFile();
  const first = await start('cachalot', ['-e', file]);
  await talk(first.port, 'set k 0 0 1\r\nv\r\nmn\r\n', 'MN\r\n');
  await stopGracefully(first);
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, 4096); // one word of the arena
  closeSync(fd);
  const second = await start('cachalot', ['-e', file]);
  assert.equal(await talk(second.port, 'get k\r\nset k 0 0 1\r\nw\r\nget k\r\n', 'END\r\nSTORED\r\nVALUE k 0 1\r\nw\r\nEND\r\n'),
    'END\r\nSTORED\r\nVALUE k 0 1\r\nw\r\nEND\r\n', 'empty, and serving');
  assert.match(second.stderr(), /\[restart\] the memory file does not hold the saved store, starting with a clean cache/);
});

test('a metadata file that is not one stops the start, as memcached aborts on it', async () => {
  const { writeFileSync } = await import('node:fs');
  const cases: Array<[string, string]> = [
    ['', '[restart] Failed to read a tag from metadata file'],
    ['Kmaxbytes 1\n', '[restart] corrupt metadata file'],
    ['Tother\n', '[restart] internal handler for metadata tag not found: other:\n[restart] corrupt metadata file'],
  ];
  for (const kind of KINDS) {
    for (const [meta, said] of cases) {
      const file = memoryFile();
      writeFileSync(`${file}.meta`, meta);
      const r = startFails(kind, ['-e', file]);
      assert.ok(r.ended === 'SIGABRT' || r.ended === '134', `${kind}: ${r.ended}`);
      assert.equal(r.said, said, `${kind}, meta file ${JSON.stringify(meta)}`);
    }
  }
});
