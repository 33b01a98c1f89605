// Worker for threads.test.ts: attaches a Store to the shared buffers and hammers it with mixed operations.
// Values describe themselves ("<key>|<len>|<sum>|" + payload) so a reader can tell torn or foreign bytes.

import { workerData, parentPort } from "node:worker_threads";
import { Store } from "./store.ts";
import type { StoreShared } from "./create.ts";
import { DeltaResult, StoreOp, StoreResult } from "./results.ts";

type Job = { shared: StoreShared; thread: number; iterations: number; keys: number; casRounds: number;
  casTable: SharedArrayBuffer; results: SharedArrayBuffer; bigEvery: number };
const job = workerData as Job;
const st = new Store(job.shared, job.thread);
const casTable = new Float64Array(job.casTable); // round -> initial CAS
const results = new Int32Array(job.results); // [0] errors, [1] incrs done, [2..] winners per round

let seed = job.thread * 2654435761;
function rnd(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
}

function checksum(buf: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s = (Math.imul(s, 31) + buf[off + i]) >>> 0;
  return s;
}

function makeValue(key: string, len: number): Buffer {
  const payload = Buffer.alloc(len);
  for (let i = 0; i < len; i++) payload[i] = 97 + rnd(26);
  return Buffer.concat([Buffer.from(`${key}|${len}|${checksum(payload, 0, len)}|`), payload]);
}

function verify(key: string, it: number): void {
  const n = st.itemNbytes(it);
  const v = Buffer.alloc(n);
  st.itemCopyValue(it, v, 0);
  const s = v.toString("latin1", 0, Math.min(n, 80));
  const parts = s.split("|");
  const headLen = parts[0].length + parts[1].length + parts[2].length + 3;
  const len = Number(parts[1]);
  const ok = parts[0] === key && n === headLen + len + 2 && checksum(v, headLen, len) === Number(parts[2]) &&
    v[n - 2] === 13 && v[n - 1] === 10;
  if (!ok) { Atomics.add(results, 0, 1); console.error(`torn value for ${key}: ${s}`); }
}

function set(key: string, value: Buffer, op: StoreOp = StoreOp.SET, cas = 0): StoreResult | 0 {
  const k = Buffer.from(key);
  const it = st.itemAlloc(k, 0, k.length, 0, 0, value.length + 2);
  if (it === 0) return 0;
  st.itemWriteValue(it, 0, value, 0, value.length);
  st.itemWriteValue(it, value.length, Buffer.from("\r\n"), 0, 2);
  const r = st.storeItem(it, op, cas);
  st.itemRelease(it);
  return r;
}

const counter = Buffer.from("counter");
for (let i = 0; i < job.iterations; i++) {
  const key = `key:${rnd(job.keys)}`;
  const k = Buffer.from(key);
  switch (rnd(8)) {
    case 0: case 1: case 2: {
      const it = st.itemGet(k, 0, k.length);
      if (it !== 0) { verify(key, it); st.itemRelease(it); }
      break;
    }
    case 3: case 4: {
      const big = job.bigEvery > 0 && rnd(job.bigEvery) === 0;
      set(key, makeValue(key, big ? 530_000 + rnd(1000) : rnd(2000)));
      break;
    }
    case 5: {
      if (rnd(2) === 0) st.itemDelete(k, 0, k.length, 0);
      else set(key, makeValue(key, rnd(300)), StoreOp.ADD);
      break;
    }
    default: {
      // the shared counter: hold a reference now and then so incr must relink
      const held = rnd(3) === 0 ? st.itemGet(counter, 0, counter.length) : 0;
      const r = st.addDelta(counter, 0, counter.length, true, 1n, 0);
      if (r === DeltaResult.OK) Atomics.add(results, 1, 1);
      if (held !== 0) st.itemRelease(held);
    }
  }
}

// CAS rounds: everyone tries the round's initial CAS; exactly one may win each round.
for (let r = 0; r < job.casRounds; r++) {
  const key = `round:${r}`;
  if (set(key, makeValue(key, 10), StoreOp.CAS, casTable[r]) === StoreResult.STORED) Atomics.add(results, 2 + r, 1);
}
parentPort?.postMessage("done");
