// `npm run bench`: Cachalot against memcached 1.6 on this machine, same flags, same load generator,
// same workloads, one after the other; prints a Markdown report and writes it to bench/RESULTS.md.
// Progress goes to stderr, the report to stdout.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { parseOptions, type Options } from './options.ts';
import { measureWindow, prefill, summarize, type Window } from './measure.ts';
import { measureMemory } from './memory.ts';
import { MEMASLAP_BIN, memaslapCost, nodeGeneratorCost, type GenCost } from './gencost.ts';
import { renderResults, type Results, type Row } from './report.ts';
import { FLOOR_MAIN, REPO_ROOT, Server, serverArgs, unavailableReason, useCachalotCommit, type ServerFlags, type ServerKind } from './servers.ts';
import {
  BIG_VALUE, MAIN_FLAGS, MEMORY_MB, MEMORY_MB_QUICK, MEMORY_WORKLOAD, SCALING_THREADS, SCALING_THREADS_QUICK,
  SCALING_WORKLOAD, SMALL_KEYS, SMALL_VALUE, loadWorkloads, type LoadWorkload,
} from './workloads.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Measured windows per server and workload. */
const WINDOWS = 4;

/**
 * The order of a workload's measured windows: A B B A A B B A for two servers (A alternating
 * between workloads), so a drift or a burst in the machine's background load favours neither;
 * A B C C B A A B C C B A for three; four windows for one. (Two long windows each let one burst on
 * this shared machine move a workload's ratio by 25%; four short ones interleave the servers more finely.)
 */
function roundOrder(servers: ServerKind[], n: number): ServerKind[] {
  const first = n % 2 === 1 ? servers : [...servers].reverse();
  const there = [...first], back = [...first].reverse();
  return servers.length === 1 ? [...there, ...there, ...there, ...there] : [...there, ...back, ...there, ...back];
}

type Running = { servers: Map<ServerKind, Server>; whyNot: Map<ServerKind, string> };

async function startServers(kinds: ServerKind[], flags: ServerFlags, opts: Options, versions?: Map<ServerKind, string>): Promise<Running> {
  const running: Running = { servers: new Map(), whyNot: new Map() };
  for (const kind of kinds) {
    try {
      const server = await Server.start(kind, flags);
      running.servers.set(kind, server);
      if (kind === 'floor') { // holds nothing: no version, no prefill
        progress(`floor (${FLOOR_MAIN.replace(/.*\//, "")}) -t ${flags.threads} listening on 127.0.0.1:${server.port} (pid ${server.pid})`);
        await warmUp(server, opts);
        continue;
      }
      // Cachalot answers `version` as memcached 1.6.18 does, for clients that check; name its own.
      versions?.set(kind, kind === 'cachalot' ? `${VERSION} (answers version with ${await server.version()})` : await server.version());
      progress(`${kind} -t ${flags.threads} listening on 127.0.0.1:${server.port} (pid ${server.pid}); prefilling ${SMALL_KEYS} keys`);
      await prefill(server, SMALL_KEYS, SMALL_VALUE, opts.genThreads);
      await warmUp(server, opts);
    } catch (err) {
      running.whyNot.set(kind, `could not start or prefill: ${errorText(err)}`);
      progress(`${kind}: ${running.whyNot.get(kind)}`);
    }
  }
  return running;
}

/**
 * Before anything is measured each server serves workload 1's mix for a while, unmeasured. Cachalot's
 * JIT compiles its hot paths in its first seconds (memcached has nothing to warm): the windows should
 * measure the running server, as a long-lived cache is, not its start. Both servers get the same.
 * The prefill's sets get their code compiled first; W1's gets then make V8 throw the command dispatch
 * away, and it takes some 7-8 s of W1 before the set path runs TurboFan's code again (round 52): with
 * jitWarmUp's 3 s of W1 after this, the windows start past it.
 */
export const SERVER_WARMUP_MS = 6000;
const SERVER_WARMUP_MS_QUICK = 200;

async function warmUp(server: Server, opts: Options): Promise<void> {
  const w1 = loadWorkloads(opts.quick).find((w) => w.id === 1);
  if (w1 === undefined) return;
  await serveUnmeasured(server, w1, opts.quick ? SERVER_WARMUP_MS_QUICK : SERVER_WARMUP_MS, opts);
}

/** The workload's load against the server for durationMs, its figures thrown away (a JIT warm-up). */
async function serveUnmeasured(server: Server, w: LoadWorkload, durationMs: number, opts: Options): Promise<void> {
  await measureWindow(server, { ...w.load, port: server.port, threads: opts.genThreads }, { warmupMs: 0, durationMs });
}

async function stopServers(running: Running): Promise<void> {
  for (const s of running.servers.values()) await s.stop();
}

async function runLoadWorkloads(opts: Options, results: Results, versions: Map<ServerKind, string>): Promise<void> {
  const workloads = loadWorkloads(opts.quick).filter((w) => opts.only.includes(w.id));
  if (workloads.length === 0) return;
  const withFloor = floorWanted(opts, results.servers);
  const running = await startServers(withFloor ? [...results.servers, 'floor'] : results.servers, MAIN_FLAGS, opts, versions);
  try {
    for (const w of workloads) {
      const kinds = withFloor && FLOOR_WORKLOADS.includes(w.id) ? [...results.servers, 'floor' as const] : results.servers;
      results.rows.push(...await compare(w, String(w.id), running, kinds, opts));
    }
    const memcached = running.servers.get('memcached');
    if (memcached && opts.only.includes(1)) results.genCost = await generatorCosts(memcached, opts);
  } finally {
    await stopServers(running);
  }
}

/**
 * Workloads 1 and 4 are also measured against bench/floor.ts, Node with no cache behind it: what the
 * runtime itself costs per request, so the report tells that apart from what Cachalot's code costs.
 */
const FLOOR_WORKLOADS: readonly number[] = [1, 4];

function floorWanted(opts: Options, servers: ServerKind[]): boolean {
  const anyFloorWorkload = FLOOR_WORKLOADS.some((id) => opts.only.includes(id));
  if (!opts.floor || !servers.includes('cachalot') || !anyFloorWorkload) return false;
  const why = unavailableReason('floor');
  if (why) progress(`no floor: ${why}`);
  return why === null;
}

let comparisons = 0;

/** One workload against every server, in interleaved windows (roundOrder) of a quarter of the duration each. */
async function compare(w: LoadWorkload, id: string, running: Running, kinds: ServerKind[], opts: Options): Promise<Row[]> {
  const windows = new Map<ServerKind, Window[]>(kinds.map((k) => [k, []]));
  const failed = new Map<ServerKind, string>(running.whyNot);
  const timing = { ...opts.timing, durationMs: Math.max(1, Math.round(opts.timing.durationMs / WINDOWS)) };
  const order = roundOrder(kinds, ++comparisons);
  await jitWarmUp(w, running, order.slice(0, kinds.length), failed, opts);
  for (const kind of order) {
    const server = running.servers.get(kind);
    if (failed.has(kind)) continue;
    if (!server || !server.alive()) { failed.set(kind, `${kind} has exited`); continue; }
    try {
      await prefillBigOnce(server, w, opts);
      progress(`workload ${id} against ${kind} (-t ${server.flags.threads})`);
      const win = await measureWindow(server, { ...w.load, port: server.port, threads: opts.genThreads }, timing);
      progress(`  ${Math.round((win.totals.ops * 1000) / win.totals.wallMs)} ops/s, ` +
        `${((win.serverCpuMs * 1000) / win.totals.ops).toFixed(2)} CPU µs/op`);
      windows.get(kind)!.push(win);
    } catch (err) {
      progress(`  failed: ${errorText(err)}`);
      failed.set(kind, errorText(err));
    }
  }
  return kinds.map((kind): Row => {
    const server = running.servers.get(kind);
    const result = failed.has(kind) || !server
      ? { error: failed.get(kind) ?? `${kind} is not running` }
      : summarize(server, opts.genThreads, windows.get(kind)!);
    return { id, title: w.title, server: kind, result };
  });
}

/**
 * Before a workload's first window every server serves it for a while, unmeasured. A workload that takes paths the
 * ones before it did not (a multi-get's later keys, a 16 KB value's copy and its split reads) meets code that V8
 * compiled without them: it throws that code away and runs its middle tier until it has compiled the function
 * again, seconds later (bench/RESULTS.md, round 52). The windows should measure the running cache, which has
 * long seen every kind of request. Each server gets the same, in the order of the windows that follow.
 */
async function jitWarmUp(w: LoadWorkload, running: Running, kinds: ServerKind[], failed: Map<ServerKind, string>, opts: Options): Promise<void> {
  if (opts.jitWarmupMs === 0) return;
  for (const kind of kinds) {
    const server = running.servers.get(kind);
    if (failed.has(kind) || !server || !server.alive()) continue;
    try {
      await prefillBigOnce(server, w, opts);
      progress(`workload ${w.id} against ${kind}: ${opts.jitWarmupMs} ms unmeasured`);
      await serveUnmeasured(server, w, opts.jitWarmupMs, opts);
    } catch (err) {
      progress(`  failed: ${errorText(err)}`);
      failed.set(kind, errorText(err));
    }
  }
}

const bigPrefilled = new Set<Server>();

async function prefillBigOnce(server: Server, w: LoadWorkload, opts: Options): Promise<void> {
  if (w.load.valueSize !== BIG_VALUE || bigPrefilled.has(server)) return;
  progress(`${server.kind}: prefilling ${w.load.keyCount} keys of ${BIG_VALUE} bytes`);
  await prefill(server, w.load.keyCount, BIG_VALUE, opts.genThreads, w.load.keyLetter);
  bigPrefilled.add(server);
}

async function generatorCosts(memcached: Server, opts: Options): Promise<GenCost[]> {
  const costs: GenCost[] = [];
  try {
    progress('load generator cost: ours, then memaslap, against memcached');
    costs.push(await nodeGeneratorCost(memcached, opts.genThreads, opts.timing));
    const ms = await memaslapCost(memcached, opts.genThreads, opts.timing);
    if (ms) costs.push(ms);
    else progress(`  memaslap not measured: ${MEMASLAP_BIN} is not installed`);
  } catch (err) {
    progress(`  generator cost not measured: ${errorText(err)}`);
  }
  return costs;
}

async function runMemory(opts: Options, results: Results): Promise<void> {
  const memoryMb = opts.quick ? MEMORY_MB_QUICK : MEMORY_MB;
  for (const kind of results.servers) {
    progress(`workload 6 (memory, -m ${memoryMb}) against ${kind}`);
    try {
      const r = await measureMemory(kind, memoryMb, opts.genThreads);
      progress(`  ${r.items} items, ${Math.round(r.rssBytes / r.items)} RSS bytes/item`);
      results.memory.push(r);
    } catch (err) {
      progress(`  failed: ${errorText(err)}`);
      results.memory.push({ server: kind, error: errorText(err) });
    }
  }
}

async function runScaling(opts: Options, results: Results): Promise<void> {
  const w1 = loadWorkloads(opts.quick)[0];
  for (const threads of opts.quick ? SCALING_THREADS_QUICK : SCALING_THREADS) {
    const running = await startServers(results.servers, { ...MAIN_FLAGS, threads }, opts);
    try {
      results.rows.push(...await compare({ ...w1, title: `workload 1, -t ${threads}` }, `7/t${threads}`, running, results.servers, opts));
    } finally {
      await stopServers(running);
    }
  }
}

function header(opts: Options, versions: Map<ServerKind, string>): string[] {
  const cpu = cpus();
  const cachalotRuns = opts.servers.includes('cachalot');
  return [
    `Date: ${new Date().toISOString()}`,
    `Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${type()} ${release()}`,
    `Servers: ${opts.servers.map((k) => `${k} ${versions.get(k) ?? '(version unknown)'}`).join(', ')}` +
      (cachalotRuns ? '' : ' - **memcached only: Cachalot was not part of this run**'),
    `Cachalot source: ${cachalotSource ?? gitCommit()}; Node ${process.version}`,
    `Flags: \`${serverArgs(MAIN_FLAGS).join(' ')}\` (workload 6: -m ${opts.quick ? MEMORY_MB_QUICK : MEMORY_MB}; 7: -t varies)`,
    `Load generator: bench/loadgen, ${opts.genThreads} Node worker threads on the same machine; ` +
      `per server and workload ${WINDOWS} windows of ${Math.round(opts.timing.durationMs / WINDOWS)} ms, each after a ${opts.timing.warmupMs} ms warm-up; ` +
      `every server started serves workload 1 for ${opts.quick ? SERVER_WARMUP_MS_QUICK : SERVER_WARMUP_MS} ms after its prefill, ` +
      `and each workload for ${opts.jitWarmupMs} ms before its first window, unmeasured (JIT warm-up)`,
    `Command: \`npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\``,
  ];
}

let cachalotSource: string | null = null;

/** The working tree's commit, and whether src/ differs from it. */
function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? `${sha} (working tree)` : `working tree on ${sha}, src/ with uncommitted changes`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  let exported: string | null = null;
  if (opts.cachalotRef && opts.servers.includes('cachalot')) {
    const { sha, dir } = useCachalotCommit(opts.cachalotRef);
    exported = dir;
    cachalotSource = `${sha} (exported from git, not the working tree)`;
  }
  try {
    await benchmark(opts);
  } finally {
    if (exported) rmSync(exported, { recursive: true, force: true });
  }
}

async function benchmark(opts: Options): Promise<void> {
  const servers = opts.servers.filter((kind) => {
    const why = unavailableReason(kind);
    if (why) progress(`skipping ${kind}: ${why}`);
    return why === null;
  });
  if (servers.length === 0) {
    progress('no server to measure');
    process.exitCode = 1;
    return;
  }
  opts.servers = servers;
  const versions = new Map<ServerKind, string>();
  const results: Results = { header: [], rows: [], memory: [], genCost: [], servers, quick: opts.quick };
  await runLoadWorkloads(opts, results, versions);
  if (opts.only.includes(MEMORY_WORKLOAD)) await runMemory(opts, results);
  if (opts.only.includes(SCALING_WORKLOAD)) await runScaling(opts, results);
  results.header = header(opts, versions);
  const report = renderResults(results);
  process.stdout.write(report);
  if (opts.out) {
    writeFileSync(opts.out, report + keptNotes(opts.out));
    progress(`wrote ${opts.out}`);
  }
}

await main();

/**
 * The results file ends with hand-written notes (what profiling showed, what was changed); a new
 * run replaces the measurements above them and keeps the notes.
 */
function keptNotes(file: string): string {
  const NOTES_HEADING = '## Profiling notes';
  let old = '';
  try { old = readFileSync(file, 'utf8'); } catch { return ''; }
  const at = old.indexOf(NOTES_HEADING);
  return at < 0 ? '' : '\n' + old.slice(at);
}
