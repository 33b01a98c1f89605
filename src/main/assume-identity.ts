// memcached's -u: a server started as root takes on another user's identity (its uid, its primary group, no
// supplementary groups) before it opens anything it serves from: the auth file, the memory file, the listening
// sockets, the pid file. Started as anyone else, -u is ignored, as memcached ignores it.
//
// memcached refuses to run as root without -u. Cachalot runs: `npm start` in a container is root, and the
// README's command must start the server there (README, "Differences from memcached").

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { writeErr } from '../libc/stdio.ts';
import { strerrorOf } from '../libc/errno.ts';

const EX_NOUSER = 67;
const EX_OSERR = 71;

type Passwd = { uid: number; gid: number };

/** Whether the server runs as root (real or effective uid 0): memcached's test before it looks -u up. */
export function startedAsRoot(): boolean { return process.getuid?.() === 0 || process.geteuid?.() === 0; }

/** As root with -u, become that user (exits with memcached's words and status when it cannot). */
export function assumeIdentity(user: string | null): void {
  if (!startedAsRoot()) return;
  if (user === null || user === '') return;
  const pw = getpwnam(user);
  if (pw === null) {
    writeErr(`can't find the user ${user} to switch to\n`);
    process.exit(EX_NOUSER);
  }
  try {
    process.setgroups?.([]);
  } catch (err) {
    // EPERM: already without the right to change them, which is what we want
    writeErr(`failed to drop supplementary groups: ${strerrorOf(err)}\n`);
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') process.exit(EX_OSERR);
  }
  try {
    process.setgid?.(pw.gid);
    process.setuid?.(pw.uid);
  } catch {
    writeErr(`failed to assume identity of user ${user}\n`);
    process.exit(EX_OSERR);
  }
}

/** The user's uid and primary gid, as getpwnam finds them: through NSS (getent), else /etc/passwd itself. */
function getpwnam(user: string): Passwd | null {
  let line: string | undefined;
  try {
    line = execFileSync('getent', ['passwd', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null; // getent ran: no such user
    line = readPasswd().find((l) => l.startsWith(`${user}:`));
  }
  const fields = line?.trim().split(':') ?? [];
  if (fields.length < 4 || fields[0] !== user) return null;
  const uid = Number(fields[2]), gid = Number(fields[3]);
  return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
}

function readPasswd(): string[] {
  try { return fs.readFileSync('/etc/passwd', 'utf8').split('\n'); } catch { return []; }
}
