// Starting the two servers the same way: same flags, an ephemeral port on 127.0.0.1 that each
// writes to MEMCACHED_PORT_FILENAME as "TCP INET: <port>", then its pid for /proc readings and
// a plain text connection for `stats`.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { processCpuTimes, processRssBytes } from './proc.ts';
import { serverNodeArgs } from '../src/boot/command.ts';
import { MMAP_THRESHOLD, tunablesEnv } from '../src/main/malloc-tunables.ts';

/** 'floor' is bench/floor.ts: Node's cost per request with no cache behind it, a reference for workload 1. */
export type ServerKind = 'memcached' | 'cachalot' | 'floor';
export const SERVER_KINDS: readonly ServerKind[] = ['memcached', 'cachalot'];

export type ServerFlags = { threads: number; memoryMb: number; maxConns: number };

export const MEMCACHED_BIN = '/usr/bin/memcached';
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The source tree Cachalot runs from: the working tree, or a commit's (useCachalotCommit). */
let cachalotRoot = REPO_ROOT;
/**
 * The floor runs from the working tree, also when --cachalot-ref runs Cachalot from a commit. FLOOR=uring runs
 * bench/floor-uring.ts in its place (the same floor with its socket I/O through io_uring: round 40's experiment).
 */
export const FLOOR_MAIN = join(REPO_ROOT, 'bench', process.env.FLOOR === 'uring' ? 'floor-uring.ts' : 'floor.ts');

/**
 * Runs Cachalot from a commit rather than the working tree (where others may be mid-edit): its
 * src/ and package.json are exported to a temporary directory. Answers the directory to remove.
 */
export function useCachalotCommit(ref: string): { sha: string; dir: string } {
  const sha = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), `bench-cachalot-${sha}-`));
  const archive = execFileSync('git', ['archive', sha, 'src', 'package.json'], { cwd: REPO_ROOT, maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  cachalotRoot = dir;
  return { sha, dir };
}
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 3_000;

/** Why a server cannot be started here, or null when it can. */
export function unavailableReason(kind: ServerKind): string | null {
  if (kind === 'memcached') return existsSync(MEMCACHED_BIN) ? null : `${MEMCACHED_BIN} is not installed`;
  if (kind === 'floor') return existsSync(FLOOR_MAIN) ? null : `${FLOOR_MAIN} does not exist`;
  const main = join(cachalotRoot, 'src', 'main.ts');
  return existsSync(main) ? null : `${main} does not exist yet`;
}

export function serverArgs(flags: ServerFlags): string[] {
  const args = ['-p', '-1', '-U', '0', '-l', '127.0.0.1',
    '-t', String(flags.threads), '-m', String(flags.memoryMb), '-c', String(flags.maxConns)];
  // memcached refuses to run as root without -u; Cachalot accepts -u and ignores it. Same flags for both.
  if (process.getuid?.() === 0) args.push('-u', 'root');
  return args;
}

export class Server {
  readonly kind: ServerKind;
  readonly flags: ServerFlags;
  readonly pid: number;
  readonly port: number;
  private readonly child: ChildProcess;
  private readonly dir: string;

  private constructor(kind: ServerKind, flags: ServerFlags, child: ChildProcess, port: number, dir: string) {
    this.kind = kind;
    this.flags = flags;
    this.child = child;
    this.pid = child.pid!;
    this.port = port;
    this.dir = dir;
  }

  static async start(kind: ServerKind, flags: ServerFlags): Promise<Server> {
    const dir = mkdtempSync(join(tmpdir(), `bench-${kind}-`));
    const portFile = join(dir, 'ports');
    // CACHALOT_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server under load.
    const nodeFlags = (process.env.CACHALOT_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
    const [cmd, pre] = kind === 'memcached' ? [MEMCACHED_BIN, []]
      : kind === 'floor' ? [process.execPath, [FLOOR_MAIN]]
        : [process.execPath, [...nodeFlags, ...serverNodeArgs(cachalotRoot)]];
    const child = spawn(cmd, [...pre, ...serverArgs(flags)], {
      // Cachalot as bin/cachalot starts it, with its glibc tunables set (src/main/malloc-tunables.ts)
      env: { ...(kind === 'cachalot' ? tunablesEnv(process.env, [MMAP_THRESHOLD]) ?? process.env : process.env), MEMCACHED_PORT_FILENAME: portFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString(); });
    try {
      const port = await waitForPort(child, portFile, () => stderr);
      return new Server(kind, flags, child, port, dir);
    } catch (err) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** user and system CPU time so far, in ms (all threads). */
  cpuTimes(): { userMs: number; sysMs: number } { return processCpuTimes(this.pid); }
  rssBytes(): number { return processRssBytes(this.pid); }
  alive(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  /** `stats` as name -> value. */
  async stats(): Promise<Map<string, string>> {
    const text = await this.ask('stats\r\n', /(^|\n)END\r\n$/);
    const stats = new Map<string, string>();
    for (const m of text.matchAll(/^STAT (\S+) (.*)\r$/gm)) stats.set(m[1], m[2]);
    return stats;
  }

  async version(): Promise<string> {
    const text = await this.ask('version\r\n', /\r\n$/);
    return text.replace(/^VERSION /, '').trim();
  }

  private ask(command: string, end: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: this.port });
      let text = '';
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`${this.kind}: no reply to ${command.trim()}`)); }, 5000);
      socket.setEncoding('latin1');
      socket.on('connect', () => socket.write(command));
      socket.on('data', (d: string) => {
        text += d;
        if (end.test(text)) { clearTimeout(timer); socket.destroy(); resolve(text); }
      });
      socket.on('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }

  async stop(): Promise<void> {
    if (this.alive()) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitForPort(child: ChildProcess, portFile: string, stderr: () => string): Promise<number> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before listening: ${stderr().trim().slice(0, 500)}`);
    }
    // Both servers write a .lck file and rename it, so a file that exists is complete.
    if (existsSync(portFile)) {
      const m = /TCP INET: (\d+)/.exec(readFileSync(portFile, 'latin1'));
      if (m) return Number(m[1]);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`wrote no port to MEMCACHED_PORT_FILENAME in ${START_TIMEOUT_MS} ms`);
}
