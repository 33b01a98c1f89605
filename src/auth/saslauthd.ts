// The saslauthd password verifier of -S (`pwcheck_method: saslauthd`), as memcached's Cyrus calls it from
// sasl_checkpass (checkpw.c saslauthd_verify_password): one blocking request on saslauthd's unix socket
// (`saslauthd_path`, default Debian's /var/run/saslauthd/mux), "count authid count password count service count
// realm" with each count a 16-bit big-endian length, and a counted answer that starts "OK" or not. saslauthd
// checks the password as it is set up to (PAM, shadow, LDAP...). The worker waits for it, as memcached's
// worker thread waits in Cyrus's read: a saslauthd that never answers holds the worker, there as here.

import { closeFd, connectUnixSocket, readUpTo, writeAll } from '../libc/ffi.ts';
import { strerror } from '../libc/errno.ts';
import { cString } from '../libc/bytes.ts';
import { SaslCode, verifierFailed as failed, type SaslWhy } from './sasl-result.ts';

/** Debian's PATH_SASLAUTHD_RUNDIR "/mux": where saslauthd listens unless `saslauthd_path` says otherwise. */
export const SASLAUTHD_DEFAULT_PATH = '/var/run/saslauthd/mux';
/** sizeof(sun_path): a longer saslauthd_path fails the check without a word. */
const SUN_PATH_SIZE = 108;
/** Cyrus's query buffer, and the 30 bytes it keeps for the counts; its response buffer. */
const MAX_QUERY = 8192;
const QUERY_RESERVE = 30;
const MAX_RESPONSE = 1024;
/** The service memcached names to Cyrus (sasl_server_new), which saslauthd hands to PAM. */
const SERVICE = 'memcached';

/**
 * saslauthd_verify_password for a canonical user ("user@realm": the realm is what follows the last '@', else
 * memcached's user realm). SASL_OK, SASL_BADAUTH (saslauthd said no, Cyrus logs nothing), or SASL_FAIL with what
 * Cyrus logs in `why`'s notes.
 */
export function saslauthdVerify(path: string, authid: Buffer, pass: Uint8Array, realm: string, why: SaslWhy): number {
  if (Buffer.byteLength(path) >= SUN_PATH_SIZE) return SaslCode.FAIL;
  const query = saslauthdQuery(authid, cString(pass), realm);
  if (query === null) return failed(why, 'saslauthd request too large');
  const sock = connectUnixSocket(path);
  if (sock === null) return failed(why, 'cannot create socket for saslauthd: Function not implemented');
  if (sock.failed === 'socket') return failed(why, `cannot create socket for saslauthd: ${strerror(-sock.fd)}`);
  if (sock.failed === 'connect') return failed(why, `cannot connect to saslauthd server: ${strerror(-sock.fd)}`);
  try {
    if (writeAll(sock.fd, query) !== 0) return failed(why, 'write failed');
    const count = readUpTo(sock.fd, 2);
    if (count.length < 2) return failed(why, 'size read failed');
    const n = count.readUInt16BE(0);
    if (n < 2) return failed(why, 'bad response from saslauthd');
    const want = Math.min(n, MAX_RESPONSE - 1);
    const response = readUpTo(sock.fd, want);
    if (response.length < want) return failed(why, 'read failed');
    return response[0] === 0x4f && response[1] === 0x4b ? SaslCode.OK : SaslCode.BADAUTH; // "OK"
  } finally {
    closeFd(sock.fd);
  }
}

/** The request, or null when Cyrus finds it too large for its buffer. Each part is a C string (up to a NUL). */
function saslauthdQuery(authid: Buffer, pass: Buffer, defaultRealm: string): Buffer | null {
  const id = cString(authid);
  const at = id.lastIndexOf(0x40);
  const user = at < 0 ? id : id.subarray(0, at);
  const realm = at < 0 ? cString(Buffer.from(defaultRealm, 'latin1')) : id.subarray(at + 1);
  const parts = [user, pass, Buffer.from(SERVICE), realm];
  if (parts.some((p) => p.length > 0xffff)) return null;
  if (QUERY_RESERVE + user.length + pass.length + SERVICE.length + realm.length > MAX_QUERY) return null;
  return Buffer.concat(parts.flatMap((p) => [counted(p.length), p]));
}

function counted(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}
