// The maintainer thread (thread index numThreads + 1): memcached's lru_maintainer_thread with its crawler and
// the assoc expansion helper. Sleeps on G.maintainerStop between rounds, as long as memcached's would.
// Under -o no_lru_maintainer memcached starts no lru_maintainer_thread: nothing juggles the LRUs, schedules
// crawls or runs the automover; what its other threads do (hash expansion, asked-for crawls and page moves)
// still runs here.

import { workerData } from "node:worker_threads";
import { Store } from "../store/store.ts";
import type { MaintainerInit } from "./maintainer.ts";
import { Ctl, ServerCtl } from "../server-ctl.ts";
import * as layout from "../store/layout.ts";
import { classHasItems, lruMaintainerJuggle } from "./lru-maintainer.ts";
import { Crawler } from "./crawler.ts";
import { Rebalancer } from "./rebalancer.ts";
import { Automover } from "./automove.ts";
import { ExtstoreAutomover } from "./automove-extstore.ts";
import { JuggleBackoff, MIN_SLEEP_US } from "./juggle-backoff.ts";
import { StorageThreads } from "../extstore/storage-thread.ts";
import { MallocTrimmer } from "./malloc-trim.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { F, FG, G, MAX_CLASSES } = layout;

const { shared, ctl } = workerData as MaintainerInit;
const st = new Store(shared, shared.settings.numThreads + 1);
const serverWords = new ServerCtl(ctl);
st.verbosity = () => serverWords.i32[Ctl.verbosity];
st.extLive = serverWords;
// memcached's storage write and compaction threads (-o ext_path), run here between this thread's own rounds
const storage = st.ext === null ? null : new StorageThreads(st, st.ext, serverWords);
const rebalancer = new Rebalancer(st);
// memcached's maintainer picks its extstore automover when the store has external storage
const automover = st.ext === null ? new Automover(st) : new ExtstoreAutomover(st, shared.settings.slabAutomoveFreeratio ?? 0.01);
const backoff = new JuggleBackoff(MAX_CLASSES);
const lruMaintainer = shared.settings.lruMaintainer !== false;
const crawler = new Crawler(st, lruMaintainer);
const IDLE_SLEEP_US = 1_000_000; // no_lru_maintainer: what is left is asked for, and asking wakes this thread

let sleepUs = MIN_SLEEP_US;
let lastRoundMs = performance.now();
const trimmer = new MallocTrimmer(lastRoundMs); // what a burst of clients left in malloc's arenas goes back to the kernel
while (Atomics.load(st.c32, G.maintainerStop) === 0) {
  sleepUs = lruMaintainer ? juggleRound(sleepUs) : IDLE_SLEEP_US;
  if (st.maybeExpand()) sleepUs = 0; // memcached's assoc_maintenance_thread moves buckets until it is done
  if (crawler.round()) sleepUs = Math.min(sleepUs, crawler.sleepUs()); // a walk's pace: lru_crawler_sleep per 1000 items
  const asked = lruMaintainer && automover.round(), moving = rebalancer.round(); // both, every round
  if (asked || moving) sleepUs = Math.min(sleepUs, MIN_SLEEP_US);
  if (storage !== null) {
    const now = performance.now();
    sleepUs = Math.min(sleepUs, storage.round((now - lastRoundMs) * 1000));
    lastRoundMs = now;
  }
  trimmer.round(performance.now());
  if (sleepUs > 0) Atomics.wait(st.c32, G.maintainerStop, 0, sleepUs / 1000);
}
rebalancer.stop();

/** lru_maintainer_juggle over the classes that are due; the sleep until the next is. */
function juggleRound(lastSleepUs: number): number {
  backoff.startRound(lastSleepUs);
  for (let c = 1; c <= st.nclasses; c++) {
    if (!backoff.due(c)) continue;
    backoff.juggled(c, classHasItems(st, c) ? lruMaintainerJuggle(st, c) : 0);
  }
  st.cf[F.glob + FG.maintainerJuggles]++;
  return backoff.sleepUs();
}
