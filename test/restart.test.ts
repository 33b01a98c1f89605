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
import { againWhileStaleScan, BINARY_NOOP_SENTINEL, firstDifference, maskMetaTimes, maskReply, MN_SENTINEL, runAcross } from './support/differential.ts';
import { everyKeyState, mixedScript } from './support/mixed-protocols.ts';

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

test('a seeded mix of text, meta and binary commands leaves items that a restart keeps as memcached\'s does: flags, TTLs, CAS, stale and win marks, fetched bits, base64-named keys', {
  skip: KINDS.includes('memcached') ? false : 'memcached is not installed',
}, async (t) => {
  const sentinels = [MN_SENTINEL, BINARY_NOOP_SENTINEL];
  const mix = mixedScript(3, 300);
  const lifeOf = async (kind: ServerKind): Promise<Buffer[]> => {
    const file = memoryFile();
    const first = await start(kind, ['-e', file]);
    const replies = await runAcross(first.port, sentinels, mix);
    const before = await runAcross(first.port, sentinels, everyKeyState());
    await stopGracefully(first);
    const second = await start(kind, ['-e', file]);
    const after = await runAcross(second.port, sentinels, everyKeyState());
    return [...replies, ...before, ...after].map((reply) => maskMetaTimes(maskReply(reply)));
  };
  const ours = await lifeOf('cachalot');
  const theirs = await againWhileStaleScan(ours, await lifeOf('memcached'), () => lifeOf('memcached'), (line) => t.diagnostic(line));
  const names = [...mix.map(({ req }) => req), 'GetK before', 'mg before', 'me before', 'GetK after', 'mg after', 'me after'];
  const diff = firstDifference(names, ours, theirs, ['cachalot', 'memcached']);
  if (diff !== null) assert.fail(diff);
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
    assert.equal(unopenable.ended, 'SIGABRT', kind); // memcached's abort()
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
      assert.equal(r.ended, 'SIGABRT', kind);
      assert.equal(r.said, said, `${kind}, meta file ${JSON.stringify(meta)}`);
    }
  }
});

test('a memory file that cannot be sized for its mapping (a device) stops the start', () => {
  for (const kind of KINDS) {
    assert.deepEqual(startFails(kind, ['-e', '/dev/null']), { ended: 'SIGABRT', said: 'ftruncate failed: Invalid argument' }, kind);
  }
});

/** A saved store's meta file, as the stop wrote it (read before the next start deletes it). */
async function savedMeta(kind: ServerKind, args: string[]): Promise<{ file: string; meta: string }> {
  const { readFileSync } = await import('node:fs');
  const file = memoryFile();
  const first = await start(kind, ['-e', file, ...args]);
  await talk(first.port, 'set k 0 0 1\r\nv\r\nmn\r\n', 'MN\r\n');
  await stopGracefully(first);
  return { file, meta: readFileSync(`${file}.meta`, 'latin1') };
}

test('the metadata file is read line by line as memcached reads it: a line that is not a key ends a pass, and the next pass counts anew', async () => {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const said = new Map<ServerKind, string[]>();
  const edits: Array<(lines: string[]) => string[]> = [
    (lines) => [...lines, 'garbage'], // after a full pass: a second pass sees no keys
    (lines) => [...lines, 'Kunknown 1'], // an unknown key is only named
    (lines) => lines.map((l) => l.startsWith('Kmaxbytes ') ? `Kmaxbytes +${l.slice(10)}` : l), // safe_strtoll takes a sign
    (lines) => lines.map((l) => l.startsWith('Kchunk_size ') ? `${l} ` : l), // and a trailing space
    (lines) => [lines[0], '', ...lines.slice(1)], // an empty line ends the first pass at once
  ];
  for (const kind of KINDS) {
    const { file } = await savedMeta(kind, []);
    const outcomes: string[] = [];
    for (const edit of edits) {
      const lines = readFileSync(`${file}.meta`, 'latin1').trimEnd().split('\n'); // as the last stop saved it, k in the store
      writeFileSync(`${file}.meta`, edit(lines).join('\n') + '\n');
      const s = await start(kind, ['-e', file]);
      const got = await talk(s.port, 'get k\r\nset k 0 0 1\r\nv\r\nmn\r\n', 'MN\r\n');
      await stopGracefully(s); // saved again, k in it, for the next edit
      outcomes.push(`${got.startsWith('VALUE k 0 1\r\nv\r\n') ? 'kept' : 'clean'}: ${s.stderr().split('\n').filter((l) => l !== '' && !l.startsWith('Gracefully')).join(' | ')}`);
    }
    said.set(kind, outcomes);
  }
  const ours = said.get('cachalot') ?? [];
  assert.match(ours[0], /^clean: \[restart\] invalid metadata line: \| garbage \| \[restart\] missing some metadata lines \| \[restart\] failed to validate/);
  assert.equal(ours[1], 'kept: [restart] unknown/unhandled key: unknown');
  assert.equal(ours[2], 'kept: ');
  if (said.has('memcached')) assert.deepEqual(ours, said.get('memcached'));
});

test('after a restart the settings that admin commands changed are the command line\'s again, and the counters start at 0', async () => {
  const seen = new Map<ServerKind, string>();
  const wanted = /^STAT (lru_crawler|lru_crawler_sleep|lru_crawler_tocrawl|lru_segmented|slab_automove|hot_lru_pct|warm_lru_pct|hot_max_factor|warm_max_factor|temp_lru|temporary_ttl|maxbytes|hashpower_init|slabs_moved|lru_crawler_starts|lru_crawler_running|slab_reassign_busy_items) /;
  for (const kind of KINDS) {
    const file = memoryFile();
    const first = await start(kind, ['-e', file, '-o', 'no_lru_maintainer']);
    await talk(first.port, 'lru mode flat\r\nlru tune 10 30 0.1 3\r\nlru temp_ttl 100\r\nlru_crawler sleep 200\r\nlru_crawler tocrawl 50\r\n' +
      'slabs automove 2\r\nset k 0 0 1\r\nv\r\nmn\r\n', 'MN\r\n');
    await talk(first.port, 'lru_crawler crawl all\r\n', '\r\n'); // lru_crawler_starts 1
    for (let i = 0; i < 100 && (await talk(first.port, 'lru_crawler disable\r\n', '\r\n')) !== 'OK\r\n'; i++) await new Promise((r) => setTimeout(r, 20));
    await stopGracefully(first);
    const second = await start(kind, ['-e', file, '-o', 'no_lru_maintainer']);
    const stats = (await talk(second.port, 'stats\r\nstats settings\r\n', 'END\r\nSTAT maxbytes')) + await talk(second.port, 'stats settings\r\n', 'END\r\n');
    assert.equal(await talk(second.port, 'get k\r\n', 'END\r\n'), 'VALUE k 0 1\r\nv\r\nEND\r\n', `${kind}: kept`);
    seen.set(kind, stats.split('\r\n').filter((l) => wanted.test(l)).join('\n'));
  }
  const ours = seen.get('cachalot') ?? '';
  assert.match(ours, /STAT lru_crawler yes/);
  assert.match(ours, /STAT lru_crawler_starts 0/);
  assert.match(ours, /STAT hot_lru_pct 20/);
  if (seen.has('memcached')) assert.equal(ours, seen.get('memcached'));
});

test('the saved hash power is hashpower_init at the restart: checked against -t\'s lock table, and shown', async () => {
  const seen = new Map<ServerKind, string>();
  for (const kind of KINDS) {
    const { file } = await savedMeta(kind, ['-t', '1', '-o', 'hashpower=12']);
    const { writeFileSync, readFileSync } = await import('node:fs');
    const meta = readFileSync(`${file}.meta`, 'latin1');
    const refused = startFails(kind, ['-e', file, '-t', '4']); // 2^12 locks: the saved table is no larger
    assert.deepEqual(refused, { ended: '1', said: 'Hash table power size (12) cannot be equal to or less than item lock table (12)\n' +
      'Item lock table grows with `-t N` (worker threadcount)\nHash table grows with `-o hashpower=N`' }, kind);
    writeFileSync(`${file}.meta`, meta); // the refused start read (and deleted) it
    const s = await start(kind, ['-e', file, '-t', '1']);
    seen.set(kind, (await talk(s.port, 'get k\r\nstats settings\r\n', 'END\r\nSTAT maxbytes')).split('\r\n')[0] +
      (await talk(s.port, 'stats settings\r\n', 'END\r\n')).split('\r\n').filter((l) => l.startsWith('STAT hashpower_init')).join());
  }
  assert.equal(seen.get('cachalot'), 'VALUE k 0 1STAT hashpower_init 12');
  if (seen.has('memcached')) assert.equal(seen.get('cachalot'), seen.get('memcached'));
});

test('the logger\'s gids go on after a restart, as memcached saves logger_gid', async () => {
  const seen = new Map<ServerKind, number[]>();
  for (const kind of KINDS) {
    const file = memoryFile();
    const first = await start(kind, ['-e', file]);
    const gidsOf = async (s: Server): Promise<number[]> => {
      const w = await Client.connect(s.port);
      await w.send('watch mutations\r\n');
      assert.equal(await w.readLine(), 'OK');
      await talk(s.port, 'set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\nmn\r\n', 'MN\r\n');
      const lines = [await w.readLine(), await w.readLine()];
      w.end();
      return lines.map((l) => Number(/ gid=(\d+)/.exec(l)?.[1]));
    };
    const before = await gidsOf(first);
    await stopGracefully(first);
    const second = await start(kind, ['-e', file]);
    const afterRestart = await gidsOf(second);
    assert.ok(afterRestart[0] > before[1], `${kind}: ${before} then ${afterRestart}`);
    seen.set(kind, [...before, ...afterRestart]);
  }
  if (seen.has('memcached')) assert.deepEqual(seen.get('cachalot'), seen.get('memcached'));
});

test('a metadata file that cannot be written at the stop is reported, and the stop ends as usual', async () => {
  const { mkdirSync } = await import('node:fs');
  const said = new Map<ServerKind, string>();
  for (const kind of KINDS) {
    const file = memoryFile();
    const s = await start(kind, ['-e', file]);
    await talk(s.port, 'set k 0 0 1\r\nv\r\nmn\r\n', 'MN\r\n');
    mkdirSync(`${file}.meta`);
    process.kill(s.pid, 'SIGUSR1');
    assert.equal(await s.exited, 0, kind);
    said.set(kind, s.stderr());
  }
  assert.ok((said.get('cachalot') ?? '').endsWith('failed to write metadata file: Is a directory\n[restart] failed to save metadata'), said.get('cachalot') ?? '');
  if (said.has('memcached')) assert.equal(said.get('cachalot'), said.get('memcached'));
});
