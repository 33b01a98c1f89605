// One measured run of one workload against one server: warm up, mark, run, read both sides'
// CPU clocks around the same window, and decide which side was the limit.

import { cpus } from 'node:os';
import { LoadRun, type LoadSpec } from './loadgen/driver.ts';
import { percentile } from './loadgen/histogram.ts';
import type { Server, ServerKind } from './servers.ts';

export type Timing = { warmupMs: number; durationMs: number };

export type Measurement = {
  server: ServerKind;
  threads: number;     // the server's -t
  ops: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  cpuUsPerOp: number;  // the server's user+sys CPU per request
  serverCores: number; // the server's CPU time / wall time
  genCores: number;    // the load generator's CPU time / wall time
  genThreads: number;
  hitRate: number;     // keys found / keys asked (NaN without gets)
  errors: number;
  lastError: string;
  limit: Limit;
};

/** What held the throughput back, judged from CPU use alone. */
export type Limit = 'generator' | 'server' | 'machine' | '-';
const BUSY = 0.9; // a thread busy 90% of the window counts as saturated

export function judgeLimit(genCores: number, genThreads: number, serverCores: number, serverThreads: number): Limit {
  if (genCores >= BUSY * genThreads) return 'generator';
  if (serverCores >= BUSY * serverThreads) return 'server';
  if (genCores + serverCores >= BUSY * cpus().length) return 'machine';
  return '-';
}

export async function measure(server: Server, spec: LoadSpec, timing: Timing): Promise<Measurement> {
  const run = await LoadRun.start(spec);
  try {
    await sleep(timing.warmupMs);
    const cpuBefore = server.cpuMs();
    run.mark();
    await sleep(timing.durationMs);
    const cpuAfter = server.cpuMs();
    const t = await run.report();
    const seconds = t.wallMs / 1000;
    const serverCores = (cpuAfter - cpuBefore) / t.wallMs;
    const genCores = t.genCpuMs / t.wallMs;
    const genThreads = Math.min(spec.threads, spec.conns);
    return {
      server: server.kind, threads: server.flags.threads, ops: t.ops, opsPerSec: t.ops / seconds,
      p50Us: percentile(t.histogram, 0.5), p99Us: percentile(t.histogram, 0.99), p999Us: percentile(t.histogram, 0.999),
      cpuUsPerOp: t.ops > 0 ? ((cpuAfter - cpuBefore) * 1000) / t.ops : NaN,
      serverCores, genCores, genThreads,
      hitRate: t.keysAsked > 0 ? t.hits / t.keysAsked : NaN,
      errors: t.errors, lastError: t.lastError,
      limit: judgeLimit(genCores, genThreads, serverCores, server.flags.threads),
    };
  } finally {
    await run.stop();
  }
}

/** Sets every key in [0, keyCount) once, pipelined, so gets hit. */
export async function prefill(server: Server, keyCount: number, valueSize: number, genThreads: number, keyLetter = 'k'): Promise<void> {
  const run = await LoadRun.start({
    port: server.port, mode: 'fill', threads: genThreads, conns: 4 * genThreads, depth: 32,
    getRatio: 0, keysPerGet: 1, keyCount, valueSize, keyLetter, keyFirst: 0, keyEnd: keyCount,
  });
  try {
    await run.allDone();
  } finally {
    await run.stop();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
