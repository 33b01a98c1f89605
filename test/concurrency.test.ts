// Many clients on several workers changing the same keys at once, through real sockets: every increment,
// append and compare-and-swap lands exactly once, as memcached's item locks make them. Run against Cachalot
// and, where installed, memcached (the same script must hold for both).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './support/client.ts';
import { kindsFor, serverFor } from './support/spec.ts';

const CLIENTS = 16;
const INCRS = 400; // per client, pipelined in batches
const BATCH = 50;
const APPENDS = 100; // per client
const CAS_WINS = 40; // per client

/** Send `line` n times in one write, then read n one-line replies. */
async function pipelined(c: Client, line: string, n: number): Promise<string[]> {
  await c.send(line.repeat(n));
  const replies: string[] = [];
  for (let i = 0; i < n; i++) replies.push(await c.readLine());
  return replies;
}

/** gets, then cas with what it returned, until the cas wins: a read-modify-write of a counter in its value. */
async function casIncrement(c: Client, key: string): Promise<number> {
  for (let losses = 0; ; losses++) {
    await c.send(`gets ${key}\r\n`);
    const header = /^VALUE \S+ \d+ \d+ (\d+)$/.exec(await c.readLine());
    assert.ok(header, 'gets found the counter');
    const value = Number(await c.readLine());
    assert.equal(await c.readLine(), 'END');
    const next = String(value + 1);
    await c.send(`cas ${key} 0 0 ${next.length} ${header[1]}\r\n${next}\r\n`);
    const reply = await c.readLine();
    if (reply === 'STORED') return losses;
    assert.equal(reply, 'EXISTS', 'a lost cas says EXISTS');
  }
}

for (const kind of kindsFor()) {
  test(`${CLIENTS} clients on four workers: every incr, append and cas on shared keys lands once [${kind}]`, async () => {
    const server = await serverFor(kind, ['-t', '4'], true);
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => Client.connect(server.port)));
    try {
      await clients[0].send('set n 0 0 1\r\n0\r\nset log 0 0 0\r\n\r\nset c 0 0 1\r\n0\r\n');
      for (let i = 0; i < 3; i++) assert.equal(await clients[0].readLine(), 'STORED');

      // incr: each of the CLIENTS x INCRS replies is a different number, 1 to CLIENTS x INCRS
      const counts = await Promise.all(clients.map(async (c) => {
        const got: number[] = [];
        for (let sent = 0; sent < INCRS; sent += BATCH) got.push(...(await pipelined(c, 'incr n 1\r\n', BATCH)).map(Number));
        return got;
      }));
      const all = counts.flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: CLIENTS * INCRS }, (_, i) => i + 1), 'no increment lost or seen twice');

      // append: every client's letter APPENDS times, none lost, the value exactly as long as all of them
      await Promise.all(clients.map(async (c, i) => {
        const letter = String.fromCharCode(0x61 + i);
        const replies = await pipelined(c, `append log 0 0 1\r\n${letter}\r\n`, APPENDS);
        assert.deepEqual(replies, Array<string>(APPENDS).fill('STORED'));
      }));
      await clients[0].send('get log\r\n');
      assert.equal(await clients[0].readLine(), `VALUE log 0 ${CLIENTS * APPENDS}`);
      const log = await clients[0].readLine();
      assert.equal(await clients[0].readLine(), 'END');
      for (let i = 0; i < CLIENTS; i++) {
        const letter = String.fromCharCode(0x61 + i);
        assert.equal(log.split(letter).length - 1, APPENDS, `client ${i}'s appends`);
      }

      // cas: read-modify-write races; every win counts once, so the counter ends at the number of wins
      const losses = await Promise.all(clients.map(async (c) => {
        let lost = 0;
        for (let i = 0; i < CAS_WINS; i++) lost += await casIncrement(c, 'c');
        return lost;
      }));
      await clients[0].send('get c\r\n');
      assert.equal(await clients[0].readLine(), `VALUE c 0 ${String(CLIENTS * CAS_WINS).length}`);
      assert.equal(await clients[0].readLine(), String(CLIENTS * CAS_WINS));
      assert.equal(await clients[0].readLine(), 'END');
      await clients[0].send('stats\r\n');
      const stats = (await clients[0].readUntil('END\r\n')).toString();
      const lost = losses.reduce((a, b) => a + b, 0);
      assert.match(stats, new RegExp(`^STAT cas_hits ${CLIENTS * CAS_WINS}\\r$`, 'm'));
      assert.match(stats, new RegExp(`^STAT cas_badval ${lost}\\r$`, 'm'), 'every lost cas counted as a bad value');
      assert.match(stats, new RegExp(`^STAT incr_hits ${CLIENTS * INCRS}\\r$`, 'm'));
    } finally {
      for (const c of clients) c.end();
      await server.stop();
    }
  });
}
