// The workloads of tracker issue 5. 1-5 are measured by the same load generator against each
// server in turn; 6 (memory) and 7 (thread scaling) restart the servers with other flags.

import type { LoadSpec } from './loadgen/driver.ts';

export type LoadWorkload = {
  id: number;
  title: string;
  load: Omit<LoadSpec, 'port' | 'threads'>;
};

export const SMALL_VALUE = 100;
export const SMALL_KEYS = 100_000;
export const BIG_VALUE = 16 * 1024;
export const BIG_KEYS = 10_000;        // 160 MB of values: well inside -m 1024
export const BIG_KEYS_QUICK = 1_000;
/** Workload 4's keys start with this letter (workload 1's with 'k'): the floor answers them with BIG_VALUE bytes. */
export const BIG_KEY_LETTER = 'b';
export const CONNS = 50;

const getSet9010 = {
  mode: 'mix', conns: CONNS, depth: 1, getRatio: 0.9, keysPerGet: 1,
  keyCount: SMALL_KEYS, valueSize: SMALL_VALUE, keyLetter: 'k',
} as const;

export function loadWorkloads(quick: boolean): LoadWorkload[] {
  return [
    { id: 1, title: '100 B, get:set 90:10, 50 conns, 1 in flight', load: getSet9010 },
    { id: 2, title: '100 B, get:set 90:10, 50 conns, 16 in flight', load: { ...getSet9010, depth: 16 } },
    { id: 3, title: 'multi-get of 10 keys (100 B), 50 conns', load: { ...getSet9010, getRatio: 1, keysPerGet: 10 } },
    {
      id: 4, title: '16 KB, get:set 50:50, 50 conns',
      load: {
        ...getSet9010, getRatio: 0.5, valueSize: BIG_VALUE, keyLetter: BIG_KEY_LETTER,
        keyCount: quick ? BIG_KEYS_QUICK : BIG_KEYS,
      },
    },
    { id: 5, title: 'connection churn: connect, get, close; 50 at once', load: { ...getSet9010, mode: 'churn', getRatio: 1 } },
  ];
}

export const MEMORY_WORKLOAD = 6;
export const SCALING_WORKLOAD = 7;
export const ALL_WORKLOADS = [1, 2, 3, 4, 5, MEMORY_WORKLOAD, SCALING_WORKLOAD];

export const MAIN_FLAGS = { threads: 2, memoryMb: 1024, maxConns: 4096 };
export const MEMORY_MB = 64;
export const MEMORY_MB_QUICK = 8;
export const MEMORY_MAX_KEYS = 2_000_000; // 64 MB holds well under half a million 100-byte items
export const SCALING_THREADS = [1, 2, 4];
export const SCALING_THREADS_QUICK = [1, 2];
