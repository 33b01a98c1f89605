// C's strerror, for the messages memcached prints with it (perror, OpenSSL's system errors): glibc's words
// where libuv's differ ("Bad address" against libuv's "bad address in system call argument"), else
// libuv's, capitalised as glibc's are.

import { getSystemErrorMessage } from 'node:util';

const GLIBC: Readonly<Record<number, string>> = {
  2: 'No such file or directory', 13: 'Permission denied', 14: 'Bad address', 20: 'Not a directory',
  21: 'Is a directory', 24: 'Too many open files', 36: 'File name too long', 40: 'Too many levels of symbolic links',
};

/** strerror(errno), errno positive (Node's error.errno is its negative). */
export function strerror(errno: number): string {
  const known = GLIBC[errno];
  if (known !== undefined) return known;
  const libuv = getSystemErrorMessage(-errno);
  return libuv[0].toUpperCase() + libuv.slice(1);
}
