// The CRAM-MD5 mechanism (RFC 2195) of -S, as Cyrus's cram.c serves it, against the sasldb's plaintext
// userPassword (Cyrus's auxprop lookup; the MEMCACHED_SASL_PWDB file has no CRAM-MD5, as memcached's
// has none). The server speaks first: the challenge "<random.time@host>"; the client answers
// "user hexdigest", the digest being HMAC-MD5 keyed with the password over the challenge, in lower-case hex.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { sasldbSecret } from './sasldb.ts';
import { canonFailed, canonUser, saslSetup, userPasswordKey } from './sasl-plain.ts';
import { SaslCode, SaslLog, saslFail, type SaslWhy } from './sasl-result.ts';

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
 * crammd5_server_mech_step2: whether `response` answers `challenge`; when not, Cyrus's code and message (never
 * the credentials) go to `why`. The user is everything before the last space (a C string: up to a NUL); the
 * digest must follow it, and bytes after its 32 are ignored, as cram.c compares only those.
 */
export function cramVerify(challenge: Buffer, response: Uint8Array, why: SaslWhy): boolean {
  const buf = Buffer.from(response.buffer, response.byteOffset, response.length);
  if (buf.length > MAX_CRAM_INPUT) return saslFail(why, SaslCode.BADPROT, SaslLog.FAIL, 'CRAM-MD5 input longer than 1024 bytes');
  const space = buf.lastIndexOf(0x20);
  if (space <= 0) return saslFail(why, SaslCode.BADPROT, SaslLog.FAIL, 'need authentication name');
  const s = saslSetup();
  if (s === null) return saslFail(why, SaslCode.FAIL, SaslLog.FAIL, 'SASL is not set up');
  if (s.sasldb === null) return saslFail(why, SaslCode.NOMECH, SaslLog.NONE, ''); // no auxprop plugin to ask
  const nul = buf.subarray(0, space).indexOf(0);
  const authid = canonUser(buf.subarray(0, nul < 0 ? space : nul), s.realm);
  if (typeof authid === 'number') return canonFailed(why, authid);
  const pass = sasldbSecret(s.sasldb, userPasswordKey(authid), why);
  if (pass === null) return false;
  if (pass.length === 0) return saslFail(why, SaslCode.FAIL, SaslLog.FAIL, 'empty secret');
  const expected = Buffer.from(createHmac('md5', pass).update(challenge).digest('hex'));
  const got = buf.subarray(space + 1, space + 1 + DIGEST_HEX_LEN);
  if (got.length < DIGEST_HEX_LEN || !timingSafeEqual(expected, got)) {
    return saslFail(why, SaslCode.BADAUTH, SaslLog.FAIL, 'incorrect digest response');
  }
  return true;
}
