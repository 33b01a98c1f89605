// Several worker threads on one store: no lost update, one CAS winner per round, no torn bytes, counters
// that match what is reachable, memory that balances; the same while the hash table expands.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { Store } from "./store.ts";
import { createStore } from "./create.ts";
import { b, get, MB, put, settings } from "./test-support.ts";
import type { StoreSettings } from "./create.ts";
import { StoreOp, StoreResult } from "./results.ts";

const WORKERS = 4;

async function hammer(over: Partial<StoreSettings>, iterations: number, keys: number, bigEvery: number) {
  const shared = createStore(settings({ numThreads: WORKERS, ...over }));
  const main = new Store(shared, 0);
  const casRounds = 200;
  const casTable = new SharedArrayBuffer(casRounds * 8);
  const results = new SharedArrayBuffer((2 + casRounds) * 4);
  put(main, "counter", "0");
  for (let r = 0; r < casRounds; r++) {
    assert.equal(put(main, `round:${r}`, "start"), StoreResult.STORED);
    new Float64Array(casTable)[r] = main.lastCas;
  }
  const workers = [];
  for (let t = 1; t <= WORKERS; t++) {
    const w = new Worker(new URL("./threads-worker.ts", import.meta.url), {
      workerData: { shared, thread: t, iterations, keys, casRounds, casTable, results, bigEvery },
    });
    workers.push(new Promise<void>((resolve, reject) => { w.once("error", reject); w.once("exit", () => resolve()); }));
  }
  await Promise.all(workers);
  return { main, shared, results: new Int32Array(results), casRounds, keys };
}

function checkInvariants(r: Awaited<ReturnType<typeof hammer>>): void {
  const { main, results, casRounds, keys } = r;
  assert.equal(results[0], 0, "torn or foreign bytes seen");
  assert.equal(get(main, "counter")?.trim(), String(results[1]), "lost incr");
  for (let i = 0; i < casRounds; i++) assert.equal(results[2 + i], 1, `round ${i}: one CAS winner`);
  // curr_items equals what a lookup reaches
  let reachable = 0;
  const names = ["counter"];
  for (let i = 0; i < keys; i++) names.push(`key:${i}`);
  for (let i = 0; i < casRounds; i++) names.push(`round:${i}`);
  for (const n of names) {
    const k = b(n);
    const it = main.itemGet(k, 0, k.length);
    if (it !== 0) { reachable++; main.itemRelease(it); }
  }
  assert.equal(main.currItems(), reachable);
  // memory balances: once everything is deleted, no chunk is in use and nothing is requested
  for (const n of names) main.itemDelete(b(n), 0, n.length, 0);
  assert.equal(main.currItems(), 0);
  assert.equal(main.currBytes(), 0);
  const used = new Map<string, number>();
  main.reportSlabs((k, v) => { if (k.endsWith(":used_chunks")) used.set(k, Number(v)); });
  for (const [k, v] of used) assert.equal(v, 0, k);
}

test("4 threads, mixed operations on shared and distinct keys: invariants hold", { timeout: 120_000 }, async () => {
  const r = await hammer({}, 20000, 500, 0);
  checkInvariants(r);
});

test("4 threads while the hash table expands (hashpower 8 -> larger)", { timeout: 120_000 }, async () => {
  const r = await hammer({ hashpowerInit: 8 }, 20000, 3000, 0);
  assert.ok(r.main.hashPower() > 8, `hash power ${r.main.hashPower()}`);
  checkInvariants(r);
});

test("4 threads under eviction pressure with chained items (-m 8)", { timeout: 120_000 }, async () => {
  const r = await hammer({ maxBytes: 8 * MB }, 8000, 2000, 200);
  assert.ok(r.main.arena.byteLength <= (8 + 39) * MB + 64, "-m and a first page for each class");
  const results = r.results;
  assert.equal(results[0], 0, "torn or foreign bytes seen");
  // the counter can be evicted under pressure here; the CAS rounds still admit at most one winner
  for (let i = 0; i < r.casRounds; i++) assert.ok(results[2 + i] <= 1);
});

test("a set racing a delete on the same key never leaves two copies", () => {
  const st = new Store(createStore(settings()), 1);
  for (let i = 0; i < 100; i++) {
    put(st, "k", "a");
    put(st, "k", "b", StoreOp.ADD);
    st.itemDelete(b("k"), 0, 1, 0);
  }
  assert.equal(get(st, "k"), null);
  assert.equal(st.currItems(), 0);
});
