// memcached's ssl_new_sessions (with -o ssl_session_cache): its OpenSSL calls ssl_new_session_callback
// for every session it caches or issues, and memcached counts each call. Which handshakes make one,
// as Debian's memcached 1.6.18 on OpenSSL 3 counts them (asked with TLS 1.2 and 1.3 clients, with and
// without tickets):
//
// - TLS 1.3: each session ticket the server sends. OpenSSL sends two after a full handshake and one
//   after a resumption, and memcached keeps those defaults.
// - TLS 1.2: a full handshake's session, if it has an id. A client that takes tickets gets a session
//   with none (the ticket carries it), and OpenSSL caches nothing, so nothing is counted.
// - A resumed TLS 1.2 session: nothing new.
//
// Node's OpenSSL sends its own tickets (none after a TLS 1.3 resumption), so this counts what
// memcached's would have issued for the same handshake, not what Node did.

import type tls from 'node:tls';

/** Sessions memcached's OpenSSL would have issued for this (finished) handshake. */
export function sessionsIssued(socket: tls.TLSSocket): number {
  const resumed = socket.isSessionReused();
  if (socket.getProtocol() === 'TLSv1.3') return resumed ? 1 : 2;
  if (resumed) return 0;
  const session = socket.getSession();
  return session !== undefined && sessionIdLength(session) > 0 ? 1 : 0;
}

/**
 * The session id's length in an OpenSSL session as Node serializes it (i2d_SSL_SESSION): a DER
 * SEQUENCE of version, protocol version, cipher, then the session id, an OCTET STRING. -1 when the
 * bytes are not laid out so.
 */
export function sessionIdLength(der: Uint8Array): number {
  let p = 0;
  /** The next element's header: its tag and length, p left at its contents; null past the end. */
  const header = (): { tag: number; length: number } | null => {
    if (p + 2 > der.length) return null;
    const tag = der[p++];
    let length = der[p++];
    if ((length & 0x80) !== 0) {
      const n = length & 0x7f;
      if (n === 0 || n > 3 || p + n > der.length) return null;
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + der[p++];
    }
    return { tag, length };
  };
  const outer = header();
  if (outer === null || outer.tag !== 0x30) return -1; // SEQUENCE
  const expected = [0x02, 0x02, 0x04, 0x04]; // INTEGER, INTEGER, OCTET STRING (cipher), OCTET STRING (id)
  for (let i = 0; i < expected.length; i++) {
    const h = header();
    if (h === null || h.tag !== expected[i] || p + h.length > der.length) return -1;
    if (i === expected.length - 1) return h.length;
    p += h.length;
  }
  return -1;
}
