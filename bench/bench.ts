// `npm run bench`: Cachalot against memcached 1.6 on this machine, same flags, same load generator,
// same workloads, one after the other; prints a Markdown report and writes it to bench/RESULTS.md.
// Progress goes to stderr, the report to stdout.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { parseOptions, type Options } from './options.ts';
import { measure, prefill } from './measure.ts';
import { measureMemory } from './memory.ts';
import { memaslapCost, nodeGeneratorCost, type GenCost } from './gencost.ts';
import { renderResults, type Results, type Row } from './report.ts';
import { REPO_ROOT, Server, serverArgs, unavailableReason, type ServerKind } from './servers.ts';
import {
  BIG_VALUE, MAIN_FLAGS, MEMORY_MB, MEMORY_MB_QUICK, MEMORY_WORKLOAD, SCALING_THREADS, SCALING_THREADS_QUICK,
  SCALING_WORKLOAD, SMALL_KEYS, SMALL_VALUE, loadWorkloads, type LoadWorkload,
} from './workloads.ts';

function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Alternate which server goes first, so a drift in the machine's load does not favour one. */
function turnOrder(servers: ServerKind[], n: number): ServerKind[] {
  return n % 2 === 1 ? servers : [...servers].reverse();
}

async function runLoadWorkloads(opts: Options, results: Results, versions: Map<ServerKind, string>): Promise<void> {
  const workloads = loadWorkloads(opts.quick).filter((w) => opts.only.includes(w.id));
  if (workloads.length === 0) return;
  const running = new Map<ServerKind, Server>();
  const startErrors = new Map<ServerKind, string>();
  try {
    for (const kind of results.servers) {
      try {
        const server = await Server.start(kind, MAIN_FLAGS);
        running.set(kind, server);
        versions.set(kind, await server.version());
        progress(`${kind} listening on 127.0.0.1:${server.port} (pid ${server.pid}); prefilling ${SMALL_KEYS} keys`);
        await prefill(server, SMALL_KEYS, SMALL_VALUE, opts.genThreads);
      } catch (err) {
        startErrors.set(kind, `could not start or prefill: ${errorText(err)}`);
        progress(`${kind}: ${startErrors.get(kind)}`);
      }
    }
    for (const w of workloads) {
      for (const kind of turnOrder(results.servers, w.id)) {
        results.rows.push(await runOne(w, String(w.id), running.get(kind), startErrors.get(kind) ?? `${kind} is not running`, opts, kind));
      }
    }
    const memcached = running.get('memcached');
    if (memcached && opts.only.includes(1)) results.genCost = await generatorCosts(memcached, opts);
  } finally {
    for (const s of running.values()) await s.stop();
  }
}

const bigPrefilled = new Set<Server>();

async function runOne(w: LoadWorkload, id: string, server: Server | undefined, why: string, opts: Options, kind: ServerKind): Promise<Row> {
  const row = (result: Row['result']): Row => ({ id, title: w.title, server: kind, result });
  if (!server || !server.alive()) return row({ error: server ? `${kind} has exited` : why });
  try {
    if (w.load.valueSize === BIG_VALUE && !bigPrefilled.has(server)) {
      progress(`${kind}: prefilling ${w.load.keyCount} keys of ${BIG_VALUE} bytes`);
      await prefill(server, w.load.keyCount, BIG_VALUE, opts.genThreads, w.load.keyLetter);
      bigPrefilled.add(server);
    }
    progress(`workload ${id} against ${kind} (-t ${server.flags.threads})`);
    const m = await measure(server, { ...w.load, port: server.port, threads: opts.genThreads }, opts.timing);
    progress(`  ${Math.round(m.opsPerSec)} ops/s, p99 ${m.p99Us} µs, ${m.cpuUsPerOp.toFixed(2)} CPU µs/op, limit ${m.limit}`);
    return row(m);
  } catch (err) {
    progress(`  failed: ${errorText(err)}`);
    return row({ error: errorText(err) });
  }
}

async function generatorCosts(memcached: Server, opts: Options): Promise<GenCost[]> {
  const costs: GenCost[] = [];
  try {
    progress('load generator cost: ours, then memaslap, against memcached');
    costs.push(await nodeGeneratorCost(memcached, opts.genThreads, opts.timing));
    const ms = await memaslapCost(memcached, opts.genThreads, opts.timing);
    if (ms) costs.push(ms);
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
  const threadCounts = opts.quick ? SCALING_THREADS_QUICK : SCALING_THREADS;
  for (const [i, threads] of threadCounts.entries()) {
    for (const kind of turnOrder(results.servers, i + 1)) {
      const id = `7/t${threads}`;
      let server: Server | undefined;
      let why = '';
      try {
        server = await Server.start(kind, { ...MAIN_FLAGS, threads });
        await prefill(server, SMALL_KEYS, SMALL_VALUE, opts.genThreads);
      } catch (err) {
        why = `could not start or prefill: ${errorText(err)}`;
      }
      try {
        results.rows.push(await runOne({ ...w1, title: `workload 1, -t ${threads}` }, id, server, why, opts, kind));
      } finally {
        await server?.stop();
      }
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
    `Cachalot commit: ${gitCommit()}; Node ${process.version}`,
    `Flags: \`${serverArgs(MAIN_FLAGS).join(' ')}\` (workload 6: -m ${opts.quick ? MEMORY_MB_QUICK : MEMORY_MB}; 7: -t varies)`,
    `Load generator: bench/loadgen, ${opts.genThreads} Node worker threads on the same machine; ` +
      `warm-up ${opts.timing.warmupMs} ms, measured ${opts.timing.durationMs} ms per run`,
    `Command: \`npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\``,
  ];
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? sha : `${sha} (src/ has uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
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
    writeFileSync(opts.out, report);
    progress(`wrote ${opts.out}`);
  }
}

await main();
