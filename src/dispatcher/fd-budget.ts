// How many more connections this process has file descriptors for. memcached sets RLIMIT_NOFILE to -c at
// start and learns it from accept() failing with EMFILE; under Node, libuv swallows that error (it accepts and
// drops the connection to keep the loop alive), so the dispatcher counts instead: the soft RLIMIT_NOFILE less
// the descriptors the process already held once every thread was up, less some headroom for files the workers
// open later.

import fs from 'node:fs';
import { procLimit, setOwnLimit } from '../main/rlimits.ts';

const HEADROOM = 16;

/** The soft (or hard) "Max open files" limit, or Infinity where /proc does not say. */
function nofileLimit(which: 'soft' | 'hard' = 'soft'): number { return procLimit('Max open files', which); }

const CAP_SYS_RESOURCE = 24;

/**
 * memcached sets RLIMIT_NOFILE, soft and hard, to -c at start, and stops when the kernel refuses: past the
 * hard limit, unless the process may raise it (CAP_SYS_RESOURCE, root's outside a container), and then past
 * fs.nr_open. Cachalot sets its limit once its threads are up (fitNofileLimit: it needs more than -c), so at
 * start it refuses what memcached's setrlimit would, with its message (exit 71), or returns null.
 */
export function nofileRefusal(maxConns: number): string | null {
  const ceiling = mayRaiseLimits() ? readNumber('/proc/sys/fs/nr_open') : nofileLimit('hard');
  if (!(maxConns > ceiling)) return null;
  return 'failed to set rlimit for open files. Try starting as root or requesting smaller maxconns value.';
}

function mayRaiseLimits(): boolean {
  try {
    const m = /^CapEff:\s+([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(CAP_SYS_RESOURCE)) & 1n) === 1n;
  } catch {
    return false;
  }
}

function readNumber(file: string): number {
  try { return Number(fs.readFileSync(file, 'utf8')); } catch { return Infinity; }
}

function openFds(): number {
  try { return fs.readdirSync('/proc/self/fd').length; } catch { return 0; }
}

/**
 * Connections that fit, measured now (call once every thread and listener is up), once the limit is set for -c as
 * memcached sets it (fitNofileLimit).
 */
export function connectionFdBudget(maxConns: number): number {
  fitNofileLimit(maxConns);
  return Math.max(1, nofileLimit() - openFds() - HEADROOM);
}

/**
 * memcached's setrlimit(RLIMIT_NOFILE) to -c, soft and hard: room for -c connections less its own few descriptors,
 * whatever limits it was started with (a hard limit below -c, which a process with CAP_SYS_RESOURCE may raise;
 * Node itself raises a soft limit to the hard one as it starts). Cachalot's own descriptors are more (Node's
 * threads), so its limit is -c plus the descriptors it holds now plus the headroom: -c connections fit, and the
 * one over -c is answered. Where that is more than may be had (nofileRefusal stopped the start only when -c itself
 * is), it goes as high as it may: up to fs.nr_open, or up to the hard limit, and the budget stops connections
 * earlier.
 */
function fitNofileLimit(maxConns: number): void {
  // one more than -c: the connection over it is accepted to be told so (maxconns_fast), as memcached's check
  // leaves it its last descriptor
  const want = maxConns + 1 + openFds() + HEADROOM;
  if (setOwnLimit('nofile', want)) return;
  const nrOpen = readNumber('/proc/sys/fs/nr_open');
  if (want > nrOpen && setOwnLimit('nofile', nrOpen)) return;
  const hard = nofileLimit('hard');
  if (hard !== Infinity && hard > nofileLimit()) setOwnLimit('nofile', hard);
}
