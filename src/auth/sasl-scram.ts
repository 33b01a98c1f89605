// The SCRAM-SHA-1, -224, -256, -384 and -512 mechanisms (RFC 5802, RFC 7677) of -S, as Cyrus's scram.c
// serves them, against the sasldb's plaintext userPassword (Cyrus's auxprop lookup; the MEMCACHED_SASL_PWDB
// file has no SCRAM, as memcached's has none). The client speaks first:
//   client-first  gs2-header client-first-bare      "n,," "n=alice,r=<client nonce>"
//   server-first  "r=<client nonce><server nonce>,s=<salt>,i=<iterations>"
//   client-final  "c=<base64 of the gs2 header>,r=<nonce>,p=<proof>"
//   server-final  "v=<server signature>"
// Cyrus salts a plaintext password with a hash of the user name under a key drawn at start (the same salt for
// a user until the server restarts) and iterates `scram_iteration_counter` times (default 4096). Each refusal
// below is Cyrus's words for it, which memcached prints at -v.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { sasldbSecret } from './sasldb.ts';
import { canonUser, saslSetup, userPasswordKey } from './sasl-plain.ts';
import type { SaslSetup } from './sasl-conf.ts';
import { ALL_WHITESPACE, NOT_AUTHZ, SaslCode, SaslLog, saslFail, saslNote, type SaslStep } from './sasl-result.ts';

/** The mechanisms, strongest first as Cyrus lists them, and the digest each is built on. */
export const SCRAM_MECHS = {
  'SCRAM-SHA-512': 'sha512', 'SCRAM-SHA-384': 'sha384', 'SCRAM-SHA-256': 'sha256', 'SCRAM-SHA-224': 'sha224', 'SCRAM-SHA-1': 'sha1',
} as const;
export type ScramMech = keyof typeof SCRAM_MECHS;

/** scram.c's MAX_CLIENTIN_LEN, and the words its message ends with (a macro stringized unexpanded). */
const MAX_CLIENTIN_LEN = 2048;
/** scram.c's NONCE_SIZE: 32 base64 characters, from 24 random bytes, follow the client's nonce. */
const SERVER_NONCE_BYTES = 24;
/** The user's salt: Hi(user name, the start's salt key) at this many iterations (scram_server_user_salt). */
const USER_SALT_ITERATIONS = 20;
/** Cyrus's default for `scram_iteration_counter`. */
export const DEFAULT_ITERATIONS = 4096;
/** scram.c's words when canon_user fails for the user (its password looked up on the way). */
const CANON_USER_FAILED = 'unable to canonify user and get auxprops';
/** SALT_SIZE: the salt key scram_server_plug_init draws. */
export const SALT_KEY_BYTES = 16;

/** One exchange (Cyrus's server_context_t): created by an Auth naming the mechanism, dropped on a failure. */
export type ScramExchange = {
  kind: 'scram';
  mech: ScramMech;
  /** 0: nothing yet; 1: waiting for the client-first message; 2: for the client-final one; 3: done. */
  state: number;
  gs2Header: string;
  nonce: string;
  /** client-first-bare "," server-first ",": the AuthMessage up to the client-final's proof. */
  authMessage: string;
  storedKey: Buffer;
  serverKey: Buffer;
  authid: Buffer;
  /** The canonical authorization identity asked for with "a=", or null. */
  authzid: Buffer | null;
};

export function scramStart(mech: ScramMech): ScramExchange {
  const none = Buffer.alloc(0);
  return { kind: 'scram', mech, state: 0, gs2Header: '', nonce: '', authMessage: '', storedKey: none, serverKey: none, authid: none, authzid: null };
}

/**
 * scram_server_mech_step: CONTINUE with the server's message in `res.out`, OK once the proof is right (its
 * "v=" in `res.out`), or a failure with Cyrus's code and words in `res`.
 */
export function scramStep(x: ScramExchange, data: Buffer, res: SaslStep): number {
  if (data.length > MAX_CLIENTIN_LEN) return bad(res, `${x.mech} input longer than (MAX_CLIENTIN_LEN) bytes`);
  if (x.state === 0) {
    x.state = 1;
    if (data.length === 0) return SaslCode.CONTINUE; // no initial response: the client's message comes in a Step
  }
  if (x.state === 1) return serverFirst(x, data, res);
  x.state = 3;
  return serverFinal(x, data, res);
}

/** step1: read the client-first message, look the user up, answer the nonce, salt and iteration count. */
function serverFirst(x: ScramExchange, data: Buffer, res: SaslStep): number {
  const m = x.mech;
  const s = clientText(x, data, 10, res);
  if (s === null) return res.code;
  const gs2 = readGs2Header(m, s, res);
  if (gs2 === null) return res.code;
  let p = gs2.end;
  if (s[p + 1] !== '=') return bad(res, `Invalid ${m} input`);
  if (s[p] === 'm') return bad(res, `Unsupported mandatory extension to ${m}`);
  if (s[p] !== 'n') return bad(res, `Username (n=) expected in ${m} input`);
  const userEnd = s.indexOf(',', p + 2);
  if (userEnd < 0) return bad(res, `Nonce expected after the username in ${m} input`);
  const user = decodeSaslname(s.slice(p + 2, userEnd));
  if (user === null) return bad(res, `Invalid username encoding in ${m} input`);
  p = userEnd + 1;
  if (!s.startsWith('r=', p)) return bad(res, `Nonce expected after the username in ${m} input`);
  const nonceEnd = s.indexOf(',', p + 2);
  x.nonce = s.slice(p + 2, nonceEnd < 0 ? s.length : nonceEnd) + randomBytes(SERVER_NONCE_BYTES).toString('base64');
  const setup = saslSetup();
  if (setup === null) return saslFail(res, SaslCode.FAIL, SaslLog.FAIL, 'SASL is not set up'), res.code;
  const password = identify(x, setup, user, gs2.authzid, res);
  if (password === null) return res.code;
  const digest = SCRAM_MECHS[m];
  const salt = hi(digest, Buffer.from(user, 'latin1'), Buffer.from(setup.scramSaltKey, 'hex'), USER_SALT_ITERATIONS);
  const salted = hi(digest, password, salt, setup.scramIterations);
  x.storedKey = createHash(digest).update(createHmac(digest, salted).update('Client Key').digest()).digest();
  x.serverKey = createHmac(digest, salted).update('Server Key').digest();
  const out = `r=${x.nonce},s=${salt.toString('base64')},i=${setup.scramIterations}`;
  x.authMessage = `${s.slice(gs2.end)},${out},`;
  x.gs2Header = s.slice(0, gs2.end);
  x.state = 2;
  res.out = Buffer.from(out, 'latin1');
  return SaslCode.CONTINUE;
}

/**
 * The gs2 header: a channel binding flag ("n", "y", or "p=name"), ",", an optional "a=" authorization identity,
 * ",". Its length with the last comma (where the bare message starts), and the identity; null when refused.
 */
function readGs2Header(m: ScramMech, s: string, res: SaslStep): { end: number; authzid: string | null } | null {
  let p = 1;
  if (s[0] === 'p') {
    if (s[1] !== '=') return badNull(res, `The initial 'p' needs to be followed by '=' in ${m} input`);
    p = s.indexOf(',', 1);
    if (p < 0) return badNull(res, `Channel binding name must be terminated by a comma in ${m} input`);
  } else if (s[0] !== 'n' && s[0] !== 'y') {
    return badNull(res, `The initial ${m} client response needs to start with 'y', 'n' or 'p'`);
  }
  if (s[p] !== ',') return badNull(res, `',' expected in ${m} input`);
  p++;
  if (s[p] === 'a' && s[p + 1] === '=') {
    const comma = s.indexOf(',', p + 2);
    if (comma < 0) return badNull(res, `At least nonce is expected in ${m} input`);
    const authzid = decodeSaslname(s.slice(p + 2, comma));
    if (authzid === null) return badNull(res, `Invalid authorization identity encoding in ${m} input`);
    return { end: comma + 1, authzid };
  }
  if (s[p] !== ',') return badNull(res, `',' expected in ${m} input`);
  return { end: p + 1, authzid: null };
}

/**
 * canon_user for the user, which also looks up its password (no such user: SASL_NOUSER), then for the
 * authorization identity asked for: white space dropped, the realm added. Each failure is Cyrus's words,
 * canon_user's and the mechanism's. The user's userPassword, or null.
 */
function identify(x: ScramExchange, setup: SaslSetup, user: string, authzid: string | null, res: SaslStep): Buffer | null {
  const authid = canonical(Buffer.from(user, 'latin1'), setup.realm, CANON_USER_FAILED, res);
  if (authid === null) return null;
  x.authid = authid;
  const password = lookUpSecret(setup, authid, res);
  if (password === null) return null;
  x.authzid = null;
  if (authzid === null || authzid === '') return password;
  x.authzid = canonical(Buffer.from(authzid, 'latin1'), setup.realm, 'unable to canonify authorization ID', res);
  return x.authzid === null ? null : password;
}

function canonical(name: Buffer, realm: string, then: string, res: SaslStep): Buffer | null {
  const c = canonUser(name, realm);
  if (typeof c !== 'number') return c;
  if (c === SaslCode.FAIL) saslNote(res, SaslLog.FAIL, ALL_WHITESPACE);
  saslFail(res, c, SaslLog.FAIL, then);
  return null;
}

/**
 * The user's userPassword from the sasldb, looked up by canon_user: no entry is SASL_NOUSER; an auxprop_plugin
 * list without the sasldb names plugins Debian's Cyrus does not have, SASL_NOMECH.
 */
function lookUpSecret(setup: SaslSetup, authid: Buffer, res: SaslStep): Buffer | null {
  if (setup.sasldb === null) { saslFail(res, SaslCode.NOMECH, SaslLog.FAIL, CANON_USER_FAILED); return null; }
  const pass = sasldbSecret(setup.sasldb, userPasswordKey(authid), res);
  if (pass === null) {
    if (res.code === SaslCode.NOUSER) saslFail(res, SaslCode.NOUSER, SaslLog.FAIL, CANON_USER_FAILED);
    return null;
  }
  if (pass.length === 0) { saslFail(res, SaslCode.FAIL, SaslLog.FAIL, 'empty secret'); return null; }
  return pass;
}

/** step2: read the client-final message and check its proof; on success the server's signature. */
function serverFinal(x: ScramExchange, data: Buffer, res: SaslStep): number {
  const m = x.mech;
  if (data.length > 0 && (data.length < 3 || data[1] !== 0x3d)) return bad(res, `Invalid ${m} input`);
  const s = clientText(x, data, 0, res);
  if (s === null) return res.code;
  if (!s.startsWith('c=')) return bad(res, `Channel binding expected in ${m} input`);
  const cbEnd = s.indexOf(',', 2);
  if (cbEnd < 0) return bad(res, `At least nonce is expected in ${m} input`);
  const binding = decode64(s.slice(2, cbEnd), cbEnd - 2);
  if (binding === null) return bad(res, `Invalid base64 encoding of the channel bindings in ${m}`);
  if (binding.length < x.gs2Header.length || binding.subarray(0, x.gs2Header.length).toString('latin1') !== x.gs2Header) {
    return bad(res, `Channel bindings prefix doesn't match the one received in the GS2 header of ${m}. Expected "${x.gs2Header}"`);
  }
  if (x.gs2Header[0] === 'p') return bindingRefused(x, binding.length, res); // memcached gives Cyrus no channel binding
  let p = cbEnd + 1;
  if (!s.startsWith('r=', p)) return bad(res, `Nonce expected in ${m} input`);
  const nonceEnd = s.indexOf(',', p + 2);
  if (nonceEnd < 0) return bad(res, `At least proof is expected in ${m} input`);
  if (s.slice(p + 2, nonceEnd) !== x.nonce) return bad(res, `Nonce mismatch ${m} input`);
  const proofAt = proofField(s, nonceEnd + 1);
  if (proofAt < 0) return bad(res, `Client proof is expected in ${m} input`);
  const proof = s.slice(proofAt + 2);
  if (proof.includes(',')) return bad(res, `No extension data is allowed after the client proof in ${m} input`);
  const digest = SCRAM_MECHS[m];
  const size = x.storedKey.length;
  if (proof.length !== base64Length(size)) return bad(res, `Invalid client proof length in ${m} input`);
  const authMessage = x.authMessage + s.slice(0, proofAt - 1);
  const clientSignature = createHmac(digest, x.storedKey).update(authMessage, 'latin1').digest();
  const decoded = decode64(proof, size + 1);
  if (decoded === null) return bad(res, `Invalid base64 encoding of the client proof in ${m} input`);
  if (decoded.length !== size) return bad(res, `Invalid client proof (truncated) in ${m} input`);
  for (let i = 0; i < size; i++) decoded[i] ^= clientSignature[i];
  if (!timingSafeEqual(createHash(digest).update(decoded).digest(), x.storedKey)) {
    return saslFail(res, SaslCode.BADAUTH, SaslLog.FAIL, 'StoredKey mismatch'), res.code;
  }
  if (x.authzid !== null && !x.authzid.equals(x.authid)) return saslFail(res, SaslCode.BADAUTH, SaslLog.FAIL, NOT_AUTHZ), res.code;
  res.out = Buffer.from(`v=${createHmac(digest, x.serverKey).update(authMessage, 'latin1').digest('base64')}`, 'latin1');
  return SaslCode.OK;
}

/** "p=name": Cyrus wants binding data after the header, and memcached gives it no channel binding to match. */
function bindingRefused(x: ScramExchange, length: number, res: SaslStep): number {
  if (length === x.gs2Header.length) return bad(res, `Channel bindings data expected in ${x.mech}`);
  const name = x.gs2Header.slice(2, x.gs2Header.indexOf(','));
  return bad(res, `Server does not support channel binding type received in ${x.mech}. Received: ${name}`);
}

/** Where the first field starting "p=" is, from `from` on (scram.c skips any extensions before it); -1 when none. */
function proofField(s: string, from: number): number {
  for (let p = from; p < s.length;) {
    if (s.startsWith('p=', p)) return p;
    const comma = s.indexOf(',', p);
    if (comma < 0) return -1;
    p = comma + 1;
  }
  return -1;
}

/** The client's message as text, when it is one: no shorter than `min`, no NUL (C strings). */
function clientText(x: ScramExchange, data: Buffer, min: number, res: SaslStep): string | null {
  if (data.length === 0) return badNull(res, `${x.mech} input expected`);
  if (data.length < min) return badNull(res, `Invalid ${x.mech} input`);
  if (data.includes(0)) return badNull(res, `NULs found in ${x.mech} input`);
  return data.toString('latin1');
}

/** Hi() of RFC 5802: PBKDF2 with one block. Cyrus computes U1 even for a count of 0. */
function hi(digest: string, str: Buffer, salt: Buffer, count: number): Buffer {
  if (count <= 0x7fffffff) return pbkdf2Sync(str, salt, Math.max(count, 1), createHash(digest).digest().length, digest);
  // past PBKDF2's int32 in Node, the loop itself (as long as memcached's own)
  let u = createHmac(digest, str).update(Buffer.concat([salt, Buffer.from([0, 0, 0, 1])])).digest();
  const out = Buffer.from(u);
  for (let i = 2; i <= count; i++) {
    u = createHmac(digest, str).update(u).digest();
    for (let k = 0; k < out.length; k++) out[k] ^= u[k];
  }
  return out;
}

/** saslname: "=2C" is ',' and "=3D" is '='; any other '=' makes the name invalid (null). */
function decodeSaslname(s: string): string | null {
  if (!s.includes('=')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '=') { out += s[i]; continue; }
    const code = s.slice(i + 1, i + 3);
    if (code === '2C') out += ',';
    else if (code === '3D') out += '=';
    else return null;
    i += 2;
  }
  return out;
}

const base64Length = (n: number): number => Math.floor(n / 3) * 4 + (n % 3 > 0 ? 4 : 0);
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Cyrus's sasl_decode64, held to its result being SASL_OK: groups of four characters, '=' only as the padding of
 * the last group, nothing left over, fewer than `outmax` bytes out. Null otherwise.
 */
function decode64(s: string, outmax: number): Buffer | null {
  if (s.length % 4 !== 0 || s[0] === '\r') return null;
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 4) {
    const [c0, c1, c2, c3] = [B64.indexOf(s[i]), B64.indexOf(s[i + 1]), s[i + 2], s[i + 3]];
    const d2 = B64.indexOf(c2), d3 = B64.indexOf(c3);
    if (c0 < 0 || c1 < 0 || (c2 !== '=' && d2 < 0) || (c3 !== '=' && d3 < 0) || (c2 === '=' && c3 !== '=')) return null;
    if (i > 0 && (s[i - 2] === '=' || s[i - 1] === '=')) return null; // no data after a padded group
    out.push(((c0 << 2) | (c1 >> 4)) & 0xff);
    if (c2 !== '=') out.push(((c1 << 4) | (d2 >> 2)) & 0xff);
    if (c3 !== '=' && c2 !== '=') out.push(((d2 << 6) | d3) & 0xff);
    if (out.length >= outmax) return null; // SASL_BUFOVER
  }
  return Buffer.from(out);
}

function bad(res: SaslStep, reason: string): number {
  saslFail(res, SaslCode.BADPROT, SaslLog.FAIL, reason);
  return res.code;
}

function badNull(res: SaslStep, reason: string): null {
  saslFail(res, SaslCode.BADPROT, SaslLog.FAIL, reason);
  return null;
}
