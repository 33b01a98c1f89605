// The LOGIN mechanism of -S, as Cyrus's login.c serves it: the server asks "Username:", then "Password:", the
// client answers each (the user may come with the Auth itself), and the password is checked as PLAIN's is,
// by sasl_checkpass (pwcheck_method's verifiers, sasl-plain.ts checkPass).

import { cString } from '../libc/bytes.ts';
import { canonFailed, canonUser, checkPass, saslSetup } from './sasl-plain.ts';
import { SaslCode, SaslLog, saslFail, type SaslStep } from './sasl-result.ts';

/** Cyrus's LOGIN context between steps: 1 before the user name, 2 waiting for it, 3 for the password. */
export type LoginExchange = { kind: 'login'; state: number; username: Buffer };

const USERNAME = Buffer.from('Username:');
const PASSWORD = Buffer.from('Password:');
/** login.c refuses a user name or a password longer than this. */
const MAX_INPUT = 1024;

export function loginStart(): LoginExchange {
  return { kind: 'login', state: 1, username: Buffer.alloc(0) };
}

/** login_server_mech_step: CONTINUE with the next question in `res.out`, OK, or a failure's code in `res`. */
export function loginStep(x: LoginExchange, data: Buffer, res: SaslStep): number {
  if (x.state === 1) {
    x.state = 2;
    if (data.length === 0) { res.out = USERNAME; return SaslCode.CONTINUE; }
  }
  if (x.state === 2) {
    if (data.length > MAX_INPUT) return refused(res, 'username too long (>1024 characters)');
    x.username = Buffer.from(cString(data)); // (login.c copies with strncpy)
    x.state = 3;
    res.out = PASSWORD;
    return SaslCode.CONTINUE;
  }
  if (data.length > MAX_INPUT) return refused(res, 'clientinlen is > 1024 characters in LOGIN plugin');
  const setup = saslSetup();
  if (setup === null) return saslFail(res, SaslCode.FAIL, SaslLog.FAIL, 'SASL is not set up'), res.code;
  const authid = canonUser(x.username, setup.realm);
  if (typeof authid === 'number') return canonFailed(res, authid), res.code;
  const result = checkPass(setup, authid, cString(data), res); // no words of LOGIN's own when it says no
  if (result !== SaslCode.OK) saslFail(res, result, SaslLog.NONE, '');
  return result;
}

function refused(res: SaslStep, reason: string): number {
  saslFail(res, SaslCode.BADPROT, SaslLog.FAIL, reason);
  return res.code;
}
