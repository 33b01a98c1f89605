// What the load generator costs: our Node generator against memaslap (Debian's libmemcached-tools),
// both driving workload 1 against the same memcached and measured the same way: the generator's
// CPU time over the window divided by the requests memcached counted (cmd_get + cmd_set).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadRun } from './loadgen/driver.ts';
import { processCpuMs } from './proc.ts';
import { sleep, type Timing } from './measure.ts';
import type { Server } from './servers.ts';
import { CONNS, SMALL_KEYS, SMALL_VALUE } from './workloads.ts';

export const MEMASLAP_BIN = '/usr/bin/memcaslap';

export type GenCost = { generator: string; opsPerSec: number; genCpuUsPerOp: number; genCores: number };

async function requestsServed(server: Server): Promise<number> {
  const stats = await server.stats();
  return Number(stats.get('cmd_get')) + Number(stats.get('cmd_set'));
}

export async function nodeGeneratorCost(server: Server, genThreads: number, timing: Timing): Promise<GenCost> {
  const run = await LoadRun.start({
    port: server.port, mode: 'mix', threads: genThreads, conns: CONNS, depth: 1, getRatio: 0.9,
    keysPerGet: 1, keyCount: SMALL_KEYS, valueSize: SMALL_VALUE,
  });
  try {
    await sleep(timing.warmupMs);
    const before = await requestsServed(server);
    run.mark();
    await sleep(timing.durationMs);
    const t = await run.report();
    const ops = (await requestsServed(server)) - before;
    return costOf(`cachalot bench (node, ${genThreads} threads)`, ops, t.genCpuMs, t.wallMs);
  } finally {
    await run.stop();
  }
}

/** memaslap prints no percentiles and cannot churn connections, so it only serves as a yardstick. */
export async function memaslapCost(server: Server, genThreads: number, timing: Timing): Promise<GenCost | null> {
  if (!existsSync(MEMASLAP_BIN)) return null;
  const dir = mkdtempSync(join(tmpdir(), 'bench-memaslap-'));
  const config = join(dir, 'config');
  // workload 1's 100-byte values and 90:10 get:set; keys of 16 bytes, the shortest memaslap takes
  writeFileSync(config, 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n');
  const seconds = Math.ceil((timing.warmupMs + timing.durationMs) / 1000) + 2;
  const child = spawn(MEMASLAP_BIN, [
    '-s', `127.0.0.1:${server.port}`, '-T', String(genThreads), '-c', String(CONNS),
    '-t', `${seconds}s`, '-F', config,
  ], { stdio: 'ignore' });
  try {
    await sleep(timing.warmupMs);
    if (child.exitCode !== null) throw new Error(`memaslap exited with status ${child.exitCode}`);
    const before = await requestsServed(server);
    const cpuBefore = processCpuMs(child.pid!);
    const t0 = performance.now();
    await sleep(timing.durationMs);
    const cpuAfter = processCpuMs(child.pid!);
    const wallMs = performance.now() - t0;
    const ops = (await requestsServed(server)) - before;
    return costOf(`memaslap (C, ${genThreads} threads)`, ops, cpuAfter - cpuBefore, wallMs);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function costOf(generator: string, ops: number, cpuMs: number, wallMs: number): GenCost {
  return { generator, opsPerSec: (ops * 1000) / wallMs, genCpuUsPerOp: (cpuMs * 1000) / ops, genCores: cpuMs / wallMs };
}
