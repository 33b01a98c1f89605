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
import { createPrefixStats, PrefixStats } from '../stats/prefix-stats.ts';
import { WorkerContext } from './context.ts';
import { Conn, ConnState, Proto } from './conn.ts';
import { connSetState, driveMachine, onConnRead } from './drive-machine.ts';
import { UdpPort, udpTakeRequest } from './udp.ts';
import { openHandleIo } from './handle-io.ts';

/** A worker of its own: its connections, and what the server wrote to each. */
function worker(): () => { c: Conn; read: (text: string) => void; written: () => string; ctx: WorkerContext } {
  const settings = { ...defaultSettings(), maxBytes: 8 * 1024 * 1024 };
  const store = new Store(createStore(storeSettingsOf(settings)), 1);
  const ctx = new WorkerContext(store, settings, new ServerCtl(createServerCtl(0)), new ConnTable(createConnTable(16), settings.threads),
    new PrefixStats(createPrefixStats(false), ':'), 1, () => {});
  const shared = Buffer.alloc(64 * 1024); // the worker's read buffer, which every read of every connection reuses
  let id = 16;
  return () => {
    const out: Buffer[] = [];
    const handle = {
      writeBuffer(_req: unknown, data: Uint8Array): number { out.push(Buffer.from(data)); return 0; },
      writev(_req: unknown, chunks: Uint8Array[]): number { for (const b of chunks) out.push(Buffer.from(b)); return 0; },
      readStart: (): number => 0, readStop: (): number => 0, shutdown: (): number => 0, close(): void {},
      useUserBuffer(): void {}, writeQueueSize: 0, onread: undefined,
    };
    const noop = (): void => {};
    const c = new Conn(ctx);
    c.reset(id++, openHandleIo(handle, shared, {
      onRead: noop, onReadInto: noop, onReadEnd: noop, onDrain: noop, onWriteError: noop, onClosed: noop,
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

const connection = (): ReturnType<ReturnType<typeof worker>> => worker()();

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
