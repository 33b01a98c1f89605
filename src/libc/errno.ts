// C's strerror, for the messages memcached prints with it (perror, OpenSSL's system errors): glibc's words
// where libuv's differ ("Bad address" against libuv's "bad address in system call argument"), else the
// words of Node's own error, capitalised as glibc's are. (Not node:util's getSystemErrorMessage: loading
// node:util in the main thread opens process.stderr, which makes a shared stderr pipe non-blocking, see
// stdio.ts.)

import { constants as osConstants } from 'node:os';

const GLIBC: Readonly<Record<number, string>> = {
  1: 'Operation not permitted', 2: 'No such file or directory', 4: 'Interrupted system call', 9: 'Bad file descriptor', 11: 'Resource temporarily unavailable', 12: 'Cannot allocate memory', 13: 'Permission denied', 14: 'Bad address',
  20: 'Not a directory', 21: 'Is a directory', 22: 'Invalid argument', 23: 'Too many open files in system', 24: 'Too many open files',
  30: 'Read-only file system', 32: 'Broken pipe',
  36: 'File name too long', 37: 'No locks available', 38: 'Function not implemented', 40: 'Too many levels of symbolic links',
  88: 'Socket operation on non-socket', 91: 'Protocol wrong type for socket',
  97: 'Address family not supported by protocol', 98: 'Address already in use', 99: 'Cannot assign requested address',
  104: 'Connection reset by peer', 110: 'Connection timed out', 111: 'Connection refused',
};

/** strerror(errno), errno positive; `words` what Node said of it, for an errno the table lacks. */
export function strerror(errno: number, words = ''): string {
  const known = GLIBC[errno];
  if (known !== undefined) return known;
  const text = words !== '' ? words : `Unknown error ${errno}`;
  return text[0].toUpperCase() + text.slice(1);
}

/** strerror of a failed fs call's error ("ENOENT: no such file or directory, open '...'"). */
export function strerrorOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words = /^[A-Z0-9_]+: ([^,]+)/.exec(e.message ?? '')?.[1] ?? '';
  return strerror(typeof e.errno === 'number' ? -e.errno : 0, words);
}

/**
 * strerror of a failed socket call, from its error's code (`listen EADDRINUSE: ...`), or from the code in
 * a message that crossed threads as text.
 */
export function strerrorOfSocket(err: unknown): string {
  const code = socketErrorCode(err);
  const errno = (osConstants.errno as Record<string, number | undefined>)[code];
  return errno !== undefined ? strerror(errno, code) : ((err as Error).message ?? String(err));
}

/** A failed socket call's code ('EADDRINUSE'), from the error or from a message that crossed threads; '' if none. */
export function socketErrorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? /\b(E[A-Z]{2,})\b/.exec(e.message ?? '')?.[1] ?? '';
}

/** errno's name ('EADDRINUSE'), for an errno a C call returned; '' for one Node does not name. */
export function errnoCode(errno: number): string {
  for (const [code, n] of Object.entries(osConstants.errno)) if (n === errno) return code;
  return '';
}
