// Bad input never crashes the server, never disturbs another client and never loses stored data.
// Seeded random streams (garbage bytes, command fragments, absurd numbers, half values) go to the
// server on connections of their own; a bystander's data and connection must come through whole,
// and no connection may have hit an internal error.

import { test, after } from 'node:test';
import dgram from 'node:dgram';
import assert from 'node:assert/strict';
import { Client } from './support/client.ts';
import { startServer, sleep, type Server } from './support/server.ts';
import { mulberry32 as rng } from './support/rng.ts';

let server: Server | null = null;
let udpServer: Server | null = null;
after(async () => { await server?.stop(); await udpServer?.stop(); });


// No flush_all: it wipes data by design, which is not what this test is after.
const FRAGMENTS = [
  'get ', 'gets ', 'set ', 'add ', 'cas ', 'incr ', 'decr ', 'delete ', 'touch ', 'gat ', 'stats ',
  'verbosity ', 'mg ', 'ms ', 'md ', 'ma ', 'mn', 'noreply', ' ', '\r\n', '\n', '\r', '\0',
  '0', '1', '-1', '4294967296', '18446744073709551615', '99999999999999999999', '2147483647', 'k', 'key',
  'k'.repeat(251), 'x'.repeat(3000), '\x80', '\xff',
];

function randomStream(seed: number): Buffer {
  const r = rng(seed);
  const parts: Buffer[] = [];
  const n = 5 + Math.floor(r() * 60);
  for (let i = 0; i < n; i++) {
    if (r() < 0.2) {
      const raw = Buffer.alloc(1 + Math.floor(r() * 64));
      for (let j = 0; j < raw.length; j++) raw[j] = Math.floor(r() * 256);
      parts.push(raw);
    } else {
      parts.push(Buffer.from(FRAGMENTS[Math.floor(r() * FRAGMENTS.length)], 'latin1'));
    }
  }
  return Buffer.concat(parts);
}

test('garbage on many connections leaves the server, other clients and stored data intact', async () => {
  server = await startServer('cachalot', ['-t', '2', '-m', '16']);
  const bystander = await Client.connect(server.port);
  const value = 'precious'.repeat(10);
  assert.equal((await bystander.request(`set keeper 7 0 ${value.length}\r\n${value}\r\n`, 8)).toString(), 'STORED\r\n');
  for (let seed = 1; seed <= 150; seed++) {
    const c = await Client.connect(server.port);
    const stream = randomStream(seed);
    for (let at = 0; at < stream.length; at += 97) await c.send(stream.subarray(at, at + 97)).catch(() => {});
    await sleep(1);
    c.destroy();
  }
  const want = `VALUE keeper 7 ${value.length}\r\n${value}\r\nEND\r\n`;
  assert.equal((await bystander.request('get keeper\r\n', want.length)).toString(), want);
  await bystander.send('stats threads\r\n');
  const threads = (await bystander.readUntil('END\r\n')).toString();
  for (const m of threads.matchAll(/conn_faults (\d+)/g)) assert.equal(m[1], '0', threads);
  bystander.end();
  assert.equal(server.stderr(), '', 'nothing on stderr: no fault, no thread error'); // the replies above show it is up
});

test('garbage datagrams (-U) leave the server, other clients and stored data intact', async () => {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const udpPort = probe.address().port; // a free port, handed to the server
  probe.close();
  udpServer = await startServer('cachalot', ['-t', '2', '-m', '16', '-U', String(udpPort)]);
  const bystander = await Client.connect(udpServer.port);
  const value = 'precious'.repeat(10);
  assert.equal((await bystander.request(`set keeper 7 0 ${value.length}\r\n${value}\r\n`, 8)).toString(), 'STORED\r\n');
  const sender = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed * 7919);
    // a frame header that is usually whole and single (else dropped unread), then a random stream
    const header = Buffer.from([seed >> 8, seed & 255, 0, 0, 0, r() < 0.9 ? 1 : Math.floor(r() * 4), 0, 0]);
    const body = randomStream(seed).subarray(0, 60_000);
    await new Promise<void>((resolve) => sender.send(Buffer.concat([header, body]), udpPort, '127.0.0.1', () => resolve()));
  }
  const want = `VALUE keeper 7 ${value.length}\r\n${value}\r\nEND\r\n`;
  assert.equal((await bystander.request('get keeper\r\n', want.length)).toString(), want);
  await bystander.send('stats threads\r\n');
  const threads = (await bystander.readUntil('END\r\n')).toString();
  for (const m of threads.matchAll(/conn_faults (\d+)/g)) assert.equal(m[1], '0', threads);
  // and the port still answers. UDP may drop a datagram (the server's receive buffer can still be full of the
  // garbage), so the probe is sent again until an answer comes, as memcached's UDP clients retry.
  const probeDatagram = Buffer.concat([Buffer.from([0xff, 0xf0, 0, 0, 0, 1, 0, 0]), Buffer.from('get keeper\r\n')]);
  let resend: ReturnType<typeof setInterval> | undefined;
  try {
    const answer = new Promise<Buffer>((resolve, reject) => {
      const bound = setTimeout(() => reject(new Error('no answer on the UDP port')), 10_000);
      sender.on('message', (m: Buffer) => { if (m.readUInt16BE(0) === 0xfff0) { clearTimeout(bound); resolve(m); } });
    });
    const sendProbe = (): void => { sender.send(probeDatagram, udpPort, '127.0.0.1'); };
    sendProbe();
    resend = setInterval(sendProbe, 250);
    assert.equal((await answer).subarray(8).toString(), want);
  } finally {
    clearInterval(resend);
    sender.close();
    bystander.end();
  }
});
