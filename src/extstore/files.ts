// extstore's files, opened as memcached's extstore_init opens them: each created if missing (mode 0644, less the
// umask), locked so that a second server started on the same file is refused rather than overwriting the first's
// data, then emptied (a start never reads what a previous one wrote).
//
// The lock. memcached takes an fcntl(F_SETLK) write lock on the whole file, a traditional (POSIX) lock, which
// belongs to the process. Cachalot takes, with fcntl through node:ffi, Linux's open file description lock
// (F_OFD_SETLK) instead, which belongs to the open file description: it stays for as long as this process keeps
// the descriptor open, and the kernel drops it when the process ends, however it ends. (/proc/locks shows it as
// OFDLCK with pid -1.) Until round 39, with no fcntl call in Node, perl took it on our descriptor; that a child's
// lock outlives the child is why the lock is an OFD one.
//
// An OFD lock and a POSIX lock on the same range conflict: memcached's F_SETLK on a file a Cachalot holds fails
// with EAGAIN, and so does ours on a file a memcached holds. Two Cachalots refuse each other, as two memcacheds do.
//
// One difference follows: the same file named twice (`ext_path=f:1g,ext_path=f:1g`, or through a link) is refused
// here, its second open finding the first's lock (two descriptions), where memcached's second F_SETLK succeeds (a
// process does not conflict with its own POSIX locks) and both entries' pages start at offset 0 of the one file,
// overlapping. Kept on purpose: a POSIX lock would take the file twice, as memcached does, and overlap them too.

import fs from 'node:fs';
import { strerror, strerrorOf } from '../libc/errno.ts';
import { writeErr } from '../libc/stdio.ts';
import { ofdWriteLock } from '../libc/ffi.ts';
import type { ExtPath } from '../settings/ext-settings.ts';

/** A file extstore_init could not open, lock or empty: `why` is strerror's words, for perror("extstore open"). */
export class ExtstoreOpenError extends Error {
  declare readonly why: string;
  constructor(file: string, why: string) {
    super(`${file}: ${why}`);
    this.why = why;
  }
}

/**
 * One descriptor per path, in the paths' order (memcached's, which opens them in it): each opened read-write,
 * created 0644 when missing, locked against a second server and truncated to 0. Throws ExtstoreOpenError at the
 * first that fails (the ones before it are closed, their files made and emptied, as memcached leaves them).
 */
export function openExtstoreFiles(paths: ExtPath[]): number[] {
  const fds: number[] = [];
  try {
    for (const path of paths) fds.push(openOne(path.file));
  } catch (err) {
    for (const fd of fds) fs.closeSync(fd);
    throw err;
  }
  return fds;
}

function openOne(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (err) {
    throw new ExtstoreOpenError(file, strerrorOf(err));
  }
  try {
    const refused = lockExclusive(fd);
    if (refused !== null) throw new ExtstoreOpenError(file, refused);
    fs.ftruncateSync(fd, 0); // only once locked: a refused start must not empty the running server's file
  } catch (err) {
    fs.closeSync(fd);
    throw err instanceof ExtstoreOpenError ? err : new ExtstoreOpenError(file, strerrorOf(err));
  }
  return fd;
}

let warnedUnlocked = false;

/** An OFD write lock on all of fd's file; why not (strerror's words), or null once held. */
function lockExclusive(fd: number): string | null {
  const errno = ofdWriteLock(fd);
  if (errno === null) {
    // no node:ffi to lock with: the file is used unlocked, and that is said (once), as -k's missing mlockall is
    if (!warnedUnlocked) {
      writeErr('WARNING: extstore files are not locked (this Node has no node:ffi); a second server on the same file is not refused\n');
      warnedUnlocked = true;
    }
    return null;
  }
  return errno === 0 ? null : strerror(errno, `errno ${errno}`);
}
