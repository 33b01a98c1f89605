// The out buffer's memory: a buffer lent to a queued write is counted until it is given back, and then freed at
// once, as is a buffer a growth left behind; neither waits for the garbage collector, which an idle worker never
// runs (clients that never read their replies raised RSS round after round while it did). Freed means its pages
// given back without detaching it (V8's promise that no buffer is detached stays kept), or detached without
// node:ffi. Replies a connection parks while a value arrives leave the buffer with the items they hold, and come
// back in front of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noParkedReplies, OutBuffer, parkedIsEmpty } from './out-buffer.ts';
import { libcCallable } from '../libc/ffi.ts';

const none = (): void => {};

/** A buffer free() let go: not detached and its pages given back (a page inside it reads as zeros now), or detached. */
function assertFreed(ab: ArrayBuffer, what: string): void {
  if (!libcCallable()) { assert.equal(ab.byteLength, 0, `${what} is detached (no node:ffi)`); return; }
  assert.ok(!ab.detached, `${what} is not detached`);
  assert.equal(new Uint8Array(ab)[ab.byteLength >> 1], 0, `${what}'s pages are given back now, not at the next collection`);
}

test('a buffer lent to a queued write counts in lentBytes until given back, and is freed then', () => {
  const out = new OutBuffer(none, none);
  out.bytes(Buffer.alloc(100_000, 0x61));
  const lent = out.sent(true);
  assert.ok(lent !== null);
  out.lend(lent);
  assert.equal(out.lentBytes, lent.byteLength);
  assert.notEqual(out.buf.buffer, lent, 'the next replies go to another buffer');
  out.giveBack(lent);
  assert.equal(out.lentBytes, 0);
  assertFreed(lent, 'the lent buffer');
});

test('a write that went out at once lends nothing, and the buffer stays for the next replies', () => {
  const out = new OutBuffer(none, none);
  out.bytes(Buffer.from('STORED\r\n'));
  const before = out.buf.buffer;
  assert.equal(out.sent(false), null);
  assert.equal(out.buf.buffer, before);
  assert.equal(out.pos, 0);
});

test('growing frees the old buffer at once, and grows past 256 KB by a quarter, not by doubling', () => {
  const out = new OutBuffer(none, none);
  out.bytes(Buffer.alloc(300 * 1024, 0x62));
  const old = out.buf.buffer;
  const size = out.buf.length;
  assert.ok(size >= 300 * 1024 && size < 400 * 1024, `300 KB of replies in a buffer of ${size}`);
  out.bytes(Buffer.alloc(size - out.pos + 1, 0x63));
  assertFreed(old as ArrayBuffer, 'the outgrown buffer');
  assert.ok(out.buf.length <= Math.ceil(size * 1.25 / 4096) * 4096);
  assert.equal(out.buf[0], 0x62, 'what was collected moved along');
  assert.equal(out.buf[out.pos - 1], 0x63);
});

test('park takes what has not passed a flush point, with the items held, and unpark puts it back in front', () => {
  const released: number[] = [];
  const out = new OutBuffer((it) => { released.push(it); }, none);
  out.bytes(Buffer.from('END\r\n'));
  out.attach(Buffer.from('<value 1>'), 1);
  out.commit(); // a get's END: memcached sends this much now
  out.bytes(Buffer.from('VA 1\r\n'));
  out.attach(Buffer.from('<value 2>'), 2);
  out.bytes(Buffer.from('\r\nHD\r\n'));
  out.hold(3);
  const p = noParkedReplies();
  out.park(p);
  assert.equal(out.size(), 5 + 9, 'what passed the flush point stays, to be sent now');
  assert.equal(out.holdsItems(), false);
  assert.equal(p.bytes.toString(), 'VA 1\r\n\r\nHD\r\n');
  assert.deepEqual(p.attached.map((a) => [a.at, a.it]), [[6, 2]], 'an attached value keeps its place in the parked bytes');
  assert.deepEqual(p.held, [3]);
  assert.equal(out.parkedBytes, 12);
  assert.deepEqual(out.takeAttached(), [1]);
  out.sent(false);
  out.unpark(p);
  assert.equal(Buffer.concat(out.chunks()).toString(), 'VA 1\r\n<value 2>\r\nHD\r\n');
  assert.equal(out.holdsItems(), true);
  assert.equal(out.parkedBytes, 0);
  assert.ok(parkedIsEmpty(p));
  out.dropUncommitted(); // not past a flush point: a hang-up now loses them, and lets go of their items
  assert.equal(out.size(), 0);
  assert.deepEqual(released.sort(), [2, 3]);
});

test('parked replies dropped let go of their items once; put back behind other replies, they are refused', () => {
  const released: number[] = [];
  const out = new OutBuffer((it) => { released.push(it); }, none);
  out.bytes(Buffer.from('VERSION 1.6.18\r\n'));
  out.hold(7);
  const p = noParkedReplies();
  out.park(p);
  out.bytes(Buffer.from('STORED\r\n'));
  assert.throws(() => out.unpark(p), /behind other replies/);
  assert.equal(p.held.length, 1, 'nothing moved');
  out.truncate(0);
  out.dropParked(p);
  out.dropParked(p);
  assert.deepEqual(released, [7]);
  assert.equal(out.parkedBytes, 0);
});
