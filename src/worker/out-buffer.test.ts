// The out buffer's memory: a buffer lent to a queued write is counted until it is given back, and then freed at
// once, as is a buffer a growth left behind; neither waits for the garbage collector, which an idle worker never
// runs (clients that never read their replies raised RSS round after round while it did).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutBuffer } from './out-buffer.ts';

const none = (): void => {};

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
  assert.equal(lent.byteLength, 0, 'its memory is let go now (detached), not at the next collection');
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
  assert.equal(old.byteLength, 0, 'the outgrown buffer is freed');
  assert.ok(out.buf.length <= Math.ceil(size * 1.25 / 4096) * 4096);
  assert.equal(out.buf[0], 0x62, 'what was collected moved along');
  assert.equal(out.buf[out.pos - 1], 0x63);
});
