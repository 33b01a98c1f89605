// What a connection sends while it waits for the rest of a value: nothing. memcached's conn_nread and
// conn_swallow stop at a read that leaves the value unfinished without sending, so the replies queued since
// the last flush point (a text get's END, mn, a binary noop or error) go out only when the value is in,
// together with the store's own; a client that hangs up first never gets them. Side by side with memcached:
// hang-ups in the middle of a value in each protocol, over a unix socket and over TLS; a value that ends in a
// later read; the items and response objects those replies hold, let go once, whichever way they end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './support/client.ts';
import { differential, HANG_UP_SENTINEL, maskReply } from './support/differential.ts';
import { kindsFor, registerStopHook, serverFor } from './support/spec.ts';
import { connectWhenListening, sleep, startUnixServer } from './support/server.ts';
import { binRequest, setExtras, type BinRequest } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

registerStopHook();

/** One write, then the client's FIN: what the server sends before it hangs up is compared. */
const HALF_CLOSED = { sentinel: HANG_UP_SENTINEL, endWriting: true, fresh: false } as const;
const PARTIAL_SET = 'set p 0 0 100\r\nxx'; // 98 bytes of the value and its "\r\n" never come
const TOO_LARGE = 2_000_000; // past -I 1m: refused, and its bytes swallowed
const V100K = 'v'.repeat(100_000); // sent from its item, not copied
const V600K = 'w'.repeat(600_000); // past slab_chunk_max (512 KB): a chained item, sent a chunk at a time

const TEXT: Array<[string, string]> = [
  ['a reply before a set is not sent while its value arrives', `version\r\n${PARTIAL_SET}`],
  ['a get\'s END sent what came before it; what follows it waits', `set s 0 0 1\r\nx\r\nget s\r\nversion\r\n${PARTIAL_SET}`],
  ['a set refused as too large swallows its value, its refusal held with the replies before it',
    `version\r\nset big 0 0 ${TOO_LARGE}\r\nxx`],
  ['a value sent from its item at a get\'s END goes; the replies after it wait',
    `set v 0 0 ${V100K.length}\r\n${V100K}\r\nget v\r\nversion\r\n${PARTIAL_SET}`],
  ['... a chained one too', `set w 0 0 ${V600K.length}\r\n${V600K}\r\ngets w\r\nversion\r\n${PARTIAL_SET}`],
];
for (const [name, req] of TEXT) differential(`value awaited, text: ${name}`, [req], HALF_CLOSED);

const META: Array<[string, string]> = [
  ['an mg\'s reply (its item held) waits; mn sent what came before it', 'ms m 1 T0\r\nz\r\nmn\r\nmg m v\r\nms p 100\r\nxx'],
  ['an ms refused as too large swallows its value, its refusal held', `mn\r\nmg m v\r\nms big ${TOO_LARGE}\r\nxx`],
];
for (const [name, req] of META) differential(`value awaited, meta: ${name}`, [req], HALF_CLOSED);

const R = (...reqs: BinRequest[]): Buffer => Buffer.concat(reqs.map((r) => binRequest({ opaque: 9, ...r })));
const BSET: BinRequest = { opcode: Op.SET, key: 'b', extras: setExtras(0, 0), value: 'v' };
/** A Set whose body says 100 bytes of value and brings 2. */
const BSET_PARTIAL: BinRequest = { opcode: Op.SET, key: 'p', extras: setExtras(0, 0), value: 'xx', bodylen: 8 + 1 + 100 };
const BSET_TOO_LARGE: BinRequest = { ...BSET_PARTIAL, bodylen: 8 + 1 + TOO_LARGE };

const BINARY: Array<[string, Buffer]> = [
  ['a get\'s hit (its item held) waits', R(BSET, { opcode: Op.GET, key: 'b' }, BSET_PARTIAL)],
  ['a noop sent what came before it; what follows it waits', R(BSET, { opcode: Op.NOOP }, { opcode: Op.GETK, key: 'b' }, BSET_PARTIAL)],
  ['a set refused as too large (E2BIG) swallows its value, the error held with the replies before it',
    R(BSET, { opcode: Op.GET, key: 'b' }, BSET_TOO_LARGE)],
];
for (const [name, req] of BINARY) differential(`value awaited, binary: ${name}`, [req], HALF_CLOSED);

/** Until `stats conns` shows a connection in `state`: the server has read a client's request up to its value. */
async function untilState(probe: Client, state: string): Promise<void> {
  for (let tries = 0; tries < 250; tries++) {
    await probe.send('stats conns\r\n');
    if ((await probe.readUntil('END\r\n')).toString().includes(`:state ${state}\r\n`)) return;
    await sleep(20);
  }
  assert.fail(`no connection in ${state}`);
}

// One worker: the probe's replies leave after anything the server sent the client before them, so once the probe
// has seen the client in conn_nread (and is answered once more), whatever was sent to the client has arrived.
for (const kind of kindsFor()) {
  test(`value awaited: a value that ends in a later read sends the replies held for it first, then the store's [${kind}]`, async () => {
    const server = await serverFor(kind, ['-t', '1'], true);
    const probe = await Client.connect(server.port), c = await Client.connect(server.port);
    try {
      await c.send('set m 0 0 1\r\nz\r\nversion\r\nmg m v\r\nset p 0 0 100\r\nxx');
      await untilState(probe, 'conn_nread');
      assert.equal((await probe.request('mn\r\n', 4)).toString(), 'MN\r\n');
      assert.equal(c.pending().toString(), '', 'nothing is sent while the value arrives');
      await c.send('x'.repeat(50));
      await c.send(`${'x'.repeat(48)}\r\nversion\r\n`);
      const want = 'STORED\r\nVERSION 1.6.18\r\nVA 1\r\nz\r\nSTORED\r\nVERSION 1.6.18\r\n';
      assert.equal((await c.read(want.length)).toString(), want);
      // a swallow likewise: its refusal and the reply before it wait for the last of the refused bytes
      await c.send(`version\r\nset big 0 0 ${TOO_LARGE}\r\n${'y'.repeat(60_000)}`);
      await untilState(probe, 'conn_swallow');
      assert.equal((await probe.request('mn\r\n', 4)).toString(), 'MN\r\n');
      assert.equal(c.pending().toString(), '', 'nothing is sent while the refused value arrives');
      await c.send(`${'y'.repeat(TOO_LARGE - 60_000)}\r\nversion\r\n`);
      const swallowed = 'VERSION 1.6.18\r\nSERVER_ERROR object too large for cache\r\nVERSION 1.6.18\r\n';
      assert.equal((await c.read(swallowed.length)).toString(), swallowed);
    } finally {
      probe.end();
      c.end();
      await server.stop();
    }
  });
}

/** used_chunks summed over every slab class: memory held by items, linked or only referenced. */
async function usedChunks(probe: Client): Promise<number> {
  await probe.send('stats slabs\r\n');
  const text = (await probe.readUntil('END\r\n')).toString();
  let n = 0;
  for (const m of text.matchAll(/^STAT \d+:used_chunks (\d+)\r$/gm)) n += Number(m[1]);
  return n;
}

const ENDINGS = ['its value comes', 'the client half-closes', 'the client resets'] as const;

// Two workers: the client's connection is the second, so it runs on the other worker than the probe, and
// nothing the probe does lets go of what the client's connection holds.
for (const kind of kindsFor()) {
  test(`value awaited: the items of replies held for a value are let go once, however it ends [${kind}]`, async () => {
    for (const ending of ENDINGS) {
      const server = await serverFor(kind, ['-t', '2'], true);
      const probe = await Client.connect(server.port);
      try {
        assert.equal((await probe.request('set m1 0 0 1\r\na\r\nset m2 0 0 1\r\nb\r\n', 16)).toString(), 'STORED\r\nSTORED\r\n');
        const connections = (await probe.stats()).get('curr_connections');
        const c = await Client.connect(server.port);
        await c.send('mg m1 v\r\nmg m2 v\r\nset p 0 0 100\r\nxx');
        await untilState(probe, 'conn_nread');
        if (ending === 'its value comes') {
          await c.send(`${'x'.repeat(98)}\r\n`);
          const want = 'VA 1\r\na\r\nVA 1\r\nb\r\nSTORED\r\n';
          assert.equal((await c.read(want.length)).toString(), want);
          c.end();
        } else if (ending === 'the client half-closes') {
          c.endWriting();
          await c.closed();
        } else c.destroy();
        for (let i = 0; i < 250 && (await probe.stats()).get('curr_connections') !== connections; i++) await sleep(20);
        assert.equal(await usedChunks(probe), ending === 'its value comes' ? 3 : 2, `${ending}: no item let go twice`);
        const keys = ending === 'its value comes' ? ['m1', 'm2', 'p'] : ['m1', 'm2'];
        for (const k of keys) assert.equal((await probe.request(`delete ${k}\r\n`, 9)).toString(), 'DELETED\r\n');
        let used = await usedChunks(probe);
        for (let i = 0; i < 250 && used !== 0; i++) { await sleep(20); used = await usedChunks(probe); }
        assert.equal(used, 0, `${ending}: every item freed once nothing refers to it`);
      } finally {
        probe.end();
        await server.stop();
      }
    }
  });
}

/** What a client gets for one write and its FIN: everything until the server hangs up. */
async function halfClosed(c: Client, req: string): Promise<string> {
  await c.send(req);
  c.endWriting();
  return c.readUntil('\0never sent\0').then(() => 'no hang-up', () => c.pending().toString('latin1'));
}

const HALF_CLOSED_REQ = `set s 0 0 1\r\nx\r\nget s\r\nversion\r\nmg s v\r\n${PARTIAL_SET}`;

test('value awaited: over a unix socket a hang-up in mid-value loses what memcached\'s loses', async () => {
  const got: string[] = [];
  for (const kind of kindsFor()) {
    const server = await startUnixServer(kind);
    try {
      got.push(await halfClosed(await connectWhenListening(server.path), HALF_CLOSED_REQ));
    } finally {
      await server.stop();
    }
  }
  for (const g of got) assert.equal(maskReply(Buffer.from(g, 'latin1')).toString('latin1'), 'STORED\r\nVALUE s 0 1\r\nx\r\nEND\r\n');
});

