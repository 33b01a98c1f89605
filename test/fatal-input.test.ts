// Input a server hangs up on, arriving in the same read as requests before it. memcached sends the
// replies it has queued only at set points (a text get's END, mn, a binary error or noop, quit, the end
// of what was read); a connection closed for bad input between two such points loses the replies
// queued since the last one. A client sees exactly that: these run against memcached, byte for byte.

import { differential, BINARY_NOOP_SENTINEL, HANG_UP_SENTINEL } from './support/differential.ts';
import { registerStopHook } from './support/spec.ts';
import { binRequest, setExtras, type BinRequest } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

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
