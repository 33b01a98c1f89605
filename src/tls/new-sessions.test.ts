// The session id read out of a serialized OpenSSL session (what tells a TLS 1.2 ticket session, which
// has none and which memcached does not count, from a cached one). Whole handshakes against memcached:
// test/tls.test.ts, ssl_new_sessions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionIdLength } from './new-sessions.ts';

/** A DER element: tag, length (long form past 127), contents. */
function der(tag: number, contents: Uint8Array): Uint8Array {
  const n = contents.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Uint8Array.from([tag, ...length, ...contents]);
}
const seq = (...parts: Uint8Array[]): Uint8Array => der(0x30, Uint8Array.from(parts.flatMap((p) => [...p])));
const session = (idLength: number, tail = new Uint8Array(300)): Uint8Array => seq(
  der(0x02, Uint8Array.of(1)), der(0x02, Uint8Array.of(0x03, 0x03)), der(0x04, Uint8Array.of(0xc0, 0x2f)),
  der(0x04, new Uint8Array(idLength)), der(0x04, tail));

test('the session id length is read from the fourth element of the session\'s SEQUENCE', () => {
  assert.equal(sessionIdLength(session(32)), 32);
  assert.equal(sessionIdLength(session(0)), 0); // a TLS 1.2 ticket session
});

test('bytes not laid out as a session give -1, never a throw', () => {
  const whole = session(32);
  for (let cut = 0; cut < 16; cut++) assert.equal(sessionIdLength(whole.subarray(0, cut)), -1, `cut at ${cut}`);
  assert.equal(sessionIdLength(Uint8Array.of()), -1);
  assert.equal(sessionIdLength(seq(der(0x02, Uint8Array.of(1)), der(0x04, new Uint8Array(4)))), -1); // a tag out of place
  assert.equal(sessionIdLength(Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff)), -1); // a length too long to be one
});
