// A client library's tour, run as a script in its own language (Python, Perl, Ruby, PHP, Java) against a fresh
// server of each kind: the script prints one line per call, and the tests compare the two transcripts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { serverFor } from './spec.ts';
import { startUnixServer, type ServerKind } from './server.ts';

type Run = { code: number | null; out: string; err: string };

/** The program that runs a script: an interpreter, with any arguments it needs before the script's path. */
export type Interpreter = string | { interpreter: string; args: string[] };

function runScript(runner: Interpreter, script: string, scriptArgs: string[]): Promise<Run> {
  const [command, args] = typeof runner === 'string' ? [runner, []] : [runner.interpreter, runner.args];
  return new Promise((resolve) => {
    const child = spawn(command, [...args, script, ...scriptArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * How a tour is run: against how many servers (their addresses are the script's first arguments), with what
 * more arguments to the script, and what more to the servers. `unix`: each server listens on a unix socket of
 * its own (-s) instead of a TCP port, and its address is the socket's path.
 */
export type TourOptions = { servers?: number; args?: string[]; serverArgs?: string[]; unix?: boolean };

/** A server a tour runs against: its address as the script takes it (a port, or a socket's path). */
type TourServer = { address: string; stop(): Promise<void> };

async function tcpServer(kind: ServerKind, args: string[]): Promise<TourServer> {
  const s = await serverFor(kind, args, true);
  return { address: String(s.port), stop: () => s.stop() };
}

async function unixServer(kind: ServerKind, args: string[]): Promise<TourServer> {
  const s = await startUnixServer(kind, args);
  return { address: s.path, stop: () => s.stop() };
}

/**
 * The script's transcript against fresh servers of this kind (-t 2), one unless asked for more, line by
 * line; it must exit 0.
 */
export async function clientTour(kind: ServerKind, interpreter: Interpreter, script: string,
  { servers = 1, args = [], serverArgs = [], unix = false }: TourOptions = {}): Promise<string[]> {
  const started: TourServer[] = [];
  try {
    for (let i = 0; i < servers; i++) started.push(await (unix ? unixServer : tcpServer)(kind, ['-t', '2', ...serverArgs]));
    const r = await runScript(interpreter, script, [...started.map((s) => s.address), ...args]);
    assert.equal(r.code, 0, `the script failed against ${kind}:\n${r.err}`);
    return r.out.trimEnd().split('\n');
  } finally { for (const s of started) await s.stop(); }
}

/** The two transcripts read the same, line by line (the first difference named). */
export function assertSameTranscript(ours: string[], theirs: string[]): void {
  for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
    assert.equal(ours[i], theirs[i], `line ${i + 1} of the transcript differs`);
  }
}
