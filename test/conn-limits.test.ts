// -o read_buf_mem_limit, as memcached 1.6's t/conn-limits.t exercises it, side by side with a real memcached:
// each worker may have limit / threads of 16 KB buffers out, for connections' unread input and for
// the response objects of replies not yet sent. Past it a multi-get answers SERVER_ERROR, stacked
// commands and connections with nothing left to read into are hung up on, and the counters say so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './support/client.ts';
import { differential } from './support/differential.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import type { ServerKind } from './support/server.ts';

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
 * the value comes: which of them the server hangs up on (false) and which it holds (true), with one thread
 * and 1 MB (64 buffers).
 */
async function partialSets(kind: ServerKind, conns: number): Promise<{ held: boolean[]; stats: string }> {
  const server = await serverFor(kind, ['-t', '1', '-o', 'read_buf_mem_limit=1'], true);
  try {
    const clients: Client[] = [];
    const held: boolean[] = [];
    for (let i = 0; i < conns; i++) {
      const c = await Client.connect(server.port);
      clients.push(c);
      // END says the server read this connection's input; the set then waits for its value.
      await c.send(`get x\r\nset k${i} 0 0 2\r\n`);
      held.push(await c.readUntil('END\r\n').then(() => true, () => false));
    }
    for (const [i, c] of clients.entries()) {
      if (!held[i]) continue;
      await c.send('ab\r\n');
      assert.equal((await c.readUntil('\r\n')).toString(), 'STORED\r\n', `connection ${i} gets its reply once its value comes`);
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
