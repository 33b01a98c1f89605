// Malformed binary frames: bad magic, bodies shorter than their key and extras, lengths that do not
// fit the command, huge body lengths (the integer-overflow class of CVE-2016-8704/8705/8706). The
// server answers or hangs up as memcached does, never allocates what a header claims, never crashes,
// and its other connections carry on.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Client } from './support/client.ts';
import { differential, BINARY_NOOP_SENTINEL } from './support/differential.ts';
import { registerStopHook, serverFor } from './support/spec.ts';
import { sleep, type Server } from './support/server.ts';
import { binRequest, setExtras, parseBinResponses, type BinRequest, type BinResponse } from '../src/protocol/binary/frame.ts';
import { Op, Status } from '../src/protocol/binary/header.ts';
import { mulberry32 as prng } from './support/rng.ts';

registerStopHook();
const R = (...reqs: BinRequest[]): Buffer => Buffer.concat(reqs.map((r) => binRequest({ opaque: 7, ...r })));
const NOOP: BinRequest = { opcode: Op.NOOP };

/** Each case on its own connection, against memcached: the same bytes back, the same hang-up. */
const CASES: Array<[string, Buffer]> = [
  ['bad magic after the protocol was chosen', Buffer.concat([R(NOOP), R({ opcode: Op.NOOP, magic: 0x81 })])],
  ['key and extras longer than the body', R({ opcode: Op.SET, key: 'abc', extras: setExtras(0, 0), bodylen: 5 })],
  ['key longer than the body', R({ opcode: Op.GET, key: 'abcdef', bodylen: 2 })],
  ['get with a body beyond its key', R({ opcode: Op.GET, key: 'k', value: 'xx' })],
  ['get with extras', R({ opcode: Op.GET, key: 'k', extras: Buffer.alloc(4) })],
  ['get without a key', R({ opcode: Op.GET })],
  ['set with 4 bytes of extras', R({ opcode: Op.SET, key: 'k', extras: Buffer.alloc(4), value: 'v' })],
  ['set without a key', R({ opcode: Op.SET, extras: setExtras(0, 0), value: 'v' })],
  ['incr with short extras', R({ opcode: Op.INCREMENT, key: 'k', extras: Buffer.alloc(8) })],
  ['delete with a value', R({ opcode: Op.DELETE, key: 'k', value: 'v' })],
  ['noop with a body', R({ opcode: Op.NOOP, value: 'x' })],
  ['version with a key', R({ opcode: Op.VERSION, key: 'k' })],
  ['quit with extras', R({ opcode: Op.QUIT, extras: Buffer.alloc(4) })],
  ['flush with 8 bytes of extras', R({ opcode: Op.FLUSH, extras: Buffer.alloc(8) })],
  ['touch without extras', R({ opcode: Op.TOUCH, key: 'k' })],
  ['append with extras', R({ opcode: Op.APPEND, key: 'k', extras: Buffer.alloc(8), value: 'v' })],
  ['stat with extras', R({ opcode: Op.STAT, extras: Buffer.alloc(4) })],
  ['sasl list mechs with a key', R({ opcode: Op.SASL_LIST_MECHS, key: 'k' })],
  ['a 251-byte key', R({ opcode: Op.SET, key: 'k'.repeat(251), extras: setExtras(0, 0), value: 'v' })],
  // memcached reads header, extras and key into its 16 KB read buffer: up to that they are refused as any long key,
  // past it the buffer fills and the read after counts as a hang-up, with no reply
  ['header, extras and key filling the 16 KB read buffer', R({ opcode: Op.SET, key: 'k'.repeat(16352), extras: setExtras(0, 0), value: 'v' })],
  ['header, extras and key one byte past the 16 KB read buffer', R({ opcode: Op.SET, key: 'k'.repeat(16353), extras: setExtras(0, 0), value: 'v' })],
  ['a get with a 65535-byte key', R({ opcode: Op.GET, key: 'k'.repeat(65535) })],
  // memcached keeps the bytes to swallow in a C int: from 2^31 on nothing is swallowed
  ['an unknown opcode announcing a 2^31-byte body', R({ opcode: 0x55, bodylen: 0x80000000 })],
  ['an unknown opcode announcing a 2^32 - 1 byte body', R({ opcode: 0x55, bodylen: 0xffffffff })],
  // memcached swallows bodylen bytes after it has already read the key, so the next request loses its first
  // keylen bytes and what is left is not a frame: a hang-up, which loses the queued Unknown command too
  ['an unknown opcode with a key swallows the whole body length', Buffer.concat([R({ opcode: 0x55, key: 'kk', value: 'abcd' }), R(NOOP, NOOP)])],
];

for (const [name, frame] of CASES) {
  differential(`binary malformed: ${name}`, [R(NOOP), frame, R(NOOP)], { sentinel: BINARY_NOOP_SENTINEL, fresh: false });
}

// ---- Cachalot alone: what memcached leaves undefined, and what must never happen ----

let server: Server;
before(async () => { server = await serverFor('cachalot', []); });

async function readPacket(c: Client): Promise<BinResponse> {
  const h = await c.read(24);
  const body = await c.read(h.readUInt32BE(8));
  return parseBinResponses(Buffer.concat([h, body])).packets[0];
}

async function assertServes(port: number): Promise<void> {
  const c = await Client.connect(port);
  try {
    await c.send(R({ opcode: Op.SET, key: 'alive', extras: setExtras(0, 0), value: 'yes' }, { opcode: Op.GET, key: 'alive' }));
    assert.equal((await readPacket(c)).status, Status.SUCCESS);
    assert.equal((await readPacket(c)).value.toString(), 'yes');
  } finally { c.end(); }
}

test('binary malformed: an unknown opcode announcing 2^31 bytes or more swallows nothing, as memcached', async () => {
  const c = await Client.connect(server.port);
  try {
    await c.send(R({ opcode: 0x55, bodylen: 0x80000000 }, { opcode: Op.VERSION }));
    assert.equal((await readPacket(c)).status, Status.UNKNOWN_COMMAND);
    const version = await readPacket(c);
    assert.equal(version.opcode, Op.VERSION);
    assert.equal(version.status, Status.SUCCESS);
  } finally { c.end(); }
});

test('binary malformed: a body length near 2^32 is refused as too large, with nothing swallowed', async () => {
  const c = await Client.connect(server.port);
  try {
    // memcached computes the value length as a C int: 0xffffffff - 11 is negative, "Too large.".
    await c.send(R({ opcode: Op.SET, key: 'foo', extras: setExtras(0, 0), bodylen: 0xffffffff }, NOOP));
    const err = await readPacket(c);
    assert.equal(err.status, Status.E2BIG);
    assert.equal(err.value.toString(), 'Too large.');
    assert.equal((await readPacket(c)).opcode, Op.NOOP);
  } finally { c.end(); }
});

test('binary malformed: a 2 GB body is swallowed, not buffered, while other connections are served', async () => {
  const attackers: Client[] = [];
  try {
    for (const op of [Op.SET, Op.APPEND, Op.SASL_AUTH, 0x55]) {
      const c = await Client.connect(server.port);
      attackers.push(c);
      const extras = op === Op.SET ? setExtras(0, 0) : undefined;
      await c.send(R({ opcode: op, key: 'k', extras, bodylen: 0x7ffffff0 }));
      await c.send(Buffer.alloc(256 * 1024, 0x41)); // a part of the claimed body
    }
    await untilSwallowing(server.port, attackers.length);
    await assertServes(server.port);
    for (const c of attackers) {
      assert.ok(c.isOpen, 'a swallowing connection stays open');
      // memcached sends nothing from conn_swallow: the error waits for the end of the body (test/value-awaited.test.ts)
      assert.equal(c.pending().length, 0, 'its error is not sent before the body is swallowed');
    }
  } finally { for (const c of attackers) c.end(); }
  await assertServes(server.port);
});

/** Until `stats conns` shows n connections in conn_swallow: the server has read their headers. */
async function untilSwallowing(port: number, n: number): Promise<void> {
  const c = await Client.connect(port);
  try {
    for (let tries = 0; tries < 250; tries++) {
      await c.send('stats conns\r\n');
      if (((await c.readUntil('END\r\n')).toString().match(/:state conn_swallow\r\n/g)?.length ?? 0) >= n) return;
      await sleep(20);
    }
    assert.fail(`fewer than ${n} connections in conn_swallow`);
  } finally { c.end(); }
}

test('binary malformed: the largest key and extras a header can claim are waited for up to 16 KB, then hung up on', async () => {
  const c = await Client.connect(server.port);
  try {
    const bodylen = 65535 + 255;
    await c.send(R({ opcode: Op.GET, keylen: 65535, extlen: 255, bodylen }));
    await c.send(Buffer.alloc(16384 - 24 - 1, 0x42));
    await c.send(R(NOOP)); // 23 of its bytes complete the 16 KB, as part of the key
    await c.closed(); // with no reply: the differential cases above pin that against memcached
  } finally { c.end(); }
  await assertServes(server.port);
});

test('binary malformed: 400 random frames do not crash the server', async () => {
  const rand = prng(0xcac4a107);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const opcodes = [...Object.values(Op), 0x19, 0x1b, 0x30, 0x55, 0xff];
  for (let conn = 0; conn < 40; conn++) {
    const c = await Client.connect(server.port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 10; i++) {
      const keylen = pick([0, 1, 5, 250, 251, 65535]);
      const extlen = pick([0, 4, 8, 20, 255]);
      const natural = keylen + extlen + pick([0, 0, 3, 100]);
      const bodylen = pick([natural, natural, keylen, 0, 0x7fffffff, 0xffffffff, natural + 70000]);
      const head = binRequest({ opcode: pick(opcodes), keylen, extlen, bodylen, magic: rand() < 0.05 ? 0x81 : 0x80,
        cas: BigInt(Math.floor(rand() * 1000)) });
      frames.push(head, Buffer.alloc(Math.min(natural, 2000), Math.floor(rand() * 256)));
    }
    await c.send(Buffer.concat(frames)).catch(() => {}); // the server may already have hung up
    c.end();
  }
  await assertServes(server.port);
});
