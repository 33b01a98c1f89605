// One server under `valgrind --tool=callgrind`, driven over real sockets by the bench's own load generator:
// user-space instructions per request (and, with --cache-sim, the L1 misses valgrind simulates), whole and by
// function, for Cachalot, the floor or memcached alike. The socket benchmark's CPU times move 10-20% from run
// to run here; a function's count a request repeats to the instruction (a total moves with how many requests a
// turn of the event loop finds, and with background threads: compare functions), and they take in what
// bench:micro leaves out (the event loop, Node's callback and write paths, libc). The kernel is not counted: valgrind sees user space only.
//
//   npm run bench:callgrind -- [--server=cachalot|floor|memcached] [--workload=1|3|4] [--cache-sim]
//                              [--warmup-requests=500000] [--window-s=20] [--top=40] [--node-flags="..."] [-- server flags]
//
// The server runs with -t 1 (valgrind runs one thread at a time anyway), is prefilled, served the workload
// unmeasured for --warmup-requests (TurboFan compiles after so many calls, however slow valgrind makes them: a
// window that still saw it compile shows v8::internal::compiler functions in its list), then its counters are
// zeroed, the window runs, and callgrind dumps them. JIT code is named from the perf map that Node writes
// with --perf-basic-prof. Each thread is counted apart (--separate-threads), then summed; the report shows
// each thread's share with its costliest function. Background threads run by the clock, not per request:
// valgrind slows the requests ~10-30x and not their rounds, so Cachalot's maintainer (juggleRound, lruPullTail, pullHotWarm ...) weighs
// several times more per request here than at full speed; `-- -o no_lru_maintainer` leaves it out, for the
// request path alone. Needs valgrind (Debian package `valgrind`); not run by the tests.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { LoadRun, type LoadSpec } from './loadgen/driver.ts';
import { prefillSpec, runFill, sleep } from './measure.ts';
import { loadWorkloads, SMALL_KEYS, SMALL_VALUE } from './workloads.ts';
import { FLOOR_MAIN, MEMCACHED_BIN, REPO_ROOT, type ServerKind } from './servers.ts';
import { serverNodeArgs } from '../src/boot/command.ts';
import { MMAP_THRESHOLD, tunablesEnv } from '../src/main/malloc-tunables.ts';
import { functionCosts, mergeCosts, type FunctionCosts } from './callgrind-profile.ts';

type Options = {
  server: ServerKind; workload: number; cacheSim: boolean; warmupRequests: number; windowS: number; top: number;
  nodeFlags: string[]; serverFlags: string[];
};

function parseArgs(argv: string[]): Options {
  const o: Options = { server: 'cachalot', workload: 1, cacheSim: false, warmupRequests: 500_000, windowS: 20, top: 40, nodeFlags: [], serverFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const [name, value = ''] = argv[i].split(/=(.*)/s, 2);
    if (name === '--') { o.serverFlags = argv.slice(i + 1); break; }
    if (name === '--server' && ['cachalot', 'floor', 'memcached'].includes(value)) o.server = value as ServerKind;
    else if (name === '--workload' && ['1', '3', '4'].includes(value)) o.workload = Number(value);
    else if (name === '--cache-sim') o.cacheSim = true;
    else if (name === '--warmup-requests') o.warmupRequests = Number(value);
    else if (name === '--window-s') o.windowS = Number(value);
    else if (name === '--top') o.top = Number(value);
    else if (name === '--node-flags') o.nodeFlags = value.split(' ').filter((f) => f !== '');
    else throw new Error(`unknown option ${argv[i]} (see the head of bench/callgrind.ts)`);
  }
  return o;
}

/** What valgrind starts, and the command that runs valgrind and callgrind_control as another user (or none). */
function command(o: Options, port: number): { argv: string[]; env: NodeJS.ProcessEnv; asUser: string[] } {
  const common = ['-p', String(port), '-U', '0', '-l', '127.0.0.1', '-t', '1'];
  const node = process.execPath;
  const v8 = ['--no-concurrent-recompilation', '--perf-basic-prof', ...o.nodeFlags];
  if (o.server === 'floor') return { argv: [node, ...v8, FLOOR_MAIN, ...common], env: process.env, asUser: [] };
  if (o.server === 'cachalot') {
    return {
      argv: [node, ...v8, ...serverNodeArgs(REPO_ROOT), ...common, '-m', '1024', ...o.serverFlags],
      env: tunablesEnv(process.env, [MMAP_THRESHOLD]) ?? process.env, asUser: [],
    };
  }
  // memcached drops root for -u, after which valgrind can no longer open the control pipes it made as root: it
  // runs as nobody from the start instead, and so does callgrind_control (run as root against it, it hung with
  // the server's threads all waiting). valgrind keeps 12 descriptors of the limit for itself and refuses
  // memcached's setrlimit unless -c asks for exactly what is left.
  const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const fds = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) - 12;
  return {
    argv: [MEMCACHED_BIN, ...common, '-m', '1024', '-c', String(fds), ...o.serverFlags],
    env: process.env, asUser: asNobody,
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const w = loadWorkloads(false).find((l) => l.id === o.workload)!;
  const dir = mkdtempSync(join(tmpdir(), 'bench-callgrind-'));
  chmodSync(dir, 0o777); // memcached's valgrind runs as nobody and writes here
  const port = await freePort();
  const { argv, env, asUser } = command(o, port);
  const vgdbPrefix = join(dir, 'vgdb');
  const valgrind = ['valgrind', '--tool=callgrind', `--vgdb-prefix=${vgdbPrefix}`, `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
    '--separate-threads=yes', '--dump-instr=yes', '--smc-check=all-non-file',
    ...(o.cacheSim ? ['--cache-sim=yes'] : [])];
  const full = [...asUser, ...valgrind, ...argv];
  // in the temporary directory: V8 writes a log per isolate (isolate-*-v8.log) into the working directory with
  // --perf-basic-prof, and they go with it
  const child = spawn(full[0], full.slice(1), { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  try {
    await waitForListener(port, child, () => stderr);
    const pid = child.pid!; // setpriv and valgrind's launcher exec: the pid is the tool's, which the dump and perf map are named by
    const load: LoadSpec = { ...w.load, port, threads: 1 };
    if (o.server !== 'floor') { // as the bench prefills: W1's keys, and W4's big ones for W4
      await runFill(prefillSpec(port, SMALL_KEYS, SMALL_VALUE, 1, 'k'));
      const letter = w.load.keyLetter ?? 'k';
      if (letter !== 'k') await runFill(prefillSpec(port, load.keyCount, load.valueSize, 1, letter));
    }
    const filled = o.server === 'floor' ? 'holds nothing' : 'prefilled';
    progress(`${o.server} (valgrind pid ${pid}) ${filled}; serving workload ${w.id} unmeasured for ${o.warmupRequests} requests`);
    const run = await LoadRun.start(load);
    try {
      run.mark();
      while ((await run.report()).ops < o.warmupRequests) await sleep(1000);
      callgrindControl(asUser, vgdbPrefix, pid, '--zero');
      run.mark();
      await sleep(o.windowS * 1000);
      const before = await run.report();
      callgrindControl(asUser, vgdbPrefix, pid, '--dump');
      const after = await run.report();
      // the dump lands between the two reports: the requests counted are between them too
      const requests = (before.ops + after.ops) / 2;
      progress(`window: ${before.ops}-${after.ops} requests, ${after.errors} errors, hits ${after.hits}/${after.keysAsked}`);
      report(o, w.title, requests, readProfile(dir, pid));
    } finally {
      await run.stop();
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(perfMapPath(child.pid!), { force: true }); // Node's, for the JIT names: read already
  }
}

function callgrindControl(asUser: string[], vgdbPrefix: string, pid: number, action: string): void {
  const argv = [...asUser, 'callgrind_control', `--vgdb-prefix=${vgdbPrefix}`, action, String(pid)];
  execFileSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 60_000 });
}

/**
 * The window's dump, one file per thread ("callgrind.out.<dump>-<thread>", valgrind's thread numbers: 1 is the
 * process's first), and the perf map a Node server wrote.
 */
function readProfile(dir: string, pid: number): { threads: Array<[number, string]>; perfMap: string | null } {
  const files = readdirSync(dir).map((f) => /^callgrind\.out\.(\d+)-(\d+)$/.exec(f)).filter((m) => m !== null);
  if (files.length === 0) throw new Error('callgrind wrote no dump');
  const dump = Math.max(...files.map((m) => Number(m[1])));
  const threads = files.filter((m) => Number(m[1]) === dump).map((m): [number, string] => [Number(m[2]), readFileSync(join(dir, m[0]), 'latin1')]);
  let perfMap: string | null = null;
  try { perfMap = readFileSync(perfMapPath(pid), 'latin1'); } catch { /* memcached: none */ }
  return { threads: threads.sort((a, b) => a[0] - b[0]), perfMap };
}

const perfMapPath = (pid: number): string => `/tmp/perf-${pid}.map`;

function report(o: Options, title: string, requests: number, p: { threads: Array<[number, string]>; perfMap: string | null }): void {
  const perThread = p.threads.map(([id, text]): [number, FunctionCosts] => [id, functionCosts(text, p.perfMap)]);
  const costs = mergeCosts(perThread.map(([, c]) => c));
  const per = (n: number): string => (n / requests).toFixed(1);
  console.log(`\n${o.server}, workload ${o.workload} (${title}), -t 1 under callgrind: ${requests} requests in the window`);
  console.log(`per request: ${costs.events.map((e, i) => `${e} ${per(costs.total[i])}`).join(', ')}`);
  // which thread did what: a worker's requests, or a background thread's rounds (paced by the clock, see above)
  console.log('\nby thread (instructions per request, share, the function with the most):');
  for (const [id, c] of perThread) {
    if (c.total[0] < costs.total[0] / 1000) continue; // threads that sat out the window
    console.log(`  ${per(c.total[0]).padStart(9)} ${pct(c.total[0], costs.total[0])}  thread ${id}: ${c.byFunction[0][0].slice(0, 100)}`);
  }
  console.log('\nby object (instructions per request, share):');
  for (const [name, v] of costs.byGroup) console.log(`  ${per(v[0]).padStart(9)} ${pct(v[0], costs.total[0])}  ${name}`);
  console.log(`\nby function (self; ${costs.events.join(' ')} per request):`);
  for (const [name, v] of costs.byFunction.slice(0, o.top)) {
    console.log(`  ${v.map((x) => per(x).padStart(8)).join(' ')}  ${name.slice(0, 140)}`);
  }
}

const pct = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1).padStart(5)}%`;
const progress = (line: string): void => { process.stderr.write(`[callgrind] ${line}\n`); };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
  });
}

async function waitForListener(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 300_000; // Node starts in ~a minute under valgrind
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited: ${stderr().trim().slice(-800)}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await sleep(1000);
  }
  throw new Error('the server did not listen within 300 s');
}

await main();
