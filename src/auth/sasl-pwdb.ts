// The password database of SASL PLAIN, as memcached's built-in one (ENABLE_SASL_PWDB): the file named
// by the environment variable MEMCACHED_SASL_PWDB, one "user:password" a line (anything after a
// further ':' is ignored, "\r\n" line ends are fine). As memcached, the file is read at every
// authentication, so edits apply to the next attempt without a restart; with an unreadable file every
// authentication fails. (Without the variable, passwords come from Cyrus's sasldb: sasl-conf.ts.)

import { readFileSync } from 'node:fs';
import { Credentials } from './credentials.ts';
import { SASL_PWDB_ENV } from './sasl-conf.ts';
import { SaslCode, SaslLog, saslFail, VERIFY_FAILED, type SaslWhy } from './sasl-result.ts';
/** memcached reads lines of at most 256 bytes and refuses user + password longer than 252. */
const MAX_ENTRY_LEN = 256;

/** The database's entries, or null when there is none to read (the reason goes to `why`). */
export function loadSaslPwdb(path: string, why: { reason: string }): Credentials | null {
  if (path === '') { why.reason = `${SASL_PWDB_ENV} is empty`; return null; }
  let text: Buffer;
  try { text = readFileSync(path); } catch (e) {
    why.reason = `Failed to open sasl database <${path}>: ${(e as NodeJS.ErrnoException).code ?? 'error'}`;
    return null;
  }
  const creds = new Credentials();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(0x0a, start);
    if (end < 0) end = text.length;
    addLine(creds, text.subarray(start, end));
    start = end + 1;
  }
  return creds;
}

function addLine(creds: Credentials, line: Buffer): void {
  const colon = line.indexOf(0x3a);
  if (colon <= 0) return; // not a user line
  let passEnd = colon + 1;
  while (passEnd < line.length && line[passEnd] !== 0x3a && line[passEnd] !== 0x0d) passEnd++;
  creds.add(line.subarray(0, colon), line.subarray(colon + 1, passEnd));
}

/**
 * sasl_server_userdb_checkpass: is this user's password this one? memcached's callback answers a failure
 * SASL_NOAUTHZ, which Cyrus's PLAIN reports as "Password verification failed"; a file it cannot read it warns of
 * itself, and that reason is kept here.
 */
export function saslCheckPass(path: string, user: Uint8Array, pass: Uint8Array, why: SaslWhy): boolean {
  if (user.length + pass.length > MAX_ENTRY_LEN - 4) return saslFail(why, SaslCode.NOAUTHZ, SaslLog.FAIL, VERIFY_FAILED);
  const creds = loadSaslPwdb(path, why);
  if (creds === null) return saslFail(why, SaslCode.NOAUTHZ, SaslLog.FAIL, why.reason);
  return creds.check(user, pass, true) || saslFail(why, SaslCode.NOAUTHZ, SaslLog.FAIL, VERIFY_FAILED);
}
