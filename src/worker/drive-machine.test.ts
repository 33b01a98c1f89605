// The state machine in one process, its handle a stub that takes every write at once: what a
// connection keeps between reads. (Replies through real sockets: test/server.test.ts and the rest.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../store/store.ts';
import { createStore } from '../store/create.ts';
import { defaultSettings } from '../settings/settings.ts';
import { storeSettingsOf } from '../settings/report.ts';
import { createServerCtl, ServerCtl } from '../server-ctl.ts';
import { ConnTable, createConnTable } from '../stats/conn-table.ts';
import { firstConnId } from '../main/start-descriptors.ts';
import { createPrefixStats, PrefixStats } from '../stats/prefix-stats.ts';
import { WorkerContext } from './context.ts';
import { Conn, ConnState, Proto } from './conn.ts';
import { connClose, connCloseWithReason, connSetState, driveMachine, onConnRead, onConnReadEnd } from './drive-machine.ts';
import { UdpPort, udpTakeRequest } from './udp.ts';
import { openHandleIo } from './handle-io.ts';

type Connection = { c: Conn; read: (text: string) => void; written: () => string; ctx: WorkerContext };

/**
 * A worker of its own: its connections, and what the server wrote to each. `writeError`: the handle's writes fail
 * so (a negative errno); a closed handle closes its connection, as the worker's onClosed does.
 */
function worker(): (writeError?: number) => Connection {
  const settings = { ...defaultSettings(), maxBytes: 8 * 1024 * 1024 };
  const store = new Store(createStore(storeSettingsOf(settings)), 1);
  const ctx = new WorkerContext(store, settings, new ServerCtl(createServerCtl(0)), new ConnTable(createConnTable(16), firstConnId(settings)),
    new PrefixStats(createPrefixStats(false), ':'), 1, () => {});
  const shared = Buffer.alloc(64 * 1024); // the worker's read buffer, which every read of every connection reuses
  let id = 16;
  return (writeError = 0) => {
    const out: Buffer[] = [];
    const handle = {
      writeBuffer(_req: unknown, data: Uint8Array): number { if (writeError === 0) out.push(Buffer.from(data)); return writeError; },
      writev(_req: unknown, chunks: Uint8Array[]): number { for (const b of chunks) out.push(Buffer.from(b)); return 0; },
      readStart: (): number => 0, readStop: (): number => 0, shutdown: (): number => 0, close(cb: () => void): void { cb(); },
      useUserBuffer(): void {}, writeQueueSize: 0, onread: undefined,
    };
    const noop = (): void => {};
    const c = new Conn(ctx);
    c.reset(id++, openHandleIo(handle, shared, {
      onRead: noop, onReadInto: noop, onReadEnd: noop, onDrain: noop, onWriteError: noop, onClosed: () => connClose(c),
    }), 'tcp');
    c.state = ConnState.waiting;
    const read = (text: string): void => {
      const n = shared.write(text, 'latin1');
      onConnRead(c, shared, n);
      shared.fill(0, 0, n);
    };
    return { c, read, written: () => Buffer.concat(out).toString('latin1'), ctx };
  };
}

const connection = (): Connection => worker()();

test('a long get line cut across reads is kept whole, then its buffer is let go: an idle connection holds none', () => {
  const { c, read, written } = connection();
  read('set k0 0 0 1\r\na\r\n');
  const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`).join(' '); // ~11 KB: past the first 4 KB buffer
  read(`get ${keys.slice(0, 6000)}`);
  assert.ok(c.own.length >= 6004, 'the part that arrived is kept');
  read(`${keys.slice(6000)}\r\n`);
  assert.equal(written(), 'STORED\r\nVALUE k0 0 1\r\na\r\nEND\r\n');
  assert.equal(c.own.length, 0, 'the grown buffer is let go once its input is worked off');
  assert.equal(c.state, ConnState.waiting);
});

test('a first-size buffer stays for the next command cut short', () => {
  const { c, read, written } = connection();
  read('get a\r\nversi');
  assert.equal(c.own.length, 4096);
  read('on\r\n');
  assert.match(written(), /^END\r\nVERSION \S+\r\n$/);
  assert.equal(c.own.length, 4096);
});

test("a command waiting for its value keeps what it needs of its line while another connection's commands run", () => {
  const open = worker();
  const a = open(), b = open();
  a.read('ms a 2 T0 F5 k O123 c\r\nh'); // the words of a's line are the worker's until the next line is parsed
  b.read('ms b 3 F7 k Oxyz\r\nbee\r\nmg b s v f k O9\r\n');
  a.read('i\r\nmg a v f k\r\n');
  assert.match(a.written(), /^HD ka O123 c\d+\r\nVA 2 f5 ka\r\nhi\r\n$/);
  assert.equal(b.written(), 'HD kb Oxyz\r\nVA 3 s3 f7 kb O9\r\nbee\r\n');
  assert.notEqual(a.c, b.c);
  assert.equal(a.c.tokens, b.c.tokens, "one token array for the worker's connections");
});

// A get's reply is sent in parts past 512 KB (connFlushIfLarge). Over UDP each part goes out as datagrams of its
// responses, so a part must not end inside the last key's response: memcached's END is that response's end, in its
// last datagram, and the datagram count covers it. (Through a real socket a reply this long outruns the test
// client's receive buffer, which drops datagrams: so here, with a socket that keeps them.)
test('over UDP, a get past 512 KB is sent in parts, and END still ends its last key\'s response', () => {
  const open = worker();
  const tcp = open();
  tcp.read('set huge 0 0 600000\r\n');
  for (let i = 0; i < 10; i++) tcp.read('h'.repeat(60_000));
  tcp.read('\r\n');
  assert.equal(tcp.written(), 'STORED\r\n');
  const sent: Buffer[] = [];
  const c = new Conn(tcp.ctx);
  c.reset(99, null, 'udp');
  c.udp = new UdpPort({ send: (d) => { sent.push(Buffer.from(d)); }, getSendQueueSize: () => 0, getSendQueueCount: () => 0 }, 1 << 20);
  assert.ok(udpTakeRequest(c, c.udp, Buffer.concat([Buffer.from([0, 7, 0, 0, 0, 1, 0, 0]), Buffer.from('get huge\r\n')]), '127.0.0.1', 9));
  c.proto = Proto.negotiating;
  c.reqsLeft = 20;
  connSetState(c, ConnState.parseCmd);
  driveMachine(c);
  const total = sent.length;
  assert.ok(total > 430);
  sent.forEach((d, seq) => assert.deepEqual([d.readUInt16BE(0), d.readUInt16BE(2), d.readUInt16BE(4)], [7, seq, total]));
  assert.ok(sent[total - 1].subarray(8).toString('latin1').endsWith('h\r\nEND\r\n'));
});

/** The references on the item of `key` besides the hash table's (0: nothing holds it; -1: no such item). */
function holders(ctx: WorkerContext, key: string): number {
  const k = Buffer.from(key);
  const it = ctx.store.itemGet(k, 0, k.length);
  if (it === 0) return -1;
  const n = ctx.store.itemRefcount(it) - 2; // less the hash table's and this look-up's
  ctx.store.itemRelease(it);
  return n;
}

// memcached sends nothing while a value arrives (conn_nread): the replies before it wait with the connection,
// their items held, and the worker's buffer is every other connection's meanwhile.
test('a connection waiting for a value keeps its replies and their items apart, and sends them first when it is in', () => {
  const open = worker();
  const a = open(), b = open();
  a.read('set m 0 0 1\r\nz\r\nget m\r\n');
  a.read('version\r\nmg m v\r\nset p 0 0 100\r\nxx');
  assert.equal(a.written(), 'STORED\r\nVALUE m 0 1\r\nz\r\nEND\r\n', 'nothing since the get\'s END');
  assert.equal(a.ctx.out.size(), 0);
  assert.equal(a.ctx.out.holdsItems(), false, 'the worker\'s buffer holds nothing of a\'s');
  assert.equal(holders(a.ctx, 'm'), 1, 'the mg\'s reply holds its item');
  b.read('mg m v\r\nversion\r\n');
  assert.equal(b.written(), 'VA 1\r\nz\r\nVERSION 1.6.18\r\n');
  assert.equal(holders(a.ctx, 'm'), 1, 'b\'s flush lets go of b\'s items only');
  a.read('x'.repeat(50));
  assert.equal(a.written(), 'STORED\r\nVALUE m 0 1\r\nz\r\nEND\r\n');
  a.read(`${'x'.repeat(48)}\r\nmn\r\n`);
  assert.equal(a.written(), 'STORED\r\nVALUE m 0 1\r\nz\r\nEND\r\nVERSION 1.6.18\r\nVA 1\r\nz\r\nSTORED\r\nMN\r\n');
  assert.equal(holders(a.ctx, 'm'), 0, 'let go once sent');
  assert.equal(a.c.parked, null);
  assert.equal(a.ctx.out.parkedBytes, 0);
});

test('replies held for a value are lost, and their items let go once, however the connection ends first', () => {
  const open = worker();
  const setup = open();
  setup.read('set m 0 0 1\r\nz\r\n');
  const endings: Array<[string, (x: Connection) => void]> = [
    ['end of input', (x) => onConnReadEnd(x.c, -4095)],
    ['a reset', (x) => onConnReadEnd(x.c, -104)],
    ['server shutdown', (x) => { connCloseWithReason(x.c, 'server shutting down'); driveMachine(x.c); }],
    ['closed from outside (a queued write failed, the idle kick of another state)', (x) => x.c.io?.close()],
  ];
  for (const [name, end] of endings) {
    const x = open();
    x.read('mg m v\r\nversion\r\nset p 0 0 100\r\nxx');
    assert.equal(holders(x.ctx, 'm'), 1, name);
    end(x);
    assert.equal(x.written(), '', name);
    assert.equal(x.c.state, ConnState.closed, name);
    assert.equal(holders(x.ctx, 'm'), 0, name);
    assert.equal(x.ctx.out.parkedBytes, 0, name);
  }
  // a write that fails as the replies a get's END passed go out: the connection closes with what it parked
  const failing = open(-32);
  failing.read('get m\r\nmg m v\r\nset p 0 0 100\r\nxx');
  assert.equal(failing.c.state, ConnState.closed);
  assert.equal(holders(failing.ctx, 'm'), 0);
  assert.equal(failing.ctx.out.parkedBytes, 0);
  assert.equal(failing.ctx.out.size(), 0);
});

test('a swallow holds the refusal it starts with, and the replies before it', () => {
  const a = connection();
  a.read('set m 0 0 1\r\nz\r\n');
  a.read(`version\r\nset big 0 0 ${2 * 1024 * 1024}\r\nyy`);
  assert.equal(a.written(), 'STORED\r\n');
  for (let left = 2 * 1024 * 1024 - 2; left > 0; left -= 60_000) a.read('y'.repeat(Math.min(left, 60_000)));
  assert.equal(a.written(), 'STORED\r\n');
  a.read('\r\nmn\r\n');
  assert.equal(a.written(), 'STORED\r\nVERSION 1.6.18\r\nSERVER_ERROR object too large for cache\r\nMN\r\n');
});

test('replies past 512 KB go before the next command, as ever, and their items wait for the value all the same', () => {
  const a = connection();
  a.read('set m 0 0 1\r\nz\r\n');
  const big = 'v'.repeat(60_000), reply = `VA 60000\r\n${big}\r\n`;
  a.read(`set v 0 0 ${big.length}\r\n${big}\r\n`);
  const before = a.written().length;
  a.read(`${'mg v v\r\n'.repeat(10)}mg m v\r\nset p 0 0 100\r\nxx`);
  assert.equal(a.written().length - before, 9 * reply.length, 'the replies past 512 KB went');
  assert.equal(holders(a.ctx, 'v'), 10, 'the items of those sent and of the one parked are held for the value');
  assert.equal(holders(a.ctx, 'm'), 1);
  a.read(`${'x'.repeat(98)}\r\n`);
  assert.equal(a.written().slice(before + 9 * reply.length), `${reply}VA 1\r\nz\r\nSTORED\r\n`);
  assert.equal(holders(a.ctx, 'v'), 0);
  assert.equal(holders(a.ctx, 'm'), 0);
});

test('what the connections of a worker park together is bounded: past max(16 MB, 2 x -I), replies go at once', () => {
  const open = worker();
  const setup = open();
  const big = 'v'.repeat(60_000), reply = `VA 60000\r\n${big}\r\n`;
  setup.read(`set v 0 0 ${big.length}\r\n${big}\r\n`);
  const parked = 8 * reply.length; // under 512 KB: one connection parks it all
  const fit = Math.floor(16 * 1024 * 1024 / parked);
  const conns = Array.from({ length: fit + 2 }, () => open());
  for (const x of conns) x.read(`${'mg v v\r\n'.repeat(8)}set p 0 0 100\r\nxx`);
  assert.equal(setup.ctx.out.parkedBytes, fit * parked);
  assert.deepEqual(conns.map((x) => x.written().length), [...Array<number>(fit).fill(0), parked, parked]);
  assert.equal(holders(setup.ctx, 'v'), (fit + 2) * 8, 'the replies sent at once keep their items for the value too');
  for (const x of conns) onConnReadEnd(x.c, -4095);
  assert.equal(setup.ctx.out.parkedBytes, 0);
  assert.equal(holders(setup.ctx, 'v'), 0);
});
