// Values big enough to arrive over several reads: memcached reads the rest of such a value straight
// into its item, and so does Cachalot (worker/drive-machine.ts readRestIntoItem). What arrives
// must land intact, a bad trailer must still be caught, and a client that hangs up mid-value must
// lose only its own half-written item.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindsFor, serverFor, spec } from './support/spec.ts';
import { Client } from './support/client.ts';
import { sleep, startServer } from './support/server.ts';
import { mulberry32 } from './support/rng.ts';

/** Bytes that differ at every offset, so a piece landing in the wrong place shows. */
function pattern(n: number, seed: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x21 + ((i * 7 + seed) % 90));
  return s;
}

const V100K = pattern(100_000, 1);
const V300K = pattern(300_000, 2);

spec('large: a 100 KB and a 300 KB value come back byte for byte', [
  [`set a 5 0 ${V100K.length}\r\n${V100K}\r\n`, 'STORED\r\n'],
  [`set b 6 0 ${V300K.length}\r\n${V300K}\r\n`, 'STORED\r\n'],
  ['get a b\r\n', `VALUE a 5 ${V100K.length}\r\n${V100K}\r\nVALUE b 6 ${V300K.length}\r\n${V300K}\r\nEND\r\n`],
], { split: false });

const V16K = pattern(16 * 1024, 3);
const V60K = pattern(60_000, 4);

// Under 64 KB a value is copied into the reply (from 64 KB on it is sent from its item): the reply
// buffer grows past its first size, and ten 60 KB values pass the point where a long reply is sent
// in pieces mid-command.
spec('large: 16 KB and 60 KB values, alone and ten in one get, come back byte for byte', [
  [`set s 7 0 ${V16K.length}\r\n${V16K}\r\n`, 'STORED\r\n'],
  [`set m 8 0 ${V60K.length}\r\n${V60K}\r\n`, 'STORED\r\n'],
  ['get s\r\n', `VALUE s 7 ${V16K.length}\r\n${V16K}\r\nEND\r\n`],
  ['get m\r\n', `VALUE m 8 ${V60K.length}\r\n${V60K}\r\nEND\r\n`],
  [`get ${'m '.repeat(9)}s\r\n`, `VALUE m 8 ${V60K.length}\r\n${V60K}\r\n`.repeat(9) + `VALUE s 7 ${V16K.length}\r\n${V16K}\r\nEND\r\n`],
], { split: false });

spec('large: a 100 KB value without its trailing \\r\\n is a bad data chunk, and nothing is stored', [
  [`set a 0 0 ${V100K.length}\r\n${V100K}XY\r\n`, 'CLIENT_ERROR bad data chunk\r\nERROR\r\n'],
  ['get a\r\n', 'END\r\n'],
], { split: false });

spec('large: the command after a large value in the same write is answered', [
  [`set a 0 0 ${V100K.length}\r\n${V100K}\r\nget a\r\n`, `STORED\r\nVALUE a 0 ${V100K.length}\r\n${V100K}\r\nEND\r\n`],
], { split: false });

for (const kind of kindsFor()) {
  test(`large: values sent in uneven pieces with pauses land intact [${kind}]`, async () => {
    const server = await serverFor(kind, []);
    const rand = mulberry32(5);
    const c = await Client.connect(server.port);
    try {
      for (let round = 0; round < 6; round++) {
        const value = pattern(20_000 + Math.floor(rand() * 200_000), round);
        const wire = Buffer.from(`set p${round} 0 0 ${value.length}\r\n${value}\r\n`, 'latin1');
        for (let at = 0; at < wire.length;) {
          const n = 1 + Math.floor(rand() * 70_000);
          await c.send(wire.subarray(at, at + n));
          at += n;
          if (rand() < 0.5) await sleep(2);
        }
        assert.equal((await c.readLine()), 'STORED', `round ${round}`);
        const want = `VALUE p${round} 0 ${value.length}\r\n${value}\r\nEND\r\n`;
        assert.equal((await c.request(`get p${round}\r\n`, want.length)).toString('latin1'), want, `round ${round}`);
      }
    } finally { c.end(); }
  });

  test(`large: a client that hangs up halfway through a value loses only that value [${kind}]`, async () => {
    const server = await serverFor(kind, []);
    const keeper = await Client.connect(server.port);
    try {
      assert.equal((await keeper.request(`set kept 0 0 ${V100K.length}\r\n${V100K}\r\n`, 8)).toString(), 'STORED\r\n');
      for (let i = 0; i < 20; i++) {
        const quitter = await Client.connect(server.port);
        await quitter.send(`set gone${i} 0 0 ${V300K.length}\r\n${V300K.slice(0, 90_000 + i * 5000)}`);
        await sleep(2);
        quitter.destroy();
      }
      // Items those halves were read into are reused by the stores that follow: none may be overwritten.
      for (let i = 0; i < 20; i++) {
        const v = pattern(150_000, 100 + i);
        assert.equal((await keeper.request(`set after${i} 0 0 ${v.length}\r\n${v}\r\n`, 8)).toString(), 'STORED\r\n');
      }
      for (let i = 0; i < 20; i++) {
        const v = pattern(150_000, 100 + i);
        const want = `VALUE after${i} 0 ${v.length}\r\n${v}\r\nEND\r\n`;
        assert.equal((await keeper.request(`get after${i} gone${i}\r\n`, want.length)).toString('latin1'), want);
      }
      const kept = `VALUE kept 0 ${V100K.length}\r\n${V100K}\r\nEND\r\n`;
      assert.equal((await keeper.request('get kept\r\n', kept.length)).toString('latin1'), kept);
    } finally { keeper.end(); }
  });
}

/** used_chunks summed over every slab class: memory held by items, linked or only referenced. */
async function usedChunks(c: Client): Promise<number> {
  await c.send('stats slabs\r\n');
  const text = (await c.readUntil('END\r\n')).toString();
  let n = 0;
  for (const m of text.matchAll(/^STAT \d+:used_chunks (\d+)\r$/gm)) n += Number(m[1]);
  return n;
}

/** used_chunks of one slab class, as `stats slabs` gave them now ('none' for a class holding no page). */
async function usedChunksOf(c: Client): Promise<(cls: number) => string> {
  await c.send('stats slabs\r\n');
  const slabs = (await c.readUntil('END\r\n')).toString();
  return (cls) => new RegExp(`^STAT ${cls}:used_chunks (\\d+)\r$`, 'm').exec(slabs)?.[1] ?? 'none';
}

/** One number from a stats command's answer (`stats`, `stats slabs`, ...). */
async function statOf(c: Client, command: string, name: string): Promise<number> {
  await c.send(`${command}\r\n`);
  const text = (await c.readUntil('END\r\n')).toString();
  return Number(new RegExp(`^STAT ${name} (\\d+)\r$`, 'm').exec(text)?.[1] ?? NaN);
}

const connectionsOf = (c: Client): Promise<number> => statOf(c, 'stats', 'curr_connections');

/** How many connections `stats conns` shows reading a value: to store it (conn_nread) or to drop it (conn_swallow). */
async function valueConns(c: Client): Promise<number> {
  await c.send('stats conns\r\n');
  return (await c.readUntil('END\r\n')).toString().match(/:state conn_(nread|swallow)\r\n/g)?.length ?? 0;
}

for (const kind of kindsFor()) {
  test(`large: values in replies hold their items only until written, hung up on or taken back [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const keeper = await Client.connect(server.port);
    try {
      const keys = ['v1', 'v2', 'v3', 'v4'];
      for (const k of keys) {
        assert.equal((await keeper.request(`set ${k} 0 0 ${V100K.length}\r\n${V100K}\r\n`, 8)).toString(), 'STORED\r\n');
      }
      // Taken back: a key too long after four large hits (400 KB, short of Cachalot's 512 KB flush) answers the error alone.
      const err = 'CLIENT_ERROR bad command line format\r\n';
      assert.equal((await keeper.request(`get v1 v2 v3 v4 ${'k'.repeat(251)}\r\nversion\r\n`, err.length + 16)).toString(), `${err}VERSION 1.6.18\r\n`);
      // Read: a mixed multi-get comes back whole.
      const want = `VALUE v3 0 ${V100K.length}\r\n${V100K}\r\nVALUE s 0 1\r\nx\r\nEND\r\n`;
      assert.equal((await keeper.request('set s 0 0 1\r\nx\r\n', 8)).toString(), 'STORED\r\n');
      assert.equal((await keeper.request('get v3 nope s\r\n', want.length)).toString('latin1'), want);
      // Hung up on: a client that asks for 40 MB of replies, reads none and goes.
      const before = await connectionsOf(keeper);
      const greedy = await Client.connect(server.port);
      greedy.pauseReading();
      for (let i = 0; i < 100; i++) await greedy.send('get v1 v2 v3 v4\r\n');
      greedy.destroy();
      for (let i = 0; i < 250 && await connectionsOf(keeper) !== before; i++) await sleep(20);
      for (const k of [...keys, 's']) assert.equal((await keeper.request(`delete ${k}\r\n`, 9)).toString(), 'DELETED\r\n');
      let used = await usedChunks(keeper);
      for (let i = 0; i < 250 && used !== 0; i++) { await sleep(20); used = await usedChunks(keeper); }
      assert.equal(used, 0, 'every item freed once nothing refers to it');
    } finally {
      keeper.end();
      await server.stop();
    }
  });
}

/** How many of keys[i] = `small${i}` still hold value(i). */
async function readable(c: Client, n: number, value: (i: number) => string): Promise<number> {
  let hits = 0;
  for (let i = 0; i < n; i += 100) {
    const keys = Array.from({ length: Math.min(100, n - i) }, (_, j) => `small${i + j}`);
    await c.send(`get ${keys.join(' ')}\r\n`);
    const text = (await c.readUntil('END\r\n')).toString('latin1');
    for (const m of text.matchAll(/^VALUE small(\d+) 0 1000\r\n(.*)\r$/gm)) if (m[2] === value(Number(m[1]))) hits++;
  }
  return hits;
}

for (const kind of kindsFor()) {
  test(`large: sets that stall mid-value run out of memory; they never evict other items [${kind}]`, async () => {
    const MB = 1024 * 1024;
    const server = await serverFor(kind, ['-m', '16'], true);
    const keeper = await Client.connect(server.port);
    const stalled: Client[] = [];
    const small = 6000, value = (i: number): string => `${i}:`.padEnd(1000, 'v');
    try {
      let wire = '';
      for (let i = 0; i < small; i++) wire += `set small${i} 0 0 1000 noreply\r\n${value(i)}\r\n`;
      assert.equal((await keeper.request(`${wire}mn\r\n`, 4)).toString(), 'MN\r\n'); // ~7 MB of -m 16
      assert.equal(await readable(keeper, small, value), small);
      // 40 clients each start a 400 KB set, send a quarter of it and stall: 16 MB wanted, ~9 MB left.
      const part = 'x'.repeat(100 * 1024);
      for (let i = 0; i < 40; i++) {
        const c = await Client.connect(server.port);
        stalled.push(c);
        await c.send(`set big${i} 0 0 ${400 * 1024}\r\n${part}`);
      }
      for (let i = 0; i < 100 && await statOf(keeper, 'stats slabs', 'total_malloced') < 15 * MB; i++) await sleep(20);
      // every stalled set has reached its worker: stored or refused, it waits for the rest of its value
      for (let i = 0; i < 250 && await valueConns(keeper) < 40; i++) await sleep(20);
      assert.equal(await valueConns(keeper), 40, 'the 40 stalled sets wait for the rest of their values');
      assert.equal(await readable(keeper, small, value), small, 'every stored item survives the stalled sets');
      // Their values complete: those that got memory are stored, the rest were refused.
      const replies = new Map<string, number>();
      for (const c of stalled) {
        await c.send(`${'x'.repeat(300 * 1024)}\r\n`);
        const line = await c.readLine();
        replies.set(line, (replies.get(line) ?? 0) + 1);
      }
      assert.deepEqual([...replies.keys()].sort(), ['SERVER_ERROR out of memory storing object', 'STORED']);
      assert.equal(await readable(keeper, small, value), small, 'and is still there once they are done');
    } finally {
      for (const c of stalled) c.destroy();
      keeper.end();
      await server.stop();
    }
  });
}

for (const kind of kindsFor()) {
  test(`large: a class with no page takes its first one past -m, as memcached's do_slabs_newslab [${kind}]`, async () => {
    // -m 8 all taken by 400 KB values (two to a 1 MB page, evicting each other); a 100-byte value then still
    // finds room: a class's first page is never refused for the limit, any later page is
    const MB = 1024 * 1024;
    const server = await serverFor(kind, ['-m', '8'], true);
    const c = await Client.connect(server.port);
    try {
      const big = 'b'.repeat(400 * 1024);
      let wire = '';
      for (let i = 0; i < 24; i++) wire += `set big${i} 0 0 ${big.length} noreply\r\n${big}\r\n`;
      assert.equal((await c.request(`${wire}mn\r\n`, 4)).toString(), 'MN\r\n');
      assert.equal(await statOf(c, 'stats slabs', 'total_malloced'), 8 * MB);
      assert.equal(await statOf(c, 'stats', 'evictions'), 8);
      for (const len of [100, 5000]) {
        assert.equal((await c.request(`set small${len} 0 0 ${len}\r\n${'s'.repeat(len)}\r\n`, 8)).toString(), 'STORED\r\n');
      }
      assert.equal(await statOf(c, 'stats slabs', 'total_malloced'), 10 * MB);
      assert.equal(await statOf(c, 'stats slabs', 'active_slabs'), 3);
      assert.equal(await statOf(c, 'stats', 'evictions'), 8, 'nothing was evicted for them');
      wire = '';
      for (let i = 0; i < 1000; i++) wire += `set s${i} 0 0 5000 noreply\r\n${'s'.repeat(5000)}\r\n`; // 5+ pages' worth
      assert.equal((await c.request(`${wire}mn\r\n`, 4)).toString(), 'MN\r\n');
      assert.equal(await statOf(c, 'stats slabs', 'total_malloced'), 10 * MB, 'but no second page past the limit');
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`large: T_MEMD_INITIAL_MALLOC counts as memory already taken, as memcached's slabs_init reads it [${kind}]`, async () => {
    // memcached's own t/64bit.t fakes 4 GB taken under -m 4098; here 6 MB and 32 bytes of -m 8: a class's first
    // page is free of the limit, and a second would take total_malloced 32 bytes past it
    const MB = 1024 * 1024;
    const base = 6 * MB + 32;
    const big = 'b'.repeat(400 * 1024); // two to a page
    const server = await startServer(kind, ['-m', '8', '-M'], { env: { T_MEMD_INITIAL_MALLOC: String(base) } });
    const c = await Client.connect(server.port);
    try {
      assert.equal(await statOf(c, 'stats slabs', 'total_malloced'), base);
      const replies: string[] = [];
      for (let i = 0; i < 4; i++) {
        await c.send(`set big${i} 0 0 ${big.length}\r\n${big}\r\n`);
        replies.push((await c.readUntil('\r\n')).toString());
      }
      assert.deepEqual(replies, ['STORED\r\n', 'STORED\r\n', 'SERVER_ERROR out of memory storing object\r\n',
        'SERVER_ERROR out of memory storing object\r\n']);
      assert.equal(await statOf(c, 'stats slabs', 'total_malloced'), base + MB);
      assert.equal(await statOf(c, 'stats slabs', 'active_slabs'), 1);
    } finally { c.end(); await server.stop(); }
    // what safe_strtoll does not read is ignored
    const plain = await startServer(kind, ['-m', '8'], { env: { T_MEMD_INITIAL_MALLOC: '6MB' } });
    const d = await Client.connect(plain.port);
    try {
      assert.equal(await statOf(d, 'stats slabs', 'total_malloced'), 0);
    } finally { d.end(); await plain.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`large: with -M a chained value whose chunks run out is "Out of memory during read", and the old value stays [${kind}]`, async () => {
    // memcached allocates a chained item's header at the command and its chunks as the value arrives: when
    // those run out it answers from conn_nread and swallows the rest, without process_update_command's
    // clean-up, so the key keeps its old value and store_no_memory does not count it
    const server = await serverFor(kind, ['-m', '8', '-M'], true);
    const c = await Client.connect(server.port);
    try {
      const old = pattern(600_000, 5), next = pattern(600_000, 6); // past slab_chunk_max: chained
      assert.equal((await c.request(`set old 3 0 ${old.length}\r\n${old}\r\n`, 8)).toString(), 'STORED\r\n');
      const big = 'b'.repeat(400 * 1024);
      let reply = '';
      for (let i = 0; i < 40 && reply !== 'SERVER_ERROR out of memory storing object'; i++) {
        await c.send(`set fill${i} 0 0 ${big.length}\r\n${big}\r\n`);
        reply = await c.readLine();
      }
      assert.equal(reply, 'SERVER_ERROR out of memory storing object', 'the big class filled up');
      assert.equal(await statOf(c, 'stats', 'store_no_memory'), 1);
      const inRead = 'SERVER_ERROR Out of memory during read\r\n';
      assert.equal((await c.request(`set old 0 0 ${next.length}\r\n${next}\r\n`, inRead.length)).toString(), inRead);
      assert.equal((await c.request(`ms old ${next.length} T0\r\n${next}\r\n`, inRead.length)).toString(), inRead);
      assert.equal((await c.request(`ms old ${next.length} q\r\n${next}\r\nmn\r\n`, 4)).toString(), 'MN\r\n', 'q hides it');
      const want = `VALUE old 3 ${old.length}\r\n${old}\r\nEND\r\n`;
      assert.equal((await c.request('get old\r\n', want.length)).toString(), want, 'the old value is still there');
      assert.equal(await statOf(c, 'stats', 'store_no_memory'), 1);
      // outofmemory counts the item that could not be allocated, not the chunks; each failed allocation tried
      // ten times to reclaim (the 400 KB item, then the first chunk of each of the three chained values)
      assert.equal(await statOf(c, 'stats items', 'items:39:outofmemory'), 1);
      assert.equal(await statOf(c, 'stats items', 'items:39:direct_reclaims'), 40);
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`large values: a chained item's last chunk falls back to a full-size chunk when its own class has no room [${kind}]`, async () => {
    // memcached's t/chunked-items.t: memory full of ~0.5 MB items in 16 KB chunks, then items of 200 KB and up,
    // whose last chunk wants a class that never got a page: memcached evicts a full-size chunk for it instead
    const server = await serverFor(kind, ['-m', '48', '-o', 'slab_chunk_max=16384'], true);
    const c = await Client.connect(server.port);
    try {
      const toast = 't'.repeat(600_000);
      for (let i = 0; i < 100; i++) assert.equal((await c.request(`set toast${i} 0 0 ${toast.length}\r\n${toast}\r\n`, 8)).toString(), 'STORED\r\n');
      for (let len = 200 * 1024; len < 320 * 1024; len += 2048) {
        const reply = (await c.request(`set foo_${len} 0 0 ${len}\r\n${'B'.repeat(len)}\r\n`, 8)).toString();
        assert.equal(reply, 'STORED\r\n', `a value of ${len} bytes`);
      }
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`large: a chained item's header chunk comes from memcached's slab class for its key and flags [${kind}]`, async () => {
    // memcached sizes the header as the item without its value plus an item_chunk (do_item_alloc's htotal):
    // 56 + 8 + 4 + 48 = 116 bytes for "chained" with flags (class 2, 120-byte chunks), 56 + 41 + 48 = 145 for a
    // 40-byte key without (class 3, 152), 56 + 2 + 48 = 106 for "c" (class 2), with CAS's 8 bytes counted
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      const value = 'v'.repeat(600_000); // past slab_chunk_max (512 KB): chained
      for (const [key, flags] of [['chained', 9], ['k'.repeat(40), 0], ['c', 0]] as const) {
        assert.equal((await c.request(`set ${key} ${flags} 0 ${value.length}\r\n${value}\r\n`, 8)).toString(), 'STORED\r\n');
      }
      const used = await usedChunksOf(c);
      assert.deepEqual([used(1), used(2), used(3)], ['none', '2', '1']);
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`large: an append to a chained item gets the chunks memcached's copy allocates, an empty one after each part [${kind}]`, async () => {
    // 600,000 bytes then 100: the old value's 524,240 (a full chunk) and 75,760 (class 31), an empty chunk
    // (class 1), the appended 102 with their \r\n (class 3), another empty chunk; the header in class 2
    const server = await serverFor(kind, ['-m', '64'], true);
    const c = await Client.connect(server.port);
    try {
      const value = 'v'.repeat(600_000), more = 'w'.repeat(100);
      assert.equal((await c.request(`set ap 0 0 ${value.length}\r\n${value}\r\n`, 8)).toString(), 'STORED\r\n');
      assert.equal((await c.request(`append ap 0 0 ${more.length}\r\n${more}\r\n`, 8)).toString(), 'STORED\r\n');
      const want = `VALUE ap 0 ${value.length + more.length}\r\n${value}${more}\r\nEND\r\n`;
      assert.equal((await c.request('get ap\r\n', want.length)).toString(), want);
      const used = await usedChunksOf(c);
      assert.deepEqual([1, 2, 3, 31, 39].map(used), ['2', '1', '1', '1', '1']);
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`large: a prepend whose chunk falls back to slab_chunk_max's class fills that chunk, with no empty one after [${kind}]`, async () => {
    // -m 8 is all taken once these are in (no page comes past it), class 38 (394,840-byte chunks) holds two
    // items and class 39 (524,288) has one chunk free. The prepend's copy takes a chunk for its own 170,965
    // bytes (class 35) and an empty one after it (class 1); the old 375,517 ask for a class 38 chunk, find
    // none, and get the class 39 one, which they do not fill: memcached's copy then allocates nothing more.
    const server = await serverFor(kind, ['-m', '8', '-o', 'no_lru_maintainer,no_lru_crawler'], true);
    const c = await Client.connect(server.port);
    try {
      for (const [cmd, key, n] of [['set', 'a', 859_130], ['set', 'b', 437_114], ['replace', 'none', 280_167],
        ['set', 'c', 687_428], ['set', 'd', 22_764], ['set', 'e', 375_515]] as const) {
        const v = pattern(n, n);
        const reply = (await c.request(`${cmd} ${key} 0 0 ${n}\r\n${v}\r\n`, cmd === 'set' ? 8 : 12)).toString();
        assert.equal(reply, cmd === 'set' ? 'STORED\r\n' : 'NOT_STORED\r\n');
      }
      const front = pattern(170_965, 7);
      assert.equal((await c.request(`prepend e 0 0 ${front.length}\r\n${front}\r\n`, 8)).toString(), 'STORED\r\n');
      const value = front + pattern(375_515, 375_515);
      const want = `VALUE e 0 ${value.length}\r\n${value}\r\nEND\r\n`;
      assert.equal((await c.request('get e\r\n', want.length)).toString(), want);
      const used = await usedChunksOf(c);
      assert.deepEqual([1, 2, 35, 38, 39].map(used), ['1', '3', '2', '1', '4']);
    } finally { c.end(); await server.stop(); }
  });
}

// Multi-get lines longer than a read: memcached grows its read buffer for them without bound (clients send
// every key of get_many / get_multi in one line). Past 64 KB Cachalot answers such a line as it arrives.
const LONG_KEY = (i: number): string => `${String(i).padStart(6, '0')}:`.padEnd(250, 'k');

/** A get line of `n` 250-byte keys (`extra` spliced in at `at`), in one string. */
function longGetLine(n: number, extra = '', at = -1): string {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i === at) keys.push(extra);
    keys.push(LONG_KEY(i));
  }
  return `get ${keys.join(' ')}\r\n`;
}

for (const kind of kindsFor()) {
  test(`large: a 3 MB get line of 12000 keys is answered whole, its hits in line order [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      let sets = '', want = '';
      for (let i = 0; i < 12000; i += 97) {
        sets += `set ${LONG_KEY(i)} ${i} 0 ${String(i).length} noreply\r\n${i}\r\n`;
        want += `VALUE ${LONG_KEY(i)} ${i} ${String(i).length}\r\n${i}\r\n`;
      }
      assert.equal((await c.request(`${sets}mn\r\n`, 4)).toString(), 'MN\r\n');
      const line = Buffer.from(`${longGetLine(12000)}version\r\n`);
      for (let at = 0; at < line.length; at += 7919) await c.send(line.subarray(at, at + 7919)); // over many reads
      assert.equal((await c.readUntil('END\r\n')).toString('latin1'), `${want}END\r\n`);
      assert.match(await c.readLine(), /^VERSION /, 'the connection goes on after it');
    } finally { c.end(); await server.stop(); }
  });
}

// The error paths inside the line's first 64 KB, where nothing has been sent yet: memcached's replies exactly.
spec('large: a long get line with a key over 250 bytes, a NUL or no key at all, then the next command', [
  [`set ${LONG_KEY(10)} 0 0 1\r\nx\r\n`, 'STORED\r\n'],
  [`${longGetLine(400, 'x'.repeat(251), 100)}version\r\n`, 'CLIENT_ERROR bad command line format\r\nVERSION 1.6.18\r\n'],
  [`${longGetLine(400, 'ab\0cd', 20)}version\r\n`, `VALUE ${LONG_KEY(10)} 0 1\r\nx\r\nEND\r\nVERSION 1.6.18\r\n`],
  [`get${' '.repeat(70_000)}\r\nversion\r\n`, 'ERROR\r\nVERSION 1.6.18\r\n'],
], { fresh: true, split: false });

test('large: a key over 250 bytes late in a long get line ends it there; the connection goes on [cachalot]', async () => {
  // Past 64 KB the line is answered as it arrives: the hits before the bad key may already be sent (memcached,
  // holding the whole line, answers only the error). The error comes once, and the line's rest is skipped.
  const server = await serverFor('cachalot', [], true);
  const c = await Client.connect(server.port);
  try {
    assert.equal((await c.request(`set ${LONG_KEY(3)} 0 0 1\r\nx\r\n`, 8)).toString(), 'STORED\r\n');
    const line = Buffer.from(`${longGetLine(2000, 'x'.repeat(300), 1500)}version\r\n`);
    for (let at = 0; at < line.length; at += 7919) await c.send(line.subarray(at, at + 7919));
    const reply = (await c.readUntil('VERSION 1.6.18\r\n')).toString('latin1');
    assert.match(reply, /^(VALUE 000003:k+ 0 1\r\nx\r\n)?CLIENT_ERROR bad command line format\r\nVERSION 1\.6\.18\r\n$/);
  } finally { c.end(); await server.stop(); }
});
