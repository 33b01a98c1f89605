// The process's resource limits as /proc/self/limits shows them. Node has no getrlimit or setrlimit; the
// limits memcached sets at start are read here and set with setrlimit(2) through node:ffi (where this Node has
// no node:ffi, through util-linux's prlimit(1) on our own pid).

import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { RLIMIT_CORE, RLIMIT_NOFILE, setOwnRlimit } from '../libc/ffi.ts';

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
  if (!setOwnLimit('core', Infinity)) setOwnLimit('core', procLimit(CORE, 'hard'));
  return procLimit(CORE) === 0 ? 'failed to ensure corefile creation' : null;
}

const RESOURCES = { core: RLIMIT_CORE, nofile: RLIMIT_NOFILE } as const;

/** A limit of this process set, soft and hard (Infinity: unlimited); false where it could not be (no privilege). */
export function setOwnLimit(resource: keyof typeof RESOURCES, value: number): boolean {
  const errno = setOwnRlimit(RESOURCES[resource], value, value);
  if (errno !== null) return errno === 0;
  const text = value === Infinity ? 'unlimited' : String(value);
  const r = spawnSync('prlimit', ['--pid', String(process.pid), `--${resource}=${text}`], { stdio: 'ignore' });
  return r.status === 0;
}
