// Helpers for the programs the tests start beside the servers (twemproxy, nginx, Apache): start one on a
// free port and stop it, is it listening, what did it log.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client, WAIT_BOUND_MS } from './client.ts';
import { freePort, sleep } from './server.ts';

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

/** A program started by startListening. */
export type Listening = { port: number; stop(): Promise<void> };

export type Launch = {
  /** Its command line for this port (write its config here too); run in the foreground. */
  command(port: number): Promise<[string, string[]]> | [string, string[]];
  log: string;                // its log file, shown when it never listens
  stopSignal: NodeJS.Signals; // the signal that asks it to exit (SIGKILL follows past the wait bound)
};

/**
 * A program in the foreground on a free port, once that port accepts; started again on a new port (three
 * tries) when another process took the port first. None outlives the test process.
 */
export async function startListening(name: string, launch: Launch): Promise<Listening> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const [command, args] = await launch.command(port);
    const child = spawn(command, args, { stdio: 'ignore' });
    const killOnExit = (): void => { child.kill('SIGKILL'); };
    process.on('exit', killOnExit);
    const exited = new Promise<void>((resolve) => {
      child.once('close', () => { process.off('exit', killOnExit); resolve(); });
      child.once('error', () => resolve()); // not startable: seen as never listening
    });
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(launch.stopSignal);
      const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_BOUND_MS);
      await exited;
      clearTimeout(timer);
    };
    if (await acceptsWhileRunning(port, child)) return { port, stop };
    await stop();
    if (attempt === 3) throw new Error(`${name} never listened on 127.0.0.1:${port}; its log:\n${readLog(launch.log)}`);
  }
}
