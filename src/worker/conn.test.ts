// A connection's input: parsed in place in the worker's read buffer, and copied into a buffer of the
// connection's own only when a command arrives cut short (socket-level behaviour: test/text-fuzz.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn, EMPTY } from './conn.ts';
import type { WorkerContext } from './context.ts';

/** The input methods need no context: a connection with none. */
function bareConn(): Conn {
  return new Conn({} as WorkerContext);
}

/** The worker's read buffer after a read of `text`: the connection sees it, consumes `consumed` bytes, then lets go. */
function read(c: Conn, shared: Buffer, text: string, consumed: number): void {
  const n = shared.write(text, 'latin1');
  c.addShared(shared, n);
  c.rpos += consumed;
  c.keepLeftover(shared);
}

test('commands that arrive whole leave the connection without a buffer of its own', () => {
  const c = bareConn();
  const shared = Buffer.alloc(64);
  read(c, shared, 'get a\r\nget b\r\n', 14);
  read(c, shared, 'version\r\n', 9);
  assert.equal(c.own.length, 0, 'an idle connection holds no input buffer');
  assert.equal(c.rbuf, EMPTY, 'nor the worker\'s read buffer, which the next read, of any connection, overwrites');
});

test('a command cut short is kept in a buffer of its own, then joined with the rest of it', () => {
  const c = bareConn();
  const shared = Buffer.alloc(64);
  read(c, shared, 'get a\r\nget b', 7);
  assert.ok(c.own.length >= 4096, 'made at its first use');
  assert.equal(c.rbuf, c.own);
  assert.equal(c.rbuf.toString('latin1', c.rpos, c.rend), 'get b');
  shared.fill(0); // the read buffer is reused by the next read, of this or another connection
  const n = shared.write('cd\r\n', 'latin1');
  c.addShared(shared, n);
  assert.equal(c.rbuf.toString('latin1', c.rpos, c.rend), 'get bcd\r\n');
});

test('a partial command longer than the buffer grows it', () => {
  const c = bareConn();
  const shared = Buffer.alloc(10_000);
  const long = `get ${'k'.repeat(5000)}`;
  read(c, shared, long, 0);
  assert.ok(c.own.length >= long.length);
  assert.equal(c.rbuf.toString('latin1', c.rpos, c.rend), long);
});

test('once its input is worked off, a connection lets go of a buffer a long command grew, and keeps a first-size one', () => {
  const c = bareConn();
  const shared = Buffer.alloc(10_000);
  const long = `get ${'k'.repeat(5000)}`;
  read(c, shared, long, 0);
  c.shrinkInput();
  assert.ok(c.own.length >= long.length, 'still needed: the command is not all in');
  const n = shared.write('\r\n', 'latin1');
  c.addShared(shared, n);
  c.rpos = c.rend; // the get ran
  c.shrinkInput();
  assert.equal(c.own.length, 0, 'an idle connection does not keep what one long line took');
  assert.equal(c.rbuf, EMPTY, 'nor reads from it');
  read(c, shared, 'get a\r\nget b', 7);
  c.rpos = c.rend;
  c.shrinkInput();
  assert.equal(c.own.length, 4096, 'a first-size buffer stays for the next partial command');
});

test('a pooled connection keeps at most a first-size buffer', () => {
  const c = bareConn();
  const shared = Buffer.alloc(10_000);
  read(c, shared, `get ${'k'.repeat(5000)}`, 0);
  c.release();
  assert.equal(c.own.length, 0);
  assert.equal(c.rbuf, EMPTY, 'nor reads from it');
});
