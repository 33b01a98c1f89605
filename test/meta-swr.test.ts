// Stale-while-revalidate and anti-dogpiling as a client library drives them, with several clients
// at once, against Cachalot and the real memcached: one client wins the right to recache (W) and
// writes back with the CAS it was given; the others keep serving the stale value (X) and see that
// the win is taken (Z). CAS values are read from the replies, as a client would.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Client } from './support/client.ts';
import { kindsFor } from './support/spec.ts';
import { startServer, type Server } from './support/server.ts';

type Reply = { code: string; flags: Map<string, string>; value: string | null };

/** One meta request, its reply parsed: code, flags (first letter -> rest), value for VA. */
async function meta(c: Client, line: string, data?: string): Promise<Reply> {
  await c.send(line + '\r\n' + (data !== undefined ? data + '\r\n' : ''));
  const words = (await c.readLine()).split(' ');
  const code = words[0];
  let value: string | null = null;
  let rest = words.slice(1);
  if (code === 'VA') {
    const n = Number(words[1]);
    value = (await c.read(n + 2)).subarray(0, n).toString('latin1');
    rest = words.slice(2);
  }
  return { code, flags: new Map(rest.map((w) => [w[0], w.slice(1)])), value };
}

const has = (r: Reply, f: string): boolean => r.flags.has(f);

for (const kind of kindsFor()) {
  test(`meta: stale-while-revalidate, end to end [${kind}]`, async () => {
    const server: Server = await startServer(kind);
    after(() => server.stop());
    const [a, b, c] = await Promise.all([Client.connect(server.port), Client.connect(server.port), Client.connect(server.port)]);
    try {
      await invalidateAndRecache(a, b, c);
      await lateStaleWriter(a, b, c);
      await vivifyOnMiss(a, b);
      await earlyRecache(a, b);
    } finally { a.end(); b.end(); c.end(); }
  });
}

/** md I marks the value stale; the first reader wins and recaches; the others serve the stale value. */
async function invalidateAndRecache(a: Client, b: Client, c: Client): Promise<void> {
  assert.equal((await meta(a, 'ms swr 3 T100', 'old')).code, 'HD');
  assert.equal((await meta(a, 'md swr I T30')).code, 'HD');
  const win = await meta(b, 'mg swr v c');
  assert.equal(win.value, 'old');
  assert.ok(has(win, 'X') && has(win, 'W') && !has(win, 'Z'), 'the first reader sees stale and wins');
  const lose = await meta(c, 'mg swr v c');
  assert.equal(lose.value, 'old', 'a loser keeps serving the stale value');
  assert.ok(has(lose, 'X') && has(lose, 'Z') && !has(lose, 'W'), 'later readers see the win taken');
  const stored = await meta(b, `ms swr 3 T100 c C${win.flags.get('c')}`, 'new');
  assert.equal(stored.code, 'HD', 'the winner writes back with its CAS');
  const fresh = await meta(c, 'mg swr v c');
  assert.equal(fresh.value, 'new');
  assert.equal(fresh.flags.get('c'), stored.flags.get('c'));
  assert.ok(!has(fresh, 'X') && !has(fresh, 'W') && !has(fresh, 'Z'), 'the recached value is fresh');
}

/** A writer holding a CAS from before the invalidation may still store with I, but only as stale. */
async function lateStaleWriter(a: Client, b: Client, c: Client): Promise<void> {
  const before = await meta(a, 'mg swr c');
  assert.equal((await meta(a, 'md swr I')).code, 'HD');
  const win = await meta(b, 'mg swr c v');
  assert.ok(has(win, 'W'));
  assert.ok(Number(win.flags.get('c')) > Number(before.flags.get('c')), 'invalidation gave a new CAS');
  const late = await meta(c, `ms swr 4 I C${before.flags.get('c')}`, 'late');
  assert.equal(late.code, 'HD');
  const seen = await meta(a, 'mg swr v');
  assert.equal(seen.value, 'late');
  assert.ok(has(seen, 'X') && has(seen, 'Z') && !has(seen, 'W'), 'still stale, and the win stays taken');
  assert.equal((await meta(c, `ms swr 4 C${before.flags.get('c')}`, 'lost')).code, 'EX', 'without I an old CAS fails');
}

/** N on a miss: one client gets an empty placeholder and the win; the others wait for its value. */
async function vivifyOnMiss(a: Client, b: Client): Promise<void> {
  const win = await meta(a, 'mg dog N30 v c');
  assert.equal(win.value, '');
  assert.ok(has(win, 'W'));
  const lose = await meta(b, 'mg dog N30 v c');
  assert.ok(has(lose, 'Z') && !has(lose, 'W'));
  assert.equal((await meta(a, `ms dog 5 T60 C${win.flags.get('c')}`, 'value')).code, 'HD');
  const got = await meta(b, 'mg dog N30 v');
  assert.equal(got.value, 'value');
  assert.equal(got.flags.size, 0);
}

/** R: recache before expiry; one winner per item, and a new item can be won again. */
async function earlyRecache(a: Client, b: Client): Promise<void> {
  assert.equal((await meta(a, 'ms hot 1 T100', '1')).code, 'HD');
  assert.ok(!has(await meta(a, 'mg hot R10 v'), 'W'), 'plenty of TTL left: no win');
  const win = await meta(a, 'mg hot R1000 v c');
  assert.ok(has(win, 'W'));
  assert.ok(has(await meta(b, 'mg hot R1000 v'), 'Z'));
  assert.equal((await meta(a, `ms hot 1 T100 C${win.flags.get('c')}`, '2')).code, 'HD');
  const again = await meta(b, 'mg hot R1000 v');
  assert.equal(again.value, '2');
  assert.ok(has(again, 'W') && !has(again, 'Z'), 'the new item is won again');
}
