// memcached's daemon.c (-d): the server goes on in a detached child, and the command returns once it listens.

import fs from 'node:fs';
import { spawn } from 'node:child_process';

const DAEMON_CHILD = 'CACHALOT_DAEMON_CHILD';

/** The daemon's end of the pipe its starter waits on (the child's fd 3). */
const DAEMON_READY_FD = 3;

/**
 * memcached's daemonize (-d): the server goes on in a child of its own session, its stdio on /dev/null unless
 * -v, and this process exits 0. SIGHUP is ignored, as memcached does. Unlike memcached it keeps its working
 * directory: Node's worker threads resolve their preload against it.
 *
 * memcached's parent exits at once, and its child listens a few milliseconds later. A Node child takes a few
 * hundred (its threads, with TLS its certificates in each), and a script that connects as soon as
 * `memcached -d` returns (memcached's own t/daemonize.t over TLS, for one) would find nothing listening. So this
 * process waits on a pipe until the child says it listens (daemonReady), or the pipe closes because the child
 * could not start (memcached's parent is gone by then too, and exited 0).
 */
export function daemonize(verbose: boolean): 'daemon' | 'starter' {
  if (isDaemonChild()) return 'daemon'; // SIGHUP is then ignored (clockHandler)
  const io = verbose ? 'inherit' : 'ignore';
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true, stdio: [io, io, io, 'pipe'], env: { ...process.env, [DAEMON_CHILD]: '1' },
  });
  child.unref();
  const ready = child.stdio[DAEMON_READY_FD];
  if (ready === null || ready === undefined) process.exit(0);
  ready.on('data', () => process.exit(0));
  ready.on('close', () => process.exit(0));
  ready.on('error', () => process.exit(0));
  return 'starter';
}

export function isDaemonChild(): boolean { return process.env[DAEMON_CHILD] === '1'; }

/** The daemon listens: its starter may exit. */
export function daemonReady(): void {
  if (!isDaemonChild()) return;
  try {
    fs.writeSync(DAEMON_READY_FD, 'ready\n');
    fs.closeSync(DAEMON_READY_FD);
  } catch { /* started some other way, with no pipe on fd 3: nobody waits */ }
}
