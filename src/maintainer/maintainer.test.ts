// The maintainer thread reclaims expired items in the background and juggles the LRUs; stop() ends it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Store } from "../store/store.ts";
import { createStore } from "../store/create.ts";
import { G } from "../store/layout.ts";
import { slabsClsid } from "../store/slabs.ts";
import { settings, put } from "../store/test-support.ts";
import { StoreOp } from "../store/results.ts";
import { startMaintainer } from "./maintainer.ts";
import { Crawler } from "./crawler.ts";
import { createServerCtl } from "../server-ctl.ts";

async function until(cond: () => boolean, tries = 2500): Promise<boolean> { // up to 25 s: a loaded machine is slow, never wrong
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
  for (let i = 0; i < 2000; i++) put(st, `exp:${i}`, "v", StoreOp.SET, 0, 0, st.realtime(5));
  for (let i = 0; i < 100; i++) put(st, `keep:${i}`, "v");
  const m = startMaintainer(shared, createServerCtl(0));
  try {
    st.clockAdvance(30); // past the exptime, and past the crawler's interval
    assert.ok(await until(() => st.currItems() === 100), `curr_items ${st.currItems()}`);
    const g = general(st);
    // by the LRU juggler (reclaimed) or the crawler (crawler_reclaimed), whichever came first, as memcached counts
    assert.equal(g.get("reclaimed")! + g.get("crawler_reclaimed")!, 2000);
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

test("stop() wakes the thread from its sleep and it ends cleanly: exit code 0, not a throw or a terminate", { timeout: 30_000 }, async () => {
  const shared = createStore(settings({ numThreads: 1 }));
  const st = new Store(shared, 1);
  const m = startMaintainer(shared, createServerCtl(0));
  assert.ok(await until(() => general(st).get("lru_maintainer_juggles")! >= 1), "the thread ran a round (and sleeps now)");
  assert.equal(await m.stop(), 0);
});

test("the crawler reclaims an item only once its expiry second has passed (memcached's '<'), as the LRU tail does", () => {
  const st = new Store(createStore(settings()), 1);
  put(st, "k", "v", StoreOp.SET, 0, 0, st.currentTime() + 1);
  st.clockAdvance(1); // the item's exptime is now: a lookup would find it expired, the crawler leaves it
  const crawler = new Crawler(st, true);
  while (crawler.round());
  assert.equal(st.currItems(), 1);
  assert.equal(general(st).get("crawler_reclaimed"), 0);
  st.clockAdvance(1);
  assert.equal(st.requestCrawl(new Uint8Array(64).fill(1)), true); // lru_crawler crawl all
  while (crawler.round());
  assert.equal(st.currItems(), 0);
  assert.equal(general(st).get("crawler_reclaimed"), 1);
});

test("a crawl over the slab pages reclaims expired items wherever they sit in the LRU", () => {
  const st = new Store(createStore(settings()), 1);
  for (let i = 0; i < 3000; i++) put(st, `k:${i}`, "v", StoreOp.SET, 0, 0, i % 3 === 1 ? st.realtime(5) : 0);
  st.clockAdvance(10);
  const crawler = new Crawler(st, true);
  while (crawler.round()); // the first walk starts at once, as memcached's
  assert.equal(st.currItems(), 2000);
  const g = general(st);
  assert.equal(g.get("crawler_reclaimed"), 1000);
  assert.equal(g.get("crawler_items_checked"), 3000);
  assert.equal(g.get("reclaimed"), 0, "the crawler's reclaims count in crawler_reclaimed only, as memcached's");
  for (let i = 0; i < 3000; i += 3) {
    const k = Buffer.from(`k:${i}`);
    const it = st.itemGet(k, 0, k.length);
    assert.notEqual(it, 0);
    st.itemRelease(it);
  }
});

test("lru_crawler crawl <classes>: a walk of just those classes, at most tocrawl items each, one at a time", () => {
  const st = new Store(createStore(settings()), 1);
  const crawler = new Crawler(st, true);
  while (crawler.round()); // the walk at start, over an empty store
  const big = "x".repeat(500); // class 2's items sit in another class than the 1-byte ones
  for (let i = 0; i < 300; i++) {
    put(st, `a:${i}`, "v", StoreOp.SET, 0, 0, st.realtime(5));
    put(st, `b:${i}`, big, StoreOp.SET, 0, 0, st.realtime(5));
  }
  const small = slabsClsid(st, 48 + 5 + 3), large = slabsClsid(st, 48 + 5 + 502);
  assert.notEqual(small, large);
  st.clockAdvance(6); // all expired, not yet 10 s since the last walk
  assert.equal(crawler.round(), false, "no walk of its own yet");
  const classes = new Uint8Array(64);
  classes[large] = 1;
  st.setLive(G.crawlerTocrawl, 100);
  assert.equal(st.requestCrawl(classes), true);
  assert.equal(st.requestCrawl(classes), false, "one request at a time (BUSY)");
  while (crawler.round());
  const g = general(st);
  assert.equal(g.get("crawler_reclaimed"), 100, "tocrawl items of the asked class");
  assert.equal(st.currItems(), 500, "the other class untouched");
  assert.equal(st.requestCrawl(classes), true, "free again once the walk is done");
});

/** Rounds of the crawler, as the maintainer runs them, until it rests; true when a walk started. */
function crawlRounds(crawler: Crawler): boolean {
  let walked = false;
  while (crawler.round()) walked = true;
  return walked;
}

test("the crawler walks on memcached's schedule: every class at start, then a minute later while nothing expires", () => {
  const st = new Store(createStore(settings()), 1);
  for (let i = 0; i < 1000; i++) put(st, `k:${i}`, "v"); // no TTL: nothing for a walk to reclaim
  const crawler = new Crawler(st, true);
  assert.equal(crawlRounds(crawler), true, "a walk at start");
  st.clockAdvance(1);
  assert.equal(crawlRounds(crawler), false, "the walk ended: the next is planned 60 + 5 s on");
  st.clockAdvance(65);
  assert.equal(crawlRounds(crawler), false);
  st.clockAdvance(1);
  assert.equal(crawlRounds(crawler), true, "66 s after the plan");
  st.clockAdvance(1);
  crawlRounds(crawler); // plans the next: 120 + 5 s on
  st.clockAdvance(125);
  assert.equal(crawlRounds(crawler), false);
  st.clockAdvance(1);
  assert.equal(crawlRounds(crawler), true);
  assert.equal(general(st).get("lru_crawler_starts"), 3);
});

test("the crawler comes back within seconds to a class whose items expire within the minute", () => {
  const st = new Store(createStore(settings()), 1);
  for (let i = 0; i < 1000; i++) put(st, `k:${i}`, "v", StoreOp.SET, 0, 0, st.realtime(30));
  const crawler = new Crawler(st, true);
  assert.equal(crawlRounds(crawler), true);
  st.clockAdvance(1);
  assert.equal(crawlRounds(crawler), false, "planned 5 s on: their TTLs are in the walk's first minute");
  st.clockAdvance(5);
  assert.equal(crawlRounds(crawler), false);
  st.clockAdvance(1);
  assert.equal(crawlRounds(crawler), true);
  st.clockAdvance(30); // past their exptime: the next walk (planned at this round, due 6 s on) reclaims them
  for (let t = 0; t <= 6; t++) { crawlRounds(crawler); st.clockAdvance(1); }
  assert.equal(general(st).get("crawler_reclaimed"), 1000, "reclaimed once expired");
});
