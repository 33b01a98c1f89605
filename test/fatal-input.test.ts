// Input a server hangs up on, arriving in the same read as requests before it. memcached sends the
// replies it has queued only at set points (a text get's END, mn, a binary error or noop, quit, the end
// of what was read); a connection closed for bad input between two such points loses the replies
// queued since the last one. A client sees exactly that: these run against memcached, byte for byte.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { differential, BINARY_NOOP_SENTINEL, HANG_UP_SENTINEL } from './support/differential.ts';
import { kindsFor, registerStopHook, serverFor } from './support/spec.ts';
import { binRequest, setExtras, type BinRequest } from '../src/protocol/binary/frame.ts';
import { HEADER_LEN, Op } from '../src/protocol/binary/header.ts';
import { sleep } from './support/server.ts';

registerStopHook();

const HTTP = 'GET / HTTP/1.1\r\n';
const NO_NEWLINE = 'x'.repeat(3000); // past memcached's 2048 bytes without a newline
const SET = 'set a 0 0 1\r\nx\r\n';

const TEXT: Array<[string, string]> = [
  ['a store before an HTTP line is not answered', `${SET}version\r\n${HTTP}`],
  ['a get before an HTTP line is answered: a get flushes', `${SET}get a\r\n${HTTP}`],
  ['replies after the last get are lost', `${SET}get a\r\nversion\r\nset b 0 0 1\r\ny\r\n${HTTP}`],
  // a value this large leaves from its item's memory, attached to the reply rather than copied into it
  ['a large value got before an HTTP line is answered, and nothing after it',
    `set big 0 0 100000\r\n${'v'.repeat(100000)}\r\nget big\r\nversion\r\n${HTTP}`],
  ['mn flushes the replies before it', `${SET}mn\r\nversion\r\n${HTTP}`],
  ['meta commands before an HTTP line are not answered', `ms m 1\r\nz\r\nmg m v\r\n${HTTP}`],
  ['quit sends every reply before it', `${SET}version\r\nquit\r\n`],
  // not a hang-up, but the same loss: a get refused for a key over 250 bytes drops every reply not yet sent
  ['a get with a key too long drops the replies queued before it', `${SET}version\r\nget a ${'k'.repeat(251)}\r\nversion\r\n`],
  ['... but not those a get before it flushed', `${SET}get a\r\nversion\r\nget a ${'k'.repeat(251)}\r\nversion\r\n`],
];

for (const [name, req] of TEXT) {
  differential(`fatal input, text: ${name}`, [req], { fresh: false });
}

// A sentinel would end the line; these end in a hang-up, and the bytes before it are compared (HANG_UP_SENTINEL).
const NO_NEWLINE_CASES: Array<[string, string]> = [
  ['a store before a line without a newline is not answered', `${SET}version\r\n${NO_NEWLINE}`],
  ['a get before a line without a newline is answered', `${SET}gets a\r\n${NO_NEWLINE}`],
];

for (const [name, req] of NO_NEWLINE_CASES) {
  differential(`fatal input, text: ${name}`, [req], { fresh: false, sentinel: HANG_UP_SENTINEL });
}

const R = (...reqs: BinRequest[]): Buffer => Buffer.concat(reqs.map((r) => binRequest({ opaque: 9, ...r })));
const BAD_MAGIC = R({ opcode: Op.NOOP, magic: 0x81 });
const BSET: BinRequest = { opcode: Op.SET, key: 'b', extras: setExtras(0, 0), value: 'v' };

const BINARY: Array<[string, Buffer]> = [
  ['a set and a version before a bad magic are not answered', Buffer.concat([R(BSET, { opcode: Op.VERSION }), BAD_MAGIC])],
  ['a get hit is not a flush', Buffer.concat([R(BSET, { opcode: Op.GET, key: 'b' }), BAD_MAGIC])],
  ['a get miss is: an error status goes out at once', Buffer.concat([R(BSET, { opcode: Op.GET, key: 'nope' }), BAD_MAGIC])],
  ['noop flushes the replies before it', Buffer.concat([R(BSET, { opcode: Op.NOOP }, { opcode: Op.VERSION }), BAD_MAGIC])],
  ['quit sends every reply before it', R(BSET, { opcode: Op.VERSION }, { opcode: Op.QUIT })],
  ['a protocol error sends every reply before its own',
    R(BSET, { opcode: Op.VERSION }, { opcode: Op.SET, key: 'k'.repeat(251), extras: setExtras(0, 0), value: 'v' })],
];

for (const [name, req] of BINARY) {
  differential(`fatal input, binary: ${name}`, [req], { sentinel: BINARY_NOOP_SENTINEL, fresh: false });
}

// How the connection ends. memcached reads 16 KB at a time; when it closes a TCP connection whose input it has not
// all read (quit, or a hang-up on bad input, with more behind it), the kernel answers those unread bytes with a
// reset: the client reads the replies sent before it, then gets ECONNRESET, not an end of stream. Cachalot reads
// more at once, and resets the connection where memcached's read would have left bytes unread.
const QUIT_AFTER = 'set a 0 0 1\r\nx\r\nget a\r\nquit\r\n';
const GOT_A = 'STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n';
/** The size of the value "big", which the last case gets four times. */
const BIG = 1_000_000;
/** What arrives before the end: these bytes, this many bytes, or a part of these from their start. */
type RepliesSeen = string | number | { prefixOf: string };
/** One write, or several with a pause between (the server has read the one before); `halfClose`: then the client's end. */
type Sent = string | Buffer | { writes: Array<string | Buffer>; halfClose?: boolean };
/** A binary set's or noop's response: a header alone (the set's CAS differs between servers, so only lengths count). */
const BIN_REPLY = HEADER_LEN;
/** A binary set of a 20 KB value: memcached reads its rest straight into the item, and its next read starts after it. */
const BSET_20K = R({ ...BSET, value: 'v'.repeat(20_000) });
/** A binary get whose header, extras and key cannot fit memcached's 16 KB read buffer. */
const BGET_KEY_20K = R({ opcode: Op.GET, key: 'k'.repeat(20_000) });
const ENDINGS: Array<[string, Sent, 'end' | 'ECONNRESET', RepliesSeen]> = [
  ['a line without a newline, all of it read: an end', NO_NEWLINE, 'end', ''],
  ['a line without a newline, 16 KB of it read: a reset', 'x'.repeat(20_000), 'ECONNRESET', ''],
  ['quit with what follows inside the 16 KB read: an end', QUIT_AFTER.padEnd(16_384, 'y'), 'end', GOT_A],
  ['quit with one byte past the 16 KB read: a reset, after the replies', QUIT_AFTER.padEnd(16_385, 'y'), 'ECONNRESET', GOT_A],
  ['a bad binary magic with bytes past the 16 KB read: a reset, after the replies flushed before it',
    Buffer.concat([R(BSET, { opcode: Op.NOOP }), BAD_MAGIC, Buffer.alloc(20_000, 0x80)]), 'ECONNRESET', 2 * BIN_REPLY],
  ['an HTTP line with less behind it: an end', `${HTTP}${'z'.repeat(10_000)}`, 'end', ''],
  // memcached writes them all into the kernel (conn_mwrite) before it closes, and the reset drops what the kernel
  // had not delivered yet, a different amount each time: the client gets a part of its replies, then the reset
  ['quit behind 4 MB of replies the socket cannot take at once, input past the 16 KB read: replies, then a reset',
    `${'mg big v\r\n'.repeat(4)}quit\r\n${'y'.repeat(20_000)}`, 'ECONNRESET', { prefixOf: `VA ${BIG}\r\n${'b'.repeat(BIG)}\r\n`.repeat(4) }],
  // a bad magic is a header memcached looked at only once it had it all: after a value read on past its 16 KB, in a
  // read that starts at the header (the set's reply went out when the value ended)
  ['a bad magic after a value past the 16 KB read, with 16 KB from the header: the set\'s reply, then an end',
    Buffer.concat([BSET_20K, BAD_MAGIC, Buffer.alloc(16_384 - BAD_MAGIC.length, 0x80)]), 'end', BIN_REPLY],
  ['... with a byte more: the set\'s reply, then a reset',
    Buffer.concat([BSET_20K, BAD_MAGIC, Buffer.alloc(16_385 - BAD_MAGIC.length, 0x80)]), 'ECONNRESET', BIN_REPLY],
  // memcached's full buffer is read on (a read of 0 bytes, its hang-up) only when the socket has more to read
  ['a header, extras and key past 16 KB, exactly 16 KB of them sent: not hung up on, until a byte more: a reset',
    { writes: [BGET_KEY_20K.subarray(0, 16_384), 'k'] }, 'ECONNRESET', ''],
  // memcached sees the client's end only once it has read everything: its close then finds nothing unread
  ['... 16 KB of them behind a noop, then the client\'s end: the noop\'s reply, then an end',
    { writes: [Buffer.concat([R({ opcode: Op.NOOP }), BGET_KEY_20K.subarray(0, 16_384)])], halfClose: true }, 'end', BIN_REPLY],
];

for (const kind of kindsFor()) {
  test(`fatal input: the connection ends with a reset where memcached's left input unread [${kind}]`, async () => {
    const s = await serverFor(kind, []);
    const { got: stored } = await sendUntilClosed(s.port, `set big 0 0 ${BIG}\r\n${'b'.repeat(BIG)}\r\nquit\r\n`);
    assert.equal(stored.toString(), 'STORED\r\n');
    for (const [name, req, ending, reply] of ENDINGS) {
      const { got, how } = await sendUntilClosed(s.port, req);
      assert.equal(how, ending, name);
      if (typeof reply === 'number') assert.equal(got.length, reply, `${name}: the replies' length`);
      else if (typeof reply === 'string') assert.equal(got.toString('latin1'), reply, `${name}: the replies`);
      else assert.ok(reply.prefixOf.startsWith(got.toString('latin1')), `${name}: the replies' first ${got.length} bytes`);
    }
  });
}

for (const kind of kindsFor()) {
  test(`fatal input: an idle client with a line begun after a value read past 16 KB is closed with an end, not a reset [${kind}]`, async () => {
    // memcached reads a value's rest straight into the item, then reads on for the next line (all of it here): the
    // idle timeout's close finds nothing unread
    const s = await serverFor(kind, ['-o', 'idle_timeout=1']);
    const { got, how } = await sendUntilClosed(s.port, `set v 0 0 20000\r\n${'v'.repeat(20_000)}\r\nget v`);
    assert.deepEqual([how, got.toString()], ['end', 'STORED\r\n']);
  });
}

/** The pause between writes: time for the server to read the write before. */
const WRITE_PAUSE_MS = 100;

/** Send req, then read until the server closes: what arrived, and whether it ended in a reset. */
async function sendUntilClosed(port: number, req: Sent): Promise<{ got: Buffer; how: string }> {
  const { writes, halfClose = false } = typeof req === 'object' && !Buffer.isBuffer(req) ? req : { writes: [req] };
  const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((r, j) => { sock.once('connect', r); sock.once('error', j); });
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  const how = await new Promise<string>((resolve) => {
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    sock.once('end', () => resolve('end'));
    void (async () => {
      for (const [i, w] of writes.entries()) {
        if (i > 0) await sleep(WRITE_PAUSE_MS);
        if (sock.destroyed) return;
        sock.write(w);
      }
      if (halfClose) sock.end();
    })();
  });
  sock.destroy();
  return { got: Buffer.concat(chunks), how };
}
