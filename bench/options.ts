// `npm run bench -- [--quick] [--only=1,2] [--server=memcached|cachalot|both] [--gen-threads=2]
//                   [--out=FILE] [--warmup-ms=N] [--duration-ms=N] [--cachalot-ref=COMMIT] [--no-floor]
//                   [--jit-warmup-ms=N]`

import { join } from 'node:path';
import { REPO_ROOT, SERVER_KINDS, type ServerKind } from './servers.ts';
import { ALL_WORKLOADS } from './workloads.ts';
import type { Timing } from './measure.ts';

export type Options = {
  quick: boolean;
  only: number[];
  servers: ServerKind[];
  genThreads: number;
  out: string | null; // where the report goes besides stdout; null: nowhere
  cachalotRef: string | null; // run Cachalot as of this commit; null: the working tree
  floor: boolean; // measure workloads 1 and 4 against bench/floor.ts too (when Cachalot runs)
  timing: Timing;
  /** Each server serves a workload this long, unmeasured, before its first window of it (0: not at all). */
  jitWarmupMs: number;
};

export const RESULTS_FILE = join(REPO_ROOT, 'bench', 'RESULTS.md');
const FULL: Timing = { warmupMs: 500, durationMs: 3000 }; // the servers are warm already (bench.ts warmUp): this ramps the connections
const QUICK: Timing = { warmupMs: 200, durationMs: 500 };
const JIT_WARMUP_MS = 3000, JIT_WARMUP_MS_QUICK = 100;

export function parseOptions(argv: string[]): Options {
  const opts: Options = { quick: false, only: ALL_WORKLOADS, servers: [...SERVER_KINDS], genThreads: 2, out: RESULTS_FILE, timing: FULL,
    cachalotRef: null, floor: true, jitWarmupMs: JIT_WARMUP_MS };
  let outGiven = false;
  for (const arg of argv) {
    const [name, value = ''] = arg.split(/=(.*)/s, 2);
    switch (name) {
      case '--quick': opts.quick = true; break;
      case '--only': opts.only = value.split(',').map((v) => positive(name, v)); break;
      case '--server': opts.servers = value === 'both' ? [...SERVER_KINDS] : [serverKind(value)]; break;
      case '--gen-threads': opts.genThreads = positive(name, value); break;
      case '--no-floor': opts.floor = false; break;
      case '--cachalot-ref': opts.cachalotRef = value === '' ? 'HEAD' : value; break;
      case '--out': opts.out = value === '' ? null : value; outGiven = true; break;
      case '--warmup-ms': opts.timing = { ...opts.timing, warmupMs: positive(name, value) }; break;
      case '--jit-warmup-ms': opts.jitWarmupMs = value === '0' ? 0 : positive(name, value); break;
      case '--duration-ms': opts.timing = { ...opts.timing, durationMs: positive(name, value) }; break;
      default: throw new Error(`unknown option ${arg}`);
    }
  }
  for (const id of opts.only) if (!ALL_WORKLOADS.includes(id)) throw new Error(`no workload ${id}`);
  if (opts.quick) {
    if (!argv.some((a) => a.startsWith('--warmup-ms'))) opts.timing = { ...opts.timing, warmupMs: QUICK.warmupMs };
    if (!argv.some((a) => a.startsWith('--duration-ms'))) opts.timing = { ...opts.timing, durationMs: QUICK.durationMs };
    if (!argv.some((a) => a.startsWith('--jit-warmup-ms'))) opts.jitWarmupMs = JIT_WARMUP_MS_QUICK;
  }
  // Only a full-length run of every workload replaces the results file unless --out says otherwise.
  if (!outGiven && (opts.quick || opts.only !== ALL_WORKLOADS)) opts.out = null;
  return opts;
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} wants a positive integer, not "${v}"`);
  return n;
}

function serverKind(v: string): ServerKind {
  if (v === 'memcached' || v === 'cachalot') return v;
  throw new Error(`--server is memcached, cachalot or both, not "${v}"`);
}
