// A crowd of bad clients at once, on every protocol: forty connections at a time, 1200 in all, each sending a
// seeded mix of text and meta commands (values up to past -I), binary requests (every opcode, absurd lengths,
// a wrong magic), random bytes, commands cut off mid-value before a hang-up, or a pipeline it never reads.
// Whatever they do, the server must not fault, a bystander's data and connection must come through whole, and
// once they are gone every connection they held must be let go.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Client } from './support/client.ts';
import { startServer, sleep, type Server } from './support/server.ts';
import { mulberry32 } from './support/rng.ts';

let server: Server | null = null;
after(async () => { await server?.stop(); });

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const key = (r: Rand): string => `k${Math.floor(r() * 2000)}`;
const size = (r: Rand): number => pick(r, [0, 1, 10, 100, 1000, 5000, 20_000, 70_000, 300_000, 1_100_000]);

function textCommand(r: Rand): string {
  const k = key(r), n = size(r), v = 'v'.repeat(n);
  return pick(r, [
    () => `set ${k} ${Math.floor(r() * 1e9)} ${pick(r, [0, 100, -1])} ${n}\r\n${v}\r\n`,
    () => `get ${k}\r\n`, () => `gets ${k} ${key(r)} ${key(r)}\r\n`, () => `gat 100 ${k} ${key(r)}\r\n`,
    () => `append ${k} 0 0 3\r\nabc\r\n`, () => `incr ${k} ${pick(r, ['1', '18446744073709551615', 'x'])}\r\n`,
    () => `delete ${k}\r\n`, () => `touch ${k} 100\r\n`, () => `cas ${k} 0 0 ${n} ${Math.floor(r() * 1e5)}\r\n${v}\r\n`,
    () => `mg ${k} v f t c s k O${Math.floor(r() * 1000)} ${pick(r, ['q', '', 'N30', 'R5'])}\r\n`,
    () => `ms ${k} ${n} T${pick(r, [0, 50])} ${pick(r, ['MA', 'MP', 'ME', 'MR', 'I', 'q', 'c'])}\r\n${v}\r\n`,
    () => `md ${k} ${pick(r, ['q', 'I T30', 'C5', ''])}\r\n`, () => `ma ${k} ${pick(r, ['N0 J5', 'MD D3', 'v', 'q'])}\r\n`,
    () => 'mn\r\n', () => `me ${k}\r\n`, () => `stats ${pick(r, ['', 'slabs', 'items', 'conns', 'sizes'])}\r\n`,
    () => 'lru_crawler metadump all\r\n', () => `set ${k} 0 0 ${n + 5}\r\n${v}\r\n`, () => `get ${'x'.repeat(300)}\r\n`,
    () => `${'x'.repeat(Math.floor(r() * 5000))}\r\n`,
  ])();
}

const BIN_OPCODES = [...Array(0x23).keys(), 0x30, 0x99];
const BIN_EXTRAS: Record<number, number> = { 0x01: 8, 0x02: 8, 0x03: 8, 0x11: 8, 0x12: 8, 0x13: 8, 0x05: 20, 0x06: 20, 0x15: 20, 0x16: 20, 0x1c: 4, 0x1d: 4, 0x1e: 4 };
const BIN_WITH_VALUE = new Set([0x01, 0x02, 0x03, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x19, 0x1a, 0x21, 0x22]);

function binaryRequest(r: Rand): Buffer {
  const op = pick(r, BIN_OPCODES), k = Buffer.from(key(r));
  const extras = BIN_EXTRAS[op] ?? (r() < 0.1 ? 3 : 0);
  const value = BIN_WITH_VALUE.has(op) ? Math.min(size(r), 300_000) : r() < 0.05 ? 17 : 0;
  const frame = Buffer.alloc(24 + extras + k.length + value, 0x61);
  frame.fill(0, 0, 24 + extras);
  frame[0] = r() < 0.02 ? 0x81 : 0x80;
  frame[1] = op;
  frame.writeUInt16BE(k.length, 2);
  frame[4] = extras;
  frame.writeUInt32BE(r() < 0.03 ? 0xffffff00 : extras + k.length + value, 8);
  if (r() < 0.1) frame.writeUInt32BE(Math.floor(r() * 1e6), 20);
  k.copy(frame, 24 + extras);
  return frame;
}

function randomBytes(r: Rand): Buffer {
  const b = Buffer.alloc(1 + Math.floor(r() * 300));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  return b;
}

type Mode = 'text' | 'binary' | 'bytes' | 'cut' | 'unread';
const MODES: readonly Mode[] = ['text', 'text', 'binary', 'bytes', 'cut', 'unread'];

function chunkFor(r: Rand, mode: Mode): Buffer {
  if (mode === 'binary') return binaryRequest(r);
  if (mode === 'bytes') return randomBytes(r);
  const command = Buffer.from(textCommand(r));
  return mode === 'cut' ? command.subarray(0, Math.floor(r() * command.length)) : command;
}

/** One bad client: a connection, its commands, then its hang-up (a never-reading one holds on a while). */
function badClient(port: number, r: Rand): Promise<void> {
  const mode = pick(r, MODES);
  const commands = 1 + Math.floor(r() * 30);
  const lingerMs = mode === 'unread' ? 200 : Math.floor(r() * 30);
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let done = false;
    const finish = (): void => { if (!done) { done = true; s.destroy(); resolve(); } };
    s.on('error', finish);
    s.on('close', finish);
    s.on('data', () => {});
    s.on('connect', async () => {
      if (mode === 'unread') s.pause();
      for (let i = 0; i < commands && !done; i++) {
        if (s.write(chunkFor(r, mode))) continue;
        if (mode === 'unread') break;
        await new Promise((drained) => { s.once('drain', drained); s.once('close', drained); });
      }
      setTimeout(finish, lingerMs);
    });
  });
}

test('a crowd of bad clients on every protocol leaves the server, a bystander and its data whole, and lets go of every connection', async () => {
  server = await startServer('cachalot', ['-t', '4', '-m', '64', '-I', '1m']);
  const s = server;
  const bystander = await Client.connect(s.port);
  const value = 'precious'.repeat(10);
  assert.equal((await bystander.request(`set keeper 7 0 ${value.length}\r\n${value}\r\n`, 8)).toString(), 'STORED\r\n');
  // each connection its own seed: what it sends does not hang on how the others' turns interleave
  const CROWD = 40, EACH = 30;
  await Promise.all([...Array(CROWD).keys()].map(async (c) => {
    for (let i = 0; i < EACH; i++) await badClient(s.port, mulberry32(0x50a4 + c * EACH + i));
  }));

  const want = `VALUE keeper 7 ${value.length}\r\n${value}\r\nEND\r\n`;
  assert.equal((await bystander.request('get keeper\r\n', want.length)).toString(), want, 'the bystander is served, its data whole');
  assert.equal((await bystander.request('mn\r\n', 4)).toString(), 'MN\r\n');
  // Hang-ups are seen by the workers in their own time: ask until only the bystander is left (a bound, not a clock)
  let st = await Client.statsOf(s.port);
  for (let i = 0; i < 250 && st.get('curr_connections') !== '2'; i++) { await sleep(20); st = await Client.statsOf(s.port); }
  assert.equal(st.get('curr_connections'), '2', 'the bystander and the one asking: every bad client let go');
  assert.ok(Number(st.get('total_connections')) > CROWD * EACH, `every bad client was taken: ${st.get('total_connections')}`);
  assert.equal(st.get('rejected_connections'), '0');
  for (const worked of ['cmd_get', 'cmd_set', 'get_hits', 'cmd_touch', 'incr_misses', 'delete_hits']) {
    assert.ok(Number(st.get(worked)) > 0, `the crowd's good commands were worked too: ${worked} ${st.get(worked)}`);
  }
  await bystander.send('stats threads\r\n');
  const threads = (await bystander.readUntil('END\r\n')).toString();
  assert.equal([...threads.matchAll(/conn_faults (\d+)/g)].map((m) => m[1]).join(), '0,0,0,0', threads);
  // A new client of each protocol is served.
  const fresh = await Client.connect(s.port);
  assert.equal((await fresh.request('get keeper\r\n', want.length)).toString(), want);
  const noop = Buffer.alloc(24);
  noop[0] = 0x80;
  noop[1] = 0x0a;
  const binary = await Client.connect(s.port);
  assert.equal((await binary.request(noop, 24))[1], 0x0a, 'a binary noop is answered');
  for (const c of [bystander, fresh, binary]) c.end();
  assert.equal(s.stderr(), '', 'nothing on stderr: no fault, no thread error');
});
