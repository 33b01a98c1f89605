// The maintainer thread reclaims expired items in the background and juggles the LRUs; stop() ends it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createStore, Store } from "../store/store.ts";
import { settings, put } from "../store/test-support.ts";
import { startMaintainer } from "./maintainer.ts";
import { crawlPages } from "./crawler.ts";

async function until(cond: () => boolean, tries = 500): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return true;
    await sleep(10);
  }
  return cond();
}

function general(st: Store): Map<string, number> {
  const m = new Map<string, number>();
  st.reportGeneral((k, v) => m.set(k, Number(v)));
  return m;
}

test("the crawler reclaims expired items nobody asks for; the juggler moves idle HOT items to COLD", { timeout: 60_000 }, async () => {
  const shared = createStore(settings({ numThreads: 2 }));
  const st = new Store(shared, 1);
  for (let i = 0; i < 2000; i++) put(st, `exp:${i}`, "v", 1, 0, 0, st.realtime(5));
  for (let i = 0; i < 100; i++) put(st, `keep:${i}`, "v");
  const m = startMaintainer(shared);
  try {
    st.clockAdvance(30); // past the exptime, and past the crawler's interval
    assert.ok(await until(() => st.currItems() === 100), `curr_items ${st.currItems()}`);
    const g = general(st);
    assert.equal(g.get("reclaimed"), 2000); // by the LRU juggler or the crawler, whichever came first
    assert.equal(g.get("expired_unfetched"), 2000);
    // The juggler may reclaim everything before the crawler's first pass: wait for both to have run.
    assert.ok(await until(() => general(st).get("lru_crawler_starts")! >= 1), "the crawler ran");
    assert.ok(await until(() => general(st).get("lru_maintainer_juggles")! >= 1), "the juggler ran");
    assert.ok(await until(() => general(st).get("moves_to_cold")! > 0));
  } finally {
    await m.stop();
  }
  for (let i = 0; i < 100; i++) {
    const k = Buffer.from(`keep:${i}`);
    const it = st.itemGet(k, 0, k.length);
    assert.notEqual(it, 0);
    st.itemRelease(it);
  }
});

test("stop() ends the thread promptly even while it sleeps", { timeout: 30_000 }, async () => {
  const shared = createStore(settings({ numThreads: 1 }));
  const m = startMaintainer(shared);
  await sleep(50);
  await m.stop();
});

test("a crawl over the slab pages reclaims expired items wherever they sit in the LRU", () => {
  const st = new Store(createStore(settings()), 1);
  for (let i = 0; i < 3000; i++) put(st, `k:${i}`, "v", 1, 0, 0, i % 3 === 1 ? st.realtime(5) : 0);
  st.clockAdvance(10);
  let next = crawlPages(st, 0, 1);
  while (next !== 0) next = crawlPages(st, next, 1);
  assert.equal(st.currItems(), 2000);
  const g = general(st);
  assert.equal(g.get("crawler_reclaimed"), 1000);
  assert.equal(g.get("crawler_items_checked"), 3000);
  assert.equal(g.get("reclaimed"), 1000);
  for (let i = 0; i < 3000; i += 3) {
    const k = Buffer.from(`k:${i}`);
    const it = st.itemGet(k, 0, k.length);
    assert.notEqual(it, 0);
    st.itemRelease(it);
  }
});
