// The process's resource limits as /proc/self/limits shows them. Node has no getrlimit or setrlimit; the
// limits memcached sets at start are read here and set through util-linux's prlimit(1) on our own pid.

import fs from 'node:fs';
import { spawnSync } from 'node:child_process';

/** A limit's soft (or hard) value by its /proc name ("Max open files"), Infinity for unlimited or unknown. */
export function procLimit(name: string, which: 'soft' | 'hard' = 'soft'): number {
  try {
    const m = new RegExp(`^${name}\\s+(\\d+|unlimited)\\s+(\\d+|unlimited)`, 'm').exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    const v = m?.[which === 'soft' ? 1 : 2];
    return v === undefined || v === 'unlimited' ? Infinity : Number(v);
  } catch {
    return Infinity;
  }
}

const CORE = 'Max core file size';

/**
 * memcached's -r: RLIMIT_CORE raised to infinity, or failing that (no CAP_SYS_RESOURCE) to its hard limit,
 * soft and hard alike; memcached stops (exit 71) when the soft limit is still 0, for then no core file would
 * be written. Returns that message, or null.
 */
export function raiseCoreLimit(): string | null {
  if (!setOwnLimit('core', 'unlimited')) {
    const hard = procLimit(CORE, 'hard');
    setOwnLimit('core', hard === Infinity ? 'unlimited' : String(hard));
  }
  return procLimit(CORE) === 0 ? 'failed to ensure corefile creation' : null;
}

/** prlimit --pid <ours> --<resource>=<value> (soft and hard); false where it could not (no privilege, no prlimit). */
function setOwnLimit(resource: string, value: string): boolean {
  const r = spawnSync('prlimit', ['--pid', String(process.pid), `--${resource}=${value}`], { stdio: 'ignore' });
  return r.status === 0;
}
