// How many more connections this process has file descriptors for. memcached learns it from
// accept() failing with EMFILE; under Node, libuv swallows that error (it accepts and drops the
// connection to keep the loop alive), so the dispatcher counts instead: the soft RLIMIT_NOFILE
// less the descriptors the process already held once every thread was up, less some headroom for
// files the workers open later.

import fs from 'node:fs';

const HEADROOM = 16;

/** The soft "Max open files" limit, or Infinity where /proc does not say. */
function softNofileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return Infinity;
  }
}

function openFds(): number {
  try { return fs.readdirSync('/proc/self/fd').length; } catch { return 0; }
}

/** Connections that fit, measured now (call once every thread and listener is up). */
export function connectionFdBudget(): number {
  return Math.max(1, softNofileLimit() - openFds() - HEADROOM);
}
