// Stored data stays whole while everything that moves it runs at once: clients of the text, meta and binary
// protocols on three workers; evictions under -m 16; values chunked past slab_chunk_max; the hash table growing
// from 2^12 buckets (a client fills keys meanwhile); the LRU maintainer, the crawler and the automover; and a
// client asking for page moves, crawls and metadumps all the while. Every value that comes back is one that
// some client stored for that key: its own key, length, flags and bytes. When the clients stop, the hash table,
// the LRUs and the counters agree on what is stored. The same script runs against memcached.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, show } from './support/client.ts';
import { mulberry32 } from './support/rng.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import { sleep } from './support/server.ts';

/**
 * INTEGRITY_SCALE=N runs N times the operations, INTEGRITY_ARGS adds server flags (for a longer hunt by hand;
 * the suite runs neither).
 */
const SCALE = Math.max(1, Number(process.env.INTEGRITY_SCALE ?? 1));
const ROUNDS = 60 * SCALE; // pipelined batches per client
const TEXT_CLIENTS = 6;
const META_CLIENTS = 2;
const BINARY_CLIENTS = 2;
const KEYS = 20000;  // far past the 6,144 items that grow a table of 2^12 buckets
const FILL_LARGE = 2000; // 10 KB values: 20 MB, more than -m 16 holds
const LISTS = 60;    // keys grown by append and prepend
const COUNTERS = 40; // keys moved by incr and decr
const ARGS = ['-t', '3', '-m', '16', '-o', 'hashpower=12,slab_chunk_max=4096,slab_automove=2,lru_crawler',
  ...(process.env.INTEGRITY_ARGS ?? '').split(' ').filter(Boolean)];

// Value sizes, most small, some past slab_chunk_max (chunked) and a few near 100 KB.
const SIZES = [12, 40, 90, 180, 400, 700, 1500, 3000, 5000, 9000, 20000, 60000, 100000];
const WEIGHTS = [8, 8, 8, 6, 5, 4, 3, 3, 2, 2, 1, 1, 1];

type Rng = () => number;

function pick<T>(rng: Rng, items: readonly T[]): T { return items[Math.floor(rng() * items.length)]; }

function pickSize(rng: Rng): number {
  const total = WEIGHTS.reduce((a, b) => a + b, 0);
  let r = rng() * total;
  for (let i = 0; i < SIZES.length; i++) if ((r -= WEIGHTS[i]) < 0) return SIZES[i];
  return SIZES[0];
}

// --- A stored value says whose it is: "<key>:<version>:<length>:" then filler derived from the version;
// its flags are the version. A torn, misplaced or half-moved value cannot pass check().

function valueOf(key: string, version: number, size: number): Buffer {
  let len = size; // at least as long as its head, which names the length
  while (`${key}:${version}:${len}:`.length > len) len = `${key}:${version}:${len}:`.length;
  const head = `${key}:${version}:${len}:`;
  const v = Buffer.allocUnsafe(len);
  v.write(head, 0, 'latin1');
  for (let i = head.length; i < len; i++) v[i] = filler(version, i);
  return v;
}

function filler(version: number, i: number): number { return 0x21 + ((version + i * 7) % 90); }

function check(key: string, flags: number, value: Buffer, where: string): void {
  const head = /^([^:]+):(\d+):(\d+):/.exec(value.subarray(0, 400).toString('latin1'));
  assert.ok(head, `${where}: value of ${key} has no head: "${show(value, 120)}"`);
  assert.equal(head[1], key, `${where}: ${key} came back with ${head[1]}'s value`);
  const version = Number(head[2]);
  assert.equal(value.length, Number(head[3]), `${where}: ${key} version ${version} has the wrong length`);
  assert.equal(flags, version, `${where}: ${key} version ${version} came back with flags ${flags}`);
  for (let i = head[0].length; i < value.length; i++) {
    if (value[i] !== filler(version, i)) assert.fail(`${where}: ${key} version ${version}: byte ${i} is ${value[i]}`);
  }
}

// A list is 16-byte tokens: eight hex digits of its key's hash, four of a random number, four of a check.
function keyHash(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return h >>> 0;
}

function hex(n: number, digits: number): string { return n.toString(16).padStart(digits, '0').slice(-digits); }

function token(key: string, r: number): string {
  const h = keyHash(key);
  return hex(h, 8) + hex(r, 4) + hex(Math.imul(h ^ r, 2654435761) >>> 16, 4);
}

function checkList(key: string, value: Buffer, where: string): void {
  const s = value.toString('latin1');
  assert.equal(s.length % 16, 0, `${where}: list ${key} is ${s.length} bytes: "${show(value, 120)}"`);
  for (let at = 0; at < s.length; at += 16) {
    const r = parseInt(s.slice(at + 8, at + 12), 16);
    assert.equal(s.slice(at, at + 16), token(key, r), `${where}: list ${key}, token at ${at}`);
  }
}

/** One data key in eight is long (up to memcached's 250 bytes): larger headers, keys compared over many words. */
const dataKey = (i: number): string => (i % 8 === 0 ? `k${i}${'x'.repeat(200 + (i % 44))}` : `k${i}`);
const listKey = (i: number): string => `a${i}`;
const counterKey = (i: number): string => `n${i}`;
const fillKey = (i: number): string => `f${i}`;

function checkAny(key: string, flags: number, value: Buffer, where: string): void {
  if (key.startsWith('a')) checkList(key, value, where);
  else if (key.startsWith('n')) assert.match(value.toString('latin1'), /^\d+ *$/, `${where}: counter ${key}`);
  else check(key, flags, value, where);
}

// --- Text clients: set, get, gets, gat, touch, delete, append, prepend, incr, decr, pipelined.

type Expect = (c: Client) => Promise<void>;

/** A get's VALUE blocks until END: each for one of the keys asked, in the order asked, and whole. */
async function readValues(c: Client, asked: string[], where: string, withCas: boolean): Promise<number> {
  let found = 0;
  for (let next = 0; ; next++) {
    const line = await c.readLine();
    if (line === 'END') return found;
    const m = /^VALUE (\S+) (\d+) (\d+)( \d+)?$/.exec(line);
    assert.ok(m, `${where}: "${line}"`);
    while (next < asked.length && asked[next] !== m[1]) next++;
    assert.ok(next < asked.length, `${where}: ${m[1]} was not asked for (or not then): ${asked.join(' ')}`);
    assert.equal(m[4] !== undefined, withCas, `${where}: "${line}"`);
    const data = await c.read(Number(m[3]) + 2);
    assert.equal(data.subarray(-2).toString('latin1'), '\r\n', `${where}: ${m[1]}'s value is not followed by CRLF`);
    checkAny(m[1], Number(m[2]), data.subarray(0, -2), where);
    found++;
  }
}

function expectLine(re: RegExp, where: string): Expect {
  return async (c) => { const line = await c.readLine(); assert.match(line, re, `${where}: "${line}"`); };
}

function textOp(rng: Rng, where: string): [string | Buffer, Expect] {
  const r = rng();
  if (r < 0.3) {
    const key = dataKey(Math.floor(rng() * KEYS));
    const version = Math.floor(rng() * 0x7fffffff);
    const v = valueOf(key, version, pickSize(rng));
    const cmd = pick(rng, ['set', 'set', 'add', 'replace']);
    return [Buffer.concat([Buffer.from(`${cmd} ${key} ${version} ${pick(rng, [0, 0, 1000])} ${v.length}\r\n`), v, Buffer.from('\r\n')]),
      expectLine(/^(STORED|NOT_STORED)$/, where)];
  }
  if (r < 0.6) {
    const n = 1 + Math.floor(rng() * 6);
    const keys = Array.from({ length: n }, () => pick(rng, [dataKey(Math.floor(rng() * KEYS)), dataKey(Math.floor(rng() * KEYS)),
      listKey(Math.floor(rng() * LISTS)), counterKey(Math.floor(rng() * COUNTERS))]));
    const cmd = pick(rng, ['get', 'gets', 'gat 1000', 'gats 0']);
    const withCas = cmd.startsWith('gets') || cmd.startsWith('gats');
    return [`${cmd} ${keys.join(' ')}\r\n`, async (c) => { await readValues(c, keys, where, withCas); }];
  }
  if (r < 0.67) return [`delete ${dataKey(Math.floor(rng() * KEYS))}\r\n`, expectLine(/^(DELETED|NOT_FOUND)$/, where)];
  if (r < 0.72) return [`touch ${dataKey(Math.floor(rng() * KEYS))} ${pick(rng, [0, 1000])}\r\n`, expectLine(/^(TOUCHED|NOT_FOUND)$/, where)];
  if (r < 0.86) {
    const key = listKey(Math.floor(rng() * LISTS));
    const t = Array.from({ length: 1 + Math.floor(rng() * 4) }, () => token(key, Math.floor(rng() * 0x10000))).join('');
    const cmd = rng() < 0.15 ? 'set' : pick(rng, ['append', 'prepend']);
    return [`${cmd} ${key} 0 0 ${t.length}\r\n${t}\r\n`, expectLine(/^(STORED|NOT_STORED)$/, where)];
  }
  const key = counterKey(Math.floor(rng() * COUNTERS));
  if (rng() < 0.1) return [`set ${key} 0 0 2\r\n10\r\n`, expectLine(/^STORED$/, where)];
  return [`${pick(rng, ['incr', 'decr'])} ${key} ${Math.floor(rng() * 1000)}\r\n`, expectLine(/^(\d+|NOT_FOUND)$/, where)];
}

// --- Meta clients: ms with flags and TTL, mg asking for value, flags, CAS, size and key back, md.

function metaOp(rng: Rng, where: string): [string | Buffer, Expect] {
  const key = dataKey(Math.floor(rng() * KEYS));
  const r = rng();
  if (r < 0.4) {
    const version = Math.floor(rng() * 0x7fffffff);
    const v = valueOf(key, version, pickSize(rng));
    return [Buffer.concat([Buffer.from(`ms ${key} ${v.length} F${version} T${pick(rng, [0, 1000])}\r\n`), v, Buffer.from('\r\n')]),
      expectLine(/^HD$/, where)];
  }
  if (r < 0.9) {
    return [`mg ${key} s v f c k t\r\n`, async (c) => {
      const line = await c.readLine();
      if (line === 'EN' || line === `EN k${key}`) return;
      const m = /^VA (\d+) (.*)$/.exec(line);
      assert.ok(m, `${where}: "${line}"`);
      const got = new Map(m[2].split(' ').map((f) => [f[0], f.slice(1)]));
      const data = await c.read(Number(m[1]) + 2);
      assert.equal(got.get('k'), key, `${where}: "${line}"`);
      assert.equal(Number(got.get('s')), Number(m[1]), `${where}: "${line}"`);
      assert.match(got.get('c') ?? '', /^\d+$/, `${where}: "${line}"`);
      check(key, Number(got.get('f')), data.subarray(0, -2), where);
    }];
  }
  return [`md ${key}\r\n`, expectLine(/^(HD|NF)$/, where)];
}

// --- Binary clients: set and get frames (magic 0x80), each reply read whole and checked.

function binaryFrame(op: number, key: string, extras: Buffer, value: Buffer): Buffer {
  const h = Buffer.alloc(24);
  h[0] = 0x80; h[1] = op;
  h.writeUInt16BE(key.length, 2);
  h[4] = extras.length;
  h.writeUInt32BE(extras.length + key.length + value.length, 8);
  return Buffer.concat([h, extras, Buffer.from(key, 'latin1'), value]);
}

async function binaryReply(c: Client, where: string): Promise<{ status: number; extras: Buffer; value: Buffer }> {
  const h = await c.read(24);
  assert.equal(h[0], 0x81, `${where}: reply magic ${h[0]}`);
  const extrasLen = h[4], keyLen = h.readUInt16BE(2), total = h.readUInt32BE(8);
  const body = await c.read(total);
  return { status: h.readUInt16BE(6), extras: body.subarray(0, extrasLen), value: body.subarray(extrasLen + keyLen) };
}

function binaryOp(rng: Rng, where: string): [Buffer, Expect] {
  const key = dataKey(Math.floor(rng() * KEYS));
  if (rng() < 0.4) {
    const version = Math.floor(rng() * 0x7fffffff);
    const extras = Buffer.alloc(8);
    extras.writeUInt32BE(version, 0);
    return [binaryFrame(0x01, key, extras, valueOf(key, version, pickSize(rng))), async (c) => {
      const { status } = await binaryReply(c, where);
      assert.equal(status, 0, `${where}: set ${key} status ${status}`);
    }];
  }
  return [binaryFrame(0x00, key, Buffer.alloc(0), Buffer.alloc(0)), async (c) => {
    const { status, extras, value } = await binaryReply(c, where);
    if (status === 1) return; // not found
    assert.equal(status, 0, `${where}: get ${key} status ${status}`);
    check(key, extras.readUInt32BE(0), value, where);
  }];
}

async function runClient(port: number, seed: number, op: (rng: Rng, where: string) => [string | Buffer, Expect]): Promise<void> {
  const rng = mulberry32(seed);
  const c = await Client.connect(port);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const batch = Array.from({ length: 1 + Math.floor(rng() * 8) }, (_, i) => op(rng, `client ${seed}, round ${round}, op ${i}`));
      await c.send(Buffer.concat(batch.map(([req]) => (typeof req === 'string' ? Buffer.from(req, 'latin1') : req))));
      for (const [, expect] of batch) await expect(c);
    }
  } finally {
    c.end();
  }
}

/**
 * A small value for every data key in turn, then large ones under keys of their own, 100 a write: the hash
 * table grows, and then -m is passed, while the other clients run.
 */
async function fill(port: number): Promise<void> {
  const c = await Client.connect(port);
  try {
    const keys = [...Array.from({ length: KEYS }, (_, i) => dataKey(i)), ...Array.from({ length: FILL_LARGE }, (_, i) => fillKey(i))];
    for (let first = 0; first < keys.length; first += 100) {
      const batch = keys.slice(first, first + 100);
      await c.send(Buffer.concat(batch.flatMap((key, i) => {
        const v = valueOf(key, first + i, key.startsWith('f') ? 10_000 : 12);
        return [Buffer.from(`set ${key} ${first + i} 0 ${v.length}\r\n`), v, Buffer.from('\r\n')];
      })));
      for (const key of batch) assert.equal(await c.readLine(), 'STORED', `fill ${key}`);
    }
  } finally {
    c.end();
  }
}

// --- The stirrer: page moves, crawls, metadumps and stats while the clients run.

async function stir(port: number, seed: number, done: () => boolean): Promise<number> {
  const rng = mulberry32(seed);
  const c = await Client.connect(port);
  let moves = 0;
  try {
    while (!done()) {
      const r = rng();
      if (r < 0.35) {
        // a page from a class that has more than one to another class (or to the global pool, 0)
        await c.send('stats slabs\r\n');
        const slabs = (await c.readUntil('END\r\n')).toString('latin1');
        const classes = [...slabs.matchAll(/^STAT (\d+):total_pages (\d+)\r$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
        const sources = classes.filter(([, pages]) => pages > 1);
        if (sources.length === 0) continue;
        const src = pick(rng, sources)[0];
        const dst = pick(rng, [0, ...classes.map(([id]) => id).filter((id) => id !== src)]);
        await c.send(`slabs reassign ${src} ${dst}\r\n`);
        const reply = await c.readLine();
        if (reply === 'OK') moves++;
      } else if (r < 0.5) {
        await c.send('lru_crawler crawl all\r\n');
        await c.readLine();
      } else if (r < 0.7) {
        await c.send('lru_crawler metadump all\r\n');
        const first = await c.readLine();
        if (first.startsWith('BUSY')) continue; // memcached's crawler runs one crawl or dump at a time
        for (let line = first; line !== 'END'; line = await c.readLine()) {
          assert.match(line, /^key=[aknf]\d+x* exp=-?\d+ la=\d+ cas=\d+ fetch=(yes|no) cls=\d+ size=\d+$/, `metadump: "${line}"`);
        }
      } else {
        await c.send(`${pick(rng, ['stats', 'stats items', 'stats slabs', 'stats sizes', 'stats conns'])}\r\n`);
        await c.readUntil('END\r\n');
      }
    }
  } finally {
    c.end();
  }
  return moves;
}

function statOf(stats: string, name: string): number {
  const m = new RegExp(`^STAT ${name} (\\d+)\\r$`, 'm').exec(stats);
  assert.ok(m, `no ${name} in stats`);
  return Number(m[1]);
}

/**
 * Waits until no page move is under way (the rebalancer finishes the last one asked for on its own) and the
 * hash table has grown (memcached looks at its item count once a second, on its clock, to start that).
 */
async function settled(c: Client): Promise<void> {
  for (let polls = 0; ; polls++) {
    await c.send('stats\r\n');
    const stats = (await c.readUntil('END\r\n')).toString('latin1');
    if (statOf(stats, 'slab_reassign_running') === 0 && statOf(stats, 'hash_is_expanding') === 0 &&
      statOf(stats, 'hash_power_level') > 12) return;
    assert.ok(polls < 500, `not settled after 500 polls: ${stats.match(/STAT (hash_\w+|slab_reassign_running|curr_items) \d+/g)}`);
    await sleep(10);
  }
}

for (const kind of kindsFor()) {
  test(`integrity: values stay whole through evictions, chunking, hash growth, page moves and crawls [${kind}]`, async () => {
    const server = await serverFor(kind, ARGS, true);
    try {
      let running = true;
      const stirred = stir(server.port, 999, () => !running);
      const clients = [
        fill(server.port),
        ...Array.from({ length: TEXT_CLIENTS }, (_, i) => runClient(server.port, 1 + i, textOp)),
        ...Array.from({ length: META_CLIENTS }, (_, i) => runClient(server.port, 101 + i, metaOp)),
        ...Array.from({ length: BINARY_CLIENTS }, (_, i) => runClient(server.port, 201 + i, binaryOp)),
      ];
      try {
        await Promise.all(clients);
      } finally {
        running = false;
      }
      assert.ok(await stirred > 0, 'pages were moved while the clients ran');

      // Quiet now (the last page move done, the table grown): every key is looked up once, and what is found
      // is what the counters say is stored.
      const c = await Client.connect(server.port);
      try {
        await settled(c);
        const all = [...Array.from({ length: KEYS }, (_, i) => dataKey(i)),
          ...Array.from({ length: LISTS }, (_, i) => listKey(i)), ...Array.from({ length: COUNTERS }, (_, i) => counterKey(i)),
          ...Array.from({ length: FILL_LARGE }, (_, i) => fillKey(i))];
        let found = 0;
        for (let i = 0; i < all.length; i += 100) {
          const keys = all.slice(i, i + 100);
          await c.send(`get ${keys.join(' ')}\r\n`);
          found += await readValues(c, keys, 'final get', false);
        }
        await c.send('stats\r\n');
        const stats = (await c.readUntil('END\r\n')).toString('latin1');
        assert.ok(statOf(stats, 'evictions') > 0, 'the run evicted (else -m 16 was not reached)');
        assert.equal(statOf(stats, 'curr_items'), found, 'curr_items counts what the hash table finds');
        assert.ok(statOf(stats, 'bytes') <= statOf(stats, 'limit_maxbytes'));
        await c.send('stats items\r\n');
        const items = (await c.readUntil('END\r\n')).toString('latin1');
        const inLrus = [...items.matchAll(/^STAT items:\d+:number (\d+)\r$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
        assert.equal(inLrus, found, 'the LRUs hold what the hash table finds');
      } finally {
        c.end();
      }
    } finally {
      await server.stop();
    }
  });
}
