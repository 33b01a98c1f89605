// The harness proven against the oracle: spec() and differential() run memcached against
// itself, and each must also be able to fail (a wrong expectation, a real difference).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Client } from './support/client.ts';
import { againWhileStaleScan, compareRuns, differential, firstDifference, maskReply, runScript } from './support/differential.ts';
import { memcachedAvailable, startServer, type Server } from './support/server.ts';
import { runSpec, spec } from './support/spec.ts';

const noMemcached = memcachedAvailable() === null ? 'memcached is not installed' : false;

spec('selftest: set then get returns the value', [
  ['set k 5 0 3\r\nabc\r\n', 'STORED\r\n'],
  ['get k\r\n', 'VALUE k 5 3\r\nabc\r\nEND\r\n'],
  ['delete k\r\n', 'DELETED\r\n'],
  ['get k\r\n', 'END\r\n'],
], { against: ['memcached'] });

spec('selftest: a shared server is flushed between specs', [
  ['get k\r\n', 'END\r\n'],
], { against: ['memcached'] });

spec('selftest: quit closes the connection', [
  ['set q 0 0 1\r\nx\r\n', 'STORED\r\n'],
  ['quit\r\n', ''],
], { against: ['memcached'], closes: true });

spec('selftest: a fresh server with args (-C: no CAS)', [
  ['set k 0 0 1\r\nx\r\n', 'STORED\r\n'],
  ['gets k\r\n', 'VALUE k 0 1 0\r\nx\r\nEND\r\n'],
], { against: ['memcached'], args: ['-C'], fresh: true });

differential('selftest: memcached agrees with itself', [
  'set a 1 0 2\r\nhi\r\n', 'gets a\r\n', 'append a 0 0 1\r\n!\r\n', 'get a b\r\n',
  'incr n 1\r\n', 'set n 0 0 1\r\n9\r\n', 'incr n 1\r\n', 'mg a v c\r\n', 'stats\r\n',
  'stats settings\r\n',
  'bogus\r\n', 'quit\r\n', 'get a\r\n',
], { servers: ['memcached', 'memcached'] });

test('selftest: a wrong expectation fails, naming the step and the bytes', { skip: noMemcached }, async () => {
  const server = await startServer('memcached');
  after(() => server.stop());
  await assert.rejects(
    runSpec(server, [['set k 0 0 1\r\nx\r\n', 'STORED\r\n'], ['get k\r\n', 'VALUE k 0 1\r\ny\r\nEND\r\n']]),
    /step 2[\s\S]*want: "VALUE k 0 1\\r\\ny\\r\\nEND\\r\\n"[\s\S]*got:  "VALUE k 0 1\\r\\nx\\r\\nEND\\r\\n"/,
  );
  // Stray bytes after the last step are caught too.
  await assert.rejects(runSpec(server, [['get k\r\n', 'END\r\n'], ['version\r\n', '']]), /extra reply bytes "VERSION/);
});

test('selftest: a real difference between two servers is reported', { skip: noMemcached }, async () => {
  const a: Server = await startServer('memcached');
  const b: Server = await startServer('memcached', ['-C']);
  after(async () => { await a.stop(); await b.stop(); });
  const script = ['set k 0 0 1\r\nx\r\n', 'gets k\r\n', 'mg k c v\r\n'];
  const ra = (await runScript(a.port, script)).map(maskReply);
  const rb = (await runScript(b.port, script)).map(maskReply);
  assert.equal(firstDifference(script, ra, rb, ['a', 'b']), null, 'the CAS value itself is masked');
  const settings = ['stats settings\r\n'];
  const diff = firstDifference(settings, await runScript(a.port, settings), await runScript(b.port, settings), ['a', 'b']);
  assert.match(diff ?? '', /request 1[\s\S]*STAT cas_enabled yes[\s\S]*STAT cas_enabled no/);
  assert.ok((diff ?? '').length < 2000, 'the report shows a window, not the whole reply');
});

// memcached's scan past a big counter meets the dashes an earlier item left in the chunk on every run: a refusal it
// makes every time stays a difference, after three more runs of memcached.
test('selftest: memcached refusing a counter we count is run again, and fails when it refuses every time', { skip: noMemcached }, async () => {
  const script = [`set a 0 0 90\r\n${'-'.repeat(90)}\r\n`, 'delete a\r\n', `set b 0 0 63\r\n9223372036854775808${' '.repeat(44)}\r\n`,
    'incr b 1\r\n'];
  const notes: string[] = [];
  const diff = await compareRuns(script, (port) => runScript(port, script), {}, (line) => notes.push(line));
  assert.match(diff ?? '', /request 4[\s\S]*cachalot: "9223372036854775809[\s\S]*memcached: "CLIENT_ERROR cannot increment or decrement non-numeric value/);
  assert.deepEqual(notes.map((n) => n.replace(/.* run /, 'run ')), ['run 2', 'run 3', 'run 4']);
});

test('selftest: only memcached refusing more counters than we do is run again', async () => {
  const refused = 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n';
  let reruns = 0;
  const rerun = async (): Promise<string[]> => { reruns++; return ['STORED\r\n', '6\r\n']; };
  assert.deepEqual(await againWhileStaleScan(['STORED\r\n', '6\r\n'], ['STORED\r\n', refused], rerun, () => {}), ['STORED\r\n', '6\r\n']);
  assert.equal(reruns, 1, 'a refusal of its own: run again, and the next run agrees');
  for (const [ours, theirs] of [[refused, refused], [refused, '6\r\n'], ['6\r\n', '7\r\n'], ['6\r\n', 'NOT_FOUND\r\n']]) {
    assert.deepEqual(await againWhileStaleScan([ours], [theirs], rerun, () => {}), [theirs], `${ours} against ${theirs}`);
  }
  assert.equal(reruns, 1, 'any other difference, or the same refusal on both, is not run again');
  assert.deepEqual(await againWhileStaleScan(['6\r\n'], [refused], null, () => {}), [refused], 'no fresh server to run: as it was');
});

test('selftest: masking hides CAS and process stats only', () => {
  const r = Buffer.from('VALUE k 0 1 77\r\nx\r\nEND\r\nSTAT pid 12\r\nSTAT curr_items 3\r\nHD c99 t-1\r\n');
  assert.equal(maskReply(r).toString(), 'VALUE k 0 1 <cas>\r\nx\r\nEND\r\nSTAT pid <masked>\r\nSTAT curr_items 3\r\nHD c<cas> t-1\r\n');
  const bin = Buffer.alloc(24); bin[0] = 0x81; bin[23] = 5;
  assert.equal(maskReply(bin)[23], 0);
});

test('selftest: client reads lines and exact bytes, sees a hang-up; stop() ends the process', { skip: noMemcached }, async () => {
  const server = await startServer('memcached');
  const c = await Client.connect(server.port);
  await c.send('version\r\nversion\r\n');
  assert.match(await c.readLine(), /^VERSION \d/);
  assert.equal((await c.read(8)).toString(), 'VERSION ');
  assert.match((await c.readUntil('\r\n')).toString(), /^\d[^\r]*\r\n$/);
  await c.send('quit\r\n');
  await c.closed();
  assert.equal(c.isOpen, false);
  await assert.rejects(c.read(1), /connection closed while waiting for 1 bytes/);
  c.end();
  await server.stop();
  assert.equal(await server.exited, 0);
  assert.throws(() => process.kill(server.pid, 0), /ESRCH/);
});

test('selftest: a server that cannot start is reported with its stderr', { skip: noMemcached }, async () => {
  await assert.rejects(startServer('memcached', ['-t', '0']), /did not start[\s\S]*Number of threads must be greater than 0/);
});
