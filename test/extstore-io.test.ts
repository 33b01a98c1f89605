// extstore's reads: a get that finds a value on flash does not read it in the worker. The read goes to an IO thread
// and the connection waits in conn_io_queue, off the worker's loop, while the worker answers its other connections;
// once the read is back the get goes on from that key (memcached's conn_io_queue and its IO threads). What a client
// sees is the same reply as from a read in place: the values, in order, with what it pipelined after them.
//
// CACHALOT_DEBUG_EXT_READ_HOLD_MS holds every read's completion that long: a device slow enough to see the
// connection waiting. (memcached has no such switch: the wait is Cachalot's alone to show; the replies are checked
// against memcached's where the reads are not held.)

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Client } from './support/client.ts';
import { sleep, startServer, type Server, type ServerKind } from './support/server.ts';
import { kindsFor } from './support/spec.ts';
import { BINARY_NOOP_SENTINEL } from './support/differential.ts';
import { binRequest, parseBinResponses } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

const KINDS = kindsFor();
const dirs: string[] = [];
after(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** One worker (so every connection shares its loop), 8 MB pages, values of 512 bytes and up to flash. */
async function extServer(kind: ServerKind, env: Record<string, string> = {}): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), `extstore-io-${kind}-`));
  dirs.push(dir);
  const o = `ext_page_size=8,ext_wbuf_size=2,ext_item_size=512,ext_item_age=3600,ext_recache_rate=0,slab_automove=0,ext_path=${dir}/f:64m`;
  return startServer(kind, ['-t', '1', '-m', '64', '-o', o], { env });
}

const POLL_BOUND_MS = 30_000; // a failure bound, not a timing assertion

async function until(c: Client, what: string, ok: (s: Map<string, string>) => boolean): Promise<Map<string, string>> {
  const deadline = Date.now() + POLL_BOUND_MS;
  for (;;) {
    const s = await c.stats();
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${POLL_BOUND_MS} ms`);
    await sleep(20);
  }
}

const value = (key: string, n: number): string => (key + '.').repeat(Math.ceil(n / (key.length + 1))).slice(0, n);

/** Set each key to its value (n bytes), then move them all to flash. */
async function onFlash(c: Client, keys: string[], n: number): Promise<void> {
  await c.send(keys.map((k) => `set ${k} 7 0 ${n} noreply\r\n${value(k, n)}\r\n`).join(''));
  await c.send('extstore item_age 0\r\n');
  assert.equal(await c.readLine(), 'OK');
  await until(c, `${keys.length} values on flash`, (s) => Number(s.get('extstore_objects_written')) >= keys.length);
  await c.send('extstore item_age 3600\r\n');
  assert.equal(await c.readLine(), 'OK');
}

/** `count` keys (prefix0, prefix1, ...) with values of n bytes on flash, and "m" ("mem", too small for flash) in memory. */
async function flashAndMemory(c: Client, prefix: string, count: number, n: number): Promise<string[]> {
  const flash = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  await onFlash(c, flash, n);
  await c.send('set m 7 0 3\r\nmem\r\n');
  assert.equal(await c.readLine(), 'STORED');
  return flash;
}

const block = (k: string, n: number): string => `VALUE ${k} 7 ${n}\r\n${value(k, n)}\r\n`;

for (const kind of KINDS) {
  test(`gets of values on flash and in memory, pipelined with other commands: every reply in order [${kind}]`, async () => {
    const s = await extServer(kind);
    const c = await Client.connect(s.port);
    try {
      const flash = await flashAndMemory(c, 'f', 60, 20_000);
      const before = await c.stats();
      // one get of every value on flash (more than a batch of keys), then single gets, a set and a get between
      const all = flash.join(' ');
      const req = `get f0 m f1\r\nget ${all}\r\nset n 7 0 1\r\nx\r\nget f2\r\nget m nothere f3\r\nmg f4 v\r\n`;
      const want = block('f0', 20_000) + 'VALUE m 7 3\r\nmem\r\n' + block('f1', 20_000) + 'END\r\n' +
        flash.map((k) => block(k, 20_000)).join('') + 'END\r\nSTORED\r\n' + block('f2', 20_000) + 'END\r\n' +
        'VALUE m 7 3\r\nmem\r\n' + block('f3', 20_000) + 'END\r\n' + `VA 20000\r\n${value('f4', 20_000)}\r\n`;
      await c.send(req);
      assert.equal((await c.read(Buffer.byteLength(want, 'latin1'))).toString('latin1'), want);
      const got = await c.stats();
      assert.equal(Number(got.get('get_extstore')) - Number(before.get('get_extstore')), 2 + 60 + 2 + 1);
      assert.equal(got.get('extstore_io_queue'), '0');
    } finally { c.end(); await s.stop(); }
  });
}

for (const kind of KINDS) {
  test(`binary gets of values on flash, quiet and not, between values in memory: every response in order [${kind}]`, async () => {
    const s = await extServer(kind);
    const c = await Client.connect(s.port);
    const bc = await Client.connect(s.port);
    try {
      const flash = await flashAndMemory(c, 'b', 8, 5000);
      const asked = ['b0', 'm', 'b1', 'nothere', 'b2', ...flash.slice(3)];
      const reqs = asked.map((key, i) => binRequest({ opcode: i % 2 === 0 ? Op.GETK : Op.GETKQ, key, opaque: i }));
      await bc.send(Buffer.concat([...reqs, BINARY_NOOP_SENTINEL.send]));
      const { packets } = parseBinResponses((await bc.readUntil(BINARY_NOOP_SENTINEL.reply)).subarray(0, -BINARY_NOOP_SENTINEL.reply.length));
      const seen = packets.map((r) => `${r.opaque} ${r.status} ${r.key.toString()} ${r.extras.toString('hex')} ${r.value.toString()}`);
      const want = asked.flatMap((key, i) => {
        if (key === 'nothere') return i % 2 === 0 ? [`${i} 1 nothere  `] : []; // a quiet miss says nothing
        return [`${i} 0 ${key} 00000007 ${key === 'm' ? 'mem' : value(key, 5000)}`];
      });
      assert.deepEqual(seen, want);
    } finally { bc.end(); c.end(); await s.stop(); }
  });
}

test('a get waiting for its read holds only its own connection: the worker answers the others meanwhile', async () => {
  const s = await extServer('cachalot', { CACHALOT_DEBUG_EXT_READ_HOLD_MS: '600000' });
  const b = await Client.connect(s.port);
  const [a, m, bin] = [await Client.connect(s.port), await Client.connect(s.port), await Client.connect(s.port)];
  try {
    await onFlash(b, ['cold'], 4000);
    await a.send('get cold\r\nget cold\r\n');
    await m.send('mg cold v\r\nmn\r\n');
    await bin.send(binRequest({ opcode: Op.GET, key: 'cold' }));
    const waiting = await until(b, 'the reads queued: text, meta, binary', (st) => st.get('extstore_io_queue') === '3');
    assert.equal(waiting.get('get_extstore'), '0', 'counted when answered, not when queued');
    // the one worker answers b while a waits
    await b.send('set warm 0 0 2\r\nok\r\nget warm\r\n');
    assert.equal((await b.readUntil('END\r\n')).toString(), 'STORED\r\nVALUE warm 0 2\r\nok\r\nEND\r\n');
    const conns = [...(await b.stats('conns')).entries()].filter(([k]) => k.endsWith(':state')).map(([, v]) => v);
    assert.equal(conns.filter((state) => state === 'conn_io_queue').length, 3, conns.join(' '));
    for (const waiter of [a, m, bin]) assert.equal(waiter.pending().length, 0, 'nothing of the answer before its value is read');
  } finally { a.destroy(); m.destroy(); bin.destroy(); b.end(); await s.stop(); }
});

test('a client gone while its read is out: the read comes back to nothing, and the worker goes on', async () => {
  const s = await extServer('cachalot', { CACHALOT_DEBUG_EXT_READ_HOLD_MS: '200' });
  const b = await Client.connect(s.port);
  try {
    await onFlash(b, ['k1', 'k2'], 4000);
    const conns = (await b.stats()).get('curr_connections');
    for (let i = 0; i < 20; i++) {
      const a = await Client.connect(s.port);
      await a.send(i % 2 === 0 ? 'get k1 k2\r\nget k2\r\nmg k1 v\r\n' : binRequest({ opcode: Op.GETK, key: 'k2' }));
      a.destroy();
    }
    await until(b, 'the reads back and the clients closed',
      (x) => x.get('extstore_io_queue') === '0' && x.get('curr_connections') === conns);
    await b.send('get k1\r\n');
    assert.equal((await b.readUntil('END\r\n')).toString('latin1'), block('k1', 4000) + 'END\r\n');
  } finally { b.end(); await s.stop(); }
});
