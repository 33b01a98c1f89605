// The command-line tools of Debian's libmemcached-tools (libmemcached 1.1.4: memccp, memccat, memcexist,
// memctouch, memcrm, memcdump, memcstat, memcflush, memcping, memcerror), unchanged, against Cachalot and a
// real memcached 1.6. One fixed sequence of invocations per server, the storage and read tools over the text
// protocol and then over the binary one (--binary); every invocation's exit status, stdout and stderr go into a
// transcript. After masking what belongs to the process (ports, the temp dir, pid, uptime, rusage...), Cachalot's
// transcript must equal memcached's line by line: what these tools print is what their users script against.
// Both servers run with `-t 2` and the flat LRU (see flatLru), so that nothing in the transcript hangs on timing.
// Direct assertions then show that real work was done: a file of all 256 byte values makes the round trip byte
// for byte, memcdump lists exactly the keys stored, memcflush empties the cache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './support/client.ts';
import { VOLATILE_STATS } from './support/differential.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import { freePort, sleep, type ServerKind } from './support/server.ts';

const TOOLS = ['memccp', 'memccat', 'memcexist', 'memctouch', 'memcrm', 'memcdump', 'memcstat', 'memcflush', 'memcping', 'memcerror'];
const toolsInstalled = spawnSync('sh', ['-c', TOOLS.map((t) => `command -v ${t}`).join(' && ')], { stdio: 'ignore' }).status === 0;

/** The files memccp copies (its keys are their basenames). */
const BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const FILES: Record<string, Buffer> = {
  'small.txt': Buffer.from('hello, memcached\n'),
  'bytes.bin': BYTES,
  'big.dat': Buffer.from(Array.from({ length: 200 * 1024 }, (_, i) => (i * 7) % 251)),
  'huge.dat': Buffer.alloc(1024 * 1024 + 1, 'z'), // over the default item size limit (-I 1m): refused
  'new.txt': Buffer.from('a key only the mode tests use\n'),
};

/**
 * The storage and read tools over one protocol. Each tour starts from an empty cache and leaves it empty: every
 * key it touched, including those memcexist leaves behind (it asks with an `add` whose expiry is already past),
 * is read after the flush, so that nothing waits for a background reclaim.
 */
function dataTour(proto: 'text' | 'binary'): string[] {
  const b = proto === 'binary' ? '--binary ' : '';
  return [
    `memccp ${b}-v small.txt bytes.bin big.dat huge.dat`,
    `memccat ${b}small.txt`, `memccat ${b}--file=bytes.${proto}.out bytes.bin`, `memccat ${b}big.dat`,
    `memccat ${b}huge.dat`, `memccat ${b}missing`, `memccat ${b}-v missing small.txt`,
    // memcdump has no --binary; it walks `stats cachedump <class> 0` for classes 0..63
    ...(proto === 'text' ? ['memcdump'] : []),
    // flags and expiry travel with the value; -1 is a past expiry in text, 2^32-1 (the far future) in binary
    `memccp ${b}--flags=42 --expire=100 small.txt`, `memccat ${b}--flags small.txt`,
    `memccp ${b}-v --replace new.txt`, `memccp ${b}-v --add --flags=7 new.txt`, `memccp ${b}-v --add new.txt`,
    `memccp ${b}-v --replace --flags=9 new.txt`, `memccat ${b}-F new.txt`,
    // --buffer writes the request and `quit` (binary: QUIT) together, without waiting for the reply in between
    `memccp ${b}--buffer --flags=5 new.txt`, `memccat ${b}--flags new.txt`, `memcrm ${b}--buffer new.txt`, `memcexist ${b}new.txt`,
    `memccp ${b}--set --expire=-1 new.txt`, `memcexist ${b}-v new.txt`,
    `memcexist ${b}small.txt`, `memcexist ${b}-v small.txt missing`,
    `memctouch ${b}-v --expire=300 small.txt missing`, `memctouch ${b}--expire=-1 small.txt`, `memcexist ${b}small.txt`,
    `memcrm ${b}-v bytes.bin missing`, `memcexist ${b}-v bytes.bin`,
    `memcflush ${b}-v`, `memccat ${b}small.txt bytes.bin big.dat new.txt missing`,
  ];
}

const SCRIPT = [
  'memcping', 'memcerror 0 1 5 16 21 47 999',
  ...dataTour('text'), ...dataTour('binary'),
  // the stats of a cache with items in it (`stats items` shows only the classes that hold some)
  'memccp small.txt bytes.bin big.dat', 'memccat bytes.bin',
  'memcstat', 'memcstat --binary', 'memcstat items', 'memcstat --args=slabs', 'memcstat settings', 'memcstat sizes',
  'memcstat --binary settings', 'memcstat --server-version', 'memcstat --analyze', 'memcstat bogus',
];

type Run = { cmd: string; status: number | null; out: Buffer; err: string };

/** One script line, run in `dir` against 127.0.0.1:port (memcerror talks to no server). */
function run(cmd: string, port: number, dir: string): Run {
  const [tool, ...args] = cmd.split(' ');
  const servers = tool === 'memcerror' ? [] : [`--servers=127.0.0.1:${port}`];
  const r = spawnSync(tool, [...servers, ...args], { cwd: dir, timeout: 30_000 }); // a failure bound
  return { cmd, status: r.status, out: r.stdout, err: r.stderr.toString('latin1') };
}

/** The script against a fresh server of this kind, in a fresh directory holding FILES. */
async function tour(kind: ServerKind): Promise<{ runs: Run[]; lines: string[]; copies: Buffer[] }> {
  const server = await serverFor(kind, ['-t', '2'], true);
  const dir = mkdtempSync(join(tmpdir(), 'libmemcached-tools-'));
  try {
    for (const [name, data] of Object.entries(FILES)) writeFileSync(join(dir, name), data);
    await flatLru(server.port);
    const runs: Run[] = [];
    for (const cmd of SCRIPT) {
      if (cmd.startsWith('memcstat')) await closedByServer(server.port);
      runs.push(run(cmd, server.port, dir));
    }
    const lines = runs.flatMap(render).map((l) => mask(l, server.port, dir));
    const copies = ['text', 'binary'].map((p) => readFileSync(join(dir, `bytes.${p}.out`)));
    return { runs, lines, copies };
  } finally { await server.stop(); rmSync(dir, { recursive: true, force: true }); }
}

/**
 * The tools before this one have exited, but the server may not have read the last of their input yet (the
 * `quit` they send on closing, 6 bytes), and bytes_read in a stats snapshot would then race with it: wait until
 * it has closed every connection to it, which it does only once it has read them to their end. Seen from here a
 * connection the server has not closed yet is in FIN_WAIT1 or FIN_WAIT2 (/proc/net/tcp states 04 and 05).
 */
async function closedByServer(port: number): Promise<void> {
  if (!existsSync('/proc/net/tcp')) return;
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (let tries = 0; tries < 500; tries++) {
    const open = readFileSync('/proc/net/tcp', 'latin1').split('\n').some((line) => {
      const f = line.trim().split(/\s+/);
      return f[2] === remote && (f[3] === '04' || f[3] === '05');
    });
    if (!open) return;
    await sleep(10);
  }
  assert.fail(`a connection to port ${port} was still not closed by the server after 5 s`);
}

/**
 * `stats cachedump`, which memcdump reads, lists only the COLD LRU; in the default segmented mode a new item
 * sits in HOT (or a fetched one moves to WARM) until the LRU maintainer gets to it, at a moment of its own on
 * either server. With the flat LRU every item is in COLD at once, so the listing no longer depends on timing.
 */
async function flatLru(port: number): Promise<void> {
  const c = await Client.connect(port);
  try { assert.equal((await c.request('lru mode flat\r\n', 4)).toString(), 'OK\r\n'); } finally { c.end(); }
}

/**
 * A run as transcript lines; outputs too long to read are shown by length and digest. memcdump's listing is
 * sorted: it goes class by class, each from its LRU's head, an order this test does not pin.
 */
function render(r: Run): string[] {
  const sorted = () => r.out.toString('latin1').split('\n').filter((l) => l !== '').sort().map((l) => `${l}\n`).join('');
  const out = r.cmd === 'memcdump' ? Buffer.from(sorted(), 'latin1') : r.out;
  return [`$ ${r.cmd}`, `exit ${r.status}`, ...outputLines('out', out), ...outputLines('err', Buffer.from(r.err, 'latin1'))];
}

function outputLines(tag: string, b: Buffer): string[] {
  if (b.length > 4096) return [`${tag}: <${b.length} bytes, sha256 ${createHash('sha256').update(b).digest('hex')}>`];
  const text = b.toString('latin1').replace(/[^\t\n\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text === '' ? [] : text.split('\n').map((l) => `${tag}| ${l}`);
}

/** Stats whose values move with time or bookkeeping, beyond the shared list (the last `:` part is looked up). */
const MORE_VOLATILE = new Set([
  'age',           // items:<class>:age, seconds since the oldest item's last access
  'oldest',        // settings: seconds the oldest item has lived
  'bytes_written', // counts earlier stats replies, whose pid, rusage and libevent values differ in length
]);

function mask(line: string, port: number, dir: string): string {
  const stat = /^out\| \t(\S+): /.exec(line); // memcstat: "\t<name>: <value>"
  const name = stat?.[1].split(':').at(-1) ?? '';
  if (stat && (VOLATILE_STATS.has(name) || MORE_VOLATILE.has(name))) return `${stat[0]}<masked>`;
  return line.split(dir).join('<dir>')
    .replace(new RegExp(`(127\\.0\\.0\\.1:|127\\.0\\.0\\.1 \\()${port}\\b`, 'g'), '$1<port>')
    .replace(/\(0x[0-9a-f]+\)/g, '(<ptr>)'); // the address of libmemcached's error object
}

function find(runs: Run[], cmd: string): Run {
  const r = runs.find((x) => x.cmd === cmd);
  assert.ok(r, `no run of "${cmd}"`);
  return r;
}

const skip = !toolsInstalled ? 'libmemcached-tools is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('libmemcached-tools print the same from Cachalot as from memcached, over text and binary', { skip }, async () => {
  const ours = await tour('cachalot');
  const theirs = await tour('memcached');
  for (let i = 0; i < Math.max(ours.lines.length, theirs.lines.length); i++) {
    const at = ours.lines.slice(0, i + 1).findLast((l) => l.startsWith('$ '));
    assert.equal(ours.lines[i], theirs.lines[i], `line ${i + 1} of the transcript differs (in "${at}")`);
  }
  const { runs, copies } = ours;
  // every byte value survived both protocols; the 200 KB value came back whole (memccat ends it with a newline)
  for (const copy of copies) assert.deepEqual(copy, BYTES);
  assert.deepEqual(find(runs, 'memccat big.dat').out, Buffer.concat([FILES['big.dat'], Buffer.from('\n')]));
  assert.equal(find(runs, 'memccat --binary --flags small.txt').out.toString(), `42\n${FILES['small.txt']}\n`);
  // the item over 1 MB was refused, the rest stored
  assert.match(find(runs, 'memccp -v small.txt bytes.bin big.dat huge.dat').err, /memcached_set\('huge\.dat'\): ITEM TOO BIG/);
  // memcdump listed exactly the keys stored
  const dump = find(runs, 'memcdump');
  assert.equal(dump.status, 0, dump.err);
  assert.deepEqual(dump.out.toString().trim().split('\n').sort(), ['big.dat', 'bytes.bin', 'small.txt']);
  // memcflush emptied the cache: keys read back before it are missing after it, over both protocols
  for (const b of ['', '--binary ']) {
    assert.equal(find(runs, `memccat ${b}small.txt`).status, 0);
    const after = find(runs, `memccat ${b}small.txt bytes.bin big.dat new.txt missing`);
    assert.deepEqual([after.status, after.out.length], [1, 0]);
  }
});

test('the tools fail, with a non-zero exit, against a closed port', { skip: toolsInstalled ? false : 'libmemcached-tools is not installed' }, async () => {
  const port = await freePort();
  for (const cmd of ['memcping', 'memccat small.txt', 'memcstat']) {
    const r = run(cmd, port, tmpdir());
    assert.notEqual(r.status, 0, `${cmd} against a closed port`);
    assert.match(r.err, /CONNECTION FAILURE/, cmd);
  }
});
