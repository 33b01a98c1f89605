// The PLAIN mechanism (RFC 4616) of -S: "[authzid] NUL authcid NUL passwd", checked against the
// MEMCACHED_SASL_PWDB file (sasl-pwdb.ts) or, as Cyrus's PLAIN does, against the sasldb (sasldb.ts).
// Each worker installs the setup the main thread made at start (sasl-conf.ts).

import { createHash, timingSafeEqual } from 'node:crypto';
import { saslCheckPass } from './sasl-pwdb.ts';
import { sasldbKey, sasldbSecret, USER_PASSWORD } from './sasldb.ts';
import { findMech, words, type Mech, type SaslSetup } from './sasl-conf.ts';
import { ALL_WHITESPACE, NOT_AUTHZ, SaslCode, SaslLog, saslFail, saslNote, VERIFY_FAILED, type SaslWhy } from './sasl-result.ts';
import { saslauthdVerify } from './saslauthd.ts';
import { authdaemondVerify } from './authdaemond.ts';

/** Cyrus's CANON_BUF_SIZE: a canonical user name (with its realm) longer than this is refused. */
const CANON_BUF_SIZE = 1024;

let setup: SaslSetup | null = null;
let mechs: Buffer | null = null;
let offered: Mech[] = [];

export function saslInstall(s: SaslSetup): void {
  setup = s;
  mechs = s.mechs === '' ? null : Buffer.from(s.mechs);
  offered = s.mechs === '' ? [] : s.mechs.split(' ') as Mech[];
}

/** The setup saslInstall installed in this thread. */
export function saslSetup(): SaslSetup | null { return setup; }

/** List Mechs' answer (sasl_listmech), or null when no mechanism may be used (Cyrus's SASL_NOMECH). */
export function saslMechs(): Buffer | null { return mechs; }

/**
 * The mechanism an Auth names, when the config offers it (sasl_server_start's lookup: any case, "-PLUS"
 * allowed); null is Cyrus's "Couldn't find mech".
 */
export function saslOffered(name: string): Mech | null {
  const m = findMech(name);
  return m !== null && offered.includes(m) ? m : null;
}

type PlainMessage = { authzid: Buffer; authcid: Buffer; passwd: Buffer };

/**
 * plain_server_mech_step's reading: "authzid NUL authcid NUL passwd", exactly two NULs; otherwise Cyrus's
 * refusal (SASL_BADPROT), worded as its PLAIN words it.
 */
function parsePlain(msg: Uint8Array, why: SaslWhy): PlainMessage | null {
  const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.length);
  const nul1 = buf.indexOf(0);
  if (nul1 < 0) return badPlain(why, 'Can only find author (no password)');
  const nul2 = buf.indexOf(0, nul1 + 1);
  if (nul2 < 0) return badPlain(why, 'Can only find author/en (no password)');
  if (buf.indexOf(0, nul2 + 1) >= 0) return badPlain(why, 'Got more data than we were expecting in the PLAIN plugin');
  return { authzid: buf.subarray(0, nul1), authcid: buf.subarray(nul1 + 1, nul2), passwd: buf.subarray(nul2 + 1) };
}

function badPlain(why: SaslWhy, reason: string): null {
  saslFail(why, SaslCode.BADPROT, SaslLog.FAIL, reason);
  return null;
}

/** Whether this PLAIN message authenticates; when not, Cyrus's code and message (never the credentials) go to `why`. */
export function saslPlain(msg: Uint8Array, why: SaslWhy): boolean {
  const m = parsePlain(msg, why);
  if (m === null) return false;
  if (setup === null) return saslFail(why, SaslCode.FAIL, SaslLog.FAIL, 'SASL is not set up');
  if (setup.pwdb !== null) return pwdbPlain(setup.pwdb, m, why);
  return cyrusPlain(setup, m, why);
}

/** Against the MEMCACHED_SASL_PWDB file (sasl-pwdb.ts): an authorization identity other than the user is refused. */
function pwdbPlain(path: string, m: PlainMessage, why: SaslWhy): boolean {
  if (m.authcid.length === 0) return saslFail(why, SaslCode.FAIL, SaslLog.FAIL, ALL_WHITESPACE);
  if (m.authzid.length > 0 && !m.authzid.equals(m.authcid)) return saslFail(why, SaslCode.BADAUTH, SaslLog.FAIL, NOT_AUTHZ);
  return saslCheckPass(path, m.authcid, m.passwd, why);
}

/**
 * As Cyrus's PLAIN: the user name is made canonical (canonUser), its password checked by sasl_checkpass
 * (checkPass), which fails as "Password verification failed" with the verifier's code; an authorization
 * identity must name the same canonical user (Cyrus's default authorization).
 */
function cyrusPlain(s: SaslSetup, m: PlainMessage, why: SaslWhy): boolean {
  const authid = canonUser(m.authcid, s.realm);
  if (typeof authid === 'number') return canonFailed(why, authid);
  const result = checkPass(s, authid, m.passwd, why);
  if (result !== SaslCode.OK) return saslFail(why, result, SaslLog.FAIL, VERIFY_FAILED);
  if (m.authzid.length === 0 || m.authzid.equals(m.authcid)) return true;
  const authzid = canonUser(m.authzid, s.realm);
  if (typeof authzid === 'number') return canonFailed(why, authzid);
  return authzid.equals(authid) || saslFail(why, SaslCode.BADAUTH, SaslLog.FAIL, NOT_AUTHZ);
}

/**
 * Cyrus's _sasl_checkpass: the verifiers pwcheck_method names, in its order, until one says yes (each word
 * matched in any case, up to white space): auxprop, saslauthd (saslauthd.ts), authdaemond (authdaemond.ts);
 * those Debian's Cyrus lacks (pwcheck, alwaystrue) are passed over. The last verifier's code; none at all is
 * SASL_NOMECH, logged as "unknown password verifier(s)".
 */
export function checkPass(s: SaslSetup, authid: Buffer, pass: Uint8Array, why: SaslWhy): number {
  let result: number = SaslCode.NOMECH;
  for (const word of words(s.pwcheck)) {
    if (result === SaslCode.OK) break;
    const verifier = word.toLowerCase();
    if (verifier === 'auxprop') result = auxpropVerify(s, authid, pass, why);
    else if (verifier === 'saslauthd') result = saslauthdVerify(s.saslauthdPath, authid, pass, s.realm, why);
    else if (verifier === 'authdaemond') result = authdaemondVerify(s.authdaemondPath, authid, pass, why);
  }
  if (result === SaslCode.NOMECH) saslNote(why, SaslLog.ERR, `unknown password verifier(s) ${s.pwcheck}`);
  return result;
}

/**
 * auxprop_verify_password against the sasldb's "user NUL realm NUL userPassword" entry, read now: no entry is
 * SASL_NOUSER, a wrong password SASL_BADAUTH; without the sasldb (auxprop_plugin leaves it out, and Debian's
 * Cyrus has no other) SASL_NOMECH.
 */
function auxpropVerify(s: SaslSetup, authid: Buffer, pass: Uint8Array, why: SaslWhy): number {
  if (s.sasldb === null) return SaslCode.NOMECH;
  const secret = sasldbSecret(s.sasldb, userPasswordKey(authid), why);
  if (secret === null && why.code !== SaslCode.NOUSER) saslNote(why, SaslLog.FAIL, why.reason); // the file unread
  if (secret === null) return why.code;
  return sameSecret(secret, pass) ? SaslCode.OK : SaslCode.BADAUTH;
}

/** canonUser's failure as Cyrus reports it: SASL_FAIL with its words, SASL_BUFOVER without. */
export function canonFailed(why: SaslWhy, code: number): false {
  return code === SaslCode.FAIL ? saslFail(why, code, SaslLog.FAIL, ALL_WHITESPACE) : saslFail(why, code, SaslLog.NONE, '');
}

/** Compared through digests of equal length, so that the time taken says nothing of the password. */
function sameSecret(secret: Buffer, pass: Uint8Array): boolean {
  const d = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
  return timingSafeEqual(d(secret), d(pass));
}

/** The sasldb key of a canonical user's userPassword: the realm follows the first '@' (_plug_parseuser). */
export function userPasswordKey(authid: Buffer): Buffer {
  const at = authid.indexOf(0x40);
  return at < 0 ? sasldbKey(authid, Buffer.alloc(0), USER_PASSWORD)
    : sasldbKey(authid.subarray(0, at), authid.subarray(at + 1), USER_PASSWORD);
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d); // C's isspace

/**
 * Cyrus's internal canon_user (_canonuser_internal), with memcached's user realm: surrounding white space
 * dropped, "@realm" appended when the name has no '@'. Its one test for a name of white space only compares
 * the stripped name's start with the original's at the stripped length, so it fires for "" and for a name
 * with as much white space before it as name after it (" a"), while "   " passes as "" (then "@realm"):
 * followed as it is. A canonical name longer than Cyrus's buffer is SASL_BUFOVER, without a word.
 * The canonical name, or the code of the failure (SaslCode.FAIL: "All-whitespace username.").
 */
export function canonUser(name: Buffer, realm: string): Buffer | number {
  let start = 0;
  while (start < name.length && isSpace(name[start])) start++;
  let len = name.length - start;
  while (len > 0 && isSpace(name[start + len - 1])) len--;
  if (start === len) return SaslCode.FAIL;
  const user = name.subarray(start, start + len);
  if (name.includes(0x40) || realm === '') return user.length > CANON_BUF_SIZE ? SaslCode.BUFOVER : Buffer.from(user);
  if (len + 1 + realm.length > CANON_BUF_SIZE) return SaslCode.BUFOVER;
  return Buffer.concat([user, Buffer.from(`@${realm}`)]);
}
