// The maintainer thread (thread index numThreads + 1): memcached's lru_maintainer_thread with its crawler and
// the assoc expansion helper. Sleeps on G.maintainerStop with memcached's backoff (1 ms .. 1 s).

import { workerData } from "node:worker_threads";
import { Store } from "../store/store.ts";
import type { StoreShared } from "../store/store.ts";
import { F, FG, G } from "../store/layout.ts";
import { classHasItems, lruMaintainerJuggle } from "./lru-maintainer.ts";
import { Crawler } from "./crawler.ts";
import { Rebalancer } from "./rebalancer.ts";
import { Automover } from "./automove.ts";

const MIN_SLEEP_MS = 1, MAX_SLEEP_MS = 1000;

const shared = workerData as StoreShared;
const st = new Store(shared, shared.settings.numThreads + 1);
let sleepMs = MIN_SLEEP_MS;
const crawler = new Crawler(st);
const rebalancer = new Rebalancer(st);
const automover = new Automover(st);

while (Atomics.load(st.c32, G.maintainerStop) === 0) {
  let did = 0;
  for (let c = 1; c <= st.nclasses; c++) if (classHasItems(st, c)) did += lruMaintainerJuggle(st, c);
  st.cf[F.glob + FG.maintainerJuggles]++;
  st.maybeExpand();
  if (crawler.round()) did++;
  if (automover.round()) did++;
  if (rebalancer.round()) did++;
  // Idle, memcached's backoff grows by an eighth a round (backoff_juggles), so for some seconds after the last
  // work the tails are still looked at often: a flushed or expired item at one is reclaimed within
  // milliseconds, as memcached's is. (Doubling reached 1 s within a second of idleness.)
  sleepMs = did > 0 ? Math.max(MIN_SLEEP_MS, crawler.sleepUs() / 1000) : Math.min(sleepMs + sleepMs / 8, MAX_SLEEP_MS);
  Atomics.wait(st.c32, G.maintainerStop, 0, sleepMs);
}
rebalancer.stop();
