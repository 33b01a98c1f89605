// extstore's files, opened as memcached's extstore_init opens them: each created if missing (mode 0644, less the
// umask), locked so that a second server started on the same file is refused rather than overwriting the first's
// data, then emptied (a start never reads what a previous one wrote).
//
// The lock. memcached takes an fcntl(F_SETLK) write lock on the whole file. Node has no fcntl call, and a lock
// taken in memcached's way by a helper process would be no use: a traditional (POSIX) fcntl lock belongs to the
// process that takes it and goes with it. Linux's open file description locks (F_OFD_SETLK) belong instead to the
// open file description, which a child given our descriptor shares: perl (perl-base, which every Debian system
// has), run with our descriptor as its fd 3, takes an OFD write lock on the whole file and exits, and the lock
// stays for as long as this process keeps the descriptor open; the kernel drops it when the process ends, however
// it ends. Node opens files close-on-exec, so no later child of ours inherits the descriptor and holds the lock
// past our end. (/proc/locks shows it as OFDLCK with pid -1.)
//
// An OFD lock and a POSIX lock on the same range conflict: memcached's F_SETLK on a file a Cachalot holds fails
// with EAGAIN, and so does ours on a file a memcached holds. Two Cachalots refuse each other, as two memcacheds do.
//
// One difference follows: the same file named twice (`ext_path=f:1g,ext_path=f:1g`, or through a link) is refused
// here, its second open finding the first's lock (two descriptions), where memcached's second F_SETLK succeeds (a
// process does not conflict with its own POSIX locks) and both entries' pages start at offset 0 of the one file,
// overlapping.

import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { strerror, strerrorOf } from '../libc/errno.ts';
import { writeErr } from '../libc/stdio.ts';
import type { ExtPath } from '../settings/ext-settings.ts';

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

/**
 * fcntl(3, F_OFD_SETLK, { F_WRLCK, SEEK_SET, 0, 0 }) in perl; exits 0 once held, else with the errno. The struct
 * is Linux's on 64-bit machines (x86_64, arm64: two shorts, padding, two 64-bit offsets, an int, padding);
 * F_OFD_SETLK is 37 on every Linux architecture.
 */
const OFD_WRITE_LOCK = "open(my $fd, '+<&=', 3) or exit 255; " +
  "my $lock = pack('s s x4 q q l x4', 1, 0, 0, 0, 0); exit(fcntl($fd, 37, $lock) ? 0 : $! + 0);";

let warnedNoPerl = false;

/** An OFD write lock on all of fd's file, through perl; why not (strerror's words), or null once held. */
function lockExclusive(fd: number): string | null {
  const r = spawnSync('perl', ['-e', OFD_WRITE_LOCK], { stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
  if (r.error !== undefined) {
    // no perl to run: the file is used unlocked, and that is said (once), as -k's missing mlockall is
    if (!warnedNoPerl) {
      writeErr(`WARNING: extstore files are not locked (perl: ${strerrorOf(r.error)}); ` +
        'a second server on the same file is not refused\n');
      warnedNoPerl = true;
    }
    return null;
  }
  if (r.status === 0) return null;
  if (r.status !== null && r.status > 0 && r.status < 255) return strerror(r.status, `errno ${r.status}`);
  return r.stderr.trim() !== '' ? r.stderr.trim() : `perl exited with status ${r.status}`;
}
