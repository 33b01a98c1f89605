// The main thread's side of the load generator: starts N generator threads with the connections
// split between them, marks the start of the measured window, and sums what they report.

import { Worker } from 'node:worker_threads';
import type { Counters, FromWorker, Job, LoadMode } from './job.ts';
import { mergeInto, newHistogram } from './histogram.ts';

export type LoadSpec = {
  port: number;
  mode: LoadMode;
  threads: number;
  conns: number;
  depth: number;
  getRatio: number;
  keysPerGet: number;
  keyCount: number;
  valueSize: number;
  keyLetter?: string;
  keyFirst?: number; // fill only: the range [keyFirst, keyEnd) is split between the threads
  keyEnd?: number;
};

export type LoadTotals = Omit<Counters, 'elapsedMs'> & {
  wallMs: number;  // the measured window, as the main thread saw it
  genCpuMs: number; // this whole process (every generator thread) over the window
};

const START_TIMEOUT_MS = 15_000;

export class LoadRun {
  private readonly workers: Worker[] = [];
  private readonly waiters = new Map<Worker, (msg: FromWorker) => void>();
  private markAt = 0;
  private markCpu = process.cpuUsage();
  private failure: string | null = null;
  private doneCount = 0;
  private onAllDone: (() => void) | null = null;

  /** Starts the threads and resolves when every connection is open. */
  static async start(spec: LoadSpec): Promise<LoadRun> {
    const run = new LoadRun();
    const ready: Promise<void>[] = [];
    const threads = Math.max(1, Math.min(spec.threads, spec.conns)); // no thread without a connection
    for (let t = 0; t < threads; t++) ready.push(run.spawn(jobFor({ ...spec, threads }, t)));
    try {
      await withTimeout(Promise.all(ready), START_TIMEOUT_MS, 'load generator did not connect');
    } catch (err) {
      await run.stop();
      throw err;
    }
    return run;
  }

  private spawn(job: Job): Promise<void> {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: job });
    this.workers.push(worker);
    return new Promise((resolve, reject) => {
      worker.on('error', (err: Error) => { this.failure ??= err.message; reject(err); });
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'error') { this.failure ??= msg.message; reject(new Error(msg.message)); }
        else if (msg.type === 'done') this.countDone();
        const waiter = this.waiters.get(worker);
        if (waiter && (msg.type === 'report' || msg.type === 'stopped')) {
          this.waiters.delete(worker);
          waiter(msg);
        }
      });
    });
  }

  /** A fill run: resolves when every thread has had all its sets answered. */
  allDone(): Promise<void> {
    if (this.doneCount >= this.workers.length) return Promise.resolve();
    return new Promise((resolve) => { this.onAllDone = resolve; });
  }

  private countDone(): void {
    if (++this.doneCount >= this.workers.length && this.onAllDone) this.onAllDone();
  }

  /** The measured window starts now: counters and histograms go back to zero. */
  mark(): void {
    for (const w of this.workers) w.postMessage({ type: 'mark' });
    this.markAt = performance.now();
    this.markCpu = process.cpuUsage();
  }

  async report(): Promise<LoadTotals> {
    const wallMs = performance.now() - this.markAt;
    const cpu = process.cpuUsage(this.markCpu);
    const replies = await Promise.all(this.workers.map((w) => this.ask(w, 'report')));
    const totals: LoadTotals = {
      ops: 0, keysAsked: 0, hits: 0, errors: 0, notStored: 0, lastError: this.failure ?? '',
      histogram: newHistogram(), wallMs, genCpuMs: (cpu.user + cpu.system) / 1000,
    };
    for (const msg of replies) {
      if (msg.type !== 'report') continue;
      const c = msg.counters;
      totals.ops += c.ops;
      totals.keysAsked += c.keysAsked;
      totals.hits += c.hits;
      totals.errors += c.errors;
      totals.notStored += c.notStored;
      if (c.lastError !== '') totals.lastError = c.lastError;
      mergeInto(totals.histogram, c.histogram);
    }
    return totals;
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map(async (w) => {
      await withTimeout(this.ask(w, 'stop'), 2000, 'stop').catch(() => undefined);
      await w.terminate();
    }));
  }

  private ask(worker: Worker, type: 'report' | 'stop'): Promise<FromWorker> {
    return new Promise((resolve) => {
      this.waiters.set(worker, resolve);
      worker.postMessage({ type });
    });
  }
}

function jobFor(spec: LoadSpec, t: number): Job {
  const share = (n: number) => Math.floor(n / spec.threads) + (t < n % spec.threads ? 1 : 0);
  const first = spec.keyFirst ?? 0;
  const end = spec.keyEnd ?? spec.keyCount;
  const span = end - first;
  const rangeStart = first + Math.floor((span * t) / spec.threads);
  const rangeEnd = first + Math.floor((span * (t + 1)) / spec.threads);
  return {
    port: spec.port, mode: spec.mode, conns: share(spec.conns), depth: spec.depth,
    getRatio: spec.getRatio, keysPerGet: spec.keysPerGet, keyCount: spec.keyCount,
    keyFirst: rangeStart, keyEnd: rangeEnd, keyLetter: spec.keyLetter ?? 'k',
    valueSize: spec.valueSize, seed: 0x5eed + t * 7919,
  };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
