// The authdaemond password verifier of -S (`pwcheck_method: authdaemond`), as memcached's Cyrus calls it from
// sasl_checkpass (checkpw.c authdaemon_verify_password): Courier's authdaemond on its unix socket
// (`authdaemond_path`, default Debian's build-time /dev/null, where nothing listens), asked
// "AUTH <length>\n<service>\nlogin\n<user>\n<password>\n\n"; it answers lines that end in "." (yes) or "FAIL",
// then hangs up. Each read and write may wait 30 seconds (AUTHDAEMON_IO_TIMEOUT); the worker waits with it, as
// memcached's worker thread does.

import { closeFd, connectUnixSocket, readUpTo, setIoTimeout, writeAll } from '../libc/ffi.ts';
import { strerror } from '../libc/errno.ts';
import { cString } from '../libc/bytes.ts';
import { SaslCode, verifierFailed as failed, type SaslWhy } from './sasl-result.ts';

/** Debian's PATH_AUTHDAEMON_SOCKET: Cyrus built with authdaemond and no path for it. */
export const AUTHDAEMOND_DEFAULT_PATH = '/dev/null';
const SUN_PATH_SIZE = 108;
const IO_TIMEOUT_SECONDS = 30;
/** authdaemon_talk's buffer: an answer must end (the daemon hang up) within one byte less than this. */
const ANSWER_BUFFER = 8192;
const SERVICE = 'memcached';

/** authdaemon_verify_password for a canonical user: SASL_OK, SASL_BADAUTH ("FAIL"), or SASL_FAIL with Cyrus's words. */
export function authdaemondVerify(path: string, authid: Buffer, pass: Uint8Array, why: SaslWhy): number {
  if (Buffer.byteLength(path) >= SUN_PATH_SIZE) return failed(why, 'unix socket path too large');
  const sock = connectUnixSocket(path);
  if (sock === null) return failed(why, 'cannot create socket for connection to Courier authdaemond: Function not implemented');
  if (sock.failed === 'socket') return failed(why, `cannot create socket for connection to Courier authdaemond: ${strerror(-sock.fd)}`);
  if (sock.failed === 'connect') return failed(why, `cannot connect to Courier authdaemond: ${strerror(-sock.fd)}`);
  try {
    const query = authdaemonQuery(cString(authid), cString(pass));
    if (query === null) return SaslCode.FAIL; // a length of five digits: Cyrus gives up without a word
    setIoTimeout(sock.fd, IO_TIMEOUT_SECONDS);
    if (writeAll(sock.fd, query) !== 0) return failed(why, 'could not verify password');
    const answer = readUpTo(sock.fd, ANSWER_BUFFER - 1);
    if (answer.length + 1 >= ANSWER_BUFFER) return failed(why, 'could not verify password');
    return answerOf(answer, why);
  } finally {
    closeFd(sock.fd);
  }
}

/** authdaemon_build_query: null when the length takes more than four digits. */
function authdaemonQuery(user: Buffer, pass: Buffer): Buffer | null {
  const length = SERVICE.length + 1 + 'login'.length + 1 + user.length + 1 + pass.length + 1;
  if (String(length).length >= 5) return null;
  return Buffer.concat([Buffer.from(`AUTH ${length}\n${SERVICE}\nlogin\n`), user, Buffer.from('\n'), pass, Buffer.from('\n\n')]);
}

/** The answer's lines, up to a NUL as C reads them: "." is yes, "FAIL" no, anything else "could not verify". */
function answerOf(answer: Buffer, why: SaslWhy): number {
  for (const line of cString(answer).toString('latin1').split('\n')) {
    if (line === '.') return SaslCode.OK;
    if (line === 'FAIL') return SaslCode.BADAUTH;
  }
  return failed(why, 'could not verify password');
}
