// How a UDP reply's datagrams reach the socket when the kernel stops taking them. On loopback it always takes
// them (test/udp.test.ts sends real replies, against memcached), so the socket here is one whose kernel buffer
// fills after a given number of datagrams: from then on each send waits in "libuv's queue", holding the bytes
// it was given, until the test drains it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpPort, UDP_HEADER_SIZE, UDP_MAX_PAYLOAD_SIZE, type DatagramSocket } from './udp.ts';

const DATA = UDP_MAX_PAYLOAD_SIZE - UDP_HEADER_SIZE;

/** A socket whose kernel takes `room` datagrams at once; libuv queues the rest (views of what send() was given). */
class FillingSocket implements DatagramSocket {
  readonly taken: Buffer[] = [];  // copied as the kernel took them
  readonly queued: Uint8Array[] = [];
  readonly views = new Set<ArrayBufferLike>();
  private room: number;
  constructor(room: number) { this.room = room; }
  send(msg: Uint8Array): void {
    this.views.add(msg.buffer);
    if (this.room > 0 && this.queued.length === 0) { this.room--; this.taken.push(Buffer.from(msg)); }
    else this.queued.push(msg);
  }
  getSendQueueSize(): number { return this.queued.reduce((n, d) => n + d.length, 0); }
  getSendQueueCount(): number { return this.queued.length; }
  /** libuv's queue goes out, read from the memory it was handed. */
  drain(): Buffer[] { return this.queued.splice(0).map((d) => Buffer.from(d)); }
}

/** A reply of n bytes whose every byte says where it is, sent as one response. */
function reply(udp: UdpPort, n: number): Uint8Array {
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
  udp.begin();
  udp.respStart(0, false);
  udp.transmit(data, n);
  return data;
}

test('udp: datagrams the kernel takes at once are made in one reused buffer', () => {
  const socket = new FillingSocket(Infinity);
  const udp = new UdpPort(socket, 1024 * 1024);
  const data = reply(udp, 300 * DATA);
  assert.equal(socket.taken.length, 300);
  assert.equal(socket.views.size, 1, 'no buffer per datagram');
  const payload = Buffer.concat(socket.taken.map((d) => d.subarray(UDP_HEADER_SIZE)));
  assert.ok(payload.equals(Buffer.from(data)));
});

test('udp: datagrams libuv has to queue keep their bytes until they are sent', () => {
  const socket = new FillingSocket(5);
  const udp = new UdpPort(socket, 1024 * 1024);
  const data = reply(udp, 200 * DATA + 17);
  const all = [...socket.taken, ...socket.drain()];
  assert.equal(all.length, 201);
  all.forEach((d, seq) => {
    assert.equal(d.readUInt16BE(2), seq, 'sequence number');
    assert.equal(d.readUInt16BE(4), 201, 'datagram count');
  });
  assert.ok(Buffer.concat(all.map((d) => d.subarray(UDP_HEADER_SIZE))).equals(Buffer.from(data)), 'every byte, in order');
});

test('udp: past max(16 MB, 2 x -I) queued, the rest of the reply is dropped', () => {
  const socket = new FillingSocket(0);
  const udp = new UdpPort(socket, 1024 * 1024);
  const data = reply(udp, 24 * 1024 * 1024);
  const queued = socket.getSendQueueSize();
  assert.ok(queued > 16 * 1024 * 1024 && queued < 16 * 1024 * 1024 + UDP_MAX_PAYLOAD_SIZE, `${queued} bytes queued`);
  const got = Buffer.concat(socket.drain().map((d) => d.subarray(UDP_HEADER_SIZE)));
  assert.ok(got.equals(Buffer.from(data.subarray(0, got.length))), 'what was queued is the reply\'s start, whole');

  const bigSocket = new FillingSocket(0);
  reply(new UdpPort(bigSocket, 12 * 1024 * 1024), 30 * 1024 * 1024);
  assert.ok(bigSocket.getSendQueueSize() > 24 * 1024 * 1024, 'with -I 12m, two values\' worth');
});
