// Helpers for the programs the tests start beside the servers (twemproxy, nginx): is it listening, what did it log.

import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client, WAIT_BOUND_MS } from './client.ts';
import { sleep } from './server.ts';

/** Whether `port` accepts connections while `child` runs (within the wait bound; a child that exits never does). */
export async function acceptsWhileRunning(port: number, child: ChildProcess): Promise<boolean> {
  for (const deadline = Date.now() + WAIT_BOUND_MS; Date.now() < deadline && child.exitCode === null;) {
    const c = await Client.connect(port).catch(() => null);
    if (c) { c.end(); return child.exitCode === null; }
    await sleep(20);
  }
  return false;
}

/** A child's log file, for a failure message. */
export function readLog(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch { return '(none written)'; }
}
