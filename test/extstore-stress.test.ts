// extstore under concurrency: a server with a file of a few 2 MB pages, every cold value sent to flash at once
// (ext_item_age=0), compaction and page eviction going on all the time, and four clients (text, meta, binary, and
// text multi-gets) setting, reading, appending and deleting values that say whose they are: each value is
// "<key>:<version>:<filler made from both>" followed by any appended "|<key>+<n>" pieces. So a read that returned
// another object's bytes (another key's, an older life of a page, half of one), or an older value of a key only
// one client writes, is seen at once. Run against memcached 1.6.18 and Cachalot alike: it asserts only what
// memcached guarantees: any hit is a value that was set (for a key with one writer, the last one stored), the
// server stays up, the extstore counters stay in range (memcached 1.6.18's extstore_bytes_used aside: see checkGauges),
// and once every item has gone no slab chunk is left in use.
// Cachalot is held to one thing more: no read finds a header naming an object not its own (badcrc_from_extstore),
// which memcached 1.6.18 has (see below).
//
// The running time is bounded by a count of operations (EXTSTORE_STRESS_OPS a client, 1500 unless given), not a
// clock; polls of `stats` are bounded failure waits. EXTSTORE_STRESS_SHOW=1 prints each server's counters.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client, show } from './support/client.ts';
import { mulberry32 } from './support/rng.ts';
import { memcachedAvailable, sleep, startServer, type Server, type ServerKind } from './support/server.ts';
import { binRequest, setExtras } from '../src/protocol/binary/frame.ts';
import { HEADER_LEN, Op, Status } from '../src/protocol/binary/header.ts';

/** 2 MB pages (one write buffer each), an 8 MB file: 3 pages in use at most (page 0 is never used), so pages are
 * evicted all the time. Compaction starts with 3 pages free and drops unread values with 2; the writer takes any
 * COLD item at once; every second read back of a key lately hit twice puts it back in memory. */
const EXT_OPTS = 'ext_page_size=2,ext_wbuf_size=2,ext_threads=1,ext_io_depth=1,ext_item_size=512,ext_item_age=0,' +
  'ext_recache_rate=2,ext_max_frag=0.9,ext_compact_under=3,ext_drop_unread=1,ext_drop_under=2,ext_max_sleep=10000,' +
  'slab_automove=0';
const FILE_MB = 8;

const OPS_PER_CLIENT = Number(process.env.EXTSTORE_STRESS_OPS ?? 1500);
const SHARED_KEYS = 200;
const OWNED_KEYS = 40; // per client
const POLL_BOUND_MS = 30_000; // a failure bound, not a timing assertion

// ---------------------------------------------------------------------------------------------------------------
// Values that say whose they are

// letters and bytes with the high bit set: a value read as an object header by mistake has a negative length
const FILL = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\x80\x9f\xcc\xee\xff';

/** The filler of (key, version): letters from a generator seeded by both, so a piece of another value never fits. */
function filler(key: string, version: number, len: number): string {
  let seed = version * 2654435761;
  for (let i = 0; i < key.length; i++) seed = Math.imul(seed ^ key.charCodeAt(i), 16777619);
  const next = mulberry32(seed);
  let s = '';
  while (s.length < len) s += FILL[Math.floor(next() * FILL.length)].repeat(1 + Math.floor(next() * 4));
  return s.slice(0, len);
}

function baseValue(key: string, version: number, len: number): string {
  const head = `${key}:${version}:`;
  return head + filler(key, version, Math.max(0, len - head.length));
}

/** What the clients sent for each key: versions set and pieces appended, whether stored or not. */
class Sent {
  readonly versions = new Map<string, Set<number>>();
  readonly appends = new Map<string, Set<number>>();
  private next = 1;

  version(key: string): number {
    const v = this.next++;
    let set = this.versions.get(key);
    if (set === undefined) this.versions.set(key, set = new Set());
    set.add(v);
    return v;
  }

  append(key: string): string {
    const n = this.next++;
    let set = this.appends.get(key);
    if (set === undefined) this.appends.set(key, set = new Set());
    set.add(n);
    return `|${key}+${n}`;
  }

  /** Why `value`, read for `key`, is not one the clients could have made; null when it is. */
  wrong(key: string, value: string): string | null {
    const [base, ...pieces] = value.split('|');
    const m = /^([^:]*):(\d+):/.exec(base);
    if (m === null) return 'not a value of this test';
    if (m[1] !== key) return `another key's value (${m[1]})`;
    const version = Number(m[2]);
    if (!this.versions.get(key)?.has(version)) return `version ${version} was never sent for it`;
    if (base !== baseValue(key, version, base.length)) return `version ${version}'s bytes are not its own`;
    for (const p of pieces) {
      const a = /^(.*)\+(\d+)$/.exec(p);
      if (a === null || a[1] !== key || !this.appends.get(key)?.has(Number(a[2]))) return `a piece "${p.slice(0, 40)}" not appended to it`;
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One client's protocol: set, get (one or more keys), append, delete

type Proto = {
  set(key: string, value: string): Promise<boolean>;
  get(keys: string[]): Promise<Map<string, string>>;
  append(key: string, piece: string): Promise<boolean>;
  delete(key: string): Promise<boolean>;
};

async function line(c: Client): Promise<string> { return c.readLine(); }

function textProto(c: Client): Proto {
  return {
    async set(key, value) {
      await c.send(`set ${key} 0 0 ${value.length}\r\n${value}\r\n`);
      return expectOne(await line(c), ['STORED', 'SERVER_ERROR out of memory storing object'], 'STORED');
    },
    async get(keys) {
      await c.send(`get ${keys.join(' ')}\r\n`);
      return readValues(c, 'VALUE', 'END');
    },
    async append(key, piece) {
      await c.send(`append ${key} 0 0 ${piece.length}\r\n${piece}\r\n`);
      return expectOne(await line(c), ['STORED', 'NOT_STORED', 'SERVER_ERROR out of memory storing object'], 'STORED');
    },
    async delete(key) {
      await c.send(`delete ${key}\r\n`);
      return expectOne(await line(c), ['DELETED', 'NOT_FOUND'], 'DELETED');
    },
  };
}

function metaProto(c: Client): Proto {
  return {
    async set(key, value) {
      await c.send(`ms ${key} ${value.length} T0\r\n${value}\r\n`);
      return expectOne(await line(c), ['HD', 'SERVER_ERROR out of memory storing object'], 'HD');
    },
    async get(keys) {
      const out = new Map<string, string>();
      for (const key of keys) {
        await c.send(`mg ${key} v k f t\r\n`);
        const head = await line(c);
        if (head === 'EN' || head.startsWith('EN ')) continue; // (a value gone from flash: EN with the flags asked)
        const m = /^VA (\d+) k(\S+) f0 t-1$/.exec(head);
        assert.ok(m !== null && m[2] === key, `mg ${key}: "${head}"`);
        out.set(key, await valueOf(c, Number(m[1])));
      }
      return out;
    },
    async append(key, piece) {
      await c.send(`ms ${key} ${piece.length} MA\r\n${piece}\r\n`);
      return expectOne(await line(c), ['HD', 'NS', 'SERVER_ERROR out of memory storing object'], 'HD');
    },
    async delete(key) {
      await c.send(`md ${key}\r\n`);
      return expectOne(await line(c), ['HD', 'NF'], 'HD');
    },
  };
}

function binaryProto(c: Client): Proto {
  async function response(): Promise<{ status: number; key: string; value: Buffer }> {
    const h = await c.read(HEADER_LEN);
    const body = await c.read(h.readUInt32BE(8));
    const extlen = h[4], keylen = h.readUInt16BE(2);
    return { status: h.readUInt16BE(6), key: body.toString('latin1', extlen, extlen + keylen), value: body.subarray(extlen + keylen) };
  }
  return {
    async set(key, value) {
      await c.send(binRequest({ opcode: Op.SET, key, extras: setExtras(0, 0), value }));
      const r = await response();
      assert.ok(r.status === Status.SUCCESS || r.status === Status.ENOMEM, `binary set ${key}: status ${r.status}`);
      return r.status === Status.SUCCESS;
    },
    async get(keys) {
      const out = new Map<string, string>();
      for (const key of keys) {
        // GET, not GETK: memcached's GETK miss of a value gone from flash sends 4 bytes more than its header says
        await c.send(binRequest({ opcode: Op.GET, key }));
        const r = await response();
        if (r.status !== Status.SUCCESS) {
          assert.equal(r.status, Status.KEY_ENOENT, `binary get ${key}: status ${r.status}`);
          continue;
        }
        out.set(key, r.value.toString('latin1'));
      }
      return out;
    },
    async append(key, piece) {
      await c.send(binRequest({ opcode: Op.APPEND, key, value: piece }));
      const r = await response();
      assert.ok(r.status === Status.SUCCESS || r.status === Status.NOT_STORED || r.status === Status.ENOMEM,
        `binary append ${key}: status ${r.status}`);
      return r.status === Status.SUCCESS;
    },
    async delete(key) {
      await c.send(binRequest({ opcode: Op.DELETE, key }));
      const r = await response();
      assert.ok(r.status === Status.SUCCESS || r.status === Status.KEY_ENOENT, `binary delete ${key}: status ${r.status}`);
      return r.status === Status.SUCCESS;
    },
  };
}

function expectOne(got: string, allowed: string[], yes: string): boolean {
  assert.ok(allowed.includes(got), `reply "${show(got)}"`);
  return got === yes;
}

async function valueOf(c: Client, len: number): Promise<string> {
  const b = await c.read(len + 2);
  assert.equal(b.toString('latin1', len), '\r\n', 'a value ends in \\r\\n');
  return b.toString('latin1', 0, len);
}

/** "VALUE <key> <flags> <bytes>" blocks up to END. */
async function readValues(c: Client, word: string, end: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (;;) {
    const head = await line(c);
    if (head === end) return out;
    const m = new RegExp(`^${word} (\\S+) 0 (\\d+)$`).exec(head);
    assert.ok(m !== null, `a get's reply: "${show(head)}"`);
    out.set(m[1], await valueOf(c, Number(m[2])));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run

const GAUGES = ['curr_items', 'extstore_objects_used', 'extstore_bytes_used', 'extstore_pages_free', 'extstore_limit_maxbytes'] as const;

/**
 * The counters that must stay in range whatever the threads' timing (memcached's are unsigned: a wrap is huge).
 * memcached 1.6.18's extstore_bytes_used is left out: its compactor bug (c91842e13, 1.6.21) counts some objects
 * out twice, and under load it wraps below 0 (seen: 18446744073709523876 after flush_all).
 */
function checkGauges(s: Map<string, string>, when: string, kind: string): void {
  const n = (k: string): number => Number(s.get(k));
  const gauges = kind === 'memcached' ? GAUGES.filter((k) => k !== 'extstore_bytes_used') : GAUGES;
  const shown = JSON.stringify(Object.fromEntries(GAUGES.map((k) => [k, s.get(k)])));
  for (const k of gauges) assert.ok(Number.isSafeInteger(n(k)) && n(k) >= 0 && n(k) < 2 ** 40, `${when}: ${k} in range: ${shown}`);
  if (kind === 'memcached') return;
  assert.ok(n('extstore_bytes_used') <= n('extstore_limit_maxbytes'), `${when}: bytes on flash within the file: ${shown}`);
  assert.ok(n('extstore_objects_used') <= n('extstore_bytes_used'), `${when}: objects and bytes agree: ${shown}`);
}

/** Chunks in use over every slab class (`stats slabs`). */
async function usedChunks(c: Client): Promise<number> {
  let sum = 0;
  for (const [k, v] of await c.stats('slabs')) if (/^\d+:used_chunks$/.test(k)) sum += Number(v);
  return sum;
}

/** Poll until `ok` (a bound, not a timing assertion). */
async function until(what: string, ok: () => Promise<boolean>, say: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + POLL_BOUND_MS;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${POLL_BOUND_MS} ms; ${await say()}`);
    await sleep(20);
  }
}

type Worker = { name: string; kind: string; proto: Proto; owned: string[]; cur: Map<string, string | null>; multiGet: boolean };

async function runClient(w: Worker, shared: string[], sent: Sent, seed: number, stats: Client | null): Promise<Record<string, number>> {
  const rnd = mulberry32(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];
  // no two versions of a key are of one length (under 14000 versions in all): memcached 1.6.18's compactor can
  // take a key's older object for its current one, and the length it then finds wrong makes that a miss, not a stale hit
  const size = (version: number): number => 600 + (version * 7919) % 14000;
  const count = { sets: 0, hits: 0, misses: 0, appends: 0, deletes: 0 };
  const check = (key: string, value: string): void => {
    const why = sent.wrong(key, value);
    assert.equal(why, null, `${w.name}: get ${key} returned a value it never had: ${why}: "${show(value, 120)}"`);
    if (w.cur.has(key)) {
      // a key only this client writes: the value last stored, never an older one
      assert.equal(value, w.cur.get(key), `${w.name}: get ${key}: not the value last stored (${show(value, 60)})`);
    }
  };
  for (let op = 0; op < OPS_PER_CLIENT; op++) {
    if (stats !== null && op % 100 === 0) checkGauges(await stats.stats(), `after ${op} operations`, w.kind);
    const key = rnd() < 0.5 ? pick(w.owned) : pick(shared);
    const r = rnd();
    if (r < 0.35) {
      const version = sent.version(key);
      const value = baseValue(key, version, size(version));
      const stored = await w.proto.set(key, value);
      if (stored) count.sets++;
      if (w.cur.has(key)) w.cur.set(key, stored ? value : null); // a set refused unlinks the old value (memcached's)
    } else if (r < 0.8) {
      const keys = w.multiGet ? [key, pick(shared), pick(w.owned), pick(shared)] : [key];
      const got = await w.proto.get(keys);
      for (const [k, v] of got) { assert.ok(keys.includes(k), `${w.name}: a value for ${k}, not asked`); check(k, v); }
      count.hits += got.size;
      count.misses += new Set(keys).size - got.size;
    } else if (r < 0.9) {
      const piece = sent.append(key);
      if (await w.proto.append(key, piece)) {
        count.appends++;
        if (w.cur.has(key)) {
          const before = w.cur.get(key);
          assert.ok(before !== null && before !== undefined, `${w.name}: append ${key} stored on a key deleted`);
          w.cur.set(key, before + piece);
        }
      }
    } else {
      if (await w.proto.delete(key)) count.deletes++;
      if (w.cur.has(key)) w.cur.set(key, null);
    }
  }
  return count;
}

async function stress(kind: ServerKind): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `extstore-stress-${kind}-`));
  try {
    const server = await startServer(kind, ['-m', '16', '-t', '4', '-o', `${EXT_OPTS},ext_path=${join(dir, 'f')}:${FILE_MB}m`]);
    try { await stressOn(server); } finally { await server.stop(); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

async function stressOn(server: Server): Promise<void> {
  const sent = new Sent();
  const shared = Array.from({ length: SHARED_KEYS }, (_, i) => `s${i}`);
  const conns = await Promise.all([0, 1, 2, 3, 4].map(() => Client.connect(server.port)));
  const [statsConn, ...clientConns] = conns;
  try {
    const protos = [textProto(clientConns[0]), metaProto(clientConns[1]), binaryProto(clientConns[2]), textProto(clientConns[3])];
    const workers: Worker[] = protos.map((proto, i) => {
      const owned = Array.from({ length: OWNED_KEYS }, (_, j) => `c${i}o${j}`);
      return { name: `client ${i}`, kind: server.kind, proto, owned, cur: new Map(owned.map((k) => [k, null])), multiGet: i === 3 };
    });
    const counts = await Promise.all(workers.map((w, i) => runClient(w, shared, sent, 1000 + i, i === 0 ? statsConn : null)));
    const s = await statsConn.stats();
    checkGauges(s, 'after the run', server.kind);
    if (process.env.EXTSTORE_STRESS_SHOW) {
      const ext = [...s].filter(([k]) => /extstore|curr_items|evictions/.test(k)).map(([k, v]) => `${k}=${v}`).join(' ');
      process.stderr.write(`${server.kind}: ${JSON.stringify(counts)}\n${ext}\n`);
    }
    if (server.kind === 'cachalot') {
      // a header that names an object not its own (another key's, an older value's) is caught by the CRC and the key
      // check, and answered as a miss: so no wrong value shows, but there must be none. memcached 1.6.18 has some
      // (its compactor took a key's older object on the same page for the current one: fixed in 1.6.21, c91842e13)
      assert.equal(s.get('badcrc_from_extstore'), '0', 'no header named an object not its own');
    }
    assert.ok(Number(s.get('extstore_objects_written')) > 0 && Number(s.get('extstore_page_evictions')) + Number(s.get('extstore_compact_rescues')) > 0,
      `the run sent values to flash and moved pages on: ${JSON.stringify(Object.fromEntries(s))} ${JSON.stringify(counts)}`);

    // every key read once more, each as its own get
    const reader = textProto(statsConn);
    for (const w of workers) {
      for (const [k, v] of await reader.get(w.owned)) assert.equal(v, w.cur.get(k), `at the end, ${k}: the value last stored`);
    }
    for (const [k, v] of await reader.get(shared)) assert.equal(sent.wrong(k, v), null, `at the end, ${k}: "${show(v, 80)}"`);

    // quiet: every chunk in use is an item's (no copy read back from flash, no header, left over)
    const items = async (): Promise<string> => {
      const st = await statsConn.stats();
      return `curr_items ${st.get('curr_items')}, used_chunks ${await usedChunks(statsConn)}`;
    };
    await until('every chunk in use is a linked item\'s', async () => {
      const st = await statsConn.stats();
      return Number(st.get('curr_items')) === await usedChunks(statsConn);
    }, items);

    // flush_all, and a get of every key lets each item go: no chunk is left in use
    await statsConn.send('flush_all\r\n');
    assert.equal(await statsConn.readLine(), 'OK');
    const all = [...shared, ...workers.flatMap((w) => w.owned)];
    assert.equal((await reader.get(all)).size, 0, 'nothing after flush_all');
    await until('no item and no chunk in use after flush_all', async () => {
      const st = await statsConn.stats();
      return Number(st.get('curr_items')) === 0 && await usedChunks(statsConn) === 0;
    }, items);
    checkGauges(await statsConn.stats(), 'after flush_all', server.kind);
  } finally {
    for (const c of conns) c.destroy();
  }
  assert.equal(await Promise.race([server.exited.then(() => 'exited'), sleep(0).then(() => 'up')]), 'up', `the server is up: ${server.stderr()}`);
}

const MEMCACHED_SKIP = memcachedAvailable() === null ? 'memcached is not installed' : false;

test('extstore under four clients, with pages compacted and evicted all the time: memcached', { skip: MEMCACHED_SKIP }, async () => {
  await stress('memcached');
});

test('extstore under four clients, with pages compacted and evicted all the time: Cachalot', async () => {
  await stress('cachalot');
});
