// Measured windows of one workload against one server: warm up, mark, run, read both sides' CPU
// clocks around the same window; then add the windows up and judge which side was the limit.

import { cpus } from 'node:os';
import { LoadRun, type LoadSpec, type LoadTotals } from './loadgen/driver.ts';
import { mergeInto, newHistogram, percentile } from './loadgen/histogram.ts';
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
  sysUsPerOp: number;  // of which system (kernel) time
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

/** One measured window: what the generator counted and the server's CPU time over it. */
export type Window = { totals: LoadTotals; serverCpuMs: number; serverSysMs: number };

export async function measureWindow(server: Server, spec: LoadSpec, timing: Timing): Promise<Window> {
  const run = await LoadRun.start(spec);
  try {
    await sleep(timing.warmupMs);
    const before = server.cpuTimes();
    run.mark();
    await sleep(timing.durationMs);
    const after = server.cpuTimes();
    const sysMs = after.sysMs - before.sysMs;
    return { totals: await run.report(), serverCpuMs: after.userMs - before.userMs + sysMs, serverSysMs: sysMs };
  } finally {
    await run.stop();
  }
}

/** The windows of one server on one workload, added up into one row. */
export function summarize(server: Server, genThreads: number, windows: Window[]): Measurement {
  const histogram = newHistogram();
  let ops = 0, wallMs = 0, genCpuMs = 0, serverCpuMs = 0, serverSysMs = 0, keysAsked = 0, hits = 0, errors = 0, lastError = '';
  for (const { totals: t, serverCpuMs: cpu, serverSysMs: sys } of windows) {
    ops += t.ops; wallMs += t.wallMs; genCpuMs += t.genCpuMs; serverCpuMs += cpu; serverSysMs += sys;
    keysAsked += t.keysAsked; hits += t.hits; errors += t.errors;
    if (t.lastError !== '') lastError = t.lastError;
    mergeInto(histogram, t.histogram);
  }
  const serverCores = serverCpuMs / wallMs;
  const genCores = genCpuMs / wallMs;
  return {
    server: server.kind, threads: server.flags.threads, ops, opsPerSec: (ops * 1000) / wallMs,
    p50Us: percentile(histogram, 0.5), p99Us: percentile(histogram, 0.99), p999Us: percentile(histogram, 0.999),
    cpuUsPerOp: ops > 0 ? (serverCpuMs * 1000) / ops : NaN,
    sysUsPerOp: ops > 0 ? (serverSysMs * 1000) / ops : NaN,
    serverCores, genCores, genThreads,
    hitRate: keysAsked > 0 ? hits / keysAsked : NaN,
    errors, lastError,
    limit: judgeLimit(genCores, genThreads, serverCores, server.flags.threads),
  };
}

/** Sets every key in [0, keyCount) once, pipelined, so gets hit. */
export async function prefill(server: Server, keyCount: number, valueSize: number, genThreads: number, keyLetter = 'k'): Promise<void> {
  await runFill(prefillSpec(server.port, keyCount, valueSize, genThreads, keyLetter));
}

/** The load that sets every key in [0, keyCount) once, pipelined. */
export function prefillSpec(port: number, keyCount: number, valueSize: number, genThreads: number, keyLetter: string): LoadSpec {
  return {
    port, mode: 'fill', threads: genThreads, conns: 4 * genThreads, depth: 32,
    getRatio: 0, keysPerGet: 1, keyCount, valueSize, keyLetter, keyFirst: 0, keyEnd: keyCount,
  };
}

/** Runs a fill load to its end. */
export async function runFill(spec: LoadSpec): Promise<void> {
  const run = await LoadRun.start(spec);
  try {
    await run.allDone();
  } finally {
    await run.stop();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
