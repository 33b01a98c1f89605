// Workload 6, memory efficiency: set 100-byte values under distinct keys, in chunks, until the
// server starts evicting; then count the items it holds and its resident memory per item.

import { LoadRun } from './loadgen/driver.ts';
import { Server, type ServerKind } from './servers.ts';
import { MEMORY_MAX_KEYS, SMALL_VALUE } from './workloads.ts';

export type MemoryResult = {
  server: ServerKind;
  memoryMb: number;
  setsSent: number;
  items: number;        // curr_items once evictions started
  evictions: number;
  rssBytes: number;
  rssBaseBytes: number; // before the first set
  errors: number;
  lastError: string;
};

const CHUNK = 25_000;

export async function measureMemory(kind: ServerKind, memoryMb: number, genThreads: number): Promise<MemoryResult> {
  const server = await Server.start(kind, { threads: 2, memoryMb, maxConns: 4096 });
  try {
    const rssBaseBytes = server.rssBytes();
    let setsSent = 0, errors = 0, lastError = '';
    let stats = await server.stats();
    while (Number(stats.get('evictions')) === 0 && setsSent < MEMORY_MAX_KEYS) {
      const run = await LoadRun.start({
        port: server.port, mode: 'fill', threads: genThreads, conns: 4 * genThreads, depth: 32,
        getRatio: 0, keysPerGet: 1, keyCount: MEMORY_MAX_KEYS, valueSize: SMALL_VALUE, keyLetter: 'm',
        keyFirst: setsSent, keyEnd: setsSent + CHUNK,
      });
      run.mark();
      await run.allDone();
      const t = await run.report();
      await run.stop();
      errors += t.errors;
      if (t.lastError !== '') lastError = t.lastError;
      setsSent += CHUNK;
      stats = await server.stats();
    }
    return {
      server: kind, memoryMb, setsSent, items: Number(stats.get('curr_items')),
      evictions: Number(stats.get('evictions')), rssBytes: server.rssBytes(), rssBaseBytes, errors, lastError,
    };
  } finally {
    await server.stop();
  }
}
