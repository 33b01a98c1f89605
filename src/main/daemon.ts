// memcached's daemon.c (-d): the server goes on in a detached child, and the command returns once it listens.

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

const DAEMON_CHILD = 'CACHALOT_DAEMON_CHILD';

/** The daemon's end of the pipe its starter waits on (the child's fd 3). */
const DAEMON_READY_FD = 3;

/**
 * memcached's daemonize (-d): the server goes on in a child of its own session, its stdio on /dev/null unless
 * -v, and this process exits 0. SIGHUP is ignored, as memcached does. The child moves to / once it is the
 * daemon (daemonChdir), so its preloads are named to it by absolute path (absolutePreloads).
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
  const child = spawn(process.execPath, [...absolutePreloads(process.execArgv, process.cwd()), ...process.argv.slice(1)], {
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

/**
 * memcached's daemon chdirs to / unless -r asked for core files (its daemonize(nochdir = -r)), so the paths it
 * opens after that, relative ones in -e, ext_path, -s, -Y and -P, are taken from /. The threads the daemon
 * starts after this load the same preloads as it did: absolutePreloads named them by absolute path.
 */
export function daemonChdir(keepCwd: boolean): void {
  if (!keepCwd) process.chdir('/');
}

/** Node's flags that load a module as a thread starts, resolved against the working directory. */
const PRELOAD_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/**
 * execArgv with the preloads given as relative paths (./x, ../x) made absolute against cwd, in both of Node's
 * forms (`--import x` and `--import=x`): the daemon's own start resolves them as before, and the worker threads
 * it starts once it is in / find them too. A bare package name is left as it is (it resolves from node_modules
 * under the directory the daemon started in, which a daemon in / no longer sees for threads started after).
 */
export function absolutePreloads(execArgv: readonly string[], cwd: string): string[] {
  const relative = (spec: string): boolean => spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..';
  const absolute = (spec: string): string => (relative(spec) ? path.resolve(cwd, spec) : spec);
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    const eq = arg.indexOf('=');
    if (eq > 0 && PRELOAD_FLAGS.has(arg.slice(0, eq))) out.push(`${arg.slice(0, eq)}=${absolute(arg.slice(eq + 1))}`);
    else if (PRELOAD_FLAGS.has(arg) && i + 1 < execArgv.length) out.push(arg, absolute(execArgv[++i]));
    else out.push(arg);
  }
  return out;
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
