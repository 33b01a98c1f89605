// extstore's files, opened as memcached's extstore_init opens them: each created if missing (mode 0644, less the
// umask), locked so that a second server started on the same file is refused rather than overwriting the first's
// data, then emptied (a start never reads what a previous one wrote).
//
// The lock. memcached takes an fcntl(F_SETLK) write lock. Node has no fcntl or flock call, and a lock taken by
// a helper process in memcached's way would be no use: fcntl locks belong to a process and go with it. flock(2)
// locks belong instead to the open file description, which a child given our descriptor shares: util-linux's
// `flock -n -x 3`, run with our descriptor as its fd 3, locks the description and exits, and the lock stays on it
// for as long as this process keeps the descriptor open; the kernel drops it when the process ends, however it
// ends. (/proc/locks shows it under the helper's pid, which is gone.) Node opens files close-on-exec, so no later
// child of ours inherits the descriptor and holds the lock past our end.
//
// One difference follows: the same file named twice (`ext_path=f:1g,ext_path=f:1g`, or through a link) is refused
// here, its second open finding the first's lock, where memcached's second F_SETLK succeeds (a process does not
// conflict with its own fcntl locks) and both entries' pages start at offset 0 of the one file, overlapping.
//
// flock and fcntl locks are separate on Linux (local file systems): this lock leaves memcached's own untouched,
// and neither sees the other. Two Cachalots on one file refuse each other, as two memcacheds do; a Cachalot and a
// memcached on one file do not.

import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { strerror, strerrorOf } from '../libc/errno.ts';
import { writeErr } from '../libc/stdio.ts';
import type { ExtPath } from '../settings/ext-settings.ts';

const EAGAIN = 11; // what memcached's F_SETLK fails with on a file another process holds

/** A file extstore_init could not open, lock or empty: `why` is strerror's words, for perror("extstore open"). */
export class ExtstoreOpenError extends Error {
  readonly why: string;
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

let warnedNoFlock = false;

/** flock(2) LOCK_EX|LOCK_NB on fd's open file description, through flock(1); why not, or null once held. */
function lockExclusive(fd: number): string | null {
  const r = spawnSync('flock', ['-n', '-x', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
  if (r.error !== undefined) {
    // no flock(1) to run: the file is used unlocked, and that is said (once), as -k's missing mlockall is
    if (!warnedNoFlock) {
      writeErr(`WARNING: extstore files are not locked (flock(1): ${strerrorOf(r.error)}); ` +
        'a second server on the same file is not refused\n');
      warnedNoFlock = true;
    }
    return null;
  }
  if (r.status === 0) return null;
  if (r.status === 1) return strerror(EAGAIN, 'resource temporarily unavailable'); // -n: held by another
  return r.stderr.trim() !== '' ? r.stderr.trim() : `flock(1) exited with status ${r.status}`;
}
