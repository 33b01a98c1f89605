// A process's CPU time and resident memory, read from /proc as `top` and `ps` read them.
// CPU time counts every thread of the process (user + system), in clock ticks of 1/CLK_TCK s.

import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks = 0;

function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100; // Linux's USER_HZ on every common architecture
    }
  }
  return clockTicks;
}

/** user + system CPU time of the process, in ms. */
export function processCpuMs(pid: number): number {
  const t = processCpuTimes(pid);
  return t.userMs + t.sysMs;
}

/** The process's CPU time split: user space, and the kernel working for it (system). */
export function processCpuTimes(pid: number): { userMs: number; sysMs: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // Field 2, the command name, is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  return { userMs: (utime * 1000) / ticksPerSecond(), sysMs: (stime * 1000) / ticksPerSecond() };
}

/** Resident set size in bytes (VmRSS). */
export function processRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}
