// The CRAM-MD5 mechanism (RFC 2195) of -S, as Cyrus's cram.c serves it, against the sasldb's plaintext
// userPassword (Cyrus's auxprop lookup; the MEMCACHED_SASL_PWDB file has no CRAM-MD5, as memcached's
// has none). The server speaks first: the challenge "<random.time@host>"; the client answers
// "user hexdigest", the digest being HMAC-MD5 keyed with the password over the challenge, in lower-case hex.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { loadSasldb } from './sasldb.ts';
import { canonUser, saslSetup, userPasswordKey } from './sasl-plain.ts';

/** cram.c refuses a response longer than this. */
const MAX_CRAM_INPUT = 1024;
const DIGEST_HEX_LEN = 32;

/**
 * crammd5_server_mech_step1's challenge: a random 32-bit number, the time modulo 0xFFFFFF, and the server's
 * host name (Cyrus's serverFQDN; memcached passes none, so Cyrus takes the host's canonical name).
 */
export function cramChallenge(host: string): Buffer {
  const t = Math.floor(Date.now() / 1000) % 0xffffff;
  return Buffer.from(`<${randomBytes(4).readUInt32BE(0)}.${t}@${host}>`);
}

/**
 * crammd5_server_mech_step2: whether `response` answers `challenge`; when not, the reason (never the
 * credentials) goes to `why`. The user is everything before the last space (a C string: up to a NUL); the
 * digest must follow it, and bytes after its 32 are ignored, as cram.c compares only those.
 */
export function cramVerify(challenge: Buffer, response: Uint8Array, why: { reason: string }): boolean {
  const buf = Buffer.from(response.buffer, response.byteOffset, response.length);
  if (buf.length > MAX_CRAM_INPUT) { why.reason = 'CRAM-MD5 input longer than 1024 bytes'; return false; }
  const space = buf.lastIndexOf(0x20);
  if (space <= 0) { why.reason = 'need authentication name'; return false; }
  const s = saslSetup();
  if (s === null || s.sasldb === null) { why.reason = s?.noSource ?? 'SASL is not set up'; return false; }
  const nul = buf.subarray(0, space).indexOf(0);
  const authid = canonUser(buf.subarray(0, nul < 0 ? space : nul), s.realm);
  if (authid === null) { why.reason = 'bad user name'; return false; }
  const pass = password(s.sasldb, userPasswordKey(authid), why);
  if (pass === null) return false;
  const expected = Buffer.from(createHmac('md5', pass).update(challenge).digest('hex'));
  const got = buf.subarray(space + 1, space + 1 + DIGEST_HEX_LEN);
  if (got.length < DIGEST_HEX_LEN || !timingSafeEqual(expected, got)) { why.reason = 'incorrect digest response'; return false; }
  return true;
}

/** The user's userPassword, read now (Cyrus reads it as a C string: up to a NUL), or null, with the reason. */
function password(sasldb: string, key: Buffer, why: { reason: string }): Buffer | null {
  const pairs = loadSasldb(sasldb, why);
  if (pairs === null) return null;
  const found = pairs.find(([k]) => k.equals(key));
  if (found === undefined) { why.reason = 'no secret in database'; return null; }
  const nul = found[1].indexOf(0);
  const pass = nul < 0 ? found[1] : found[1].subarray(0, nul);
  if (pass.length === 0) { why.reason = 'empty secret'; return null; }
  return pass;
}
