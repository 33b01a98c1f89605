// How a SASL step ends, in Cyrus's terms, which memcached prints at -v: Cyrus logs its message through
// memcached's sasl_log ("SASL (severity N): ..."), then memcached prints the result code ("sasl result
// code:  N") and, for a failure, "Unknown sasl response:  N". The mechanisms here (sasl-plain.ts,
// sasl-cram.ts, sasl-scram.ts) fail with the code and message Cyrus's would, so that those lines read the same.

/** Cyrus's result codes (sasl.h) that its PLAIN, CRAM-MD5 and SCRAM return to memcached. */
export const SaslCode = {
  OK: 0, CONTINUE: 1, FAIL: -1, BUFOVER: -3, NOMECH: -4, BADPROT: -5, BADAUTH: -13, NOAUTHZ: -14, NOUSER: -20,
} as const;

/**
 * Cyrus's log levels, as memcached's sasl_log prints them: ERR always, FAIL at -v; NONE is a failure Cyrus
 * says nothing about.
 */
export const SaslLog = { NONE: 0, ERR: 1, FAIL: 2 } as const;

/** Cyrus's canon_user, for a name it takes for white space only (sasl-plain.ts canonUser). */
export const ALL_WHITESPACE = 'All-whitespace username.';
/** Cyrus's default authorization, when the identity asked for is not the user's. */
export const NOT_AUTHZ = 'Requested identity not authenticated identity';

/** Cyrus's PLAIN, when the password check fails (and its CRAM-MD5 has its own words). */
export const VERIFY_FAILED = 'Password verification failed';

/**
 * Why a step failed: Cyrus's result code, and the message it logs at `level`; `notes`, what Cyrus logged on the
 * way (a password verifier's complaint, canon_user's words), each at its own level, printed first and whatever
 * the step's outcome.
 */
export type SaslWhy = { reason: string; code: number; level: number; notes: Array<[level: number, text: string]> };

/** A step's outcome: the failure's code and words, or the server's data for the client (a challenge, "v="). */
export type SaslStep = SaslWhy & { out: Buffer | null };

export function saslWhy(): SaslWhy {
  return { reason: '', code: SaslCode.OK, level: SaslLog.NONE, notes: [] };
}

/** A password verifier's failure (saslauthd.ts, authdaemond.ts): Cyrus's words for it, logged on the way; SASL_FAIL. */
export function verifierFailed(why: SaslWhy, text: string): number {
  saslNote(why, SaslLog.FAIL, text);
  return SaslCode.FAIL;
}

/** A line Cyrus logs on the way, before the step's own (sasl_seterror and _sasl_log as they are called). */
export function saslNote(why: SaslWhy, level: number, text: string): void {
  why.notes.push([level, text]);
}

/** Record a failure as Cyrus reports it; false, for the caller to return. */
export function saslFail(why: SaslWhy, code: number, level: number, reason: string): false {
  why.code = code;
  why.level = level;
  why.reason = reason;
  return false;
}

/** memcached's sasl_log: whether a message of this level reaches stderr at this verbosity. */
export function saslLogged(level: number, verbosity: number): boolean {
  return level === SaslLog.ERR || (level === SaslLog.FAIL && verbosity > 0);
}
