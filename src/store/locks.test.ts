// The store's mutex (locks.ts) across real threads: mutual exclusion, trylock, and a waiter that
// sleeps in Atomics.wait until the holder's unlock wakes it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { createCtlMemory, ctlBuffer, itemLockPower, Mutexes } from "./locks.ts";

const LOCK = 16, COUNTER = 32; // word indexes, a line apart

function run(job: object): Promise<void> {
  const w = new Worker(new URL("./locks-worker.ts", import.meta.url), { workerData: job });
  return new Promise((resolve, reject) => {
    w.once("error", reject);
    w.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`worker exit ${code}`))));
  });
}

test("4 threads, each 20000 plain increments under the lock: none is lost", { timeout: 60_000 }, async () => {
  const ctl = createCtlMemory(4096);
  const rounds = 20000;
  await Promise.all([1, 2, 3, 4].map(() => run({ ctl, mode: "count", lock: LOCK, word: COUNTER, rounds })));
  const words = new Int32Array(ctlBuffer(ctl));
  assert.equal(words[COUNTER], 4 * rounds);
  assert.equal(words[LOCK], 0, "the lock is free at the end");
});

test("trylock fails while the lock is held and succeeds once it is released", () => {
  const ctl = createCtlMemory(4096);
  const a = new Mutexes(ctl), b = new Mutexes(ctl); // two threads' views of one word
  assert.equal(a.trylock(LOCK), true);
  assert.equal(b.trylock(LOCK), false);
  a.unlock(LOCK);
  assert.equal(b.trylock(LOCK), true);
  b.unlock(LOCK);
  assert.equal(new Int32Array(ctlBuffer(ctl))[LOCK], 0);
});

test("a thread that finds the lock held sleeps (word 2) and the unlock wakes it", { timeout: 60_000 }, async () => {
  const ctl = createCtlMemory(4096);
  const words = new Int32Array(ctlBuffer(ctl));
  const mine = new Mutexes(ctl);
  mine.lock(LOCK);
  const waiter = run({ ctl, mode: "block", lock: LOCK, word: COUNTER, rounds: 0 });
  // The waiter spins, then marks the word contended before it sleeps.
  while (Atomics.load(words, LOCK) !== 2) await new Promise((r) => setTimeout(r, 5));
  assert.equal(words[COUNTER], 0, "the waiter has not got the lock");
  mine.unlock(LOCK);
  await waiter; // hangs (and the test times out) if the unlock does not wake it
  assert.equal(words[COUNTER], 1);
  assert.equal(Atomics.load(words, LOCK), 0);
});

test("load answers a word as Atomics.load does, anywhere in the control block, while another thread writes it", { timeout: 60_000 }, async () => {
  const ctl = createCtlMemory(4096);
  const words = new Int32Array(ctlBuffer(ctl));
  const m = new Mutexes(ctl);
  const last = words.length - 1;
  for (const [i, v] of [[0, 7], [COUNTER, -1], [LOCK, 0x7fffffff], [last, -0x80000000]]) {
    Atomics.store(words, i, v);
    assert.equal(m.load(i), v, `word ${i}`);
  }
  // a worker counts a word up under the lock; reads from here see it only rise, and end at its total
  Atomics.store(words, LOCK, 0); // free again
  Atomics.store(words, COUNTER, 0);
  const rounds = 20000;
  const counting = run({ ctl, mode: "count", lock: LOCK, word: COUNTER, rounds });
  let seen = 0, done = false;
  void counting.then(() => { done = true; }, () => { done = true; });
  while (!done) {
    const now = m.load(COUNTER);
    assert.ok(now >= seen, `the word went back from ${seen} to ${now}`);
    seen = now;
    await new Promise((r) => setImmediate(r));
  }
  await counting;
  assert.equal(m.load(COUNTER), rounds);
});

test("the control block is a whole number of wasm pages, at least what was asked", () => {
  for (const bytes of [1, 65536, 65537, 600_000]) {
    const n = ctlBuffer(createCtlMemory(bytes)).byteLength;
    assert.ok(n >= bytes && n % 65536 === 0, `${bytes} -> ${n}`);
  }
});

test("item lock table size follows memcached's thread count rule", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 10, 11, 20, 21, 64].map(itemLockPower), [10, 10, 11, 12, 13, 13, 14, 14, 15, 15]);
});
