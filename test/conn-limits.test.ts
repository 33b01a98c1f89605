// -o read_buf_mem_limit, as memcached 1.6's t/conn-limits.t exercises it, side by side with a real memcached:
// each worker may have limit / threads of 16 KB buffers out, for connections' unread input and for
// the response objects of replies not yet sent. Past it a multi-get answers SERVER_ERROR, stacked
// commands and connections with nothing left to read into are hung up on, and the counters say so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './support/client.ts';
import { differential } from './support/differential.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import { sleep, type Server, type ServerKind } from './support/server.ts';

const LIMITED = ['-t', '2', '-o', 'read_buf_mem_limit=1', '-R', '500'];
const keys = (n: number): string => Array(n).fill('foo').join(' ');
const stacked = (n: number, cmd: string): string => Array(n).fill(cmd).join('');

// 1 MB over 2 threads: 32 buffers each, one the connection's read buffer, 31 for response objects
// at 13 a buffer: 403. A get takes one per key, mg one per command; the sentinel (mn) one more.
differential('read_buf_mem_limit: response objects run out where memcached\'s do', [
  `get ${keys(403)}\r\n`,
  `get ${keys(404)}\r\n`, // the 404th key finds none: every unsent reply dropped, SERVER_ERROR instead
  `set a 0 0 1\r\nx\r\nget a\r\nget ${keys(500)}\r\nget a\r\n`, // a get's reply leaves at its END
  `${stacked(402, 'mg foo v\r\n')}`,
  'stats\r\n', // response_obj_oom
  `${stacked(403, 'mg foo v\r\n')}`, // with the sentinel, one command too many: hung up on, nothing sent
], { args: LIMITED });

/**
 * Connections that each stop in the middle of a set, holding a read buffer and their reply's object until
 * the value comes, and the objects of `misses` mg replies before it, which wait for the value too: which of
 * them the server hangs up on (false) and which it holds (true), with one thread and 1 MB (64 buffers).
 */
async function partialSets(kind: ServerKind, conns: number, misses = 0): Promise<{ held: boolean[]; stats: string }> {
  const server = await serverFor(kind, ['-t', '1', '-o', 'read_buf_mem_limit=1'], true);
  try {
    const clients: Client[] = [];
    const held: boolean[] = [];
    for (let i = 0; i < conns; i++) {
      const c = await Client.connect(server.port);
      clients.push(c);
      // END says the server read this connection's input; the set then waits for its value.
      await c.send(`get x\r\n${'mg x v\r\n'.repeat(misses)}set k${i} 0 0 2\r\n`);
      held.push(await c.readUntil('END\r\n').then(() => true, () => false));
    }
    for (const [i, c] of clients.entries()) {
      if (!held[i]) continue;
      await c.send('ab\r\n');
      const replies = `${'EN\r\n'.repeat(misses)}STORED\r\n`;
      assert.equal((await c.read(replies.length)).toString(), replies, `connection ${i} gets its replies once its value comes`);
    }
    for (const c of clients) c.end();
    const probe = await Client.connect(server.port); // the buffers came back: a new connection is served
    await probe.send('stats\r\n');
    const text = (await probe.readUntil('END\r\n')).toString();
    probe.end();
    const wanted = /^STAT (read_buf_oom|response_obj_oom|curr_items|total_items) /;
    return { held, stats: text.split('\r\n').filter((l) => wanted.test(l)).join('\n') };
  } finally { await server.stop(); }
}

test('read_buf_mem_limit: connections waiting for a value hold buffers until none is left, as memcached\'s',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const ours = await partialSets('cachalot', 70);
    const theirs = await partialSets('memcached', 70);
    assert.deepEqual(ours, theirs);
    // 59 read buffers and the 5 buffers of their 59 response objects fill the 64: the rest are hung up on
    assert.equal(ours.held.filter((h) => !h).length, 11);
    assert.match(ours.stats, /read_buf_oom 11/);
  });

test('read_buf_mem_limit: the replies a connection sends nothing of while its value arrives keep their objects, as memcached\'s',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const ours = await partialSets('cachalot', 70, 12);
    assert.deepEqual(ours, await partialSets('memcached', 70, 12));
    // each holds its read buffer and 13 objects, a bundle's worth: 32 of each fill the 64, the rest are hung up on
    assert.equal(ours.held.filter((h) => !h).length, 38);
  });

/** One thread and 1 MB (64 read buffers), with `big` set to a value of n bytes through the probe connection. */
async function limitedWithBig(kind: ServerKind, n: number): Promise<{ server: Server; probe: Client }> {
  const server = await serverFor(kind, ['-t', '1', '-o', 'read_buf_mem_limit=1'], true);
  const probe = await Client.connect(server.port);
  const value = 'v'.repeat(n);
  assert.equal((await probe.request(`set big 0 0 ${value.length}\r\n${value}\r\n`, 8)).toString(), 'STORED\r\n');
  return { server, probe };
}

/**
 * A crowd of clients that each pipeline two multi-gets of large values and never read, then a probe, with one
 * thread and 1 MB (64 buffers): the counters, how many connections the server keeps and how many of them wait for
 * their client to read (conn_mwrite), whether the probe is served, and what the last of the crowd is answered.
 */
async function nonReadingCrowd(kind: ServerKind, conns: number): Promise<Record<string, string>> {
  const { server, probe } = await limitedWithBig(kind, 1_000_000);
  const crowd: Client[] = [];
  try {
    const line = `get ${Array(100).fill('big').join(' ')}\r\n`; // 100 MB of reply: far more than socket buffers hold
    let lookups = '0';
    for (let i = 0; i < conns; i++) {
      const c = await Client.connect(server.port);
      crowd.push(c);
      c.pauseReading();
      await c.send(line + line);
      // the server has read this client's input once it has looked up one of its keys (served or refused)
      for (let tries = 0; tries < 250 && (await probe.stats()).get('cmd_get') === lookups; tries++) await sleep(20);
      lookups = (await probe.stats()).get('cmd_get') ?? '';
    }
    const served = (await probe.request('set ok 0 0 2\r\nhi\r\n', 8)).toString();
    const st = await probe.stats();
    await probe.send('stats conns\r\n');
    const table = (await probe.readUntil('END\r\n')).toString();
    const last = crowd[conns - 1];
    last.resumeReading();
    return {
      served, read_buf_oom: st.get('read_buf_oom') ?? '', response_obj_oom: st.get('response_obj_oom') ?? '',
      curr_connections: st.get('curr_connections') ?? '',
      in_mwrite: String(table.match(/:state conn_mwrite\r$/gm)?.length ?? 0),
      lastReply: (await last.readUntil('\r\n')).toString(),
    };
  } finally {
    for (const c of crowd) c.destroy();
    await server.stop();
  }
}

test('read_buf_mem_limit: clients that pipeline multi-gets and never read are refused the gets, not the connection, as memcached\'s',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const ours = await nonReadingCrowd('cachalot', 70);
    const theirs = await nonReadingCrowd('memcached', 70);
    assert.deepEqual(ours, theirs);
    // 70 connections, more than the thread has read buffers. The first 7 wait for their clients to read the first
    // get, each holding its read buffer (the second get is still to run) and the objects of the first get's 100
    // keys not yet sent (up to 8 buffers): 63 of the 64 at most. The 63 others find too few objects left for either
    // get, are answered SERVER_ERROR and hold nothing once that is out, so a read buffer is left for the probe,
    // and for each of them.
    assert.deepEqual(ours, {
      served: 'STORED\r\n', read_buf_oom: '0', response_obj_oom: String(63 * 2), curr_connections: String(70 + 1),
      in_mwrite: '7', lastReply: 'SERVER_ERROR out of memory writing get response\r\n',
    });
  });

/**
 * A crowd of clients that each pipeline 20 `mg` of a 50 KB value and never read, then a probe, with one thread and
 * 1 MB (64 buffers). The replies fit in the kernel's socket buffers, so no write waits; but 20 commands spend the
 * -R budget, and each connection yields with nothing left to read and waits in conn_new_cmd holding its read buffer
 * (memcached's yield). Once the buffers are all held, the rest find no response object for their batch.
 */
async function yieldedCrowd(kind: ServerKind): Promise<Record<string, string>> {
  const { server, probe } = await limitedWithBig(kind, 50_000);
  const crowd: Client[] = [];
  try {
    let gets = Number((await probe.stats()).get('get_hits'));
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const c = await Client.connect(server.port);
      crowd.push(c);
      c.pauseReading();
      await c.send('mg big v\r\n'.repeat(20));
      // the server has worked off this client's batch once its gets are counted, or it was refused
      for (let tries = 0; tries < 250; tries++) {
        const st = await probe.stats();
        if (Number(st.get('get_hits')) >= gets + 20 || Number(st.get('response_obj_oom')) > refused) {
          gets = Number(st.get('get_hits'));
          refused = Number(st.get('response_obj_oom'));
          break;
        }
        await sleep(20);
      }
    }
    const st = await probe.stats();
    await probe.send('stats conns\r\n');
    const table = (await probe.readUntil('END\r\n')).toString();
    return {
      response_obj_oom: st.get('response_obj_oom') ?? '', read_buf_oom: st.get('read_buf_oom') ?? '',
      curr_connections: st.get('curr_connections') ?? '',
      in_new_cmd: String(table.match(/:state conn_new_cmd\r$/gm)?.length ?? 0),
    };
  } finally {
    for (const c of crowd) c.destroy();
    await server.stop();
  }
}

test('read_buf_mem_limit: clients whose batches spend -R and never read hold their read buffers in conn_new_cmd, as memcached\'s',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const ours = await yieldedCrowd('cachalot');
    assert.deepEqual(ours, await yieldedCrowd('memcached'));
    // 62 connections hold a read buffer each, the probe one and the 64th goes to response objects: 38 refused
    assert.deepEqual(ours, { response_obj_oom: '38', read_buf_oom: '0', curr_connections: String(62 + 1), in_new_cmd: '62' });
  });

/** A get in each protocol: the request for a key, and the length of its reply for a value of n bytes. */
const GETS = {
  mg: { get: (key: string): Buffer => Buffer.from(`mg ${key} v\r\n`), replyLen: (n: number): number => `VA ${n}\r\n`.length + n + 2 },
  binary: { get: binaryGet, replyLen: (n: number): number => 24 + 4 + n }, // header, flags, value
};

/** A binary GET (opcode 0x00) of key. */
function binaryGet(key: string): Buffer {
  const header = Buffer.alloc(24);
  header[0] = 0x80;
  header.writeUInt16BE(key.length, 2);
  header.writeUInt32BE(key.length, 8);
  return Buffer.concat([header, Buffer.from(key)]);
}

/**
 * One thread and 1 MB (64 buffers): 58 connections each stop in the middle of a set (a read buffer and an object
 * each: 58 buffers and 5 bundles of 13, 7 objects left in them), then a client pipelines a get of a 600 KB value
 * and seven of a small one. memcached sends a batch's replies at its end (conn_mwrite), so the eight objects are
 * all out at once and the eighth finds none: the client is hung up on. Cachalot sends the first reply (past
 * 512 KB) as it grows; its object still counts until the batch is sent, or the eighth would find the one it
 * freed. What the client is sent differs (Cachalot's first reply is already out), so the counters and the
 * hang-up are compared.
 */
async function batchPastFlushAt(kind: ServerKind, proto: keyof typeof GETS): Promise<Record<string, string | boolean>> {
  const server = await serverFor(kind, ['-t', '1', '-o', 'read_buf_mem_limit=1'], true);
  const waiting: Client[] = [];
  const { get, replyLen } = GETS[proto];
  try {
    const probe = await Client.connect(server.port);
    const big = 'v'.repeat(600_000);
    assert.equal((await probe.request(`set big 0 0 ${big.length}\r\n${big}\r\nset s 0 0 1\r\nx\r\n`, 16)).toString(),
      'STORED\r\nSTORED\r\n');
    for (let i = 0; i < 58; i++) {
      const c = await Client.connect(server.port);
      waiting.push(c);
      await c.send(`get x\r\nset k${i} 0 0 2\r\n`);
      await c.readUntil('END\r\n'); // read, and waiting for its value
    }
    const client = await Client.connect(server.port);
    // replies it reads at once first, so that the kernel has grown the socket's buffer to take the big one whole
    for (let i = 0; i < 4; i++) await client.request(get('big'), replyLen(big.length));
    await client.send(Buffer.concat([get('big'), ...Array<Buffer>(7).fill(get('s'))]));
    const hungUp = await client.closed().then(() => true, () => false);
    client.destroy();
    const st = await probe.stats();
    return {
      hungUp, response_obj_oom: st.get('response_obj_oom') ?? '', read_buf_oom: st.get('read_buf_oom') ?? '',
      served: (await probe.request('set ok 0 0 2\r\nhi\r\n', 8)).toString(),
    };
  } finally {
    for (const c of waiting) c.destroy();
    await server.stop();
  }
}

test('read_buf_mem_limit: a reply sent early keeps its response object until memcached would have sent it',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    for (const proto of ['mg', 'binary'] as const) {
      const ours = await batchPastFlushAt('cachalot', proto);
      assert.deepEqual(ours, await batchPastFlushAt('memcached', proto), proto);
      assert.deepEqual(ours, { hungUp: true, response_obj_oom: '1', read_buf_oom: '0', served: 'STORED\r\n' }, proto);
    }
  });
