// The server's thread model and connection handling, seen from outside: the dispatcher hands
// connections round-robin to workers that share one store; -c, idle timeouts, pipelining,
// clients that never read, the unix socket, start-up and shutdown.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, existsSync, openSync, readdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Client } from './support/client.ts';
import { kindsFor, registerStopHook, serverFor } from './support/spec.ts';
import { connect, createServer, type AddressInfo } from 'node:net';
import { commandFor, connectWhenListening, freePort, memcachedAvailable, startServer, startUnixServer, sleep, withTunables, NODE_BIN, REPO_ROOT, type Server, type ServerKind } from './support/server.ts';
import { serverNodeArgs } from '../src/boot/command.ts';
import { binRequest } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

const servers: Server[] = [];
const isRoot = process.getuid?.() === 0;
after(async () => { for (const s of servers) await s.stop(); });

async function cachalot(args: string[] = [], env?: Record<string, string>): Promise<Server> {
  const s = await startServer('cachalot', args, { env });
  servers.push(s);
  return s;
}

test('a value set through one worker is read at once through every other', async () => {
  const s = await cachalot(['-t', '4']);
  const clients = await Promise.all([0, 1, 2, 3].map(() => Client.connect(s.port)));
  for (const [i, writer] of clients.entries()) {
    assert.equal((await writer.request(`set shared 0 0 1\r\n${i}\r\n`, 8)).toString(), 'STORED\r\n');
    const want = `VALUE shared 0 1\r\n${i}\r\nEND\r\n`;
    for (const reader of clients) {
      assert.equal((await reader.request('get shared\r\n', want.length)).toString(), want);
    }
  }
  for (const c of clients) c.end();
});

test('connections are handed to the workers round-robin', async () => {
  const s = await cachalot(['-t', '4']);
  const clients: Client[] = [];
  for (let i = 0; i < 8; i++) {
    const c = await Client.connect(s.port);
    assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
    clients.push(c);
  }
  const threads = await Client.statsOf(s.port, 'threads'); // the 9th connection: worker 1 again
  assert.deepEqual([1, 2, 3, 4].map((t) => threads.get(`thread:${t}:total_connections`)), ['3', '2', '2', '2']);
  for (const c of clients) c.end();
});

// memcached's -c is its RLIMIT_NOFILE, and it refuses a client whose descriptor is -c - 1 or more: its own
// descriptors count (three, four a worker thread, its listeners), and while it listens the port file's is open,
// below the listener's, so that the first client gets it. With -t 2 the first client's descriptor is 14, the
// listener's 15, the next clients' 16 and up: -c 19 serves three, the fourth (18) is refused.
for (const kind of kindsFor()) {
  test(`-c: a client whose descriptor is -c - 1 or more gets memcached's error and is closed; once one closes, the next is served [${kind}]`, async () => {
    const s = await startServer(kind, ['-c', '19', '-t', '2']);
    servers.push(s);
    const held = await Promise.all([0, 1, 2].map(() => Client.connect(s.port)));
    for (const c of held) assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
    const over = await Client.connect(s.port);
    assert.equal((await over.readUntil('\r\n')).toString(), 'ERROR Too many open connections\r\n');
    await over.closed();
    const before = (await held[1].stats()).get('curr_connections');
    held[0].end();
    await held[0].closed();
    // The client sees the hang-up a moment before the worker counts it: until then a new client would be the one
    // too many, so the count is watched from a connection already in.
    let st = await held[1].stats();
    for (let i = 0; i < 250 && st.get('curr_connections') === before; i++) { await sleep(20); st = await held[1].stats(); }
    assert.equal(Number(st.get('curr_connections')), Number(before) - 1, 'the close is counted');
    assert.equal(st.get('rejected_connections'), '1');
    const again = await Client.connect(s.port);
    assert.equal((await again.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n', 'and a client within -c is served');
    again.end();
    for (const c of held.slice(1)) c.end();
  });

  test(`-c: a refused connection is closed, as memcached closes its fd: refusals hold no descriptors, and a client within -c is served after them [${kind}]`, async () => {
    const s = await startServer(kind, ['-c', '18', '-t', '2']); // two clients (descriptors 14 and 16), 17 refused
    servers.push(s);
    const fds = (): number => readdirSync(`/proc/${s.pid}/fd`).length;
    const held = await Promise.all([0, 1].map(() => Client.connect(s.port)));
    for (const c of held) assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
    const before = fds();
    for (let i = 0; i < 40; i++) {
      const over = await Client.connect(s.port);
      assert.equal((await over.readUntil('\r\n')).toString(), 'ERROR Too many open connections\r\n');
      await over.closed(); // the server hung up
    }
    for (let i = 0; i < 100 && fds() > before; i++) await sleep(20); // the last close may trail the hang-up a moment
    assert.ok(fds() <= before, `${fds()} descriptors after 40 refusals, ${before} before`);
    held[0].end();
    await held[0].closed();
    let served = '';
    for (let i = 0; i < 50 && served === ''; i++) { // once the worker has counted the close
      const c = await Client.connect(s.port);
      const reply = (await c.request('version\r\n', 16).catch(() => Buffer.alloc(0))).toString();
      if (reply === 'VERSION 1.6.18\r\n') served = reply; else await sleep(20);
      c.end();
    }
    assert.equal(served, 'VERSION 1.6.18\r\n');
    held[1].end();
  });
}

// memcached refuses a client over -c with a write() and a close(), no shutdown between: bytes the client sent that
// it never read make the close a reset; without any, an end of stream. The server is stopped while the client
// connects and writes, so that its bytes are there when it accepts, on both servers alike.
for (const kind of kindsFor()) {
  test(`-c: a refused client's unread bytes make the hang-up a reset, and without any an end of stream [${kind}]`, async () => {
    const s = await startServer(kind, ['-c', '20', '-t', '1']);
    const held: Client[] = [];
    try {
      for (let i = 0; i < 40; i++) { // memcached counts its own descriptors against -c: fill until one is refused
        const c = await Client.connect(s.port);
        if (await answeredWithin(c, REFUSAL.length, 200)) { await c.closed(); break; }
        held.push(c);
      }
      const refusedWhile = async (data: string): Promise<string> => {
        process.kill(s.pid, 'SIGSTOP'); // the connection waits in the kernel's accept queue, its bytes with it
        const socket = connect(s.port, '127.0.0.1');
        try {
          await new Promise((resolve) => socket.once('connect', resolve));
          if (data !== '') socket.write(data);
          await sleep(100);
        } finally { process.kill(s.pid, 'SIGCONT'); }
        let got = '';
        socket.on('data', (d: Buffer) => { got += d.toString(); });
        const how = await new Promise<string>((resolve) => {
          socket.once('end', () => resolve('end'));
          socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        });
        socket.destroy();
        return `${JSON.stringify(got)} ${how}`;
      };
      assert.equal(await refusedWhile('version\r\n'), `${JSON.stringify(REFUSAL)} ECONNRESET`);
      assert.equal(await refusedWhile(''), `${JSON.stringify(REFUSAL)} end`);
    } finally {
      for (const c of held) c.end();
      await s.stop();
    }
  });
}
const REFUSAL = 'ERROR Too many open connections\r\n';

/** Whether `c` has `n` bytes of answer within `ms` (a client the server does not serve yet has none). */
async function answeredWithin(c: Client, n: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms && c.pending().length < n;) {
    const step = waited < 50 ? 2 : 20; // a served client's answer takes a millisecond or so
    await sleep(step);
    waited += step;
  }
  return c.pending().length >= n;
}

/**
 * Clients that connect and send `version` until one is not answered: the server is out of descriptors (memcached's
 * accept fails with EMFILE, and accepting_conns says so), and the clients served so far.
 */
async function fillUntilUnanswered(target: number | string, bound: number): Promise<{ served: Client[]; waiting: Client }> {
  const served: Client[] = [];
  for (let i = 0; i < bound; i++) {
    const c = await Client.connect(target); // never refused: past the limit it connects and waits
    await c.send('version\r\n');
    // a slow answer is only slow while the server still accepts
    if (!(await answeredWithin(c, 16, 400)) && served.length > 0 && !(await accepting(served[0]))) return { served, waiting: c };
    assert.equal((await c.read(16)).toString(), 'VERSION 1.6.18\r\n'); // a connection that is served is served right
    served.push(c);
  }
  assert.fail(`all ${bound} clients were served`);
}

/** accepting_conns, asked through a client already in. */
async function accepting(c: Client): Promise<boolean> { return (await c.stats()).get('accepting_conns') === '1'; }

/**
 * The stats once the server accepts again: both servers look every 10 ms (maxconns_handler), so a client may be
 * served, and others close, a moment before they do.
 */
async function acceptingAgain(c: Client): Promise<Map<string, string>> {
  let st = await c.stats();
  for (let i = 0; i < 100 && st.get('accepting_conns') !== '1'; i++) { await sleep(20); st = await c.stats(); }
  return st;
}

/** A connect that is not refused within `ms` (it waits in the kernel's queue, or for it): ok; settle drops it. */
async function connectNotRefused(port: number, ms: number): Promise<{ ok: boolean; settle: () => void }> {
  let refused = false;
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => { refused = true; });
  await sleep(ms);
  return { ok: !refused, settle: () => socket.destroy() };
}

// Without maxconns_fast memcached's accept fails (EMFILE) once its next descriptor would be -c: with -t 1 and the
// port file open while it listens, the clients get 10 (the port file's, closed), 12, 13, 14 and 15, and the sixth
// waits.
for (const kind of kindsFor()) {
  test(`-o no_maxconns_fast: out of descriptors, the next client waits unanswered in the listen queue, served once connections close [${kind}]`, async () => {
    const s = await startServer(kind, ['-c', '16', '-t', '1', '-o', 'no_maxconns_fast', '-v']);
    servers.push(s);
    const { served, waiting } = await fillUntilUnanswered(s.port, 20);
    assert.equal(served.length, 5);
    assert.ok(waiting.isOpen, 'no error line, no close');
    const later = await connectNotRefused(s.port, 300); // memcached's listen(fd, 0): its SYN waits, or is dropped
    assert.ok(later.ok, 'a later client is not refused either');
    later.settle(); // (gone before the server accepts again, so it cannot fill the server again)
    assert.equal(waiting.pending().length, 0);
    for (const c of served) c.end();
    assert.equal((await waiting.read(16)).toString(), 'VERSION 1.6.18\r\n', 'served once connections closed');
    const st = await acceptingAgain(waiting);
    assert.deepEqual([st.get('listen_disabled_num'), st.get('accepting_conns'), st.get('rejected_connections')], ['1', '1', undefined]);
    assert.ok(Number(st.get('time_in_listen_disabled_us')) > 0, 'the time full is counted');
    assert.equal(s.stderr(), 'accept4(): Too many open files\nToo many open connections\n', 'perror, then -v\'s line');
    assert.equal((await waiting.request('stats reset\r\n', 7)).toString(), 'RESET\r\n');
    const reset = await waiting.stats(); // memcached's stats_reset clears its whole struct stats
    assert.deepEqual([reset.get('listen_disabled_num'), reset.get('time_in_listen_disabled_us')], ['0', '0']);
    waiting.end();
  });
}

test('-o idle_timeout closes an idle connection and says so at -vv as memcached does (idle_kicks: text-stats.test.ts)', async () => {
  const s = await cachalot(['-o', 'idle_timeout=5', '-vv'], { CACHALOT_DEBUG_TIME: '1' });
  const idle = await Client.connect(s.port);
  assert.equal((await idle.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
  const clockMover = await Client.connect(s.port);
  assert.equal((await clockMover.request('debugtime 10\r\n', 4)).toString(), 'OK\r\n');
  await idle.closed(); // the worker's once-a-second idle check hangs up on it
  for (let i = 0; i < 200 && !/^Closing idle fd \d+$/m.test(s.stderr()); i++) await sleep(10); // the line is written
  assert.match(s.stderr(), /^Closing idle fd \d+$/m);
  clockMover.end();
});

test('-vvv adds why a connection was closed, on a line of its own; memcached\'s closing line stays as it is', async () => {
  const s = await cachalot(['-vvv']);
  const c = await Client.connect(s.port);
  await c.send('version\r\nquit\r\n');
  await c.closed();
  for (let i = 0; i < 200 && !/connection closed\./.test(s.stderr()); i++) await sleep(10); // the lines are written
  const id = /^<(\d+) new auto-negotiating client connection$/m.exec(s.stderr())?.[1];
  assert.ok(id !== undefined, s.stderr());
  assert.match(s.stderr(), new RegExp(`^${id}: closing: quit\\n<${id} connection closed\\.\\n`, 'm'));
});

test('hundreds of pipelined commands in one write, and split at every byte boundary', async () => {
  const s = await cachalot(['-t', '4', '-R', '5']);
  let req = '';
  let want = '';
  for (let i = 0; i < 300; i++) {
    req += `set p${i} ${i} 0 ${String(i).length}\r\n${i}\r\n`;
    want += 'STORED\r\n';
    req += `get p${i} nope\r\n`;
    want += `VALUE p${i} ${i} ${String(i).length}\r\n${i}\r\nEND\r\n`;
    if (i % 7 === 0) { req += `incr p${i} 1\r\n`; want += `${i + 1}\r\n`; req += `delete p${i}\r\n`; want += 'DELETED\r\n'; }
  }
  const whole = await Client.connect(s.port);
  await whole.send(req);
  assert.equal((await whole.read(Buffer.byteLength(want))).toString(), want);
  whole.end();
  // The same bytes cut at every position of a sample of command lines, written in two pieces.
  const small = 'set sb 0 0 5\r\nhello\r\nget sb\r\ndelete sb\r\n';
  const smallWant = 'STORED\r\nVALUE sb 0 5\r\nhello\r\nEND\r\nDELETED\r\n';
  const c = await Client.connect(s.port);
  for (let cut = 1; cut < small.length; cut++) {
    await c.send(small.slice(0, cut));
    await sleep(1);
    await c.send(small.slice(cut));
    assert.equal((await c.read(smallWant.length)).toString(), smallWant, `cut at ${cut}`);
  }
  c.end();
  const st = await Client.statsOf(s.port);
  assert.ok(Number(st.get('conn_yields')) > 0, 'a 300-command write yields under -R 5');
});

test('a client that never reads its replies does not stop the server or grow it without bound', async () => {
  const s = await cachalot(['-t', '2']);
  const setup = await Client.connect(s.port);
  assert.equal((await setup.request(`set big 0 0 100000\r\n${'v'.repeat(100000)}\r\n`, 8)).toString(), 'STORED\r\n');
  const greedy = await Client.connect(s.port);
  greedy.pauseReading();
  const burst = 'get big\r\n'.repeat(2000); // ~200 MB of replies if all were buffered
  for (let i = 0; i < 20; i++) await greedy.send(burst);
  // Others are still served while the greedy client's replies wait.
  const other = await Client.connect(s.port);
  assert.equal((await other.request('set ok 0 0 2\r\nhi\r\n', 8)).toString(), 'STORED\r\n');
  const want = 'VALUE ok 0 2\r\nhi\r\nEND\r\n';
  assert.equal((await other.request('get ok\r\n', want.length)).toString(), want);
  const rss = await rssOf(s.pid);
  assert.ok(rss < 400 * 1024 * 1024, `server RSS ${rss} stays bounded`);
  greedy.destroy();
  other.end();
  setup.end();
});

test('a client that stops reading is parked in conn_mwrite, then gets every reply in order once it reads', async () => {
  const s = await cachalot(['-t', '2']);
  const setup = await Client.connect(s.port);
  const value = 'v'.repeat(100000);
  assert.equal((await setup.request(`set big 0 0 ${value.length}\r\n${value}\r\n`, 8)).toString(), 'STORED\r\n');
  const slow = await Client.connect(s.port);
  slow.pauseReading();
  const gets = 100; // 10 MB of replies: more than loopback's socket buffers hold
  for (let i = 0; i < gets; i++) await slow.send(`get big\r\nmn\r\n`);
  assert.match(await connsOnceInMwrite(setup), /:state conn_mwrite\r$/m, 'the slow client waits in conn_mwrite');
  slow.resumeReading();
  const reply = `VALUE big 0 ${value.length}\r\n${value}\r\nEND\r\n`;
  for (let i = 0; i < gets; i++) {
    assert.equal((await slow.read(reply.length)).toString(), reply, `reply ${i}`);
    assert.equal(await slow.readLine(), "MN");
  }
  assert.equal((await slow.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
  slow.end();
  setup.end();
});

for (const kind of kindsFor()) {
  test(`a client whose socket is full runs no further command until it reads, as memcached's conn_mwrite [${kind}]`, async () => {
    // memcached sends at each get's END, and a write the socket cannot take whole keeps the connection in
    // conn_mwrite: the commands after it wait, unread, until the client reads. Over a unix socket (the kernel
    // holds about net.core.wmem_default bytes of a writer's data), gets worth ~1.8 times that fill it well
    // before the set that ends the pipeline, which must not run while the client is not reading.
    await withUnixServer(kind, async (path) => {
      const value = 'v'.repeat(50 * 1024);
      const probe = await connectWhenListening(path);
      assert.equal((await probe.request(`set big 0 0 ${value.length}\r\n${value}\r\n`, 8)).toString(), 'STORED\r\n');
      const gets = Math.ceil((1.8 * Number(readFileSync('/proc/sys/net/core/wmem_default', 'latin1'))) / value.length);
      const slow = await connectWhenListening(path);
      slow.pauseReading();
      await slow.send(`${'get big\r\n'.repeat(gets)}set marker 0 0 1\r\n1\r\n`);
      assert.match(await connsOnceInMwrite(probe), /:state conn_mwrite\r$/m, 'the slow client waits in conn_mwrite');
      await sleep(200); // a server that went on would have run the set by now (it arrived in the same read)
      assert.equal((await probe.request('get marker\r\n', 5)).toString(), 'END\r\n', 'the set after the full write has not run');
      slow.resumeReading();
      const reply = `VALUE big 0 ${value.length}\r\n${value}\r\nEND\r\n`;
      for (let i = 0; i < gets; i++) assert.equal((await slow.read(reply.length)).toString(), reply, `reply ${i}`);
      assert.equal(await slow.readLine(), 'STORED', 'once the client reads, the set runs');
      const marker = 'VALUE marker 0 1\r\n1\r\nEND\r\n';
      assert.equal((await probe.request('get marker\r\n', marker.length)).toString(), marker);
      slow.end();
      probe.end();
    });
  });
}

for (const kind of kindsFor()) {
  test(`a full socket at the flush point before a set stops the connection before the set's value, as memcached's conn_mwrite [${kind}]`, async () => {
    // memcached stops in conn_mwrite at the get's END when the socket takes none of its reply, so the set behind it
    // is not even parsed, and its value's rest, sent later, is not read until the client reads. Cachalot parses the
    // set and waits for its value (nread) having sent the get's reply: it must stop there the same way. The socket
    // is made exactly full first: one get whose reply is what a fresh unix socket takes in one write (calibrated
    // here), then a get whose reply (60 KB, copied, under the 64 KB Cachalot sends at a command boundary) it
    // cannot take.
    await withUnixServer(kind, async (path, dir) => {
      const fill = 'f'.repeat(valueFilling(await unixSocketTakes(join(dir, 'calibrate.sock')), 'fill'));
      const mid = 'm'.repeat(60 * 1024);
      const probe = await connectWhenListening(path);
      for (const [k, v] of [['fill', fill], ['mid', mid]]) {
        assert.equal((await probe.request(`set ${k} 0 0 ${v.length}\r\n${v}\r\n`, 8)).toString(), 'STORED\r\n');
      }
      const slow = await connectWhenListening(path);
      slow.pauseReading();
      await slow.send('get fill\r\nget mid\r\nset marker 0 0 1\r\n');
      const stopped = await connsOnceIn(probe, /:state conn_(mwrite|nread)\r$/m);
      assert.match(stopped, /:state conn_(mwrite|nread)\r$/m, 'the slow client stops behind the get of mid');
      await slow.send('1\r\n');
      await sleep(200); // a server that went on reading would have run the set by now
      assert.equal((await probe.request('get marker\r\n', 5)).toString(), 'END\r\n', 'the value\'s rest is not read yet');
      slow.resumeReading();
      for (const [k, v] of [['fill', fill], ['mid', mid]]) {
        const reply = `VALUE ${k} 0 ${v.length}\r\n${v}\r\nEND\r\n`;
        assert.equal((await slow.read(reply.length)).toString(), reply, `the get of ${k}`);
      }
      assert.equal(await slow.readLine(), 'STORED', 'once the client reads, the set runs');
      const marker = 'VALUE marker 0 1\r\n1\r\nEND\r\n';
      assert.equal((await probe.request('get marker\r\n', marker.length)).toString(), marker);
      slow.end();
      probe.end();
    });
  });
}

/** A server of this kind listening on a unix socket in a directory of its own (`-t 2`), for the length of body. */
async function withUnixServer(kind: ServerKind, body: (path: string, dir: string) => Promise<void>): Promise<void> {
  const server = await startUnixServer(kind, ['-t', '2']);
  try {
    await body(server.path, server.dir);
  } finally {
    await server.stop();
  }
}

/**
 * How many bytes a fresh unix stream socket's kernel takes in one write before it is full: the accepted socket of a
 * server of our own here writes 4 MB to a client that does not read, and libuv queues what the kernel refused.
 */
async function unixSocketTakes(path: string): Promise<number> {
  const total = 4 * 1024 * 1024;
  let measured: (n: number) => void = () => {};
  const took = new Promise<number>((r) => { measured = r; });
  const server = createServer((sock) => {
    sock.write(Buffer.alloc(total));
    const handle = (sock as unknown as { _handle: { writeQueueSize: number } })._handle;
    measured(total - handle.writeQueueSize);
    sock.destroy();
  });
  await new Promise<void>((r) => server.listen(path, r));
  const client = connect(path);
  client.pause();
  const taken = await took;
  client.destroy();
  await new Promise((r) => server.close(r));
  assert.ok(taken > 0 && taken < total, `a unix socket takes ${taken} of ${total} bytes`);
  return taken;
}

/** The length of a value whose get reply for `key` ("VALUE key 0 n", the value, "END") is `bytes` long. */
function valueFilling(bytes: number, key: string): number {
  const framing = (n: number): number => `VALUE ${key} 0 ${n}\r\n\r\nEND\r\n`.length;
  let n = bytes - framing(bytes);
  while (n + framing(n) < bytes) n++;
  return n;
}

/** `stats conns`, asked through probe every 20 ms until it matches `state` (5 s at most): the last answer. */
async function connsOnceIn(probe: Client, state: RegExp): Promise<string> {
  let conns = '';
  for (let i = 0; i < 250 && !state.test(conns); i++) {
    await sleep(20);
    await probe.send('stats conns\r\n');
    conns = (await probe.readUntil('END\r\n')).toString();
  }
  return conns;
}

/** `stats conns`, asked through probe every 20 ms until a connection is in conn_mwrite (5 s at most): the last answer. */
function connsOnceInMwrite(probe: Client): Promise<string> {
  return connsOnceIn(probe, /:state conn_mwrite\r$/m);
}

async function rssOf(pid: number): Promise<number> {
  const { readFileSync } = await import('node:fs');
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

for (const kind of kindsFor()) {
  test(`-s with -o no_maxconns_fast: the unix socket stops accepting too; the next client waits, served once connections close [${kind}]`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachalot-unix-'));
    const path = join(dir, 'mc.sock');
    // the unix socket's descriptor is 10: clients get 11 to 15, the sixth waits (no port file with -s)
    const [cmd, argv] = commandFor(kind, ['-s', path, '-c', '16', '-t', '1', '-o', 'no_maxconns_fast']);
    const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    try {
      const first = await connectWhenListening(path);
      first.end();
      await first.closed();
      const { served, waiting } = await fillUntilUnanswered(path, 20);
      assert.equal(served.length, 5);
      assert.ok(waiting.isOpen);
      for (const c of served) c.end();
      assert.equal((await waiting.read(16)).toString(), 'VERSION 1.6.18\r\n', 'served once connections closed');
      const st = await acceptingAgain(waiting);
      assert.deepEqual([st.get('listen_disabled_num'), st.get('accepting_conns')], ['1', '1']);
      assert.equal(stderr, 'accept4(): Too many open files\n');
      waiting.end();
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('the unix socket (-s) serves the same protocol', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-unix-'));
  const path = join(dir, 'mc.sock');
  const child = spawn(NODE_BIN, [...serverNodeArgs(REPO_ROOT), '-s', path, '-t', '2'], { cwd: REPO_ROOT, stdio: 'ignore' });
  try {
    const c = await connectWhenListening(path);
    assert.equal((await c.request('set u 0 0 1\r\nx\r\n', 8)).toString(), 'STORED\r\n');
    const want = 'VALUE u 0 1\r\nx\r\nEND\r\n';
    assert.equal((await c.request('get u\r\n', want.length)).toString(), want);
    // memcached 1.6.18's words for a unix socket, and its fds with -t 2: the listener's path, and no address of a client's own
    await c.send('stats conns\r\n');
    const conns = (await c.readUntil('END\r\n')).toString().replace(/secs_since_last_cmd \d+/g, 'secs_since_last_cmd <s>');
    assert.equal(conns, `STAT 14:addr unix:${path}\r\nSTAT 14:state conn_listening\r\nSTAT 14:secs_since_last_cmd <s>\r\n` +
      `STAT 15:addr ?:<AF 0>\r\nSTAT 15:listen_addr unix:${path}\r\nSTAT 15:state conn_parse_cmd\r\n` +
      'STAT 15:secs_since_last_cmd <s>\r\nEND\r\n');
    c.end();
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});

// memcached's dispatcher hands every connection to the next worker in turn, the unix socket's too. Node cannot move a
// unix-socket handle between threads: the dispatcher passes each over as a descriptor (src/dispatcher/unix-socket.ts).
test('unix-socket connections go to the workers in turn, as TCP ones do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-unix-rr-'));
  const path = join(dir, 'mc.sock');
  const child = spawn(NODE_BIN, [...serverNodeArgs(REPO_ROOT), '-s', path, '-t', '3'], { cwd: REPO_ROOT, stdio: 'ignore' });
  const clients: Client[] = [];
  try {
    const stats = await connectWhenListening(path);
    clients.push(stats);
    const perThread = async (): Promise<number[]> => {
      await stats.send('stats threads\r\n');
      const text = (await stats.readUntil('END\r\n')).toString();
      return [...text.matchAll(/^STAT thread:\d+:curr_connections (\d+)\r$/gm)].map((m) => Number(m[1]));
    };
    let before = await perThread();
    assert.equal(before.length, 3);
    const took: number[] = [];
    for (let i = 0; i < 9; i++) {
      const c = await Client.connect(path);
      clients.push(c);
      assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
      const now = await perThread();
      const grew = now.map((n, t) => n - before[t]);
      assert.equal(grew.filter((d) => d === 1).length, 1, `one worker took connection ${i}: ${grew}`);
      took.push(grew.indexOf(1));
      before = now;
    }
    assert.deepEqual(took, took.map((_, i) => (took[0] + i) % 3), `in turn: ${took}`);
  } finally {
    for (const c of clients) c.end();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const kind of kindsFor()) {
  test(`-s binds as memcached does: a stale socket replaced, another file kept, a long path cut, an empty one abstract [${kind}]`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachalot-sun-'));
    const serve = async (given: string, reach: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
      const [cmd, argv] = commandFor(kind, ['-s', given, '-t', '1']);
      const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      try {
        const c = await connectWhenListening(reach);
        assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n', `-s "${given}"`);
        c.end();
      } finally {
        child.kill(signal);
        await exited;
      }
    };
    try {
      const file = join(dir, 'file');
      writeFileSync(file, 'keep');
      const [cmd, argv] = commandFor(kind, ['-s', file]);
      const refused = spawnSync(cmd, argv, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 });
      assert.deepEqual([refused.status, refused.stderr],
        [71, `bind(): Address already in use\nfailed to listen on UNIX socket: ${file}: Address already in use\n`]);
      assert.equal(readFileSync(file, 'utf8'), 'keep', 'a file that is not a socket is not removed');
      const sock = join(dir, 'mc.sock');
      await serve(sock, sock, 'SIGKILL'); // leaves its socket file behind
      await serve(sock, sock);
      const long = join(dir, 'x'.repeat(120)); // sun_path holds 107 bytes and a NUL
      await serve(long, Buffer.from(long).subarray(0, 107).toString());
      await serve('', '\0'.repeat(108));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a connection the server closes gets its queued replies first (shutdown, then close)', { timeout: 30_000 }, async () => {
  // memcached writes a reply out before it reads the next command, so a client that pipelines a get and
  // then garbage (2048+ bytes without a newline: closed without a reply) gets the whole reply, then EOF.
  // Here the client does not read until the server has closed: over a unix socket (212992-byte buffers)
  // a 300 KB reply is partly in the kernel and partly queued in libuv when the close comes, under the
  // 256 KB at which the server would stop reading this client.
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-queued-'));
  const path = join(dir, 'mc.sock');
  const child = spawn(NODE_BIN, [...serverNodeArgs(REPO_ROOT), '-s', path, '-t', '2'], { cwd: REPO_ROOT, stdio: 'ignore' });
  try {
    const value = Buffer.alloc(100 * 1024, 'q');
    const setup = await connectWhenListening(path);
    assert.equal((await setup.request(Buffer.concat([Buffer.from(`set big 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]), 8))
      .toString(), 'STORED\r\n');
    setup.end();

    const block = Buffer.concat([Buffer.from(`VALUE big 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]);
    const want = Buffer.concat([block, block, block, Buffer.from('END\r\n')]);
    const sock = connect({ path });
    sock.pause(); // nothing is read until the server is done
    await new Promise((r) => sock.once('connect', r));
    sock.write(`get big big big\r\n${'x'.repeat(3000)}`);
    await sleep(300);
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise((r) => sock.once('close', r));
    sock.resume();
    await ended;
    const all = Buffer.concat(got);
    assert.equal(all.length, want.length, 'every byte of the reply, then the close');
    assert.ok(all.equals(want));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM closes connections and exits 0', async () => {
  const s = await startServer('cachalot', ['-t', '2']);
  const c = await Client.connect(s.port);
  assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
  process.kill(s.pid, 'SIGTERM');
  await c.closed();
  assert.equal(await s.exited, 0);
});

for (const kind of kindsFor()) {
  test(`SIGHUP is not a stop: the server goes on serving [${kind}]`, async () => {
    // memcached's sighup_handler only notes it (a proxy reloads its config on it); a terminal closing, or a
    // log rotation script, sends it to servers that must stay up. Node's default for it is to exit.
    const s = await startServer(kind, ['-t', '2']);
    try {
      const c = await Client.connect(s.port);
      assert.equal((await c.request('set k 0 0 1\r\nv\r\n', 8)).toString(), 'STORED\r\n');
      process.kill(s.pid, 'SIGHUP');
      await sleep(300); // long enough for a default action to have ended the process
      assert.equal((await c.request('get k\r\n', 21)).toString(), 'VALUE k 0 1\r\nv\r\nEND\r\n');
      c.end();
    } finally { await s.stop(); }
  });
}

test('-m past what one arena can hold starts, says how much it holds, and serves', async () => {
  // memcached takes any -m and mallocs pages as they are needed; Cachalot reserves its arena at start, and item
  // references reach 16 GB of it. A -m of 100 GB used to end the start with an uncaught RangeError.
  const s = await startServer('cachalot', ['-m', '100000', '-t', '2']);
  try {
    assert.match(s.stderr(), /^Warning: -m 100000 is more memory than could be reserved; the cache holds at most \d+ megabytes\.$/m);
    const c = await Client.connect(s.port);
    assert.equal((await c.request('set k 0 0 1\r\nv\r\n', 8)).toString(), 'STORED\r\n');
    assert.equal((await c.request('get k\r\n', 21)).toString(), 'VALUE k 0 1\r\nv\r\nEND\r\n');
    await c.send('stats settings\r\n');
    assert.match((await c.readUntil('END\r\n')).toString(), /^STAT maxbytes 104857600000\r$/m);
    c.end();
  } finally { await s.stop(); }
});

test('bad options: a message on stderr and memcached\'s exit status', async () => {
  const child = spawn(NODE_BIN, [...serverNodeArgs(REPO_ROOT), '-o', 'no_such_option'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.notEqual(code, 0);
  assert.match(err, /suboption|no_such_option/i);
});

// Debian's memcached has extstore built in, so its -o takes extstore's options; without ext_path they only show
// in stats settings (test/text-stats.test.ts). A bad one stops the start with storage_read_config's words. (A
// start with ext_path: test/extstore-start.test.ts.)
const BAD_EXT_OPTIONS: Array<[option: string, stderr: string]> = [
  ['ext_item_size', 'Missing ext_item_size argument'],
  ['ext_item_size=x', 'could not parse argument to ext_item_size'],
  ['ext_low_ttl=-5', 'could not parse argument to ext_low_ttl'],
  ['ext_recache_rate=12abc', 'could not parse argument to ext_recache_rate'],
  ['ext_max_frag=x', 'could not parse argument to ext_max_frag'],
  ['slab_automove_freeratio', 'Missing slab_automove_freeratio argument'],
  ['ext_page_size=x', 'could not parse argument to ext_page_size'],
  ['ext_threads=-1', 'could not parse argument to ext_threads'],
  ['ext_io_depth', 'Missing ext_io_depth argument'],
  ['ext_path', 'missing argument to ext_path, ie: ext_path=/d/file:5G'],
];

for (const kind of kindsFor()) {
  test(`extstore's -o options, when bad, stop the start with memcached's words and status 1 [${kind}]`, () => {
    for (const [option, stderr] of BAD_EXT_OPTIONS) {
      const [cmd, argv] = commandFor(kind, ['-o', `hashpower=16,${option}`]);
      const r = spawnSync(cmd, argv, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 });
      assert.deepEqual([r.status, r.stderr], [1, `${stderr}\n`], option);
    }
  });
}

for (const kind of kindsFor()) {
  test(`-o hashpower no larger than -t's item lock table is refused at start, as memcached refuses it [${kind}]`, async () => {
    // each table as large as memcached's lock table: 2^12 for -t 4, 2^13 for 5 to 10, 2^14 to 20, then 2^15
    for (const [threads, power] of [[4, 12], [5, 13], [10, 13], [11, 14], [21, 15]]) {
      const [cmd, argv] = commandFor(kind, ['-t', String(threads), '-o', `hashpower=${power}`]);
      const r = spawnSync(cmd, argv, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 1, `-t ${threads} -o hashpower=${power}`);
      assert.equal(r.stderr, `Hash table power size (${power}) cannot be equal to or less than item lock table (${power})\n` +
        'Item lock table grows with `-t N` (worker threadcount)\nHash table grows with `-o hashpower=N` \n');
    }
    const s = await startServer(kind, ['-t', '3', '-o', 'hashpower=12']); // 2^11 locks: one power below
    try {
      const c = await Client.connect(s.port);
      await c.send('set a 0 0 1\r\nx\r\nget a\r\n');
      assert.equal((await c.readUntil('END\r\n')).toString(), 'STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n');
      c.end();
    } finally { await s.stop(); }
  });

  test(`-P: the pid goes in through <file>.tmp, stays after a stop in the foreground, and a path that fails only warns [${kind}]`, { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachalot-pid-'));
    const pidFile = join(dir, 'pid');
    const until = async (done: () => boolean): Promise<void> => { for (let i = 0; i < 250 && !done(); i++) await sleep(20); };
    try {
      const first = await startServer(kind, ['-P', pidFile, '-t', '2']);
      await until(() => existsSync(pidFile));
      assert.equal(readFileSync(pidFile, 'latin1'), `${first.pid}\n`);
      assert.ok(!existsSync(`${pidFile}.tmp`), 'renamed over the file');
      const second = await startServer(kind, ['-P', pidFile, '-t', '2']);
      const warning = `WARNING: The pid file contained the following (running) pid: ${first.pid}`;
      await until(() => second.stderr().includes(warning));
      assert.ok(second.stderr().includes(warning), second.stderr());
      await second.stop();
      await first.stop();
      assert.ok(existsSync(pidFile), 'kept: memcached removes it only when it daemonized');
      const lost = await startServer(kind, ['-P', join(dir, 'no', 'pid'), '-t', '2']);
      try {
        const message = `Could not open the pid file ${join(dir, 'no', 'pid')}.tmp for writing: No such file or directory`;
        await until(() => lost.stderr().includes(message));
        assert.ok(lost.stderr().includes(message), lost.stderr());
        const c = await Client.connect(lost.port);
        assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n', 'and it serves');
        c.end();
      } finally { await lost.stop(); }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const kind of kindsFor()) {
  test(`-P: the running pid warned about is the old file's first line as safe_strtoul reads it [${kind}]`, { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachalot-pidline-'));
    const pidFile = join(dir, 'pid');
    const running = process.pid; // this test's own process: kill(pid, 0) succeeds
    const warning = (pid: number): string => `WARNING: The pid file contained the following (running) pid: ${pid}\n`;
    try {
      for (const [content, warned] of [[`+${running}\n`, running], [` ${running} 7\n`, running], [`${2 ** 32 + running}\n`, running],
        [`${running}abc\n`, null], [`\n${running}\n`, null], [`-${running}\n`, null]] as const) {
        writeFileSync(pidFile, content);
        // run to its stop, and read its whole stderr then: the pid file may be read before the warning is
        const [cmd, argv] = commandFor(kind, ['-P', pidFile, '-t', '1', '-p', '-1', '-U', '0']);
        const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
        const closed = new Promise((resolve) => child.on('close', resolve));
        try {
          for (let i = 0; i < 250 && readFileSync(pidFile, 'latin1') !== `${child.pid}\n`; i++) await sleep(20);
          assert.equal(readFileSync(pidFile, 'latin1'), `${child.pid}\n`);
        } finally { child.kill('SIGTERM'); await closed; }
        assert.equal(stderr.includes('WARNING'), warned !== null, `${JSON.stringify(content)}: ${stderr}`);
        if (warned !== null) assert.ok(stderr.includes(warning(warned)), stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const kind of kindsFor()) {
  test(`a signal while the server starts is handled as memcached handles it once running: a stop is a stop, SIGHUP is noted [${kind}]`, { timeout: 60_000 }, async () => {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'cachalot-earlysig-'));
      const portFile = join(dir, 'ports');
      // -vv prints the slab classes once the handlers are set and before the workers start and listen
      const [cmd, argv] = commandFor(kind, ['-vv', '-t', '2', '-p', '-1', '-U', '0']);
      const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MEMCACHED_PORT_FILENAME: portFile } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const closed = new Promise<[number | null, string | null]>((resolve) => child.on('close', (code, sig) => resolve([code, sig])));
      try {
        for (let i = 0; i < 500 && !stderr.includes('slab class'); i++) await sleep(10);
        assert.ok(stderr.includes('slab class'), stderr);
        child.kill(signal);
        if (signal === 'SIGHUP') { // noted, and the server goes on to listen and serve
          for (let i = 0; i < 500 && !existsSync(portFile); i++) await sleep(10);
          const port = Number(/TCP INET6?: (\d+)/.exec(readFileSync(portFile, 'latin1'))?.[1]);
          const c = await Client.connect(port);
          assert.match((await c.request('version\r\n', 8)).toString(), /^VERSION /);
          c.end();
          child.kill('SIGTERM');
        }
        const [code, sig] = await closed;
        assert.deepEqual([code, sig], [0, null], `${signal}: ${stderr}`);
        assert.ok(!stderr.includes('Debugger'), stderr); // Node's own SIGUSR1 would open its inspector
        if (signal === 'SIGUSR1') assert.ok(stderr.includes('Gracefully stopping'), stderr);
      } finally {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
}

/** The fwmark of each of a process's TCP listening and UDP sockets, as `ss` shows them ("-" for one unmarked). */
function socketMarks(pid: number): string[] {
  const out = spawnSync('ss', ['-t', '-u', '-l', '-n', '-e', '-p'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => line.includes(`pid=${pid},`))
    .map((line) => `${line.split(/\s+/)[0]} ${/fwmark:(0x[0-9a-f]+)/.exec(line)?.[1] ?? '-'}`).sort();
}

const ssAvailable = spawnSync('sh', ['-c', 'command -v ss'], { encoding: 'utf8' }).status === 0;

for (const refused of [false, true]) {
  // refused: as root without CAP_NET_ADMIN and CAP_NET_RAW (setpriv), either of which SO_MARK needs
  const skip = !ssAvailable ? 'no ss (iproute2)' : refused && process.getuid?.() !== 0 ? 'not root: no capability to drop' : false;
  test(`-o sock_cookie_id marks the TCP listener and the UDP sockets with SO_MARK as memcached does, or says why not in the same words${refused ? ' (without CAP_NET_ADMIN and CAP_NET_RAW)' : ''}`, { skip }, async () => {
  const seen = new Map<ServerKind, [string[], string]>();
  for (const kind of kindsFor()) {
    const args = ['-t', '2', '-U', '-1', '-o', 'sock_cookie_id=7'];
    const s = refused ? await startLimited(kind, '', args, ['net_admin', 'net_raw']) : await startServer(kind, args);
    try {
      const c = await Client.connect(s.port); // memcached's UDP sockets are set up by its workers after it listens
      for (let tries = 0; tries < 50 && socketMarks(s.pid).filter((m) => m.startsWith('udp')).length === 0; tries++) await sleep(100);
      assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
      c.end();
      const marks = [...new Set(socketMarks(s.pid))];
      seen.set(kind, [marks, s.stderr()]);
      // allowed (CAP_NET_ADMIN), every socket carries the mark; refused, none does and the perror says so
      assert.deepEqual(marks, s.stderr() === '' ? ['tcp 0x7', 'udp 0x7'] : ['tcp -', 'udp -'], kind);
      if (refused) assert.equal(s.stderr(), 'setsockopt: Operation not permitted\n'.repeat(2), kind);
    } finally {
      await s.stop();
    }
  }
  if (seen.size === 2) assert.deepEqual(seen.get('cachalot'), seen.get('memcached'));
  });
}

for (const kind of kindsFor()) {
  test(`a listener that cannot be bound: bind()'s perror first, then the error, or EINVAL when stderr is write-only, as glibc's perror leaves errno [${kind}]`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachalot-bindfail-'));
    try {
      const cases: Array<[string, string[], string, string]> = [ // -l (an address this host does not have), arguments
        ['10.255.255.1', [], 'bind(): Cannot assign requested address\n', 'failed to listen on one of interface(s) 10.255.255.1: '],
        ['127.0.0.1', ['-s', join(dir, 'no', 'sock')], 'bind(): No such file or directory\n', `failed to listen on UNIX socket: ${join(dir, 'no', 'sock')}: `],
      ];
      for (const [listen, args, perror, then] of cases) {
        const [cmd, argv] = commandFor(kind, [...args, '-p', '-1', '-U', '0'], listen);
        const viaSocket = spawnSync(cmd, argv, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 }); // Node's stdio: a socketpair
        assert.deepEqual([viaSocket.status, viaSocket.stderr], [71, perror + then + perror.slice(8)], args.join(' '));
        const log = join(dir, 'stderr');
        const fd = openSync(log, 'w'); // as `2>file`: open for writing only
        const viaFile = spawnSync(cmd, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', fd], timeout: 10_000 });
        closeSync(fd);
        assert.deepEqual([viaFile.status, readFileSync(log, 'utf8')], [71, `${perror + then}Invalid argument\n`], args.join(' '));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`MEMCACHED_PORT_FILENAME is written only when the server listens on ports: with -s there is none [${kind}]`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachalot-portfile-'));
    const sock = join(dir, 'sock');
    const [cmd, argv] = commandFor(kind, ['-s', sock, '-t', '1']);
    const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: 'ignore', env: { ...process.env, MEMCACHED_PORT_FILENAME: join(dir, 'ports') } });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const c = await connectWhenListening(sock);
      assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
      c.end();
      assert.equal(existsSync(join(dir, 'ports')), false);
      assert.equal(existsSync(join(dir, 'ports.lck')), false);
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const kind of kindsFor()) {
  test(`\`verbosity N\`: its line is logged at the old level and its OK at the new one, as memcached sets the level first [${kind}]`, async () => {
    const s = await startServer(kind, ['-t', '1']);
    try {
      const c = await Client.connect(s.port);
      for (const command of ['verbosity 2', 'version', 'verbosity 0', 'version']) {
        assert.match((await c.request(`${command}\r\n`, command === 'version' ? 16 : 4)).toString(), /^(OK|VERSION 1\.6\.18)\r\n$/);
      }
      const logged = (): string[] => s.stderr().split('\n').filter((l) => /^[<>]\d+ /.test(l));
      for (let i = 0; i < 250 && logged().length < 4; i++) await sleep(20);
      assert.deepEqual(logged().map((l) => l.replace(/^([<>])\d+/, '$1N')), ['>N OK', '<N version', '>N VERSION 1.6.18', '<N verbosity 0']);
      c.end();
    } finally { await s.stop(); }
  });
}

/** A user's uid from the passwd database (getent), or null. */
function uidOf(user: string): number | null {
  const r = spawnSync('getent', ['passwd', user], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(':')[2]) : null;
}

function uidOfProcess(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

for (const kind of kindsFor()) {
  test(`-u: started as root, the server takes on the user's identity before it opens its port file [${kind}]`, async () => {
    const root = process.getuid?.() === 0;
    const nobody = uidOf('nobody');
    assert.ok(nobody !== null, 'the passwd database has nobody');
    // no such user: memcached's EX_NOUSER as root; anyone else's -u is ignored
    const [cmd, argv] = commandFor(kind, ['-u', 'no-such-user-here', '-p', '-1', '-U', '0']);
    const refused = spawnSync(cmd, argv, { cwd: REPO_ROOT, encoding: 'utf8', timeout: root ? 10_000 : 3_000 });
    if (root) assert.deepEqual([refused.status, refused.stderr], [67, "can't find the user no-such-user-here to switch to\n"]);
    else assert.equal(refused.status, null, 'not root: -u is ignored and the server runs');

    // as nobody the port file in root's private directory cannot be written: said, and the server goes on
    const dir = mkdtempSync(join(tmpdir(), 'cachalot-user-'));
    const s = await startAsNobody(kind, [], { ...process.env, MEMCACHED_PORT_FILENAME: join(dir, 'ports') });
    try {
      assert.equal((await s.client.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
      assert.equal(uidOfProcess(s.pid), root ? nobody : process.getuid?.());
      if (root) assert.equal(s.stderr(), `Failed to open "${join(dir, 'ports')}.lck": Permission denied\n`);
    } finally {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * A server started with -u nobody on a free port (as nobody it may not write a port file in root's private
 * directory), once it answers: its pid, a client connected to it and what it has said on stderr.
 */
async function startAsNobody(kind: ServerKind, args: string[], env: NodeJS.ProcessEnv):
  Promise<{ pid: number; client: Client; stderr: () => string; stop: () => Promise<void> }> {
  const port = await freePort();
  const [cmd, argv] = commandFor(kind, [...args, '-u', 'nobody', '-p', String(port), '-U', '0', '-t', '1']);
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env });
  const exited = new Promise((r) => child.once('exit', r));
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  let client: Client | null = null;
  for (let i = 0; i < 250 && client === null; i++) client = await Client.connect(port).catch(async () => { await sleep(20); return null; });
  const stop = async (): Promise<void> => { client?.end(); child.kill('SIGTERM'); await exited; };
  if (client === null) { await stop(); assert.fail(`${kind} -u nobody serves: ${err}`); }
  return { pid: child.pid!, client, stderr: () => err, stop };
}

for (const kind of kindsFor()) {
  test(`-vv at a stop: SIGUSR1 says what memcached's stop_threads says, each connection's close included; SIGTERM closes them silently [${kind}]`, async () => {
    for (const signal of ['SIGUSR1', 'SIGTERM'] as const) {
      const s = await startServer(kind, ['-vv', '-t', '2']);
      const clients = [await Client.connect(s.port), await Client.connect(s.port)];
      // answered: each is its worker's, and its arrival line is out, before the signal
      for (const c of clients) assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
      process.kill(s.pid, signal);
      await s.exited;
      const err = s.stderr();
      const ids = [...err.matchAll(/^<(\d+) (?:server listening|new auto-negotiating client connection)/gm)].map((m) => Number(m[1]));
      assert.equal(ids.length, 3, err);
      const stop = err.slice(err.indexOf(signal === 'SIGUSR1' ? 'Gracefully stopping' : 'Exiting normally'));
      assert.equal(stop, signal === 'SIGTERM' ? 'Exiting normally\n' : ['Gracefully stopping', 'stopped assoc',
        'asking workers to stop', 'asking background threads to stop', 'stopped lru crawler', 'stopped maintainer',
        'stopped slab mover', 'stopped logger thread', 'stopped idle timeout thread', 'closing connections',
        ...ids.sort((a, b) => a - b).map((id) => `<${id} connection closed.`), 'reaping worker threads',
        'all background threads stopped', ''].join('\n'), `${kind} ${signal}`);
      for (const c of clients) c.end();
    }
    // the level the `verbosity` command set, not the one the server started with
    const s = await startServer(kind, ['-t', '2']);
    const c = await Client.connect(s.port);
    assert.equal((await c.request('verbosity 1\r\n', 4)).toString(), 'OK\r\n');
    process.kill(s.pid, 'SIGUSR1');
    await s.exited;
    assert.equal(s.stderr(), ['Gracefully stopping', 'stopped assoc', 'asking workers to stop', 'asking background threads to stop',
      'stopped lru crawler', 'stopped maintainer', 'stopped slab mover', 'stopped logger thread', 'stopped idle timeout thread',
      'closing connections', 'reaping worker threads', 'all background threads stopped', ''].join('\n'), kind);
    c.end();
  });
}

test('-d: the command exits 0 once the daemon listens, and the server goes on as a daemon, its pid in -P', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-daemon-'));
  const portFile = join(dir, 'ports'), pidFile = join(dir, 'pid');
  try {
    const launcher = spawn(NODE_BIN, [...serverNodeArgs(REPO_ROOT), '-d', '-P', pidFile, '-p', '-1', '-l', '127.0.0.1', '-t', '1'],
      { cwd: REPO_ROOT, stdio: 'ignore', env: { ...process.env, MEMCACHED_PORT_FILENAME: portFile } });
    assert.equal(await new Promise<number | null>((r) => launcher.once('exit', r)), 0);
    // memcached's daemon listens a few ms after its parent exits; a script that connects at once must find it
    const port = Number(/TCP INET: (\d+)/.exec(readFileSync(portFile, 'utf8'))?.[1] ?? 0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(port > 0 && pid > 0, 'the daemon wrote its port and pid before the command returned');
    assert.notEqual(pid, launcher.pid, 'the pid is the daemon\'s, not the launcher\'s');
    const c = await Client.connect(port);
    assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
    c.end();
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 250 && existsSync(pidFile); i++) await sleep(20);
    assert.ok(!existsSync(pidFile), 'the daemon removed its pid file on the way out');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-d on a port in use: the command still exits 0, as memcached\'s parent does, and no daemon serves', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-daemon-'));
  const pidFile = join(dir, 'pid');
  try {
    const launcher = spawn(NODE_BIN, [...serverNodeArgs(REPO_ROOT), '-d', '-P', pidFile, '-p', String(port), '-l', '127.0.0.1', '-t', '1'],
      { cwd: REPO_ROOT, stdio: 'ignore' });
    assert.equal(await new Promise<number | null>((r) => launcher.once('exit', r)), 0);
    assert.ok(!existsSync(pidFile), 'the daemon never started serving');
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The command line of a daemon run from cwd: Cachalot's names its preload by a path relative to cwd, the harder
 * case for a daemon that leaves it (its threads start after it has).
 */
function daemonCommand(kind: ServerKind, cwd: string, args: string[]): [string, string[]] {
  if (kind === 'memcached') return [memcachedAvailable()!, [...(process.getuid?.() === 0 ? ['-u', 'root'] : []), ...args]];
  const preload = relative(cwd, join(REPO_ROOT, 'src', 'boot', 'strip-once.mjs'));
  return [NODE_BIN, ['--import', preload.startsWith('.') ? preload : `./${preload}`, join(REPO_ROOT, 'src', 'main.ts'), ...args]];
}

/**
 * Run a -d command from cwd to its (the starter's) exit; then the daemon's pid from its -P file, or 0 when none
 * came (memcached's starter exits before its daemon writes the file: it is waited for, within a bound).
 */
async function runDaemon(kind: ServerKind, cwd: string, args: string[], pidFile: string): Promise<number> {
  const [cmd, argv] = daemonCommand(kind, cwd, args);
  const launcher = spawn(cmd, argv, { cwd, stdio: 'ignore' });
  assert.equal(await new Promise<number | null>((r) => launcher.once('exit', r)), 0, kind);
  for (let i = 0; i < 250 && !(existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n')); i++) await sleep(20);
  return existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
}

async function stopDaemon(pid: number, pidFile: string): Promise<void> {
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 250 && existsSync(pidFile); i++) await sleep(20);
}

test('-d works from /, as memcached\'s daemonize chdirs there: relative -P, -s and -e land under /, and with -r in the directory it started in', async () => {
  for (const kind of kindsFor()) {
    const cwd = mkdtempSync(join(tmpdir(), 'cachalot-cwd-'));
    const under = mkdtempSync(join(tmpdir(), 'cachalot-root-')); // named from / as tmp/<name>
    const fromRoot = relative('/', under);
    try {
      const pidFile = join(under, 'pid'), sock = join(under, 'sock');
      const pid = await runDaemon(kind, cwd, ['-d', '-m', '64', '-t', '1', '-P', `${fromRoot}/pid`, '-s', `${fromRoot}/sock`,
        '-e', `${fromRoot}/mem`], pidFile);
      assert.ok(pid > 0, `${kind}: the daemon wrote ${fromRoot}/pid from /`);
      const c = await Client.connect(sock);
      assert.equal((await c.request('set k 0 0 1\r\nv\r\n', 8)).toString(), 'STORED\r\n', kind);
      assert.equal((await c.stats('settings')).get('memory_file'), `${fromRoot}/mem`, `${kind}: -e as given`);
      c.end();
      assert.ok(existsSync(join(under, 'mem')), `${kind}: the memory file is under /`);
      assert.deepEqual(readdirSync(cwd), [], `${kind}: nothing in the directory it started in`);
      await stopDaemon(pid, pidFile);

      // -r: memcached's daemonize(nochdir) keeps the directory, so the same relative -P is taken from it
      mkdirSync(join(cwd, fromRoot), { recursive: true });
      const kept = join(cwd, fromRoot, 'pid');
      const pidR = await runDaemon(kind, cwd, ['-d', '-r', '-t', '1', '-P', `${fromRoot}/pid`, '-p', '0'], kept);
      assert.ok(pidR > 0, `${kind}: with -r the pid file is under the directory it started in`);
      assert.ok(!existsSync(pidFile), `${kind}: and not under /`);
      await stopDaemon(pidR, kept);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
      rmSync(under, { recursive: true, force: true });
    }
  }
});

test('-Y with -U is refused, as memcached refuses ascii authentication over UDP', async () => {
  const child = spawn(NODE_BIN, [...serverNodeArgs(REPO_ROOT), '-Y', '/nonexistent', '-U', '11311'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  assert.equal(await new Promise<number | null>((r) => child.once('exit', r)), 64);
  assert.equal(err, 'Cannot use UDP with ascii authentication enabled (-U 0 to disable)\n');
});

/** How a start (under `ulimit -n <nofile>`, lowered only) ended: its status and stderr (a server that runs is stopped: null). */
function startUnderUlimit(kind: ServerKind, nofile: number | null, args: string[]): [number | null, string] {
  const [cmd, argv] = commandFor(kind, args);
  const line = `${nofile !== null ? `ulimit -n ${nofile}; ` : ''}exec ${[cmd, ...argv].map((a) => `'${a}'`).join(' ')}`;
  const r = spawnSync('bash', ['-c', line], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 5_000 });
  return [r.status, r.stderr];
}

test('-p of a negative port other than -1 names no service: memcached\'s getaddrinfo line, then its listen failure', () => {
  for (const kind of kindsFor()) {
    const [cmd, argv] = commandFor(kind, ['-p', '-5']); // after the harness's -p -1 (any free port) and -l 127.0.0.1
    const r = spawnSync(cmd, argv, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 });
    assert.deepEqual([r.status, r.stderr], [71, 'getaddrinfo(): Servname not supported for ai_socktype\n' +
      'failed to listen on one of interface(s) 127.0.0.1: Success\n'], kind);
  }
});

test('-c past the descriptors the kernel would give and -t past memory are refused with memcached\'s words', () => {
  const seen = new Map<ServerKind, Array<[number | null, string]>>();
  for (const kind of kindsFor()) {
    // memcached sets RLIMIT_NOFILE to -c: past fs.nr_open no process may; past the hard limit only one with
    // CAP_SYS_RESOURCE (whichever this machine gives, both servers must agree)
    const tooMany: [number | null, string] = [71, 'failed to set rlimit for open files. Try starting as root or requesting smaller maxconns value.\n'];
    assert.deepEqual(startUnderUlimit(kind, 200, ['-c', '2147483647']), tooMany, kind);
    const pastHard = startUnderUlimit(kind, 200, ['-c', '201', '-t', '1']);
    assert.ok(pastHard[0] === null || pastHard[0] === 71, `${kind}: ${pastHard}`);
    const threads = startUnderUlimit(kind, null, ['-t', '2147483647']);
    assert.deepEqual(threads, [1, 'WARNING: Setting a high number of workerthreads is not recommended.\n' +
      " Set this value to the number of cores in your machine or less.\nCan't allocate thread descriptors: Cannot allocate memory\n"], kind);
    seen.set(kind, [pastHard]);
  }
  if (seen.has('memcached')) assert.deepEqual(seen.get('cachalot'), seen.get('memcached'));
});

/** A process's core file limit, soft and hard, as /proc shows it. */
function coreLimit(pid: number): string {
  return /^Max core file size\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.slice(1, 3).join(' ') ?? '?';
}

test('-r raises the core file limit as memcached does, and stops where no core file could be written', async () => {
  // the servers start from a soft limit of 0 (this test process's own, lowered here)
  assert.equal(spawnSync('prlimit', ['--pid', String(process.pid), '--core=0:'], { stdio: 'ignore' }).status, 0);
  const raised = new Map<ServerKind, string>();
  for (const kind of kindsFor()) {
    for (const args of [['-r'], []]) {
      const s = await startServer(kind, args);
      try { raised.set(kind, `${args.join('')}: ${coreLimit(s.pid)}`); } finally { await s.stop(); }
      if (args.length > 0) assert.doesNotMatch(raised.get(kind)!, /: 0 /, `${kind} -r: a soft limit above 0`);
      else assert.match(raised.get(kind)!, /^: 0 /, `${kind} without -r: the limit it was given`);
    }
  }
  // with a hard limit of 0 and no CAP_SYS_RESOURCE to raise it (root gives it up through setpriv)
  const dropCap = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-sys_resource'] : [];
  const refusals = new Map<ServerKind, [number | null, string]>();
  for (const kind of kindsFor()) {
    const [cmd, argv] = commandFor(kind, ['-r']);
    const r = spawnSync('prlimit', ['--core=0:0', ...dropCap, cmd, ...argv], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 });
    refusals.set(kind, [r.status, r.stderr]);
  }
  assert.deepEqual(refusals.get('cachalot'), [71, 'failed to ensure corefile creation\n']);
  if (refusals.has('memcached')) assert.deepEqual(refusals.get('memcached'), refusals.get('cachalot'));
});

// -k: memcached's mlockall; Cachalot locks its store's memory (src/main/lock-memory.ts). As root both lock and
// say nothing; as nobody (RLIMIT_MEMLOCK's few MB, no CAP_IPC_LOCK) both are refused, say so alike and serve.
for (const kind of kindsFor()) {
  test(`-k as root: the server's memory is locked, nothing said, and it serves [${kind}]`, { skip: isRoot ? false : 'not root' }, async () => {
    const s = await startServer(kind, ['-k', '-t', '2']);
    try {
      const c = await Client.connect(s.port);
      assert.equal((await c.request('set k 0 0 1\r\nx\r\nget k\r\n', 29)).toString(), 'STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n');
      c.end();
      assert.ok(lockedKb(s.pid) > 0, 'VmLck');
      assert.doesNotMatch(s.stderr(), /-k invalid/);
    } finally { await s.stop(); }
  });

  test(`-k as nobody: mlockall() failed, memcached's warning, nothing locked, and it serves [${kind}]`, { skip: isRoot ? false : 'not root' }, async () => {
    const s = await startAsNobody(kind, ['-k'], withTunables({ ...process.env }));
    try {
      assert.equal((await s.client.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
      assert.equal(s.stderr(), 'warning: -k invalid, mlockall() failed: Cannot allocate memory\n');
      assert.equal(lockedKb(s.pid), 0);
    } finally { await s.stop(); }
  });
}

/** A process's locked memory (VmLck in /proc/<pid>/status), in kB. */
function lockedKb(pid: number): number {
  const m = /^VmLck:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  assert.ok(m, `VmLck of ${pid}`);
  return Number(m[1]);
}

/** A server started under a shell's `ulimit` line, as a service manager's limits would have it; stopped by the caller. */
type Limited = { port: number; pid: number; stderr: () => string; stop: () => Promise<void> };

/**
 * `ulimit <limits>` (none: '') and then the server; as root, without the capabilities named in `dropCaps` (setpriv,
 * as the -r test does): without sys_resource it cannot raise a hard limit, without net_admin and net_raw it cannot
 * mark sockets.
 */
async function startLimited(kind: ServerKind, limits: string, args: string[], dropCaps: string[] = []): Promise<Limited> {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-limits-'));
  const portFile = join(dir, 'ports');
  const [cmd, argv] = commandFor(kind, args);
  const dropCap = dropCaps.length > 0 && process.getuid?.() === 0
    ? `setpriv --bounding-set=${dropCaps.map((c) => `-${c}`).join(',')} ` : '';
  const line = `${limits !== '' ? `ulimit ${limits}; ` : ''}exec ${dropCap}${[cmd, ...argv].map((a) => `'${a}'`).join(' ')}`;
  const child = spawn('bash', ['-c', line], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...(kind === 'cachalot' ? withTunables(process.env) : process.env), MEMCACHED_PORT_FILENAME: portFile } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); }
    rmSync(dir, { recursive: true, force: true });
  };
  const port = await tcpPortFrom(portFile);
  if (port === 0) { await stop(); assert.fail(`${kind} did not start: ${stderr}`); }
  return { port, pid: child.pid!, stderr: () => stderr, stop };
}

/** A process's RLIMIT_NOFILE, soft and hard, as /proc shows it. */
function nofileLimits(pid: number): [number, number] {
  const m = /^Max open files\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  assert.ok(m, `the open files limit of ${pid}`);
  return [Number(m[1]), Number(m[2])];
}

for (const kind of kindsFor()) {
  // memcached sets soft and hard to -c; Cachalot to -c and its own descriptors (Node's threads have more), so that -c
  // connections fit whatever it was started with: up to the hard limit, or past it where it may (CAP_SYS_RESOURCE).
  test(`the open files limit is set for -c as the server starts, as memcached's setrlimit: -c clients are served, the one over it gets the error [${kind}]`, async () => {
    const s = await startServer(kind, ['-c', '300', '-t', '2']);
    const clients: Client[] = [];
    try {
      const [soft, hard] = nofileLimits(s.pid);
      if (kind === 'memcached') assert.deepEqual([soft, hard], [300, 300]);
      else assert.ok(soft === hard && soft > 300 && soft < 300 + 200, `${soft} ${hard}`);
      let refusal = '';
      for (let i = 0; i < 320 && refusal === ''; i++) {
        const c = await Client.connect(s.port);
        clients.push(c);
        await c.send('version\r\n');
        if (!(await answeredWithin(c, 16, 2000))) assert.ok(await accepting(clients[0]), `client ${i} waits: out of descriptors`);
        const reply = (await c.readUntil('\r\n')).toString();
        if (reply !== 'VERSION 1.6.18\r\n') refusal = reply;
      }
      assert.equal(refusal, 'ERROR Too many open connections\r\n');
      // memcached counts its own descriptors against -c, so it serves a few less than -c
      assert.ok(clients.length - 1 > 250, `${clients.length - 1} served`);
    } finally {
      for (const c of clients) c.destroy();
      await s.stop();
    }
  });
}

test('out of file descriptors (a hard RLIMIT_NOFILE below -c): the next client waits unanswered in the listen queue, served once connections close', async () => {
  const s = await startLimited('cachalot', '-n 100', ['-t', '2', '-c', '100'], ['sys_resource']);
  try {
    assert.deepEqual(nofileLimits(s.pid), [100, 100], 'not raised');
    // fewer descriptors than -c: the dispatcher stops accepting before it runs out
    const { served, waiting } = await fillUntilUnanswered(s.port, 100);
    const later = await connectNotRefused(s.port, 300);
    assert.ok(later.ok, 'a later client is not refused: the socket still listens');
    for (const c of served.splice(0, 20)) { c.end(); await c.closed(); }
    assert.equal((await waiting.read(16)).toString(), 'VERSION 1.6.18\r\n', 'served once connections closed');
    const st = await acceptingAgain(waiting);
    assert.deepEqual([st.get('accepting_conns'), st.get('listen_disabled_num')], ['1', '1']);
    assert.equal(s.stderr(), 'accept4(): Too many open files\n');
    for (const c of [...served, waiting]) c.end();
    later.settle();
  } finally {
    await s.stop();
  }
});

test('a multi-get bigger than the server queues goes out whole to a client that reads it: the get waits for the client', async () => {
  // memcached points its reply at the items and waits in conn_mwrite while the client reads. Cachalot copies
  // most values, so a get stops at a key while the client's writes are backed up and goes on as it reads.
  const s = await cachalot(['-t', '2']);
  const setup = await Client.connect(s.port);
  const chained = 'c'.repeat(1000 * 1000); // over slab_chunk_max: copied into the reply
  const attached = 'a'.repeat(100 * 1000); // sent from its item
  assert.equal((await setup.request(`set big 1 0 ${chained.length}\r\n${chained}\r\n`, 8)).toString(), 'STORED\r\n');
  assert.equal((await setup.request(`set mid 2 0 ${attached.length}\r\n${attached}\r\n`, 8)).toString(), 'STORED\r\n');
  const block: Record<string, string> = {
    big: `VALUE big 1 ${chained.length}\r\n${chained}\r\n`, mid: `VALUE mid 2 ${attached.length}\r\n${attached}\r\n`,
  };
  // A get line past 64 KB (answered as it arrives) and a short gat, pipelined: 130 MB of reply each
  const longLine: string[] = [], shortLine: string[] = [];
  for (let i = 0; i < 60; i++) {
    longLine.push('big', 'mid');
    for (let j = 0; j < 100; j++) longLine.push(`miss${j}`);
    shortLine.push('big', 'miss', 'mid');
  }
  const want = (keys: string[]) => keys.map((k) => block[k] ?? '').join('') + 'END\r\n';
  const reader = await Client.connect(s.port);
  await reader.send(`get ${longLine.join(' ')}\r\ngat 0 ${shortLine.join(' ')}\r\nversion\r\n`);
  for (const [what, keys] of [['get', longLine], ['gat', shortLine]] as const) {
    const expected = Buffer.from(want(keys));
    const got = await reader.read(expected.length);
    assert.ok(got.equals(expected), `the ${what}'s whole reply, in order`);
  }
  assert.equal(await reader.readLine(), 'VERSION 1.6.18', 'and the command after it');
  reader.end();
  setup.end();
});

test('a multi-get of large values to a client that never reads waits in conn_mwrite, its memory bounded', async () => {
  const s = await cachalot(['-t', '2']);
  const setup = await Client.connect(s.port);
  const big = 'b'.repeat(1000 * 1000);
  assert.equal((await setup.request(`set big 0 0 ${big.length}\r\n${big}\r\n`, 8)).toString(), 'STORED\r\n');
  const greedy = await Client.connect(s.port);
  greedy.pauseReading();
  await greedy.send(`get ${'big '.repeat(2000)}\r\n`); // 2 GB of reply on one line
  assert.match(await connsOnceInMwrite(setup), /:state conn_mwrite\r$/m, 'the greedy client waits in conn_mwrite');
  await sleep(200);
  const rss = await rssOf(s.pid);
  assert.ok(rss < 400 * 1024 * 1024, `server RSS ${rss} stays bounded`);
  assert.equal((await setup.stats()).get('curr_connections'), '2', 'the greedy client is not hung up on');
  const want = `VALUE big 0 ${big.length}\r\n${big}\r\n`;
  assert.equal((await setup.request('get big\r\n', want.length)).toString(), want, 'others are served meanwhile');
  assert.equal(await setup.readLine(), 'END');
  greedy.resumeReading();
  for (let i = 0; i < 20; i++) assert.equal((await greedy.read(want.length)).toString(), want, `block ${i}, once read`);
  greedy.destroy();
  let st = await setup.stats();
  for (let i = 0; i < 250 && st.get('curr_connections') !== '1'; i++) { await sleep(20); st = await setup.stats(); }
  assert.equal(st.get('curr_connections'), '1', 'the paused get goes with its connection');
  setup.end();
});

test('clients that never read large values wait in conn_mwrite holding the items, not copies, and the worker serves on', async () => {
  // A value of 64 KB and up (a chained one too) goes out from its item, as memcached's reply points into its items:
  // a get sends what it has collected before it passes what a connection may queue (backlogLimit) and then waits
  // for its client, so 32 clients that never read a get of four 7 MB values are paused, none is hung up on, and
  // together they hold references to one item rather than 32 x 14 MB of copies. (The worker's bound on copied
  // replies, four connections' worth, is left for copies: values under 64 KB, each connection past its 256 KB mark
  // holding one more at most.)
  const s = await cachalot(['-t', '1', '-I', '8m']);
  const setup = await Client.connect(s.port);
  const big = 'b'.repeat(7 * 1000 * 1000);
  assert.equal((await setup.request(`set big 0 0 ${big.length}\r\n${big}\r\n`, 8)).toString(), 'STORED\r\n');
  const greedy: Client[] = [];
  for (let i = 0; i < 32; i++) {
    const c = await Client.connect(s.port);
    c.pauseReading();
    await c.send(`get ${'big '.repeat(4)}\r\n`);
    greedy.push(c);
  }
  let conns = '';
  for (let i = 0; i < 500 && (conns.match(/:state conn_mwrite\r$/gm)?.length ?? 0) < greedy.length; i++) {
    await sleep(20);
    await setup.send('stats conns\r\n');
    conns = (await setup.readUntil('END\r\n')).toString();
  }
  assert.equal(conns.match(/:state conn_mwrite\r$/gm)?.length ?? 0, greedy.length, 'every greedy client waits in conn_mwrite');
  assert.equal((await setup.stats()).get('curr_connections'), String(greedy.length + 1), 'none is hung up on');
  const rss = await rssOf(s.pid);
  assert.ok(rss < 400 * 1024 * 1024, `server RSS ${rss} stays bounded`);
  const want = `VALUE big 0 ${big.length}\r\n`;
  assert.equal((await setup.request('get big\r\n', want.length)).toString(), want, 'the worker serves on');
  setup.destroy();
  for (const c of greedy) c.destroy();
});

test('stats conns lists every connection of every worker, with its address and state', async () => {
  const s = await cachalot(['-t', '4']);
  const clients = await Promise.all([0, 1, 2].map(() => Client.connect(s.port)));
  for (const c of clients) assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
  const probe = await Client.connect(s.port);
  await probe.send('stats conns\r\n');
  const text = (await probe.readUntil('END\r\n')).toString();
  const ids = new Set([...text.matchAll(/^STAT (\d+):listen_addr tcp:127\.0\.0\.1:\d+\r$/gm)].map((m) => m[1]));
  assert.equal(ids.size, 4, text); // three idle clients and the probe, on four different workers
  // the listener's id is memcached's fd for it with -t 4 and a port file (the harness's): 6 + 4 x 4 + 1
  assert.match(text, new RegExp(`^STAT 23:addr tcp:127\\.0\\.0\\.1:${s.port}\\r\\nSTAT 23:state conn_listening\\r$`, 'm'));
  for (const id of ids) {
    assert.match(text, new RegExp(`^STAT ${id}:addr tcp:127\\.0\\.0\\.1:\\d+\\r$`, 'm'));
    assert.match(text, new RegExp(`^STAT ${id}:state conn_(read|parse_cmd)\\r$`, 'm'));
    assert.match(text, new RegExp(`^STAT ${id}:secs_since_last_cmd \\d+\\r$`, 'm'));
  }
  for (const c of [...clients, probe]) c.end();
});

test('on a wildcard listener, stats conns gives the address each client reached (getsockname)', async () => {
  const s = await startServer('cachalot', ['-t', '2'], { listen: '0.0.0.0' });
  servers.push(s);
  const c = await Client.connect(s.port);
  await c.send('stats conns\r\n');
  const text = (await c.readUntil('END\r\n')).toString();
  assert.match(text, new RegExp(`^STAT \\d+:listen_addr tcp:127\\.0\\.0\\.1:${s.port}\\r$`, 'm'), text);
  assert.doesNotMatch(text, /listen_addr tcp:0\.0\.0\.0/, 'the address reached, not the wildcard');
  c.end();
});

// memcached's `*` is getaddrinfo with no host: 0.0.0.0, then :: (IPV6_V6ONLY), a socket, a descriptor and a row
// each, for TCP and for UDP (one per thread that serves it); an IPv4 client comes in on the IPv4 socket. With -p -1
// each socket has a port of its own (the harness reads the first, the IPv4 one's).
for (const kind of kindsFor()) {
  test(`-l '*': an IPv4 and an IPv6-only socket, as memcached's wildcard makes them, each with its row [${kind}]`, async () => {
    const s = await startServer(kind, ['-t', '2', '-U', '-1'], { listen: '*' });
    servers.push(s);
    const c = await Client.connect(s.port);
    // memcached's threads make their UDP conns from its dispatch queue, as they make this client's: on a busy
    // machine the other thread's may come a moment after this client is served
    let text = '';
    for (let i = 0; i < 100 && !text.includes('STAT 20:state'); i++) {
      if (i > 0) await sleep(20);
      await c.send('stats conns\r\n');
      text = (await c.readUntil('END\r\n')).toString();
    }
    const st = await c.stats();
    c.end();
    const lines = text.split('\r\n').filter((l) => /:(addr|listen_addr|state) /.test(l))
      .map((l) => l.replace(`:${s.port}`, ':<port>').replace(/:\d+$/, ':<n>'));
    // -t 2: the port file's 14 (the client's once it is closed), then TCP 15 and 16, UDP 17-18 and 19-20
    assert.deepEqual(lines, [
      'STAT 14:addr tcp:127.0.0.1:<n>', 'STAT 14:listen_addr tcp:127.0.0.1:<port>', 'STAT 14:state conn_parse_cmd',
      'STAT 15:addr tcp:0.0.0.0:<port>', 'STAT 15:state conn_listening',
      'STAT 16:addr tcp6:[::]:<n>', 'STAT 16:state conn_listening',
      'STAT 17:addr udp:0.0.0.0:<n>', 'STAT 17:state conn_read', 'STAT 18:addr udp:0.0.0.0:<n>', 'STAT 18:state conn_read',
      'STAT 19:addr udp6:[::]:<n>', 'STAT 19:state conn_read', 'STAT 20:addr udp6:[::]:<n>', 'STAT 20:state conn_read',
    ], text);
    // memcached's curr_conns counts the two listeners and four UDP conns with the client, and stats prints it less one
    assert.deepEqual([st.get('curr_connections'), st.get('total_connections')], ['6', '7'], kind);
  });
}

// memcached sets IPV6_V6ONLY on every IPv6 socket, not only `*`'s: `-l ::` takes no IPv4 client, and `::` and
// 0.0.0.0 can share a port.
for (const kind of kindsFor()) {
  test(`-l ::: IPv6 clients only; -l [::]:p,0.0.0.0:p: both bound, two listeners [${kind}]`, async () => {
    const s = await startServer(kind, ['-t', '1'], { listen: '::' });
    servers.push(s);
    await assert.rejects(Client.connect(s.port), { code: 'ECONNREFUSED' }, 'no IPv4 client on an IPv6 socket');
    const c6 = await Client.connectTo('::1', s.port);
    assert.equal((await c6.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
    c6.end();
    await s.stop();
    const port = await freePort();
    const both = await startServer(kind, ['-t', '1', '-p', String(port)], { listen: `[::]:${port},0.0.0.0:${port}` });
    servers.push(both);
    const c = await Client.connect(port);
    await c.send('stats conns\r\n');
    const text = (await c.readUntil('END\r\n')).toString();
    c.end();
    const listening = text.split('\r\n').filter((l) => /:addr tcp6?:(\[::\]|0\.0\.0\.0):/.test(l)); // the client's is 10
    assert.deepEqual(listening, [`STAT 11:addr tcp6:[::]:${port}`, `STAT 12:addr tcp:0.0.0.0:${port}`], text);
  });
}

test('a reply queued for a client that is not reading does not disturb the others of its worker', async () => {
  // One worker: the stalled client's queued write and everyone else's immediate writes share it.
  const s = await cachalot(['-t', '1']);
  const setup = await Client.connect(s.port);
  const big = 'q'.repeat(1000 * 1000);
  assert.equal((await setup.request(`set big 0 0 ${big.length}\r\n${big}\r\n`, 8)).toString(), 'STORED\r\n');
  const stalled = await Client.connect(s.port);
  stalled.pauseReading();
  const gets = 10; // 10 MB of replies: more than loopback's socket buffers hold
  await stalled.send('get big\r\n'.repeat(gets));
  assert.match(await connsOnceInMwrite(setup), /:state conn_mwrite\r$/m, 'the stalled client\'s replies wait in the worker');
  for (let i = 0; i < 20; i++) {
    const other = await Client.connect(s.port);
    const want = `VALUE k${i} 0 1\r\n${i % 10}\r\nEND\r\n`;
    assert.equal((await other.request(`set k${i} 0 0 1\r\n${i % 10}\r\n`, 8)).toString(), 'STORED\r\n');
    assert.equal((await other.request(`get k${i}\r\n`, want.length)).toString(), want);
    other.end();
  }
  stalled.resumeReading();
  const block = `VALUE big 0 ${big.length}\r\n${big}\r\nEND\r\n`;
  const got = await stalled.read(gets * block.length);
  assert.ok(got.equals(Buffer.from(block.repeat(gets), 'latin1')), 'every reply, whole and in order');
  setup.end();
  stalled.end();
});

/** A stream of noreply sets of one key, in either protocol: a chunk of ~1 MB, a request that answers once they ran, a get. */
type SetStream = { proto: string; chunk: Buffer; sync: Buffer; synced: number; get: Buffer; got: number; value: (reply: Buffer) => string };

function setStreams(value: string): SetStream[] {
  const binSet = binRequest({ opcode: Op.SETQ, key: 'same', extras: Buffer.alloc(8), value });
  return [
    {
      proto: 'text', chunk: Buffer.from(`set same 0 0 ${value.length} noreply\r\n${value}\r\n`.repeat(8000), 'latin1'),
      sync: Buffer.from('version\r\n'), synced: 16, get: Buffer.from('get same\r\n'), got: 25 + value.length,
      value: (r) => r.toString('latin1').replace(/^VALUE same 0 \d+\r\n(.*)\r\nEND\r\n$/s, '$1'),
    },
    {
      proto: 'binary', chunk: Buffer.concat(Array.from({ length: 7500 }, () => binSet)),
      sync: binRequest({ opcode: Op.NOOP }), synced: 24, get: binRequest({ opcode: Op.GET, key: 'same' }), got: 28 + value.length,
      value: (r) => (r.readUInt16BE(6) === 0 ? r.subarray(28).toString('latin1') : `status ${r.readUInt16BE(6)}`),
    },
  ];
}

for (const kind of kindsFor()) {
  for (const st of setStreams('v'.repeat(100))) {
    test(`a client that pipelines faster than -R lets the server work is not read ahead of its commands (${st.proto}) [${kind}]`, async () => {
      // memcached yields after -R commands and stops reading that client (its event becomes EV_WRITE) until what
      // it read is worked off: its input is one read buffer whatever the client sends. Cachalot reads on at most
      // 64 KB ahead; a server that read on without a bound while yielding would keep the whole stream (96 MB here).
      const s = await serverFor(kind, ['-t', '1', '-R', '20'], true);
      try {
        const c = await Client.connect(s.port);
        const stream = async (mb: number): Promise<void> => {
          for (let i = 0; i < mb; i++) await c.send(st.chunk);
          assert.equal((await c.request(st.sync, st.synced)).length, st.synced);
        };
        await stream(16); // the first traffic grows the runtime's own heaps (and Cachalot's JIT code)
        const before = await rssOf(s.pid);
        await stream(96);
        const grown = (await rssOf(s.pid)) - before;
        assert.ok(grown < 32 * 1024 * 1024, `RSS grew ${grown} bytes over a 96 MB stream`);
        assert.equal(st.value(await c.request(st.get, st.got)), 'v'.repeat(100), 'and every command was worked');
        c.end();
        const yields = Number((await Client.statsOf(s.port)).get('conn_yields'));
        assert.ok(yields > 1000, `the stream was worked 20 commands a turn (${yields} yields)`);
      } finally {
        await s.stop();
      }
    });
  }
}

registerStopHook();
for (const kind of kindsFor()) {
  test(`a client that sends its commands and half-closes gets every reply, then the hang-up [${kind}]`, async () => {
    const server = await serverFor(kind, ['-t', '2']);
    const big = 'z'.repeat(200_000); // a reply larger than the kernel takes at once
    const got = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: server.port }, () => {
        s.end(`set h 0 0 ${big.length}\r\n${big}\r\nget h\r\nget h nope\r\n`);
      });
      let buf = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => { buf += d; });
      s.on('close', () => resolve(buf));
      s.on('error', reject);
    });
    const value = `VALUE h 0 ${big.length}\r\n${big}\r\n`;
    assert.equal(got, `STORED\r\n${value}END\r\n${value}END\r\n`);
  });
}

test('the server leaves the pipes it was given blocking, for whoever shares them (memcached\'s fprintf does)', async () => {
  // Node's process.stderr, and a worker's output piped through it, set O_NONBLOCK on a pipe: then the process
  // that started the server (a test harness, a supervisor) gets EAGAIN on its own writes to it
  const s = await cachalot(['-vv', '-t', '2']);
  const c = await Client.connect(s.port);
  assert.equal((await c.request('set k 0 0 1\r\nv\r\n', 8)).toString(), 'STORED\r\n'); // -vv: the workers log
  c.end();
  const { readFileSync } = await import('node:fs');
  const flags = Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/${s.pid}/fdinfo/2`, 'utf8'))?.[1] ?? '', 8);
  assert.equal(flags & 0o4000, 0, `stderr's flags ${flags.toString(8)} hold no O_NONBLOCK`);
  assert.match(s.stderr(), /<\d+ set k 0 0 1/, 'and the workers\' lines still reach it');
});

/**
 * What a server logs at -vv or above for one client's `requests` (which end the connection): its commands, replies and
 * lookups, descriptor numbers taken out; not the binary headers' dumps.
 */
async function replyLog(kind: ServerKind, args: string[], requests: Buffer): Promise<string[]> {
  const s = await startServer(kind, [...args, '-t', '1']);
  try {
    const c = await Client.connect(s.port);
    await c.send(requests);
    await c.closed();
    for (let i = 0; i < 200 && !/connection closed/.test(s.stderr()); i++) await sleep(10); // the lines are written
    // -vvv's crawler thread writes its lines whole, whenever it runs: in memcached's log one can land inside a key,
    // which memcached writes a character at a time ("> FOUND KEY kNothing left to crawl for 87\n")
    return s.stderr().replace(/Nothing left to crawl for \d+\n/g, '').split('\n')
      .filter((l) => /^([<>]\d+ (?!\s|server listening|new auto-neg|connection closed|Read binary|Writing bin response)|> |CAS:)/.test(l))
      .map((l) => l.replace(/^([<>])\d+/, '$1fd'));
  } finally { await s.stop(); }
}

for (const kind of kindsFor()) {
  test(`-vv logs each command and each one-line reply as memcached's out_string does [${kind}]`, async () => {
    const s = await startServer(kind, ['-vv', '-t', '2']);
    try {
      const c = await Client.connect(s.port);
      const long = 'k'.repeat(251); // a key too long ends a get with an error, after a reply (incr's) not yet sent
      const script = 'set a 0 0 1\r\nx\r\nget a b\r\ngets a\r\nincr a 1\r\n' + `get a ${long} a\r\nget ${long}\r\n` +
        'set q 0 0 1 noreply\r\n5\r\nincr q 1 noreply\r\n' +
        'delete zz\r\nbogus\r\n\r\nrefresh_certs\r\nmn\r\nmg a v\r\nset big 0 0 -1\r\ncas a 0 0 1 999\r\nz\r\ncache_memlimit 100\r\nme nokey\r\n' +
        'version\r\nquit\r\n';
      await c.send(script);
      await c.closed();
      for (let i = 0; i < 200 && !/connection closed/.test(s.stderr()); i++) await sleep(10); // the lines are written
      const lines = s.stderr().split('\n')
        .filter((l) => /^([<>]\d+ |CAS:|maxbytes)/.test(l) && !/server listening|new auto-neg/.test(l))
        .map((l) => l.replace(/^([<>])\d+/, '$1fd'));
      assert.deepEqual(lines, [
        '<fd set a 0 0 1', '>fd STORED', '<fd get a b', '>fd sending key a', '>fd END', '<fd gets a', '>fd sending key a',
        '>fd END', '<fd incr a 1', '>fd CLIENT_ERROR cannot increment or decrement non-numeric value',
        `<fd get a ${long} a`, '>fd sending key a', '>fd END', '>fd CLIENT_ERROR bad command line format',
        `<fd get ${long}`, '>fd END', '>fd CLIENT_ERROR bad command line format',
        '<fd set q 0 0 1 noreply', '>fd NOREPLY STORED', '<fd incr q 1 noreply', '>fd NOREPLY 6', '<fd delete zz', '>fd NOT_FOUND', '<fd bogus', '>fd ERROR',
        '<fd \r', '>fd ERROR', // memcached strips the "\r" only from a longer line
        '<fd refresh_certs', // its "Error TLS not enabled" is written as is, not through out_string
        '<fd mn', '>fd MN', '<fd mg a v', '<fd set big 0 0 -1', '>fd CLIENT_ERROR bad command line format',
        '<fd cas a 0 0 1 999', 'CAS:  failure: expected 1, got 999', '>fd EXISTS', '<fd cache_memlimit 100',
        'maxbytes adjusted to 100m', '>fd OK', '<fd me nokey', '>fd EN',
        '<fd version', '>fd VERSION 1.6.18', '<fd quit', '<fd connection closed.',
      ]);
    } finally { await s.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`-vv under -C: a cas's failure line says the new item's CAS, which -C leaves 0 [${kind}]`, async () => {
    const s = await startServer(kind, ['-vv', '-C']);
    try {
      const c = await Client.connect(s.port);
      assert.equal((await c.request('set a 0 0 1\r\nx\r\ncas a 0 0 1 2\r\ny\r\n', 16)).toString(), 'STORED\r\nEXISTS\r\n');
      c.end();
      for (let i = 0; i < 200 && !/connection closed/.test(s.stderr()); i++) await sleep(10);
      assert.deepEqual(s.stderr().split('\n').filter((l) => l.startsWith('CAS:')), ['CAS:  failure: expected 0, got 0']);
    } finally { await s.stop(); }
  });
}

test('-vv: a cas that fails prints the client\'s CAS as memcached parsed it, a uint64: exact past 2^53, a sign or ' +
  'leading zeros taken as strtoull takes them (text cas, ms C, binary)', {
  skip: memcachedAvailable() === null ? 'memcached is not installed' : false,
}, async () => {
  const forms = ['18446744073709551615', '9007199254740993', '-9223372036854775809', '+7', '00000000000000000000009007199254740993'];
  const text = Buffer.from(['set k 0 0 1\r\nx\r\n', ...forms.map((f) => `cas k 0 0 1 ${f}\r\ny\r\n`),
    ...forms.map((f) => `ms k 1 C${f}\r\nz\r\n`), 'quit\r\n'].join(''));
  const setExtras = Buffer.alloc(8);
  const binary = Buffer.concat([binRequest({ opcode: Op.SET, key: 'k', extras: setExtras, value: 'x' }),
    ...[2n ** 64n - 1n, 2n ** 53n + 1n].map((cas) => binRequest({ opcode: Op.SET, key: 'k', extras: setExtras, value: 'y', cas })),
    binRequest({ opcode: Op.QUIT })]);
  const cas: string[][] = [];
  for (const requests of [text, binary]) {
    const [ours, theirs] = [await replyLog('cachalot', ['-vv'], requests), await replyLog('memcached', ['-vv'], requests)];
    assert.deepEqual(ours, theirs);
    cas.push(ours.filter((l) => l.startsWith('CAS:')).map((l) => l.replace(/^CAS: {2}failure: expected \d+, got /, '')));
  }
  const got = ['18446744073709551615', '9007199254740993', '9223372036854775807', '7', '9007199254740993'];
  assert.deepEqual(cas, [[...got, ...got], ['18446744073709551615', '9007199254740993']]);
});

for (const kind of kindsFor()) {
  test(`-vvv adds memcached's line for every lookup (its key as sent, and why a dead one went), the background threads' ` +
    `start and stop, and -vv's hash table growth; a key's bytes are printed as sent [${kind}]`, async () => {
    const s = await startServer(kind, ['-vvv', '-t', '2', '-o', 'hashpower=12']);
    try {
      const c = await Client.connect(s.port);
      const key = Buffer.from('k\u00e9', 'utf8'); // bytes past ASCII: printed as they came
      const send = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p)));
      await c.send(send('set a 0 0 1\r\nx\r\nget a\r\nget b\r\nincr a 1\r\nset ', key, ' 0 0 1\r\nz\r\nget ', key,
        '\r\nset e 0 0 1\r\ny\r\ndelete a\r\n'));
      await c.read(144);
      // past 1.5 x 2^12 items the table grows
      let fill = '';
      for (let i = 0; i < 7000; i++) fill += `set f${i} 0 0 1 noreply\r\nv\r\n`;
      await c.request(fill + 'mn\r\n', 4);
      const err = (): string => s.stderr();
      for (let i = 0; i < 500 && !/Hash table expansion done/.test(err()); i++) await sleep(20);
      process.kill(s.pid, 'SIGUSR1');
      await s.exited;
      const id = /^<(\d+) new auto-negotiating client connection$/m.exec(err())?.[1];
      const lookups = err().split('\n').filter((l) => l.startsWith('> ') || new RegExp(`^<${id} (get|set [^f])`).test(l));
      assert.deepEqual(lookups.slice(0, 14), [`<${id} set a 0 0 1`, '> NOT FOUND a', `<${id} get a`, '> FOUND KEY a', `<${id} get b`,
        '> NOT FOUND b', '> FOUND KEY a', `<${id} set k\u00e9 0 0 1`, '> NOT FOUND k\u00e9', `<${id} get k\u00e9`, '> FOUND KEY k\u00e9',
        `<${id} set e 0 0 1`, '> NOT FOUND e', '> FOUND KEY a'], kind);
      assert.match(err(), /^Starting LRU crawler background thread$/m, kind);
      assert.match(err(), /^Starting LRU maintainer background thread$/m, kind);
      assert.match(err(), /^Hash table expansion starting$[^]*^Hash table expansion done$/m, kind);
      assert.match(err(), /^LRU crawler thread sleeping$/m, kind);
      assert.match(err(), /asking background threads to stop\nLRU crawler thread sleeping\nLRU crawler thread stopping\n/, kind);
      assert.match(err(), /stopped lru crawler\nLRU maintainer thread stopping\nstopped maintainer\n/, kind);
      assert.match(err(), /^<\d+ connection closed\.\n\d+: going from conn_listening to conn_closed$/m, kind);
      c.end();
    } finally { await s.stop(); }
  });

  // Without the LRU maintainer nothing reaps a dead item in the background (its juggles would, and it schedules the
  // crawler), and no set comes between the flush and the get (an allocation pulls its class's tail): so the lookup
  // is the one to find the item dead, and say why.
  test(`-vvv: a lookup that finds its item flushed or expired says "-nuked by flush" or "-nuked by expire" [${kind}]`, async () => {
    const s = await startServer(kind, ['-vvv', '-o', 'no_lru_maintainer']);
    try {
      const c = await Client.connect(s.port);
      await c.request('set k 0 0 1\r\nv\r\nflush_all\r\nget k\r\nset x 0 1 1\r\nv\r\n', 8 + 4 + 5 + 8);
      await sleep(2100); // x past its second
      await c.request('get x\r\n', 5);
      const lines = (): string[] => s.stderr().split('\n').filter((l) => l.includes('-nuked by'));
      for (let i = 0; i < 200 && lines().length < 2; i++) await sleep(10);
      assert.deepEqual(lines(), ['> FOUND KEY k -nuked by flush', '> FOUND KEY x -nuked by expire'], kind);
      c.end();
    } finally { await s.stop(); }
  });

  test(`-vv: the crawler names each expired item it reclaims, its flags and LRU as memcached's it_flags and slabs_clsid [${kind}]`, async () => {
    const s = await startServer(kind, ['-vv', '-o', 'no_lru_maintainer']); // no juggling: the crawler finds them
    try {
      const c = await Client.connect(s.port);
      await c.request('set x1 0 1 1\r\nv\r\nset x2 0 1 1\r\nv\r\nget x2\r\n', 8 + 8 + 22);
      await sleep(2100); // past their second
      assert.equal((await c.request('lru_crawler crawl 1\r\n', 4)).toString(), 'OK\r\n');
      // memcached writes each line in three pieces (the words, the key, the newline): wait for both whole lines
      for (let i = 0; i < 200 && (s.stderr().match(/LRU crawler found [^\n]*: x[12]\n/g) ?? []).length < 2; i++) await sleep(20);
      const found = s.stderr().split('\n').filter((l) => l.startsWith('LRU crawler found')).sort();
      assert.deepEqual(found, ['LRU crawler found an expired item (flags: 11, slab: 129): x2',
        'LRU crawler found an expired item (flags: 3, slab: 129): x1'], kind);
      c.end();
    } finally { await s.stop(); }
  });
}

test('-vvv: a store refused for its size logs its reply as it is written, before the lookup of the unlink that follows ' +
  'a set (text, binary), and after the one an ms makes first, as memcached does', {
  skip: memcachedAvailable() === null ? 'memcached is not installed' : false,
}, async () => {
  const n = 1024 * 1024 + 1; // past -I's 1 MB: too large
  const big = 'v'.repeat(n);
  const text = Buffer.from(['set k 0 0 1\r\nx\r\n', `set k 0 0 ${n}\r\n${big}\r\n`, 'set k 0 0 1\r\nx\r\n',
    `set k 0 0 ${n} noreply\r\n${big}\r\n`, `add k 0 0 ${n}\r\n${big}\r\n`, `cas k 0 0 ${n} 1\r\n${big}\r\n`,
    'set k 0 0 1\r\nx\r\n', `ms k ${n} T0\r\n${big}\r\n`, `ms k ${n} MA\r\n${big}\r\n`, 'quit\r\n'].join(''));
  const setExtras = Buffer.alloc(8);
  const binary = Buffer.concat([binRequest({ opcode: Op.SET, key: 'b', extras: setExtras, value: 'x' }),
    binRequest({ opcode: Op.SET, key: 'b', extras: setExtras, value: big }), binRequest({ opcode: Op.QUIT })]);
  const logs: string[][] = [];
  for (const requests of [text, binary]) {
    const [ours, theirs] = [await replyLog('cachalot', ['-vvv'], requests), await replyLog('memcached', ['-vvv'], requests)];
    assert.deepEqual(ours, theirs);
    logs.push(ours);
  }
  const TOO_LARGE = '>fd SERVER_ERROR object too large for cache';
  assert.deepEqual(logs[0].filter((l) => l !== '<fd set k 0 0 1'), [
    '> NOT FOUND k', '>fd STORED', `<fd set k 0 0 ${n}`, TOO_LARGE, '> FOUND KEY k', // the reply, then the unlink
    '> NOT FOUND k', '>fd STORED', `<fd set k 0 0 ${n} noreply`, '>fd NOREPLY SERVER_ERROR object too large for cache',
    '> FOUND KEY k', `<fd add k 0 0 ${n}`, TOO_LARGE, `<fd cas k 0 0 ${n} 1`, TOO_LARGE, // add, cas: no unlink
    '> NOT FOUND k', '>fd STORED', `<fd ms k ${n} T0`, '> FOUND KEY k', TOO_LARGE, // ms: the unlink, then the reply
    `<fd ms k ${n} MA`, '> NOT FOUND k', TOO_LARGE, '<fd quit',
  ]);
  assert.deepEqual(logs[1].filter((l) => /^(>fd Writing an error|> )/.test(l)), [
    '> NOT FOUND b', '>fd Writing an error: Too large.', '> FOUND KEY b',
  ]);
});

test('-vv at start: the slab class table, a line per listener, then one per client, as memcached prints them', {
  skip: memcachedAvailable() === null ? 'memcached is not installed' : false,
}, async () => {
  const args = ['-vv', '-t', '2', '-B', 'ascii', '-n', '100', '-f', '2', '-o', 'slab_chunk_max=16384'];
  const startLines = async (kind: 'cachalot' | 'memcached'): Promise<string[]> => {
    const s = await startServer(kind, args);
    try {
      const c = await Client.connect(s.port); // listening: its lines are out
      c.end();
      for (let i = 0; i < 200 && !s.stderr().includes('client connection'); i++) await sleep(10); // and the client's
      return s.stderr().split('\n').filter((l) => /^slab class|server listening|client connection/.test(l))
        .map((l) => l.replace(/^<\d+/, '<fd'));
    } finally { await s.stop(); }
  };
  const ours = await startLines('cachalot');
  assert.deepEqual(ours, await startLines('memcached'));
  assert.deepEqual(ours.slice(-3), ['slab class   7: chunk size     16384 perslab      64', '<fd server listening (ascii)',
    '<fd new ascii client connection.']);
});

/** Send `data`, then end the sending side (FIN) at once, and read what comes back until the server closes. */
function sendAndHalfClose(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { got += d; });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.on('connect', () => s.end(data));
  });
}

for (const kind of kindsFor()) {
  test(`a client that sends its commands and hangs up at once gets them all run: the last read is worked off first [${kind}]`, async () => {
    // -R 20 (the default): 45 commands in one read are run in three turns, and the client's FIN arrives
    // between them; memcached reads its EOF only once the commands before it are done
    const server = await serverFor(kind, [], true);
    try {
      const versions = await sendAndHalfClose(server.port, 'version\r\n'.repeat(45));
      assert.equal(versions, 'VERSION 1.6.18\r\n'.repeat(45));
      let sets = '';
      for (let i = 0; i < 200; i++) sets += `set hup${i} 0 0 1 noreply\r\nx\r\n`;
      assert.equal(await sendAndHalfClose(server.port, sets), '');
      const c = await Client.connect(server.port);
      let gets = '';
      for (let i = 0; i < 200; i++) gets += `get hup${i}\r\n`;
      await c.send(`${gets}mn\r\n`);
      const reply = (await c.readUntil('MN\r\n')).toString('latin1');
      assert.equal(reply.split('VALUE ').length - 1, 200, 'every set before the hang-up stored');
      c.end();
    } finally { await server.stop(); }
  });
}

// src/main/malloc-tunables.ts: started without glibc's tunables (a plain `node src/main.ts`), the server
// execs itself once more with them, keeping its pid, and serves; bin/cachalot sets them first, so it does not.
test('started without GLIBC_TUNABLES, the server execs itself with the mmap threshold set, same pid, and serves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-tunables-'));
  const portFile = join(dir, 'ports');
  const env: NodeJS.ProcessEnv = { ...process.env, MEMCACHED_PORT_FILENAME: portFile };
  delete env.GLIBC_TUNABLES;
  const child = spawn(NODE_BIN, [...serverNodeArgs(REPO_ROOT), '-p', '-1', '-l', '127.0.0.1', '-t', '1'],
    { cwd: REPO_ROOT, stdio: 'ignore', env });
  try {
    const port = await tcpPortFrom(portFile);
    const environ = readFileSync(`/proc/${child.pid}/environ`, 'latin1').split('\0');
    assert.ok(environ.includes('GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072'), environ.filter((e) => e.startsWith('GLIBC')).join());
    const c = await Client.connect(port);
    assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
    c.end();
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});

// The README's start command itself: `npm start` runs bin/cachalot, which sets glibc's tunables before node starts
// (so the server need not exec itself again for them) and passes memcached's options on.
const npmRuns = spawnSync('npm', ['--version'], { stdio: 'ignore' }).status === 0;
test('npm start serves, with memcached\'s options after --, its node started with glibc\'s tunables', { skip: npmRuns ? false : 'npm missing' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-npm-start-'));
  const portFile = join(dir, 'ports');
  const env: NodeJS.ProcessEnv = { ...process.env, MEMCACHED_PORT_FILENAME: portFile };
  delete env.GLIBC_TUNABLES;
  const npm = spawn('npm', ['start', '--silent', '--', '-p', '-1', '-l', '127.0.0.1', '-t', '1'],
    { cwd: REPO_ROOT, stdio: 'ignore', env, detached: true });
  try {
    const port = await tcpPortFrom(portFile);
    assert.ok(port > 0, 'the server wrote its port');
    const c = await Client.connect(port);
    assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
    c.end();
    const server = descendants(npm.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('src/main.ts'));
    assert.ok(server !== undefined, 'the server runs under npm');
    const environ = readFileSync(`/proc/${server}/environ`, 'latin1').split('\0');
    assert.ok(environ.includes('GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072'), environ.filter((e) => e.startsWith('GLIBC')).join());
  } finally {
    try { process.kill(-npm.pid!, 'SIGTERM'); } catch { /* gone already */ }
    await new Promise((r) => (npm.exitCode !== null || npm.signalCode !== null ? r(null) : npm.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The processes below pid (its children, theirs, ...), from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* it ended meanwhile */ }
  }
  const found: number[] = [];
  for (const [child] of parentOf) {
    for (let p = parentOf.get(child); p !== undefined && p > 1; p = parentOf.get(p)) {
      if (p === pid) { found.push(child); break; }
    }
  }
  return found;
}

/** The TCP port a server wrote to its MEMCACHED_PORT_FILENAME file, once it has (0 if it never does within 10 s). */
async function tcpPortFrom(portFile: string): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const m = existsSync(portFile) ? /TCP INET: (\d+)/.exec(readFileSync(portFile, 'utf8')) : null;
    if (m) return Number(m[1]);
    await sleep(20);
  }
  return 0;
}
