// The classic text protocol's storage and retrieval commands, as memcached 1.6 answers them.
// Every table runs against Cachalot and, where installed, a real memcached: the expected bytes
// are memcached's own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindsFor, serverFor, spec } from './support/spec.ts';
import { Client } from './support/client.ts';
import { sleep } from './support/server.ts';

const K250 = 'k'.repeat(250);
const K251 = 'k'.repeat(251);

spec('text: set then get returns the value with its flags', [
  ['set a 5 0 3\r\nabc\r\n', 'STORED\r\n'],
  ['get a\r\n', 'VALUE a 5 3\r\nabc\r\nEND\r\n'],
]);

spec('text: get of several keys answers the hits in order, misses silently', [
  ['set a 0 0 1\r\nx\r\nset b 1 0 2\r\nyy\r\n', 'STORED\r\nSTORED\r\n'],
  ['get a nope b a\r\n', 'VALUE a 0 1\r\nx\r\nVALUE b 1 2\r\nyy\r\nVALUE a 0 1\r\nx\r\nEND\r\n'],
]);

spec('text: an empty value is stored and returned', [
  ['set e 0 0 0\r\n\r\n', 'STORED\r\n'],
  ['get e\r\n', 'VALUE e 0 0\r\n\r\nEND\r\n'],
]);

spec('text: flags are 32-bit, larger ones keep their low bits', [
  ['set f 4294967295 0 1\r\nx\r\n', 'STORED\r\n'],
  ['get f\r\n', 'VALUE f 4294967295 1\r\nx\r\nEND\r\n'],
  ['set f 4294967296 0 1\r\nx\r\n', 'STORED\r\n'],
  ['get f\r\n', 'VALUE f 0 1\r\nx\r\nEND\r\n'],
]);

spec('text: noreply silences the reply', [
  ['set a 0 0 1 noreply\r\nx\r\n', ''],
  ['get a\r\n', 'VALUE a 0 1\r\nx\r\nEND\r\n'],
]);

spec('text: add only when absent, replace only when present', [
  ['add a 0 0 1\r\nx\r\n', 'STORED\r\n'],
  ['add a 0 0 1\r\ny\r\n', 'NOT_STORED\r\n'],
  ['replace zz 0 0 1\r\ny\r\n', 'NOT_STORED\r\n'],
  ['replace a 7 0 1\r\nw\r\n', 'STORED\r\n'],
  ['get a\r\n', 'VALUE a 7 1\r\nw\r\nEND\r\n'],
]);

spec('text: append and prepend keep the flags and need an item', [
  ['set a 3 0 1\r\nx\r\n', 'STORED\r\n'],
  ['append a 9 0 1\r\ny\r\n', 'STORED\r\n'],
  ['prepend a 9 0 1\r\nz\r\n', 'STORED\r\n'],
  ['get a\r\n', 'VALUE a 3 3\r\nzxy\r\nEND\r\n'],
  ['append nokey 0 0 1\r\ny\r\n', 'NOT_STORED\r\n'],
]);

spec('text: cas with a stale token leaves the value alone', [
  ['set k 0 0 1\r\na\r\n', 'STORED\r\n'],
  ['cas k 0 0 1 0\r\nb\r\n', 'EXISTS\r\n'],
  ['get k\r\n', 'VALUE k 0 1\r\na\r\nEND\r\n'],
  ['cas nokey 0 0 1 5\r\nx\r\n', 'NOT_FOUND\r\n'],
]);

spec('text: a value longer than announced is a bad data chunk', [
  ['set a 0 0 1\r\nx\r\n', 'STORED\r\n'],
  ['set a 0 0 2\r\nxyz\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\n'],
  ['get a\r\n', 'VALUE a 0 1\r\nx\r\nEND\r\n'],
]);

spec('text: bad numbers on a storage line', [
  ['set a 0 0 -1\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  ['set a 0 0 abc\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  ['set a abc 0 1\r\nx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['set a -1 0 1\r\nx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['set a 0x1 0 1\r\nx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['set a 0 18446744073709551615 1\r\nx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['set a 0 0 2147483647\r\nxx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['cas a 0 0 1 abc\r\nx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
]);

spec('text: a length that wraps to zero in memcached\'s int cast', [
  ['set a 0 0 4294967296\r\nxx\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\n'],
]);

spec('text: wrong token counts are ERROR', [
  ['set a 0 0\r\n', 'ERROR\r\n'],
  ['set a 0 0 1 2 3 4\r\nx\r\n', 'ERROR\r\nERROR\r\n'],
  ['cas a 0 0 1\r\nx\r\n', 'ERROR\r\nERROR\r\n'],
  ['get\r\n', 'ERROR\r\n'],
  ['gets\r\n', 'ERROR\r\n'],
  ['incr\r\n', 'ERROR\r\n'],
  ['incr a\r\n', 'ERROR\r\n'],
  ['touch a\r\n', 'ERROR\r\n'],
  ['GET a\r\n', 'ERROR\r\n'],
  ['\r\n', 'ERROR\r\n'],
  ['foo\r\n', 'ERROR\r\n'],
]);

spec('text: keys of 250 bytes work, 251 are refused', [
  [`set ${K250} 0 0 1\r\nx\r\n`, 'STORED\r\n'],
  [`get ${K250}\r\n`, `VALUE ${K250} 0 1\r\nx\r\nEND\r\n`],
  [`set ${K251} 0 0 1\r\nx\r\n`, 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  [`get ${K251}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`get ${K250} ${K251}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`delete ${K251}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`incr ${K251} 1\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`touch ${K251} 1\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
]);

spec('text: a tab is part of a key; only spaces separate', [
  ['set a\tb 0 0 1\r\nx\r\n', 'STORED\r\n'],
  ['get a\tb\r\n', 'VALUE a\tb 0 1\r\nx\r\nEND\r\n'],
  ['set  c  0  0  1\r\nx\r\n', 'STORED\r\n'],
  ['get c\n', 'VALUE c 0 1\r\nx\r\nEND\r\n'],
]);

spec('text: a command line ends at its first NUL byte, as memcached reads it as a C string', [
  ['set nul 0 0 1\r\ny\r\n', 'STORED\r\n'],
  ['set nk\0junk 0 0 1\r\nx\r\n', 'ERROR\r\nERROR\r\n'], // "set nk": too few tokens; then "x"
  ['get nk\0junk\r\n', 'END\r\n'],
  ['get nul\0 nk\r\n', 'VALUE nul 0 1\r\ny\r\nEND\r\n'],
  ['get \0\0\0\r\n', 'ERROR\r\n'],
  ['version\0 junk\r\n', 'VERSION 1.6.18\r\n'],
  ['delete nul\0 noreply\r\n', 'DELETED\r\n'],
  [`${'get nul'.padEnd(80, ' ')}\0 ${'k'.repeat(300)}\r\n`, 'END\r\n'],
  [`${'get nul'.padEnd(300, ' ')}\0 ${'k'.repeat(300)}\r\n`, 'END\r\n'], // a long line: past the short scan
  ['set n2 0 0 1\r\nz\r\n', 'STORED\r\n'],
  ['get n2\0 zz\0\r\n', 'VALUE n2 0 1\r\nz\r\nEND\r\n'], // the first NUL ends it
]);

spec('text: too large values are refused, swallowed, and a failed set drops the old value', [
  ['set big 0 0 1\r\nx\r\n', 'STORED\r\n'],
  [`set big 0 0 1048577\r\n${'x'.repeat(1048577)}\r\n`, 'SERVER_ERROR object too large for cache\r\n'],
  ['get big\r\n', 'END\r\n'],
  // -I bounds memcached's whole item: its 48-byte header, key + NUL, CAS, flags when non-zero.
  [`set big 0 0 1048514\r\n${'x'.repeat(1048514)}\r\n`, 'STORED\r\n'],
  [`set big 0 0 1048515\r\n${'x'.repeat(1048515)}\r\n`, 'SERVER_ERROR object too large for cache\r\n'],
  [`set big 1 0 1048510\r\n${'x'.repeat(1048510)}\r\n`, 'STORED\r\n'],
  [`set big 1 0 1048511\r\n${'x'.repeat(1048511)}\r\n`, 'SERVER_ERROR object too large for cache\r\n'],
], { split: false });

// A refused store (item_alloc failed): memcached's process_update_command unlinks the key's old value for a set
// only, so a stale copy does not outlive a set that failed; a refused add, replace, append, prepend or cas leaves it.
// -I 2k keeps the refused values short.
const V3K = 'v'.repeat(3000);
const TOO_LARGE = 'SERVER_ERROR object too large for cache\r\n';
spec('text: a refused add, replace, append, prepend or cas keeps the old value; a refused set, noreply too, drops it', [
  ['set k 0 0 1\r\nx\r\n', 'STORED\r\n'],
  [`add k 0 0 3000\r\n${V3K}\r\n`, TOO_LARGE],
  [`replace k 0 0 3000\r\n${V3K}\r\n`, TOO_LARGE],
  [`append k 0 0 3000\r\n${V3K}\r\n`, TOO_LARGE],
  [`prepend k 0 0 3000\r\n${V3K}\r\n`, TOO_LARGE],
  [`cas k 0 0 3000 1\r\n${V3K}\r\n`, TOO_LARGE],
  ['get k\r\n', 'VALUE k 0 1\r\nx\r\nEND\r\n'],
  [`set k 0 0 3000 noreply\r\n${V3K}\r\nget k\r\n`, 'END\r\n'],
], { args: ['-I', '2k', '-o', 'slab_chunk_max=2048'] });

/** Store 100 KB values under new keys until the store refuses one: that refusal's reply. */
async function fillUntilRefused(c: Client): Promise<string> {
  const v = 'v'.repeat(100_000);
  let reply = '';
  for (let i = 0; i < 200 && reply !== 'SERVER_ERROR out of memory storing object\r\n'; i++) {
    reply = (await c.request(`set fill${i} 0 0 ${v.length}\r\n${v}\r\n`, 8)).toString();
    if (reply !== 'STORED\r\n') reply += (await c.readUntil('\r\n')).toString();
  }
  return reply;
}

for (const kind of kindsFor()) {
  test(`text: out of memory, a refused set drops the old value and add keeps it; store_no_memory and store_too_large count each refusal [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '2', '-M'], true);
    const c = await Client.connect(server.port);
    try {
      const v = 'o'.repeat(100_000); // in the class the fill fills
      assert.equal((await c.request(`set old 0 0 ${v.length}\r\n${v}\r\n`, 8)).toString(), 'STORED\r\n');
      assert.equal(await fillUntilRefused(c), 'SERVER_ERROR out of memory storing object\r\n');
      const oom = 'SERVER_ERROR out of memory storing object\r\n';
      assert.equal((await c.request(`add old 0 0 ${v.length}\r\n${v}\r\n`, oom.length)).toString(), oom);
      const kept = `VALUE old 0 ${v.length}\r\n${v}\r\nEND\r\n`;
      assert.equal((await c.request('get old\r\n', kept.length)).toString(), kept);
      assert.equal((await c.request(`set old 0 0 ${v.length}\r\n${v}\r\n`, oom.length)).toString(), oom);
      assert.equal((await c.request('get old\r\n', 5)).toString(), 'END\r\n');
      const big = 'x'.repeat(1048577);
      assert.equal((await c.request(`set big 0 0 ${big.length}\r\n${big}\r\n`, TOO_LARGE.length)).toString(), TOO_LARGE);
      const stats = await c.stats();
      assert.deepEqual([stats.get('store_no_memory'), stats.get('store_too_large')], ['3', '1']);
    } finally {
      c.end();
      await server.stop();
    }
  });
}

/** Fill until the store refuses, then ask it to store something too large. */
async function tooLargeAfterOutOfMemory(kind: 'cachalot' | 'memcached'): Promise<void> {
  const server = await serverFor(kind, ['-m', '2', '-M'], true);
  const c = await Client.connect(server.port);
  try {
    assert.equal(await fillUntilRefused(c), 'SERVER_ERROR out of memory storing object\r\n');
    const big = 'x'.repeat(1048577);
    const want = 'SERVER_ERROR object too large for cache\r\n';
    assert.equal((await c.request(`set big 0 0 ${big.length}\r\n${big}\r\n`, want.length)).toString(), want);
  } finally {
    c.end();
    await server.stop();
  }
}

for (const kind of kindsFor()) {
  test(`text: a too-large value is "too large" even right after an out-of-memory refusal [${kind}]`,
    () => tooLargeAfterOutOfMemory(kind));
}

// memcached reads the rest of a value exactly, so when a value ends in a later read than its command nothing follows
// it in memcached's buffer, and its reply goes out before the next command is read: an error on that command, which
// takes back the replies still queued, cannot take this one. Sent in two writes, the second with the rest and a get
// of a too-long key.
for (const kind of kindsFor()) {
  test(`text: a value that ends in a later read has its reply sent before the next command's error [${kind}]`, async () => {
    const server = await serverFor(kind, ['-I', '2k', '-o', 'slab_chunk_max=2048'], true);
    const c = await Client.connect(server.port);
    const badGet = `get ${'k'.repeat(251)}\r\n`, error = 'CLIENT_ERROR bad command line format\r\n';
    try {
      await c.send('set kk 0 0 5\r\nab');
      await sleep(200); // the first part read alone
      await c.send(`cde\r\n${badGet}`);
      assert.equal((await c.readUntil(error)).toString(), `STORED\r\n${error}`);
      // a refused value, skipped into a later read: its error goes out as memcached's does, then the get's
      await c.send(`set big 0 0 3000\r\n${'v'.repeat(1000)}`);
      await sleep(200);
      await c.send(`${'v'.repeat(2000)}\r\n${badGet}`);
      assert.equal((await c.readUntil(error)).toString(), `SERVER_ERROR object too large for cache\r\n${error}`);
      await c.send('get kk\r\n');
      assert.equal((await c.readUntil('END\r\n')).toString(), 'VALUE kk 0 5\r\nabcde\r\nEND\r\n');
    } finally { c.end(); await server.stop(); }
  });
}
