// Starting a real server for black-box tests: Cachalot (as `npm start` runs it) or the memcached
// oracle, both as `-p -1 -U 0 -l 127.0.0.1 ...args` (a test may name another -l) on an ephemeral
// port learned from MEMCACHED_PORT_FILENAME (memcached writes "TCP INET: <port>" to <file>.lck and
// renames it to <file>, so the file appears complete). No process outlives the test run: callers
// stop servers in node:test `after` hooks, and an exit hook SIGKILLs whatever is left.

import { MMAP_THRESHOLD, tunablesEnv } from '../../src/main/malloc-tunables.ts';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverNodeArgs } from '../../src/boot/command.ts';
import { Client } from './client.ts';

export type ServerKind = 'cachalot' | 'memcached';

export type Server = {
  kind: ServerKind;
  port: number;
  pid: number;
  args: readonly string[];
  /** SIGTERM, wait for the exit; SIGKILL if it has not gone after STOP_BOUND_MS. */
  stop(): Promise<void>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Everything written to stdout so far: V8's traces when started with v8Flags (else nothing is kept). */
  stdout(): string;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
};

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const NODE_BIN = join(REPO_ROOT, 'node_modules/.bin/node');
export const BASE_ARGS = ['-p', '-1', '-U', '0'] as const;
/** The address servers listen on unless a test names another (startServer's `listen`). */
export const LISTEN = '127.0.0.1';

const START_BOUND_MS = 10_000; // failure bounds, not timing assertions
const STOP_BOUND_MS = 5_000;
const POLL_MS = 10;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

let memcachedPath: string | null | undefined;
/** The memcached binary's path, or null when it is not installed (callers skip). */
export function memcachedAvailable(): string | null {
  if (memcachedPath === undefined) {
    const r = spawnSync('sh', ['-c', 'command -v memcached'], { encoding: 'utf8' });
    memcachedPath = r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
  }
  return memcachedPath;
}

/** The command line startServer runs: [program, argv]. */
export function commandFor(
  kind: ServerKind, args: readonly string[], listen: string = LISTEN, v8Flags: readonly string[] = [],
): [string, string[]] {
  const all = [...BASE_ARGS, '-l', listen, ...args];
  if (kind === 'cachalot') return [NODE_BIN, [...v8Flags, ...serverNodeArgs(REPO_ROOT), ...all]];
  const bin = memcachedAvailable();
  if (bin === null) throw new Error('memcached is not installed; check memcachedAvailable() first');
  // memcached refuses to start as root without -u.
  const asRoot = process.getuid?.() === 0 && !args.includes('-u');
  return [bin, asRoot ? ['-u', 'root', ...all] : all];
}

/** Run the server's command line to its exit, for a start that must fail: its status, signal and stderr. */
export function runToExit(
  kind: ServerKind, args: readonly string[], env?: Record<string, string>,
): { status: number | null; signal: string | null; stderr: string } {
  const [cmd, argv] = commandFor(kind, args);
  const r = spawnSync(cmd, argv, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000, env: env && { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

/** env with the C allocator's tunables Cachalot runs with (src/main/malloc-tunables.ts). */
export function withTunables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return tunablesEnv(env, [MMAP_THRESHOLD]) ?? env;
}

export async function startServer(
  kind: ServerKind, args: string[] = [],
  opts: { env?: Record<string, string>; listen?: string; v8Flags?: readonly string[] } = {},
): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), `${kind}-test-`));
  const portFile = join(dir, 'ports');
  const v8Flags = opts.v8Flags ?? [];
  const [cmd, argv] = commandFor(kind, args, opts.listen ?? LISTEN, v8Flags);
  const child = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    // as bin/cachalot starts it: with glibc's tunables set, Cachalot need not exec itself again for them
    env: { ...withTunables({ ...process.env, ...opts.env }), MEMCACHED_PORT_FILENAME: portFile },
    stdio: ['ignore', v8Flags.length > 0 ? 'pipe' : 'ignore', 'pipe'],
  });
  live.add(child);
  let err = '', out = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => { exitCode = code; live.delete(child); resolve(code); });
    child.on('error', (e) => { err += String(e); exitCode = null; live.delete(child); resolve(null); });
  });
  try {
    const port = await waitForPort(portFile, () => exitCode !== undefined, () => err);
    const server: Server = {
      kind, port, pid: child.pid ?? -1, args, exited, stderr: () => err, stdout: () => out,
      stop: () => stopChild(child, exited, () => exitCode !== undefined),
    };
    return server;
  } catch (e) {
    await stopChild(child, exited, () => exitCode !== undefined);
    throw new Error(`${kind} ${argv.join(' ')} did not start: ${(e as Error).message}\nstderr:\n${err}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitForPort(file: string, gone: () => boolean, stderr: () => string): Promise<number> {
  for (let waited = 0; waited < START_BOUND_MS; waited += POLL_MS) {
    const m = /TCP INET6?: (\d+)/.exec(readIfThere(file));
    if (m) return Number(m[1]);
    if (gone()) throw new Error(`exited before listening. ${stderr()}`);
    await sleep(POLL_MS);
  }
  throw new Error(`no "TCP INET: <port>" in ${file} after ${START_BOUND_MS} ms`);
}

function readIfThere(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>, gone: () => boolean): Promise<void> {
  if (gone()) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_BOUND_MS);
  await exited;
  clearTimeout(timer);
}

/** A server of this kind listening on a unix socket (-s) in a directory of its own: the socket's path, and its stop. */
export type UnixServer = { path: string; dir: string; stop(): Promise<void> };

/** Start a server on a unix socket of its own, and wait until it takes connections. */
export async function startUnixServer(kind: ServerKind, args: string[] = []): Promise<UnixServer> {
  const dir = mkdtempSync(join(tmpdir(), `${kind}-unix-`));
  const path = join(dir, 'mc.sock');
  const [cmd, argv] = commandFor(kind, ['-s', path, ...args]);
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, env: withTunables({ ...process.env }), stdio: 'ignore' });
  live.add(child);
  const exited = new Promise((resolve) => child.once('exit', () => { live.delete(child); resolve(null); }));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    (await connectWhenListening(path)).destroy();
  } catch (e) {
    await stop();
    throw e;
  }
  return { path, dir, stop };
}

/** A connection to a server starting on a unix socket: its file appears at bind(), before listen(). */
export async function connectWhenListening(path: string): Promise<Client> {
  for (let tries = 1; ; tries++) {
    try {
      return await Client.connect(path);
    } catch (e) {
      if (tries >= 250) throw e;
      await sleep(20);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** n TCP ports on 127.0.0.1 free right now: all bound at once (so they differ), then released for the caller. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: NetServer[] = [];
  for (let i = 0; i < n; i++) {
    const s = createServer();
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', resolve); });
    servers.push(s);
  }
  const ports = servers.map((s) => { const a = s.address(); return typeof a === 'object' && a !== null ? a.port : 0; });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** One TCP port on 127.0.0.1 free right now (nothing listens on it once this resolves). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}
