// memcached's -P: save_pid and remove_pidfile. A pid file that cannot be written is reported, as memcached's
// vperror reports it, and the server goes on: it is advisory, never a reason to stop.

import fs from 'node:fs';
import { writeErr } from '../libc/stdio.ts';
import { strerrorOf } from '../libc/errno.ts';
import { safeStrtoul } from '../settings/c-numbers.ts';

/**
 * Warns when the file names a process still running, then writes "<pid>\n" to `<file>.tmp` and renames that
 * over the file, so a reader never finds it empty. `descriptor`: whether memcached would have one to open them
 * with under its -c (main/start-descriptors.ts); without, its reading fails silently and its writing says so.
 */
export function savePid(file: string, descriptor = true): void {
  const tmp = `${file}.tmp`;
  if (!descriptor) {
    writeErr(`Could not open the pid file ${tmp} for writing: Too many open files\n`);
    return;
  }
  const previous = runningPidIn(file);
  if (previous !== null) writeErr(`WARNING: The pid file contained the following (running) pid: ${previous}\n`);
  try {
    fs.writeFileSync(tmp, `${process.pid}\n`);
  } catch (err) {
    writeErr(`Could not open the pid file ${tmp} for writing: ${strerrorOf(err)}\n`);
    return;
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    writeErr(`Could not rename the pid file from ${tmp} to ${file}: ${strerrorOf(err)}\n`);
  }
}

/** memcached removes its pid file on the way out only when it daemonized (-d). */
export function removePidFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    writeErr(`Could not remove the pid file ${file}: ${strerrorOf(err)}\n`);
  }
}

/**
 * save_pid's check: the file's first line (fgets) read by safe_strtoul, so "+1" and " 1" name pid 1, "1abc" and
 * "-1" name none, and a number past 32 bits is cut to them, as memcached reads it.
 */
function runningPidIn(file: string): number | null {
  let text: string;
  try { text = fs.readFileSync(file, 'latin1'); } catch { return null; }
  const nl = text.indexOf('\n');
  const pid = safeStrtoul(nl < 0 ? text : text.slice(0, nl + 1));
  if (pid < 0) return null;
  try { process.kill(pid, 0); return pid; } catch { return null; } // memcached warns only when kill(pid, 0) succeeds
}
