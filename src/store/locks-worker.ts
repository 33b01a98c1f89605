// Worker for locks.test.ts: takes one mutex of a control block shared with the test's thread.
//   count: `rounds` times lock, a plain (non-atomic) read-modify-write of a counter word, unlock
//   block: lock once (the test holds it, so this sleeps), then set a flag word and unlock

import { workerData } from "node:worker_threads";
import { ctlBuffer, Mutexes } from "./locks.ts";

type Job = { ctl: WebAssembly.Memory; mode: "count" | "block"; lock: number; word: number; rounds: number };
const job = workerData as Job;
const mutexes = new Mutexes(job.ctl);
const words = new Int32Array(ctlBuffer(job.ctl));

if (job.mode === "count") {
  for (let r = 0; r < job.rounds; r++) {
    mutexes.lock(job.lock);
    const v = words[job.word];
    for (let spin = 0; spin < 20; spin++) words[job.word + 1] ^= spin; // widen the window a lost update needs
    words[job.word] = v + 1;
    mutexes.unlock(job.lock);
  }
} else {
  mutexes.lock(job.lock);
  words[job.word] = 1;
  mutexes.unlock(job.lock);
}
